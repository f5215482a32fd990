//! Words and variables as Docker's shell lexer reads them in the instructions it expands
//! (`ADD`, `COPY`, `ENV`, `EXPOSE`, `FROM`, `LABEL`, `STOPSIGNAL`, `USER`, `VOLUME`,
//! `WORKDIR`): `BuildKit`'s `frontend/dockerfile/shell/lex.go`.
//!
//! 1. Outside quotes the escape character (`\`, or the one `# escape=` names) makes the next
//!    character literal; whitespace ends a word (in [`Lexer::words`]).
//! 2. `'...'` is literal; in `"..."` the escape character escapes only `"`, `$` and itself,
//!    and variables expand.
//! 3. `$NAME`, `${NAME}`, `${NAME:-word}` / `${NAME-word}` (a default when unset, or also
//!    when empty with `:`), `${NAME:+word}` / `${NAME+word}` (`word` when set), and
//!    `${NAME:?message}` / `${NAME?message}` (an error when unset). An unset variable is
//!    empty; a `$` before anything but a name or `{` is a `$`.

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordError {
    #[error("unterminated quote in `{word}`")]
    Quote { word: String },
    #[error("unterminated `${{` in `{word}`")]
    Brace { word: String },
    #[error("bad substitution `${{{expression}}}`")]
    Substitution { expression: String },
    #[error("`{name}`: {message}")]
    Required { name: String, message: String },
}

/// Expands words with the variables `lookup` knows.
pub struct Lexer<'a> {
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// One pass over the characters of a word.
struct Scan<'a, 'l> {
    chars: Vec<char>,
    at: usize,
    lexer: &'l Lexer<'a>,
    text: &'l str,
}

impl<'a> Lexer<'a> {
    pub fn new(escape: char, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { escape, lookup }
    }

    /// `text` as one word: quotes removed, variables expanded, whitespace kept.
    pub fn word(&self, text: &str) -> Result<String, WordError> {
        let mut scan = self.scan(text);
        let words = scan.run(false)?;
        Ok(words.into_iter().next().unwrap_or_default())
    }

    /// A heredoc's body (its delimiter unquoted), as a shell reads one: variables expand,
    /// quotes are plain characters, and the escape character escapes only `$` and itself.
    pub fn heredoc(&self, text: &str) -> Result<String, WordError> {
        self.scan(text).run_heredoc()
    }

    /// `text` split into words at unquoted whitespace, each expanded (`EXPOSE 80 $PORT`).
    pub fn words(&self, text: &str) -> Result<Vec<String>, WordError> {
        self.scan(text).run(true)
    }

    fn scan<'l>(&'l self, text: &'l str) -> Scan<'a, 'l> {
        Scan {
            chars: text.chars().collect(),
            at: 0,
            lexer: self,
            text,
        }
    }
}

