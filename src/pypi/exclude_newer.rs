//! `--exclude-newer`: only files uploaded up to a cutoff count, so a lock made today can be
//! reproduced later (as uv's `--exclude-newer`). Upload times come from PEP 700's
//! `upload-time`; files without one are kept, since nothing says they are newer.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;

use super::{DistFile, PypiError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExcludeNewer(Timestamp);

impl ExcludeNewer {
    /// An RFC 3339 timestamp, or a date `YYYY-MM-DD` meaning its first instant in UTC (files
    /// uploaded before that day).
    pub(crate) fn parse(value: &str) -> Result<Self, PypiError> {
        let value = value.trim();
        let invalid = || PypiError::InvalidExcludeNewer {
            value: value.to_string(),
        };
        if let Ok(timestamp) = Timestamp::from_str(value) {
            return Ok(Self(timestamp));
        }
        let date = Date::from_str(value).map_err(|_| invalid())?;
        Timestamp::from_str(&format!("{date}T00:00:00Z"))
            .map(Self)
            .map_err(|_| invalid())
    }

    /// Whether `file` was uploaded no later than the cutoff (or its upload time is unknown).
    pub(crate) fn keeps(self, file: &DistFile) -> bool {
        file.upload_time
            .as_deref()
            .and_then(|time| Timestamp::from_str(time).ok())
            .is_none_or(|uploaded| uploaded <= self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploaded(time: Option<&str>) -> DistFile {
        DistFile {
            filename: "demo-1.0.tar.gz".to_string(),
            url: "https://files.example/demo-1.0.tar.gz".to_string(),
            sha256: None,
            size: None,
            requires_python: None,
            yanked: None,
            upload_time: time.map(str::to_string),
            core_metadata: false,
        }
    }

    #[test]
    fn date_means_the_start_of_that_day_in_utc() {
        let cutoff = ExcludeNewer::parse("2024-06-01").unwrap();
        assert!(cutoff.keeps(&uploaded(Some("2024-05-31T23:59:59.999999Z"))));
        assert!(cutoff.keeps(&uploaded(Some("2024-06-01T00:00:00Z"))));
        assert!(!cutoff.keeps(&uploaded(Some("2024-06-01T00:00:00.000001Z"))));
        assert!(cutoff.keeps(&uploaded(None)));
    }

    #[test]
    fn timestamps_with_offsets() {
        let cutoff = ExcludeNewer::parse("2024-06-01T12:00:00+02:00").unwrap();
        assert!(cutoff.keeps(&uploaded(Some("2024-06-01T10:00:00Z"))));
        assert!(!cutoff.keeps(&uploaded(Some("2024-06-01T10:00:01Z"))));
    }

    #[test]
    fn rejects_other_text() {
        let error = ExcludeNewer::parse("last tuesday").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid exclude-newer value `last tuesday`: expected an RFC 3339 timestamp (`2024-06-01T00:00:00Z`) or a date (`2024-06-01`)"
        );
    }
}
