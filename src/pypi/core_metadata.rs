//! Parsing a distribution's [core metadata] (`METADATA`, or a PEP 658 `.metadata` file).
//!
//! The format is email headers, read as Python's `email.parser` reads them with the `compat32`
//! policy, which is what `packaging.metadata.parse_email`, pip and `importlib.metadata` use:
//! - lines end at `\r\n`, `\r` or `\n`;
//! - a line starting with a space or tab continues the field before it, even when it holds
//!   nothing else (meson-python writes a whole license that way, blank lines indented);
//! - the headers end at the first empty line, which is dropped, or at the first line that can't
//!   be a header (no `Key:` of printable ASCII, such as `Requires-Dist : x`), which starts the
//!   body; the body is the description, and nothing in it is a field.
//!
//! Only the fields resolution needs are read: `Name`, `Version`, `Requires-Dist`,
//! `Requires-Python` and `Provides-Extra`. `scripts/gen-metadata-corpus.py` pins real files and
//! what `packaging` reads from them, and the `corpus` test compares.
//!
//! [core metadata]: https://packaging.python.org/en/latest/specifications/core-metadata/

use std::borrow::Cow;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};

use super::{CoreMetadata, PypiError};

/// One header field, with the 1-based line it starts on.
#[derive(Debug, PartialEq, Eq)]
struct Header<'a> {
    line: usize,
    key: &'a str,
    /// Unfolded as RFC 5322 says, by removing the line breaks of its continuation lines (Python
    /// keeps them, and `packaging`'s requirement parser then refuses a folded `Requires-Dist`).
    value: String,
}

/// Parses `bytes`, the metadata of the file `filename` (named in errors).
///
/// Bytes that aren't UTF-8 become U+FFFD: they are nearly always in free text (an author's name
/// in Latin-1, the description), which is not read. `packaging` leaves such a field unparsed;
/// in a field read here they make it invalid, an error that names the line.
pub(crate) fn parse_core_metadata(bytes: &[u8], filename: &str) -> Result<CoreMetadata, PypiError> {
    let invalid = |line: usize, message: String| PypiError::InvalidMetadata {
        filename: filename.to_string(),
        line,
        message,
    };
    let text = String::from_utf8_lossy(bytes);
    // Resolution reads no description.
    let (headers, _body) = split_message(&text);
    let mut name = None;
    let mut version = None;
    let mut requires_dist = Vec::new();
    let mut requires_python = None;
    let mut provides_extra = Vec::new();
    for Header { line, key, value } in headers {
        let value = value.trim();
        // A single-use field given twice is left unparsed by `packaging`; pip and uv take the
        // first (`email.message.Message.get`), and so does mlpack.
        match key.to_ascii_lowercase().as_str() {
            "name" if name.is_none() => {
                let parsed = PackageName::from_str(value)
                    .map_err(|error| invalid(line, format!("`Name: {value}`: {error}")))?;
                name = Some(parsed);
            }
            "version" if version.is_none() => {
                let parsed = Version::from_str(value)
                    .map_err(|error| invalid(line, format!("`Version: {value}`: {error}")))?;
                version = Some(parsed);
            }
            "requires-dist" => {
                let parsed = Requirement::from_str(value)
                    .map_err(|error| invalid(line, format!("`Requires-Dist: {value}`: {error}")))?;
                requires_dist.push(parsed);
            }
            "requires-python" if requires_python.is_none() && !value.is_empty() => {
                let parsed = VersionSpecifiers::from_str(value).map_err(|error| {
                    invalid(line, format!("`Requires-Python: {value}`: {error}"))
                })?;
                requires_python = Some(parsed);
            }
            "provides-extra" => {
                // An extra that isn't a valid name can't be asked for by any valid requirement,
                // so skipping it loses nothing; refusing it would make old releases unusable.
                if let Ok(extra) = ExtraName::from_str(value)
                    && !provides_extra.contains(&extra)
                {
                    provides_extra.push(extra);
                }
            }
            _ => {}
        }
    }
    Ok(CoreMetadata {
        name: name.ok_or_else(|| invalid(1, "no `Name` field".to_string()))?,
        version: version.ok_or_else(|| invalid(1, "no `Version` field".to_string()))?,
        requires_dist,
        requires_python,
        provides_extra,
    })
}

