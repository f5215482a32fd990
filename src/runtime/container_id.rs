//! Container IDs: 64 lowercase hex digits from the kernel's random source, as Docker makes
//! them. An ID names the container's directory (`containers/<id>/`) and its cgroup
//! (`mlpack/<id>`); users name a container by its name, its whole ID or a unique start of it,
//! and see the first 12 digits.

use std::fmt;
use std::io::Read as _;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::error::RuntimeError;
use crate::error::FromIo;

/// Hex digits in an ID.
const LENGTH: usize = 64;
/// Hex digits Docker shows.
const SHORT: usize = 12;

/// A container's ID; checked to be 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ContainerId(String);

/// Text that is not a container ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid container ID `{id}`: it is 64 lowercase hex digits")]
pub struct InvalidContainerId {
    pub id: String,
}

impl ContainerId {
    /// A fresh ID: 32 bytes from the kernel's random source.
    pub(crate) fn generate() -> Result<Self, RuntimeError> {
        let mut bytes = [0_u8; LENGTH / 2];
        fs_err::File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(&mut bytes))
            .map_err(|source| RuntimeError::io("read", "/dev/urandom", source))?;
        Ok(Self(crate::sha256::hex(&bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-digit form Docker shows.
    pub fn short(&self) -> &str {
        &self.0[..SHORT]
    }

    /// Whether `input` is a non-empty start of this ID (the whole ID included).
    pub fn starts_with(&self, input: &str) -> bool {
        !input.is_empty() && self.0.starts_with(input)
    }
}

impl FromStr for ContainerId {
    type Err = InvalidContainerId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if text.len() == LENGTH && text.bytes().all(hex) {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidContainerId {
                id: text.to_string(),
            })
        }
    }
}

/// Through [`FromStr`]: a state directory naming a path elsewhere is refused when read.
impl<'de> Deserialize<'de> for ContainerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_64_hex_digits_shown_by_12() {
        let id = ContainerId::generate().unwrap();
        assert_eq!(id.as_str().parse(), Ok(id.clone()));
        assert_eq!(id.short(), &id.as_str()[..12]);
        assert_ne!(id, ContainerId::generate().unwrap());
        assert_eq!(
            serde_json::from_value::<ContainerId>(serde_json::to_value(&id).unwrap()).unwrap(),
            id
        );
    }

    #[test]
    fn a_start_of_the_id_names_it() {
        let id: ContainerId = format!("3f2a{}", "0".repeat(60)).parse().unwrap();
        assert!(id.starts_with("3f2a"));
        assert!(id.starts_with(id.as_str()));
        assert!(!id.starts_with(""));
        assert!(!id.starts_with("2a"));
    }

    #[test]
    fn only_64_lowercase_hex_digits_are_an_id() {
        for bad in [
            String::new(),
            "3f2a".to_string(),
            "A".repeat(64),
            "g".repeat(64),
            format!("../{}", "0".repeat(61)),
            "0".repeat(65),
        ] {
            assert!(bad.parse::<ContainerId>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<ContainerId>(r#""..""#).is_err());
        assert_eq!(
            "x".parse::<ContainerId>().unwrap_err().to_string(),
            "invalid container ID `x`: it is 64 lowercase hex digits"
        );
    }
}
