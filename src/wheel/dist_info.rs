//! The wheel's file name and the `.dist-info` files the installer reads: `WHEEL` (format version,
//! `Root-Is-Purelib`) and `METADATA` (name, version).
//!
//! Specs: the [file name convention] and [the `.dist-info` directory] of the binary distribution
//! format, and [core metadata]. Both files are email-style `Key: value` headers.
//!
//! [file name convention]: https://packaging.python.org/en/latest/specifications/binary-distribution-format/#file-name-convention
//! [the `.dist-info` directory]: https://packaging.python.org/en/latest/specifications/binary-distribution-format/#the-dist-info-directory
//! [core metadata]: https://packaging.python.org/en/latest/specifications/core-metadata/

use std::str::FromStr;

use pep508_rs::PackageName;

use super::error::WheelError;

/// The distribution a wheel's file name names:
/// `{distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl`.
pub(crate) fn filename_distribution(file_name: &str) -> Result<PackageName, WheelError> {
    let invalid = || WheelError::Filename {
        wheel: file_name.to_string(),
    };
    let stem = file_name.strip_suffix(".whl").ok_or_else(invalid)?;
    let parts: Vec<&str> = stem.split('-').collect();
    if !(5..=6).contains(&parts.len()) || parts.iter().any(|part| part.is_empty()) {
        return Err(invalid());
    }
    PackageName::from_str(parts[0]).map_err(|_| invalid())
}

/// Checks that a `.dist-info` (or `.data`) directory name, without its suffix
/// (`MarkupSafe-2.1.5`), is for `distribution`.
pub(crate) fn is_for(stem: &str, distribution: &PackageName) -> bool {
    stem.split_once('-')
        .and_then(|(name, _version)| PackageName::from_str(name).ok())
        .is_some_and(|name| name == *distribution)
}

/// What the installer needs from `WHEEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WheelFile {
    /// "If Root-Is-Purelib == 'true', unpack archive into purelib (site-packages). Else unpack
    /// archive into platlib (site-packages)."
    pub(crate) root_is_purelib: bool,
}

impl WheelFile {
    /// Parses `WHEEL`; `file` is its path in the archive, for messages.
    pub(crate) fn parse(wheel: &str, file: &str, text: &str) -> Result<Self, WheelError> {
        let headers = headers(text);
        let (line, version) = headers
            .iter()
            .find(|(_, key, _)| key.eq_ignore_ascii_case("Wheel-Version"))
            .map(|(line, _, value)| (*line, *value))
            .ok_or_else(|| WheelError::InvalidMetadata {
                wheel: wheel.to_string(),
                file: file.to_string(),
                line: 0,
                message: "no `Wheel-Version`".to_string(),
            })?;
        let major = version
            .split_once('.')
            .map_or(version, |(major, _minor)| major)
            .parse::<u32>()
            .map_err(|_| WheelError::InvalidMetadata {
                wheel: wheel.to_string(),
                file: file.to_string(),
                line,
                message: format!("`Wheel-Version: {version}` is not `<major>.<minor>`"),
            })?;
        // "Check that installer is compatible with Wheel-Version. Warn if minor version is
        // greater, abort if major version is greater." A newer minor version is installed
        // silently: a library has no one to warn.
        if major != 1 {
            return Err(WheelError::UnsupportedWheelVersion {
                wheel: wheel.to_string(),
                version: version.to_string(),
            });
        }
        // pip reads a missing `Root-Is-Purelib` as false, so does mlpack.
        let root_is_purelib = headers
            .iter()
            .find(|(_, key, _)| key.eq_ignore_ascii_case("Root-Is-Purelib"))
            .is_some_and(|(_, _, value)| value.eq_ignore_ascii_case("true"));
        Ok(Self { root_is_purelib })
    }
}

/// What the installer needs from `METADATA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// As written (`MarkupSafe`), checked to be a valid distribution name.
    pub(crate) name: String,
    pub(crate) version: String,
}

