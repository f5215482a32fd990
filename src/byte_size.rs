//! Sizes written the way Docker users write them: `512m`, `2g`, `1.5GiB`, `1048576`.

use std::fmt;
use std::str::FromStr;

/// A number of bytes parsed from a Docker-style size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(u64);

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{0}` is not a size; write a number with an optional unit: `b`, `k`, `m`, `g` or `t` (like `512m` or `2g`)"
)]
pub struct ByteSizeError(String);

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ByteSizeError(text.to_string());
        let lower = text.trim().to_ascii_lowercase();
        let split = lower
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(lower.len());
        let (number, unit) = lower.split_at(split);
        let multiplier: u64 = match unit.trim() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => return Err(error()),
        };
        let number: f64 = number.parse().map_err(|_| error())?;
        // Sizes are far below 2^52 bytes, where f64 stops being exact.
        #[expect(
            clippy::cast_precision_loss,
            reason = "multipliers are powers of two ≤ 2^40"
        )]
        let bytes = number * multiplier as f64;
        if !bytes.is_finite() || !(1.0..1.8e19).contains(&bytes) {
            return Err(error());
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "range checked above"
        )]
        Ok(Self(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `1.2 MB`, as `docker images` shows sizes.
pub fn human_size(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a size for people to read")]
    let value = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", value / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", value / 1e6),
        _ => format!("{:.2} GB", value / 1e9),
    }
}

/// `1.5 GiB`: a size in binary units, as disk and memory thresholds are written.
pub fn binary_size(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a size for people to read")]
    let value = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..0x10_0000 => format!("{:.1} KiB", value / 1024.0),
        0x10_0000..0x4000_0000 => format!("{:.1} MiB", value / f64::from(1 << 20)),
        _ => format!("{:.1} GiB", value / f64::from(1 << 30)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(binary_size(512), "512 B");
        assert_eq!(binary_size(1536), "1.5 KiB");
        assert_eq!(binary_size(64 << 20), "64.0 MiB");
        assert_eq!(binary_size(10 << 30), "10.0 GiB");
    }

    #[test]
    fn parses_docker_sizes() {
        assert_eq!(
            "512m".parse::<ByteSize>().map(ByteSize::bytes),
            Ok(512 << 20)
        );
        assert_eq!("2g".parse::<ByteSize>().map(ByteSize::bytes), Ok(2 << 30));
        assert_eq!(
            "1.5GiB".parse::<ByteSize>().map(ByteSize::bytes),
            Ok(3 << 29)
        );
        assert_eq!("4096".parse::<ByteSize>().map(ByteSize::bytes), Ok(4096));
    }

    #[test]
    fn refuses_nonsense() {
        for text in ["", "g", "-1g", "2 parsecs", "0"] {
            assert!(text.parse::<ByteSize>().is_err(), "{text}");
        }
    }
}
