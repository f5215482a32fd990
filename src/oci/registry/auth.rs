//! Registry authentication: reading a 401's `WWW-Authenticate` challenge, and the bearer
//! tokens Docker's token protocol hands out for a set of scopes.
//!
//! Specs: <https://distribution.github.io/distribution/spec/auth/token/> (the token request
//! and answer), <https://distribution.github.io/distribution/spec/auth/scope/> (scopes) and
//! RFC 9110 §11.6.1 for the header's grammar.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// A challenge from a registry's 401 answer, the bearer one preferred when it offers both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// Get a token from `realm` for `service` and the scopes, then send it as `Bearer`.
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scopes the registry says the request needs (space-separated in the header).
        scopes: Vec<String>,
    },
    /// Send the credentials as `Basic`.
    Basic,
}

impl Challenge {
    /// The challenge in `WWW-Authenticate` header values, if one is usable.
    pub(crate) fn from_headers<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut basic = false;
        for value in values {
            for (scheme, params) in parse_challenges(value) {
                if scheme.eq_ignore_ascii_case("bearer") {
                    let param = |name: &str| {
                        params
                            .iter()
                            .find(|(key, _)| key == name)
                            .map(|(_, value)| value.clone())
                    };
                    let Some(realm) = param("realm").filter(|realm| !realm.is_empty()) else {
                        continue;
                    };
                    return Some(Self::Bearer {
                        realm,
                        service: param("service"),
                        scopes: param("scope")
                            .map(|scope| scope.split_whitespace().map(str::to_string).collect())
                            .unwrap_or_default(),
                    });
                }
                basic |= scheme.eq_ignore_ascii_case("basic");
            }
        }
        basic.then_some(Self::Basic)
    }
}

/// The challenges in one header value: each scheme with its `name=value` parameters (names
/// lowercased, quoted values unescaped). A `token68` (`Basic abc==`) is read as a parameter
/// and ignored by callers.
pub(crate) fn parse_challenges(header: &str) -> Vec<(String, Vec<(String, String)>)> {
    let is_space = |c: char| c == ' ' || c == '\t';
    let mut challenges = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c| is_space(c) || c == ',');
        if rest.is_empty() {
            break;
        }
        let end = rest.find(|c| is_space(c) || c == ',').unwrap_or(rest.len());
        let scheme = rest[..end].to_string();
        rest = &rest[end..];
        let mut params = Vec::new();
        loop {
            let start = rest.trim_start_matches(|c| is_space(c) || c == ',');
            let name_end = start
                .find(|c| is_space(c) || c == ',' || c == '=')
                .unwrap_or(start.len());
            let name = &start[..name_end];
            let after_name = start[name_end..].trim_start_matches(is_space);
            let Some(after_equals) = after_name.strip_prefix('=') else {
                // Not `name=value`: the end, or the next challenge's scheme.
                rest = start;
                break;
            };
            if name.is_empty() {
                rest = after_equals;
                continue;
            }
            let after_equals = after_equals.trim_start_matches(is_space);
            let (value, remaining) = if let Some(quoted) = after_equals.strip_prefix('"') {
                read_quoted(quoted)
            } else {
                let end = after_equals.find(',').unwrap_or(after_equals.len());
                (
                    after_equals[..end].trim_end().to_string(),
                    &after_equals[end..],
                )
            };
            params.push((name.to_ascii_lowercase(), value));
            rest = remaining;
        }
        challenges.push((scheme, params));
    }
    challenges
}

/// A quoted string's content (after its opening quote) and what follows its closing quote.
fn read_quoted(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return (value, &text[index + 1..]),
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            _ => value.push(c),
        }
    }
    (value, "")
}

/// `repository:<name>:pull`.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// `repository:<name>:pull,push`.
pub(crate) fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

/// What a client has learnt about authenticating: the registry's last challenge and the
/// tokens it got, one per set of scopes.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    challenge: Option<Challenge>,
    tokens: HashMap<String, String>,
}

impl AuthState {
    pub(crate) fn challenge(&self) -> Option<Challenge> {
        self.lock().challenge.clone()
    }