/// The header fields of `text`, in order, and its body, as `email.feedparser` splits them.
fn split_message(text: &str) -> (Vec<Header<'_>>, Cow<'_, str>) {
    let (lines, body) = header_lines(text);
    let mut headers: Vec<Header<'_>> = Vec::new();
    // Whether a continuation line continues the last field: not after a line that was dropped.
    let mut open = false;
    for (index, line) in lines.iter().enumerate() {
        let content = line.trim_end_matches(['\r', '\n']);
        if line.starts_with([' ', '\t']) {
            if open && let Some(last) = headers.last_mut() {
                last.value.push_str(content);
            }
            continue;
        }
        open = false;
        // An mbox envelope line (`From sender date`) is dropped, except that as the last line of
        // the headers Python takes it for the body's first line.
        if line.starts_with("From ") {
            if index > 0 && index == lines.len() - 1 {
                return (headers, Cow::Owned(format!("{line}{body}")));
            }
            continue;
        }
        // `header_lines` keeps only lines with a colon; one that starts the line names no field.
        let Some((key, value)) = content.split_once(':').filter(|(key, _)| !key.is_empty()) else {
            continue;
        };
        headers.push(Header {
            line: index + 1,
            key,
            value: value.trim_start_matches([' ', '\t']).to_string(),
        });
        open = true;
    }
    (headers, Cow::Borrowed(body))
}

/// The lines of the header block, each with its line ending, and the rest of `text`.
fn header_lines(text: &str) -> (Vec<&str>, &str) {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, after) = rest.split_at(line_length(rest));
        if line.trim_end_matches(['\r', '\n']).is_empty() {
            // The empty line between the headers and the body belongs to neither.
            return (lines, after);
        }
        if !is_header_line(line) {
            return (lines, rest);
        }
        lines.push(line);
        rest = after;
    }
    (lines, rest)
}

/// The length of the first line of `text`, with its ending: `\r\n`, `\r` or `\n`.
fn line_length(text: &str) -> usize {
    match text.find(['\r', '\n']) {
        Some(end) if text[end..].starts_with("\r\n") => end + 2,
        Some(end) => end + 1,
        None => text.len(),
    }
}

/// Python's `headerRE`: a line that starts with `From `, with a space or tab, or with a field
/// name (printable ASCII other than `:`, possibly none) and a colon.
fn is_header_line(line: &str) -> bool {
    line.starts_with("From ")
        || line.starts_with([' ', '\t'])
        || line
            .bytes()
            .find(|byte| *byte == b':' || !byte.is_ascii_graphic())
            == Some(b':')
}

/// Every value of the header `key` (compared case-insensitively), unfolded.
pub(crate) fn header_values(text: &str, key: &str) -> Vec<String> {
    split_message(text)
        .0
        .into_iter()
        .filter(|header| header.key.eq_ignore_ascii_case(key))
        .map(|header| header.value)
        .collect()
}

#[cfg(test)]
mod corpus;

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = "Metadata-Version: 2.1
Name: Demo_Package
Version: 1.2.0rc1
Summary: A demo
Requires-Python: >=3.8,
  <4
Requires-Dist: numpy (>=1.20)
Requires-Dist: requests[socks] >=2 ; extra == 'http'
Requires-Dist: tomli; python_version < \"3.11\"
Provides-Extra: http
Provides-Extra: HTTP
Provides-Extra: not valid!
Description: a long description
        |   that goes on

