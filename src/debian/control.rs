//! The control-file syntax shared by `Packages`, `Release` and a `.deb`'s `control` file
//! ([Debian Policy §5.1]): paragraphs separated by blank lines, `Field: value` lines, and
//! continuation lines that start with a space or tab. Field names are case-insensitive.
//!
//! [Debian Policy §5.1]: https://www.debian.org/doc/debian-policy/ch-controlfields.html#syntax-of-control-files

/// One paragraph: its fields in order, values trimmed, multi-line values kept with their
/// newlines and leading continuation whitespace.
#[derive(Debug)]
pub(crate) struct Paragraph<'a> {
    /// The 1-based line the paragraph starts on.
    pub(crate) line: usize,
    pub(crate) fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    /// The value of `name`, compared case-insensitively.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

/// The paragraphs of `text`, or the 1-based line of the first malformed line and what is wrong.
pub(crate) fn paragraphs(text: &str) -> Result<Vec<Paragraph<'_>>, (usize, String)> {
    let mut paragraphs = Vec::new();
    let mut current: Option<Paragraph<'_>> = None;
    // The byte range of the field being read, so that continuation lines extend its value.
    let mut open: Option<(&str, usize, usize)> = None;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_number = index + 1;
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            close_field(&mut current, &mut open, text);
            if let Some(paragraph) = current.take() {
                paragraphs.push(paragraph);
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match &mut open {
                Some((_, _, end)) => *end = start + line.len(),
                None => {
                    return Err((
                        line_number,
                        "a continuation line with no field before it".to_string(),
                    ));
                }
            }
            continue;
        }
        close_field(&mut current, &mut open, text);
        let Some((name, _)) = line.split_once(':') else {
            return Err((
                line_number,
                format!("expected `Field: value`, found `{line}`"),
            ));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err((line_number, format!("invalid field name `{name}`")));
        }
        let value_start = start + name.len() + 1;
        open = Some((name, value_start, start + line.len()));
        current.get_or_insert(Paragraph {
            line: line_number,
            fields: Vec::new(),
        });
    }
    close_field(&mut current, &mut open, text);
    paragraphs.extend(current);
    Ok(paragraphs)
}

fn close_field<'a>(
    current: &mut Option<Paragraph<'a>>,
    open: &mut Option<(&'a str, usize, usize)>,
    text: &'a str,
) {
    if let (Some(paragraph), Some((name, start, end))) = (current.as_mut(), open.take()) {
        paragraph.fields.push((name, text[start..end].trim()));
    }
}

/// The lines of a multi-line value without their leading whitespace, skipping empty ones (like
/// the `SHA256` list of a `Release` file, whose first line is empty).
pub(crate) fn value_lines(value: &str) -> impl Iterator<Item = &str> {
    value.lines().map(str::trim).filter(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_continuations() {
        let text = "Package: a\nDescription: short\n long line\n .\n more\nversion: 1\n\n\n\
                    Package: b\r\nSHA256:\n 00 1 x\n 11 2 y\n";
        let parsed = paragraphs(text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].line, 1);
        assert_eq!(parsed[0].get("package"), Some("a"));
        assert_eq!(parsed[0].get("Version"), Some("1"));
        assert_eq!(
            parsed[0].get("Description"),
            Some("short\n long line\n .\n more")
        );
        assert_eq!(parsed[1].line, 9);
        assert_eq!(parsed[1].get("Package"), Some("b"));
        let lines: Vec<_> = value_lines(parsed[1].get("SHA256").unwrap()).collect();
        assert_eq!(lines, ["00 1 x", "11 2 y"]);
    }

    #[test]
    fn malformed() {
        assert_eq!(
            paragraphs("Package: a\nno colon here\n").unwrap_err(),
            (
                2,
                "expected `Field: value`, found `no colon here`".to_string()
            )
        );
        assert_eq!(paragraphs(" lost\n").unwrap_err().0, 1);
    }
}