impl Scan<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let next = self.peek();
        self.at += usize::from(next.is_some());
        next
    }

    /// Scan to the end; with `split`, whitespace outside quotes separates words.
    fn run(&mut self, split: bool) -> Result<Vec<String>, WordError> {
        let mut words = Vec::new();
        let mut word = String::new();
        // A word made only of quotes (`""`) is still a word.
        let mut started = false;
        while let Some(ch) = self.next() {
            match ch {
                ch if split && ch.is_whitespace() => {
                    if started {
                        words.push(std::mem::take(&mut word));
                        started = false;
                    }
                }
                '\'' => {
                    word.push_str(&self.single_quoted()?);
                    started = true;
                }
                '"' => {
                    word.push_str(&self.double_quoted()?);
                    started = true;
                }
                '$' => {
                    let value = self.dollar()?;
                    if split && !value.is_empty() {
                        started = true;
                    }
                    word.push_str(&value);
                    started |= !split;
                }
                ch if ch == self.lexer.escape => {
                    word.push(self.next().unwrap_or(ch));
                    started = true;
                }
                ch => {
                    word.push(ch);
                    started = true;
                }
            }
        }
        if started || !split {
            words.push(word);
        }
        Ok(words)
    }

    fn run_heredoc(&mut self) -> Result<String, WordError> {
        let mut out = String::new();
        while let Some(ch) = self.next() {
            match ch {
                '$' => out.push_str(&self.dollar()?),
                ch if ch == self.lexer.escape => match self.peek() {
                    Some(next) if next == '$' || next == ch => {
                        out.push(next);
                        self.at += 1;
                    }
                    _ => out.push(ch),
                },
                ch => out.push(ch),
            }
        }
        Ok(out)
    }

    fn unterminated(&self) -> WordError {
        WordError::Quote {
            word: self.text.to_string(),
        }
    }

    fn single_quoted(&mut self) -> Result<String, WordError> {
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(self.unterminated()),
                Some('\'') => return Ok(out),
                Some(ch) => out.push(ch),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, WordError> {
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(self.unterminated()),
                Some('"') => return Ok(out),
                Some('$') => out.push_str(&self.dollar()?),
                Some(ch) if ch == self.lexer.escape => match self.peek() {
                    Some(next) if next == '"' || next == '$' || next == self.lexer.escape => {
                        out.push(next);
                        self.at += 1;
                    }
                    _ => out.push(ch),
                },
                Some(ch) => out.push(ch),
            }
        }
    }

    /// After a `$`: a variable's value, or `$` itself.
    fn dollar(&mut self) -> Result<String, WordError> {
        match self.peek() {
            Some('{') => {
                self.at += 1;
                self.braced()
            }
            Some(ch) if ch.is_ascii_alphanumeric() || ch == '_' => {
                let name = self.name();
                Ok(self.value(&name).unwrap_or_default())
            }
            _ => Ok("$".to_string()),
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self
            .peek()
            .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
        {
            name.push(ch);
            self.at += 1;
        }
        name
    }

    fn value(&self, name: &str) -> Option<String> {
        (self.lexer.lookup)(name)
    }

    /// After `${`: `NAME}` or `NAME` with a modifier and a word.
    fn braced(&mut self) -> Result<String, WordError> {
        let name = self.name();
        let brace = || WordError::Brace {
            word: self.text.to_string(),
        };
        let value = self.value(&name);
        match self.next() {
            Some('}') if !name.is_empty() => Ok(value.unwrap_or_default()),
            Some(':') => {
                let modifier = self.next().ok_or_else(brace)?;
                let word = self.modifier_word()?;
                let value = value.filter(|value| !value.is_empty());
                modify(&name, modifier, value, word)
            }
            Some(modifier @ ('-' | '+' | '?')) => {
                let word = self.modifier_word()?;
                modify(&name, modifier, value, word)
            }
            None => Err(brace()),
            Some(other) => Err(WordError::Substitution {
                expression: format!("{name}{other}"),
            }),
        }
    }

    /// The word after a modifier, expanded, up to the closing `}`.
    fn modifier_word(&mut self) -> Result<String, WordError> {
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(WordError::Brace {
                        word: self.text.to_string(),
                    });
                }
                Some('}') => return Ok(out),
                Some('$') => out.push_str(&self.dollar()?),
                Some('\'') => out.push_str(&self.single_quoted()?),
                Some('"') => out.push_str(&self.double_quoted()?),
                Some(ch) if ch == self.lexer.escape => out.push(self.next().unwrap_or(ch)),
                Some(ch) => out.push(ch),
            }
        }
    }
}

/// Apply `${name<modifier>word}` to the variable's `value`.
fn modify(
    name: &str,
    modifier: char,
    value: Option<String>,
    word: String,
) -> Result<String, WordError> {
    match modifier {
        '-' => Ok(value.unwrap_or(word)),
        '+' => Ok(value.map(|_| word).unwrap_or_default()),
        '?' => value.ok_or_else(|| WordError::Required {
            name: name.to_string(),
            message: if word.is_empty() {
                "is not set".to_string()
            } else {
                word
            },
        }),
        other => Err(WordError::Substitution {
            expression: format!("{name}:{other}{word}"),
        }),
    }
}