    pub(crate) fn set_challenge(&self, challenge: Challenge) {
        self.lock().challenge = Some(challenge);
    }

    pub(crate) fn token(&self, scopes: &[String]) -> Option<String> {
        self.lock().tokens.get(&scope_key(scopes)).cloned()
    }

    pub(crate) fn set_token(&self, scopes: &[String], token: String) {
        self.lock().tokens.insert(scope_key(scopes), token);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The scopes sorted and deduplicated, so the same set finds the same token.
pub(crate) fn scope_set<'a>(scopes: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut set: Vec<String> = scopes.into_iter().cloned().collect();
    set.sort();
    set.dedup();
    set
}

fn scope_key(scopes: &[String]) -> String {
    scope_set(scopes).join(" ")
}

/// The token in a token server's JSON answer: `token`, else `OAuth2`'s `access_token`.
pub(crate) fn token_from_answer(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body).ok()?;
    answer
        .token
        .filter(|token| !token.is_empty())
        .or(answer.access_token)
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Vec<(String, Vec<(String, String)>)>;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn parses_challenge_headers() {
        let table: &[(&str, Parsed)] = &[
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull""#,
                vec![(
                    "Bearer".to_string(),
                    params(&[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/python:pull"),
                    ]),
                )],
            ),
            (
                r#"Basic realm="Registry Realm""#,
                vec![("Basic".to_string(), params(&[("realm", "Registry Realm")]))],
            ),
            (
                r#"bearer Realm = "https://x/token" , error="insufficient_scope",scope=a:b:pull"#,
                vec![(
                    "bearer".to_string(),
                    params(&[
                        ("realm", "https://x/token"),
                        ("error", "insufficient_scope"),
                        ("scope", "a:b:pull"),
                    ]),
                )],
            ),
            (
                r#"Basic realm="a \"quoted\" realm", Bearer realm="https://t",service=s"#,
                vec![
                    (
                        "Basic".to_string(),
                        params(&[("realm", r#"a "quoted" realm"#)]),
                    ),
                    (
                        "Bearer".to_string(),
                        params(&[("realm", "https://t"), ("service", "s")]),
                    ),
                ],
            ),
            ("Negotiate", vec![("Negotiate".to_string(), vec![])]),
            ("", vec![]),
            (
                r#"Bearer realm="unterminated"#,
                vec![("Bearer".to_string(), params(&[("realm", "unterminated")]))],
            ),
        ];
        for (header, expected) in table {
            assert_eq!(&parse_challenges(header), expected, "{header}");
        }
    }

    #[test]
    fn picks_bearer_over_basic() {
        assert_eq!(
            Challenge::from_headers([
                r#"Basic realm="r""#,
                r#"Bearer realm="https://t/token",service="svc",scope="repository:a:pull repository:b:pull""#,
            ]),
            Some(Challenge::Bearer {
                realm: "https://t/token".to_string(),
                service: Some("svc".to_string()),
                scopes: vec![
                    "repository:a:pull".to_string(),
                    "repository:b:pull".to_string()
                ],
            })
        );
        assert_eq!(
            Challenge::from_headers([r#"Basic realm="Registry Realm""#]),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::from_headers([r#"Bearer service="x""#]), None);
        assert_eq!(Challenge::from_headers(["Negotiate abc"]), None);
    }

    #[test]
    fn tokens_per_scope_set() {
        let state = AuthState::default();
        let push = vec![push_scope("team/iris"), pull_scope("library/python")];
        state.set_token(&push, "t1".to_string());
        let reordered = vec![pull_scope("library/python"), push_scope("team/iris")];
        assert_eq!(state.token(&reordered).as_deref(), Some("t1"));
        assert_eq!(state.token(&[pull_scope("team/iris")]), None);
        assert_eq!(
            token_from_answer(br#"{"token":"a","access_token":"b"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            token_from_answer(br#"{"access_token":"b"}"#).as_deref(),
            Some("b")
        );
        assert_eq!(token_from_answer(br#"{"token":""}"#), None);
        assert_eq!(token_from_answer(b"nope"), None);
    }
}