Requires-Dist: not-a-header-this-is-the-body
";

    fn parse(text: &[u8]) -> CoreMetadata {
        parse_core_metadata(text, "demo.whl").unwrap()
    }

    fn requirements(metadata: &CoreMetadata) -> Vec<String> {
        metadata
            .requires_dist
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// `(key, value)` of each field, and the body.
    fn split(text: &str) -> (Vec<(&str, String)>, String) {
        let (headers, body) = split_message(text);
        let fields = headers
            .into_iter()
            .map(|header| (header.key, header.value))
            .collect();
        (fields, body.into_owned())
    }

    fn fields<'a>(pairs: &[(&'a str, &str)]) -> Vec<(&'a str, String)> {
        pairs
            .iter()
            .map(|(key, value)| (*key, (*value).to_string()))
            .collect()
    }

    #[test]
    fn parses_fields_continuations_and_markers() {
        let metadata = parse(METADATA.as_bytes());
        assert_eq!(metadata.name.as_ref(), "demo-package");
        assert_eq!(metadata.version.to_string(), "1.2.0rc1");
        assert_eq!(
            metadata.requires_python.as_ref().unwrap().to_string(),
            ">=3.8, <4"
        );
        assert_eq!(
            requirements(&metadata),
            [
                "numpy>=1.20",
                "requests[socks]>=2 ; extra == 'http'",
                "tomli ; python_full_version < '3.11'",
            ]
        );
        let extras: Vec<&str> = metadata.provides_extra.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["http"]);
    }

    /// meson-python (scipy, matplotlib, contourpy) writes the license text as one field, its
    /// blank lines indented: they continue the field, and the fields after it still count.
    #[test]
    fn whitespace_only_continuation_lines_continue_the_field() {
        let text = b"Metadata-Version: 2.1\nName: scipy\nVersion: 1.14.1\nLicense: Copyright (c) 2001-2002 Enthought, Inc.\n \n All rights reserved.\n\t\n \nRequires-Python: >=3.10\nRequires-Dist: numpy<2.3,>=1.23.5\n\nSciPy\n";
        let metadata = parse(text);
        assert_eq!(requirements(&metadata), ["numpy>=1.23.5,<2.3"]);
        assert_eq!(metadata.requires_python.unwrap().to_string(), ">=3.10");
    }

    #[test]
    fn crlf_and_bare_cr_line_endings() {
        let crlf =
            "Name: a\r\nVersion: 1\r\nLicense: x\r\n \r\n y\r\nRequires-Dist: b\r\n\r\nbody\r\n";
        assert_eq!(
            split(crlf),
            (
                fields(&[
                    ("Name", "a"),
                    ("Version", "1"),
                    ("License", "x  y"),
                    ("Requires-Dist", "b")
                ]),
                "body\r\n".to_string()
            )
        );
        let cr = "Name: a\rVersion: 1\rRequires-Dist: b\r\rbody\r";
        assert_eq!(
            split(cr),
            (
                fields(&[("Name", "a"), ("Version", "1"), ("Requires-Dist", "b")]),
                "body\r".to_string()
            )
        );
    }

    /// The first empty line ends the headers; what follows is the description, even when it
    /// looks like a field. Further empty lines belong to the body.
    #[test]
    fn the_body_follows_the_first_empty_line() {
        let text = "Name: a\nVersion: 1\n\n\nRequires-Dist: not-a-field\n";
        let (headers, body) = split(text);
        assert_eq!(headers, fields(&[("Name", "a"), ("Version", "1")]));
        assert_eq!(body, "\nRequires-Dist: not-a-field\n");
        assert!(parse(text.as_bytes()).requires_dist.is_empty());
    }

    /// A line that can't be a header (no colon, or a space before it) ends the headers and
    /// starts the body, as in Python; the fields after it are not read.
    #[test]
    fn a_line_that_is_no_header_starts_the_body() {
        for line in ["Requires-Dist : b", "no colon here", "\u{e9}t\u{e9}: x"] {
            let text = format!("Name: a\nVersion: 1\n{line}\nRequires-Dist: c\n");
            let (headers, body) = split(&text);
            assert_eq!(
                headers,
                fields(&[("Name", "a"), ("Version", "1")]),
                "{line}"
            );
            assert_eq!(body, format!("{line}\nRequires-Dist: c\n"));
        }
        // Any printable ASCII but the colon may name a field, even nothing at all.
        let (headers, _) = split("Name: a\nX-[odd]!: 1\n");
        assert_eq!(headers, fields(&[("Name", "a"), ("X-[odd]!", "1")]));
    }

    /// Python drops a continuation line with no field before it, a line starting with a colon
    /// (and its continuation lines) and an mbox `From ` line, but takes a `From ` line that ends
    /// the headers for the body's first line.
    #[test]
    fn lines_python_drops() {
        let (headers, body) = split(" cont\nName: a\n: bad\n cont2\nVersion: 1\n");
        assert_eq!(headers, fields(&[("Name", "a"), ("Version", "1")]));
        assert_eq!(body, "");
        let (headers, body) = split("From x\nName: a\nFrom y\n more\nVersion: 1\n");
        assert_eq!(headers, fields(&[("Name", "a"), ("Version", "1")]));
        assert_eq!(body, "");
        let (headers, body) = split("Name: a\nVersion: 1\nFrom x\n\nbody\n");
        assert_eq!(headers, fields(&[("Name", "a"), ("Version", "1")]));
        assert_eq!(body, "From x\nbody\n");
        let (_, body) = split("Name: a\nVersion: 1\nFrom x\nFoo bar\n\nbody\n");
        assert_eq!(body, "From x\nFoo bar\n\nbody\n");
    }

    #[test]
    fn folded_values_are_unfolded() {
        let text =
            b"Name: a\nVersion:1\nRequires-Dist:\n  c\n   >=1 ;\n\tpython_version < '3.11'\n";
        let metadata = parse(text);
        assert_eq!(metadata.version.to_string(), "1");
        assert_eq!(
            requirements(&metadata),
            ["c>=1 ; python_full_version < '3.11'"]
        );
    }

    #[test]
    fn headers_without_a_body_or_final_line_ending() {
        assert_eq!(
            split("Name: a\nVersion: 1"),
            (fields(&[("Name", "a"), ("Version", "1")]), String::new())
        );
    }

    /// A byte that isn't UTF-8 in a field mlpack doesn't read, or in the description, is no
    /// error; in a requirement it is, at its line.
    #[test]
    fn bytes_that_are_not_utf8() {
        let text = b"Name: a\nVersion: 1\nAuthor: Fran\xe7ois\nRequires-Dist: b\n\nd\xe9j\xe0 vu\n";
        assert_eq!(requirements(&parse(text)), ["b"]);
        let error = parse_core_metadata(b"Name: a\nVersion: 1\nRequires-Dist: b\xff\n", "a.whl")
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid metadata in `a.whl` at line 3: `Requires-Dist: b\u{fffd}`"),
            "{error}"
        );
    }

    /// `packaging` leaves a repeated single-use field unparsed; pip and uv read the first.
    #[test]
    fn single_use_fields_take_the_first() {
        let text = b"Name: first\nVersion: 1\nName: second\nVersion: 2\nRequires-Python: >=3.9\nRequires-Python: >=3.12\n";
        let metadata = parse(text);
        assert_eq!(metadata.name.as_ref(), "first");
        assert_eq!(metadata.version.to_string(), "1");
        assert_eq!(metadata.requires_python.unwrap().to_string(), ">=3.9");
    }

    #[test]
    fn bad_requirement_names_file_and_line() {
        let text = b"Name: demo\nVersion: 1\nRequires-Dist: numpy >>= 1\n";
        let error = parse_core_metadata(text, "demo-1-py3-none-any.whl").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(
                "invalid metadata in `demo-1-py3-none-any.whl` at line 3: `Requires-Dist: numpy >>= 1`"
            ),
            "{message}"
        );
    }

    #[test]
    fn missing_version_is_an_error() {
        let error = parse_core_metadata(b"Name: demo\n", "demo.whl").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid metadata in `demo.whl` at line 1: no `Version` field"
        );
    }
}