/// `NAME=value` words as `ENV`, `LABEL` and `ARG` read them (quotes kept for the expansion
/// to remove), split at unquoted whitespace, without expanding anything.
pub fn raw_words(text: &str, escape: char) -> Result<Vec<String>, WordError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (None, ch) if ch.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, '\'' | '"') => {
                quote = Some(ch);
                word.push(ch);
            }
            (Some(open), ch) if ch == open => {
                quote = None;
                word.push(ch);
            }
            (Some('\''), ch) => word.push(ch),
            (_, ch) if ch == escape => {
                word.push(ch);
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (_, ch) => word.push(ch),
        }
    }
    if quote.is_some() {
        return Err(WordError::Quote {
            word: text.to_string(),
        });
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str) -> Result<String, WordError> {
        let lookup = |name: &str| match name {
            "HOME" => Some("/root".to_string()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("a b".to_string()),
            _ => None,
        };
        Lexer::new('\\', &lookup).word(text)
    }

    fn split(text: &str) -> Vec<String> {
        let lookup = |name: &str| (name == "PORT").then(|| "8080".to_string());
        Lexer::new('\\', &lookup).words(text).unwrap()
    }

    #[test]
    fn variables_expand_as_docker_does() {
        assert_eq!(expand("$HOME/x").unwrap(), "/root/x");
        assert_eq!(expand("${HOME}x").unwrap(), "/rootx");
        assert_eq!(expand("${UNSET:-def}").unwrap(), "def");
        assert_eq!(expand("${EMPTY:-def}").unwrap(), "def");
        assert_eq!(expand("${EMPTY-def}").unwrap(), "");
        assert_eq!(expand("${HOME:+alt}").unwrap(), "alt");
        assert_eq!(expand("${UNSET:+alt}").unwrap(), "");
        assert_eq!(expand("${UNSET:-$HOME/d}").unwrap(), "/root/d");
        assert_eq!(expand("$UNSET").unwrap(), "");
        assert_eq!(expand("a$").unwrap(), "a$");
        assert_eq!(expand("$%").unwrap(), "$%");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(expand("'$HOME'").unwrap(), "$HOME");
        assert_eq!(expand("\"$HOME x\"").unwrap(), "/root x");
        assert_eq!(expand("\\$HOME").unwrap(), "$HOME");
        assert_eq!(expand("\"a\\\"b\\n\"").unwrap(), "a\"b\\n");
        assert_eq!(expand("a\\ b").unwrap(), "a b");
        assert_eq!(
            expand("'open"),
            Err(WordError::Quote {
                word: "'open".to_string()
            })
        );
        assert!(matches!(expand("${HOME"), Err(WordError::Brace { .. })));
        assert_eq!(
            expand("${UNSET:?needed}").unwrap_err().to_string(),
            "`UNSET`: needed"
        );
    }

    #[test]
    fn words_split_outside_quotes() {
        assert_eq!(split("80 $PORT/udp"), ["80", "8080/udp"]);
        assert_eq!(split(" \"a b\"  c "), ["a b", "c"]);
        assert_eq!(split("$UNSET x"), ["x"]);
        assert_eq!(split("\"\""), [""]);
    }

    #[test]
    fn heredocs_keep_quotes_and_expand_variables() {
        let lookup = |name: &str| (name == "DIR").then(|| "/opt".to_string());
        let lexer = Lexer::new('\\', &lookup);
        assert_eq!(
            lexer
                .heredoc("print(open(\"$DIR/a.ini\").read()) # it's \\$DIR \\n")
                .unwrap(),
            "print(open(\"/opt/a.ini\").read()) # it's $DIR \\n"
        );
    }

    #[test]
    fn raw_words_keep_quotes() {
        assert_eq!(
            raw_words("A=1 B=\"two words\" C='x y'", '\\').unwrap(),
            ["A=1", "B=\"two words\"", "C='x y'"]
        );
        assert_eq!(raw_words("A=a\\ b", '\\').unwrap(), ["A=a\\ b"]);
    }
}
