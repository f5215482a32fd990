//! Parsing a distribution's [core metadata] (`METADATA`, or a PEP 658 `.metadata` file).
//!
//! The format is RFC 822 headers: `Key: value`, a line starting with whitespace continues the
//! previous header, and the first blank line ends the headers (the description body follows).
//! Only the fields resolution needs are read: `Name`, `Version`, `Requires-Dist`,
//! `Requires-Python` and `Provides-Extra`.
//!
//! [core metadata]: https://packaging.python.org/en/latest/specifications/core-metadata/

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};

use super::{CoreMetadata, PypiError};

/// One header, with the 1-based line it starts on.
struct Header<'a> {
    line: usize,
    key: &'a str,
    value: String,
}

/// Parses `text`, the metadata of the file `filename` (named in errors).
pub(crate) fn parse_core_metadata(text: &str, filename: &str) -> Result<CoreMetadata, PypiError> {
    let invalid = |line: usize, message: String| PypiError::InvalidMetadata {
        filename: filename.to_string(),
        line,
        message,
    };
    let mut name = None;
    let mut version = None;
    let mut requires_dist = Vec::new();
    let mut requires_python = None;
    let mut provides_extra = Vec::new();
    for header in headers(text) {
        let Header { line, key, value } = header;
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "name" => {
                let parsed = PackageName::from_str(value)
                    .map_err(|error| invalid(line, format!("`Name: {value}`: {error}")))?;
                name = Some(parsed);
            }
            "version" => {
                let parsed = Version::from_str(value)
                    .map_err(|error| invalid(line, format!("`Version: {value}`: {error}")))?;
                version = Some(parsed);
            }
            "requires-dist" => {
                let parsed = Requirement::from_str(value)
                    .map_err(|error| invalid(line, format!("`Requires-Dist: {value}`: {error}")))?;
                requires_dist.push(parsed);
            }
            "requires-python" if !value.is_empty() => {
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

/// The headers of `text`, continuation lines unfolded (joined with a space, as RFC 822 says).
fn headers(text: &str) -> Vec<Header<'_>> {
    let mut found: Vec<Header<'_>> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(previous) = found.last_mut() {
                previous.value.push(' ');
                previous.value.push_str(line.trim());
            }
            continue;
        }
        // A line without a colon isn't a header; the spec gives it no meaning, so skip it.
        if let Some((key, value)) = line.split_once(':') {
            found.push(Header {
                line: index + 1,
                key: key.trim(),
                value: value.trim().to_string(),
            });
        }
    }
    found
}

/// Every value of the header `key` (compared case-insensitively), unfolded.
pub(crate) fn header_values(text: &str, key: &str) -> Vec<String> {
    headers(text)
        .into_iter()
        .filter(|header| header.key.eq_ignore_ascii_case(key))
        .map(|header| header.value)
        .collect()
}

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

    #[test]
    fn parses_fields_continuations_and_markers() {
        let metadata = parse_core_metadata(METADATA, "demo.whl").unwrap();
        assert_eq!(metadata.name.as_ref(), "demo-package");
        assert_eq!(metadata.version.to_string(), "1.2.0rc1");
        assert_eq!(metadata.requires_python.unwrap().to_string(), ">=3.8, <4");
        let requirements: Vec<String> = metadata
            .requires_dist
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            requirements,
            [
                "numpy>=1.20",
                "requests[socks]>=2 ; extra == 'http'",
                "tomli ; python_full_version < '3.11'",
            ]
        );
        let extras: Vec<&str> = metadata.provides_extra.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["http"]);
    }

    #[test]
    fn bad_requirement_names_file_and_line() {
        let text = "Name: demo\nVersion: 1\nRequires-Dist: numpy >>= 1\n";
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
        let error = parse_core_metadata("Name: demo\n", "demo.whl").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid metadata in `demo.whl` at line 1: no `Version` field"
        );
    }
}
