//! Debian version numbers and their ordering, as [Debian Policy §5.6.12] defines them:
//! `[epoch:]upstream_version[-debian_revision]`, compared epoch first (numerically), then the
//! upstream version, then the revision, each by alternating non-digit runs (where `~` sorts
//! before everything, even the end of the string, and letters before other characters) and
//! digit runs (numerically). This is dpkg's `verrevcmp`.
//!
//! [Debian Policy §5.6.12]: https://www.debian.org/doc/debian-policy/ch-controlfields.html#version

use std::cmp::Ordering;
use std::fmt;

/// A parsed Debian version. Equality is by ordering, so `1.0` equals `0:1.0` and `1.0-0`.
#[derive(Debug, Clone)]
pub(crate) struct DebianVersion {
    epoch: u64,
    upstream: String,
    revision: String,
}

impl DebianVersion {
    /// Parses `text`, or says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty version".to_string());
        }
        if text.contains(char::is_whitespace) {
            return Err(format!("`{text}` contains whitespace"));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => {
                let epoch = epoch
                    .parse::<u64>()
                    .map_err(|_| format!("`{text}` has an invalid epoch `{epoch}`"))?;
                (epoch, rest)
            }
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(format!("`{text}` has an empty upstream version"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".+~-:".contains(c);
        if !upstream.chars().all(allowed) || !revision.chars().all(allowed) {
            return Err(format!(
                "`{text}` contains a character not allowed in versions"
            ));
        }
        Ok(Self {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

impl Ord for DebianVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| compare_part(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebianVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebianVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebianVersion {}

impl fmt::Display for DebianVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

/// The weight of a byte in a non-digit run; `None` is the end of the string.
fn order(byte: Option<u8>) -> i32 {
    match byte {
        None => 0,
        Some(b'~') => -1,
        Some(byte) if byte.is_ascii_digit() => 0,
        Some(byte) if byte.is_ascii_alphabetic() => i32::from(byte),
        Some(byte) => i32::from(byte) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate non-digit runs (by [`order`]) and digit runs (numerically,
/// ignoring leading zeros, so no run is too long to compare).
fn compare_part(left: &str, right: &str) -> Ordering {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    let (mut i, mut j) = (0, 0);
    let is_digit = |bytes: &[u8], at: usize| bytes.get(at).is_some_and(u8::is_ascii_digit);
    while i < left.len() || j < right.len() {
        while (i < left.len() && !is_digit(left, i)) || (j < right.len() && !is_digit(right, j)) {
            let (a, b) = (order(left.get(i).copied()), order(right.get(j).copied()));
            if a != b {
                return a.cmp(&b);
            }
            i += 1;
            j += 1;
        }
        while left.get(i) == Some(&b'0') {
            i += 1;
        }
        while right.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while is_digit(left, i) && is_digit(right, j) {
            if first_difference == Ordering::Equal {
                first_difference = left[i].cmp(&right[j]);
            }
            i += 1;
            j += 1;
        }
        if is_digit(left, i) {
            return Ordering::Greater;
        }
        if is_digit(right, j) {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> DebianVersion {
        DebianVersion::parse(text).unwrap()
    }

    #[test]
    fn ordering() {
        use Ordering::{Equal, Greater, Less};
        // Cases from dpkg's own tests (lib/dpkg/t/t-version.c) and Debian Policy §5.6.12.
        let table = [
            ("1.0", "1.0", Equal),
            ("1.0", "0:1.0", Equal),
            ("1.0", "1.0-0", Equal),
            ("1.0-0", "1.0-", Equal),
            ("1.0", "1.00", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1:0.1", "2.0", Greater),
            ("2:1.0", "10:0.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~~a", "1.0~~", Greater),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0+dfsg", "1.0", Greater),
            ("1.0+dfsg-1", "1.0-1", Greater),
            ("1.0-1", "1.0-1+b1", Less),
            ("1.0-1~bpo12+1", "1.0-1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0.", "1.0+", Greater),
            ("2.36-9+deb12u14", "2.36-9+deb12u9", Greater),
            ("3.11.2-6+deb12u6", "3.11.2-6", Greater),
            ("1.2.3-4-5", "1.2.3-4-4", Greater),
            ("0.0.0000000000000000000000000000000001", "0.0.1", Equal),
            (
                "99999999999999999999999999",
                "100000000000000000000000000",
                Less,
            ),
        ];
        for (left, right, expected) in table {
            assert_eq!(
                version(left).cmp(&version(right)),
                expected,
                "{left} vs {right}"
            );
            assert_eq!(
                version(right).cmp(&version(left)),
                expected.reverse(),
                "{right} vs {left}"
            );
        }
    }

    #[test]
    fn parts() {
        let parsed = version("1:2.3-4-5");
        assert_eq!(parsed.epoch, 1);
        assert_eq!(parsed.upstream, "2.3-4");
        assert_eq!(parsed.revision, "5");
        assert_eq!(parsed.to_string(), "1:2.3-4-5");
        assert_eq!(version("0:1.0").to_string(), "1.0");
    }

    #[test]
    fn invalid() {
        for text in ["", "a:1.0", "1.0 2", "-1", "1.0_1"] {
            assert!(DebianVersion::parse(text).is_err(), "{text}");
        }
    }
}
