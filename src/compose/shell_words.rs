//! A `command:` string split into words as a POSIX shell would, for the quoting Compose
//! accepts there: single quotes, double quotes with `\` escapes, and `\` outside quotes. No
//! expansion: `$` was already interpolated, and globs stay as they are.

/// The words of `text`, or why it cannot be split (an unclosed quote).
pub(super) fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(format!("`{text}` has an unclosed `'`")),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(next @ ('"' | '\\' | '$' | '`')) => current.push(next),
                            Some(next) => {
                                current.push('\\');
                                current.push(next);
                            }
                            None => return Err(format!("`{text}` has an unclosed `\"`")),
                        },
                        Some(c) => current.push(c),
                        None => return Err(format!("`{text}` has an unclosed `\"`")),
                    }
                }
            }
            '\\' => {
                let current = word.get_or_insert_with(String::new);
                current.extend(chars.next());
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split(r#"python -c 'print("a b")' "x \"y\"" a\ b ''"#).unwrap(),
            ["python", "-c", r#"print("a b")"#, r#"x "y""#, "a b", ""]
        );
        assert!(split("echo 'open").is_err());
    }
}
