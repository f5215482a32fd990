//! Credentials for index hosts, and URLs that never show them.
//!
//! Precedence, per host (`host:port`):
//! 1. the userinfo of an index URL passed to the client (`https://user:pass@host/simple`),
//!    used for every request to that host, files included;
//! 2. the `machine` entry for the host in `$NETRC`, else `~/.netrc`, then its `default` entry.
//!
//! URLs are stored without userinfo (so a lock file never holds a password) and shown through
//! [`redact`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use url::Url;

use super::PypiError;

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: Option<String>,
}

// Hand-written so that a `{:?}` in a log can't leak the password.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish()
    }
}

/// Credentials known to one client.
pub(crate) struct Auth {
    from_urls: Mutex<HashMap<String, Credentials>>,
    netrc: HashMap<String, Credentials>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Auth {
    /// Reads the netrc file (`$NETRC`, else `~/.netrc`) if there is one; a file that exists but
    /// does not parse is an error, so that a typo does not silently turn into a 401.
    pub(crate) fn from_environment() -> Result<Self, PypiError> {
        let mut netrc = HashMap::new();
        if let Some(path) = netrc::Netrc::get_file() {
            let parsed = netrc::Netrc::from_file(&path).map_err(|error| PypiError::Netrc {
                path: path.clone(),
                message: error.to_string(),
            })?;
            for (host, entry) in parsed.hosts {
                netrc.insert(
                    host,
                    Credentials {
                        username: entry.login,
                        password: Some(entry.password),
                    },
                );
            }
        }
        Ok(Self {
            from_urls: Mutex::new(HashMap::new()),
            netrc,
        })
    }

    /// Remembers the userinfo of `url` (if any) for its host, and returns `url` without it.
    pub(crate) fn take_from_url(&self, url: &Url) -> Url {
        let (stripped, credentials) = split_credentials(url);
        if let (Some(credentials), Some(key)) = (credentials, host_key(url)) {
            self.from_urls
                .lock()
                .expect("the credentials lock is never poisoned")
                .insert(key, credentials);
        }
        stripped
    }

    /// The credentials to send to `url`'s host, if any are known.
    pub(crate) fn for_url(&self, url: &Url) -> Option<Credentials> {
        let key = host_key(url)?;
        if let Some(found) = self
            .from_urls
            .lock()
            .expect("the credentials lock is never poisoned")
            .get(&key)
        {
            return Some(found.clone());
        }
        let host = url.host_str()?;
        self.netrc
            .get(host)
            .or_else(|| self.netrc.get("default"))
            .cloned()
    }
}

/// `host:port`, the unit credentials are kept by.
fn host_key(url: &Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

/// `url` without userinfo, and the userinfo (percent-decoded) if it had any.
pub(crate) fn split_credentials(url: &Url) -> (Url, Option<Credentials>) {
    if url.username().is_empty() && url.password().is_none() {
        return (url.clone(), None);
    }
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = Credentials {
        username: decode(url.username()),
        password: url.password().map(decode),
    };
    let mut stripped = url.clone();
    // Both only fail for URLs that cannot have userinfo, which then has none to strip.
    let _ = stripped.set_username("");
    let _ = stripped.set_password(None);
    (stripped, Some(credentials))
}

/// `url` for display: the password replaced by `****`. A username with no password is
/// masked too, since that is how tokens are usually passed (`https://TOKEN@host/simple`).
pub(crate) fn redact(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        // Not a URL we can take apart: hide everything between `://` and `@`, if anything.
        return redact_unparsed(url);
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("****"));
    } else if !parsed.username().is_empty() {
        let _ = parsed.set_username("****");
    } else {
        return url.to_string();
    }
    parsed.to_string()
}

fn redact_unparsed(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find('/')
        .map_or(url.len(), |end| authority_start + end);
    match url[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}****{}",
            &url[..authority_start],
            &url[authority_start + at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_and_tokens() {
        assert_eq!(
            redact("https://user:secret@example.com/simple"),
            "https://user:****@example.com/simple"
        );
        assert_eq!(
            redact("https://token@example.com/simple"),
            "https://****@example.com/simple"
        );
        assert_eq!(redact("https://pypi.org/simple"), "https://pypi.org/simple");
        assert_eq!(
            redact("not a url://user:secret@host/x"),
            "not a url://****@host/x"
        );
    }

    #[test]
    fn userinfo_is_remembered_per_host_and_stripped() {
        let auth = Auth {
            from_urls: Mutex::new(HashMap::new()),
            netrc: HashMap::new(),
        };
        let index = Url::parse("https://us%40er:p%3Ass@example.com/simple").unwrap();
        let stripped = auth.take_from_url(&index);
        assert_eq!(stripped.as_str(), "https://example.com/simple");
        let file = Url::parse("https://example.com/files/a.whl").unwrap();
        assert_eq!(
            auth.for_url(&file),
            Some(Credentials {
                username: "us@er".to_string(),
                password: Some("p:ss".to_string()),
            })
        );
        let other = Url::parse("https://example.com:8443/files/a.whl").unwrap();
        assert_eq!(auth.for_url(&other), None);
    }

    #[test]
    fn netrc_default_applies_to_unknown_hosts() {
        let mut netrc = HashMap::new();
        netrc.insert(
            "default".to_string(),
            Credentials {
                username: "anyone".to_string(),
                password: Some("x".to_string()),
            },
        );
        let auth = Auth {
            from_urls: Mutex::new(HashMap::new()),
            netrc,
        };
        let url = Url::parse("https://mirror.example/simple/").unwrap();
        assert_eq!(auth.for_url(&url).unwrap().username, "anyone");
    }
}
