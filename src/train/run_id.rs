//! Training run IDs: `20261127-211800-3f2a`, the start time to the second, then 4 random hex
//! digits that tell apart runs started in the same second. They name the run's directory
//! (`outputs/<run-id>/`) and its GC root (`roots/runs/<run-id>.json`), so an ID is always one
//! plain path component. Users name a run by its whole ID or by a unique start or end of it,
//! as with container IDs: the end is the random part, the part users copy.

use std::fmt;
use std::io::Read as _;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// A training run's ID; checked to be one plain path component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RunId(String);

/// Text that cannot be a run ID, since it would name a file outside the run's directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid run ID `{id}`: it is letters, digits, `-`, `_` and `.`, not starting with `.`")]
pub struct InvalidRunId {
    pub id: String,
}

impl RunId {
    /// A fresh ID for a run starting now.
    pub fn generate() -> Self {
        let now = jiff::Timestamp::now();
        let mut random = [0_u8; 2];
        // Without the kernel's random source, the zeros still leave the time to tell runs
        // apart, and a run is not worth failing for it.
        let _ =
            fs_err::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut random));
        Self(format!(
            "{}-{}",
            now.strftime("%Y%m%d-%H%M%S"),
            crate::sha256::hex(&random)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `input` names this run: the whole ID, or a non-empty start or end of it.
    pub fn matches(&self, input: &str) -> bool {
        !input.is_empty() && (self.0.starts_with(input) || self.0.ends_with(input))
    }

    /// The items whose ID `input` names: the one whose ID it is, else every one it
    /// [`matches`](Self::matches). More than one means `input` is ambiguous.
    pub fn select<'a, T>(items: &'a [T], id: impl Fn(&T) -> &RunId, input: &str) -> Vec<&'a T> {
        if let Some(exact) = items.iter().find(|item| id(item).0 == input) {
            return vec![exact];
        }
        items
            .iter()
            .filter(|item| id(item).matches(input))
            .collect()
    }
}

impl FromStr for RunId {
    type Err = InvalidRunId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let plain = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if plain && !text.is_empty() && !text.starts_with('.') {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidRunId {
                id: text.to_string(),
            })
        }
    }
}

/// Through [`FromStr`]: a record or root naming a file elsewhere is refused when read.
impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 3] = [
        "20261205-041510-b44b",
        "20261205-041510-3f2a",
        "20261206-090000-c44b",
    ];

    fn matches(input: &str) -> Vec<&'static str> {
        let ids: Vec<RunId> = IDS.iter().map(|id| id.parse().unwrap()).collect();
        RunId::select(&ids, |id| id, input)
            .into_iter()
            .map(|id| *IDS.iter().find(|known| **known == id.as_str()).unwrap())
            .collect()
    }

    #[test]
    fn a_unique_prefix_or_suffix_names_one_run() {
        assert_eq!(matches("20261206"), ["20261206-090000-c44b"]);
        assert_eq!(matches("b44b"), ["20261205-041510-b44b"]);
        assert_eq!(matches("10-3f2a"), ["20261205-041510-3f2a"]);
        assert_eq!(matches(IDS[1]), [IDS[1]]);
    }

    #[test]
    fn ambiguous_input_gives_every_candidate_and_unknown_input_none() {
        assert_eq!(matches("20261205"), IDS[..2]);
        assert_eq!(matches("44b"), [IDS[0], IDS[2]]);
        assert!(matches("b44").is_empty());
        assert!(matches("").is_empty());
        assert!(matches("ffff").is_empty());
    }

    #[test]
    fn new_ids_are_the_time_and_a_random_suffix() {
        let id = RunId::generate();
        let (time, suffix) = id.as_str().rsplit_once('-').unwrap();
        assert_eq!(time.len(), "20261205-041510".len());
        assert_eq!(suffix.len(), 4);
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id.as_str().parse(), Ok(id.clone()));
        assert_eq!(
            serde_json::from_value::<RunId>(serde_json::to_value(&id).unwrap()).unwrap(),
            id
        );
    }

    #[test]
    fn an_id_cannot_name_another_file() {
        for bad in ["", "../escape", "a/b", ".", "..", ".hidden", "a b", "run\0"] {
            assert!(bad.parse::<RunId>().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<RunId>(r#""../x""#).is_err());
        assert_eq!(
            "../escape".parse::<RunId>().unwrap_err().to_string(),
            "invalid run ID `../escape`: it is letters, digits, `-`, `_` and `.`, not starting with `.`"
        );
    }
}