impl Metadata {
    /// Parses the header block of `METADATA`; `file` is its path in the archive, for messages.
    pub(crate) fn parse(wheel: &str, file: &str, text: &str) -> Result<Self, WheelError> {
        let headers = headers(text);
        let field = |name: &str| {
            headers
                .iter()
                .find(|(_, key, _)| key.eq_ignore_ascii_case(name))
                .map(|(line, _, value)| (*line, value.to_string()))
                .ok_or_else(|| WheelError::InvalidMetadata {
                    wheel: wheel.to_string(),
                    file: file.to_string(),
                    line: 0,
                    message: format!("no `{name}`"),
                })
        };
        let (line, name) = field("Name")?;
        if PackageName::from_str(&name).is_err() {
            return Err(WheelError::InvalidMetadata {
                wheel: wheel.to_string(),
                file: file.to_string(),
                line,
                message: format!("`{name}` is not a valid distribution name"),
            });
        }
        let (_, version) = field("Version")?;
        Ok(Self { name, version })
    }
}

/// The `Key: value` lines of an email-style header block, up to the first blank line, with
/// 1-based line numbers. Folded continuation lines are skipped: no field read here uses them.
fn headers(text: &str) -> Vec<(usize, &str, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| !line.trim().is_empty())
        .filter(|(_, line)| !line.starts_with([' ', '\t']))
        .filter_map(|(index, line)| {
            let (key, value) = line.split_once(':')?;
            Some((index + 1, key.trim(), value.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let name = |file: &str| filename_distribution(file).map(|name| name.to_string());
        assert_eq!(name("six-1.16.0-py2.py3-none-any.whl").unwrap(), "six");
        assert_eq!(
            name("MarkupSafe-2.1.5-1-cp311-cp311-manylinux_2_17_x86_64.whl").unwrap(),
            "markupsafe"
        );
        insta::assert_snapshot!(name("six-1.16.0.tar.gz").unwrap_err(), @"`six-1.16.0.tar.gz` is not a wheel file name (`{name}-{version}-{python}-{abi}-{platform}.whl`)");
        assert!(name("six-1.16.0-py3-none.whl").is_err());
        assert!(name("..-1.0-py3-none-any.whl").is_err());
    }

    #[test]
    fn dist_info_names() {
        let six = PackageName::from_str("six").unwrap();
        assert!(is_for("six-1.16.0", &six));
        assert!(!is_for("sixx-1.16.0", &six));
        assert!(!is_for("six", &six));
        let markupsafe = PackageName::from_str("markupsafe").unwrap();
        assert!(is_for("MarkupSafe-2.1.5", &markupsafe));
    }

    #[test]
    fn wheel_file() {
        let parse = |text: &str| WheelFile::parse("w.whl", "w-1.0.dist-info/WHEEL", text);
        let wheel =
            parse("Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
        assert!(wheel.unwrap().root_is_purelib);
        assert!(
            !parse("Wheel-Version: 1.9\nRoot-Is-Purelib: false\n")
                .unwrap()
                .root_is_purelib
        );
        assert!(!parse("Wheel-Version: 1.0\n").unwrap().root_is_purelib);
        insta::assert_snapshot!(parse("Wheel-Version: 2.0\n").unwrap_err(), @"`w.whl` is wheel format version 2.0; mlpack installs version 1.x");
        insta::assert_snapshot!(parse("Generator: x\n").unwrap_err(), @"`w.whl`: invalid `w-1.0.dist-info/WHEEL`: no `Wheel-Version`");
        insta::assert_snapshot!(parse("Generator: x\nWheel-Version: one\n").unwrap_err(), @"`w.whl`: invalid `w-1.0.dist-info/WHEEL` at line 2: `Wheel-Version: one` is not `<major>.<minor>`");
    }

    #[test]
    fn metadata() {
        let parse = |text: &str| Metadata::parse("w.whl", "w-1.0.dist-info/METADATA", text);
        let metadata = parse("Metadata-Version: 2.1\nName: MarkupSafe\nVersion: 2.1.5\nSummary: x\n\nName: not-this\n").unwrap();
        assert_eq!(metadata.name, "MarkupSafe");
        assert_eq!(metadata.version, "2.1.5");
        insta::assert_snapshot!(parse("Name: ../x\nVersion: 1\n").unwrap_err(), @"`w.whl`: invalid `w-1.0.dist-info/METADATA` at line 1: `../x` is not a valid distribution name");
        insta::assert_snapshot!(parse("Name: x\n").unwrap_err(), @"`w.whl`: invalid `w-1.0.dist-info/METADATA`: no `Version`");
    }
}
