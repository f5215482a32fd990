//! The target interpreter's version (`3.11`), as named in `mlpack.toml` and on the command line.
//!
//! Only minor versions matter for what mlpack decides (stdlib contents, wheel tags), so the type
//! holds `major.minor` and refuses anything outside the versions mlpack knows about.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A CPython `major.minor` version that mlpack has tables for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    major: u8,
    minor: u8,
}

impl PythonVersion {
    /// The oldest version whose standard library mlpack knows.
    pub const OLDEST: Self = Self::new(3, 8);
    /// The newest version whose standard library mlpack knows.
    pub const NEWEST: Self = Self::new(3, 15);
    /// Debian bookworm's `python3`, mlpack's default base.
    pub const DEFAULT: Self = Self::new(3, 11);

    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }

    pub fn minor(self) -> u8 {
        self.minor
    }

    /// Every version mlpack knows, oldest first.
    pub fn known() -> impl Iterator<Item = Self> {
        (Self::OLDEST.minor..=Self::NEWEST.minor).map(|minor| Self::new(3, minor))
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PythonVersionError {
    #[error("`{0}` is not a Python version; expected `MAJOR.MINOR`, like `3.11`")]
    Syntax(String),
    #[error(
        "Python `{0}` is not supported; mlpack knows Python {oldest} to {newest}",
        oldest = PythonVersion::OLDEST,
        newest = PythonVersion::NEWEST
    )]
    Unsupported(String),
}

impl FromStr for PythonVersion {
    type Err = PythonVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || PythonVersionError::Syntax(text.to_string());
        let (major, minor) = text.trim().split_once('.').ok_or_else(syntax)?;
        let major: u8 = major.parse().map_err(|_| syntax())?;
        let minor: u8 = minor.parse().map_err(|_| syntax())?;
        let version = Self::new(major, minor);
        if version < Self::OLDEST || version > Self::NEWEST {
            return Err(PythonVersionError::Unsupported(text.to_string()));
        }
        Ok(version)
    }
}

impl Serialize for PythonVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PythonVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_versions() {
        assert_eq!("3.11".parse(), Ok(PythonVersion::new(3, 11)));
        assert_eq!("3.8".parse(), Ok(PythonVersion::OLDEST));
        assert_eq!(PythonVersion::known().count(), 8);
    }

    #[test]
    fn refuses_unknown_versions() {
        insta::assert_snapshot!(
            "3.7".parse::<PythonVersion>().unwrap_err(),
            @"Python `3.7` is not supported; mlpack knows Python 3.8 to 3.15"
        );
        insta::assert_snapshot!(
            "three".parse::<PythonVersion>().unwrap_err(),
            @"`three` is not a Python version; expected `MAJOR.MINOR`, like `3.11`"
        );
        assert!("3.11.4".parse::<PythonVersion>().is_err());
    }
}
