//! The signed `Release` text of a suite ([Debian repository format]): which suite it is, and
//! the size and sha256 of every index file under `dists/<codename>/`. `Valid-Until` is not
//! enforced: a mirror may serve a snapshot, and the signature and hashes still prove that the
//! files are Debian's.
//!
//! [Debian repository format]: https://wiki.debian.org/DebianRepository/Format#A.22Release.22_files

use std::collections::HashMap;

use super::control::{paragraphs, value_lines};

/// What the `Release` text says about one index file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileEntry {
    pub(crate) sha256: String,
    pub(crate) size: u64,
}

#[derive(Debug)]
pub(crate) struct Release {
    pub(crate) codename: String,
    pub(crate) date: String,
    /// Index files by path relative to `dists/<codename>/`.
    pub(crate) files: HashMap<String, FileEntry>,
}

impl Release {
    /// Parses verified `Release` text; errors say what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let parsed =
            paragraphs(text).map_err(|(line, message)| format!("line {line}: {message}"))?;
        let [paragraph] = parsed.as_slice() else {
            return Err(format!("expected one paragraph, found {}", parsed.len()));
        };
        let codename = paragraph
            .get("Codename")
            .ok_or("it has no `Codename` field")?
            .to_string();
        let list = paragraph.get("SHA256").ok_or("it has no `SHA256` list")?;
        let mut files = HashMap::new();
        for line in value_lines(list) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [sha256, size, path] = fields.as_slice() else {
                return Err(format!("invalid `SHA256` line `{line}`"));
            };
            if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return Err(format!("invalid sha256 in `{line}`"));
            }
            let size = size
                .parse::<u64>()
                .map_err(|_| format!("invalid size in `{line}`"))?;
            files.insert(
                (*path).to_string(),
                FileEntry {
                    sha256: sha256.to_ascii_lowercase(),
                    size,
                },
            );
        }
        Ok(Self {
            codename,
            date: paragraph.get("Date").unwrap_or_default().to_string(),
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let text = "Origin: Debian\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\n\
                    MD5Sum:\n 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all\n\
                    SHA256:\n 9e7ba2c1b6a1e6b4f3b0c7c4b7ad34d2b6b2c5a5e4f0a0d1c3e2b1a0f9e8d7c6  8790396 main/binary-amd64/Packages.xz\n\
                    \x20AE7BA2C1B6A1E6B4F3B0C7C4B7AD34D2B6B2C5A5E4F0A0D1C3E2B1A0F9E8D7C6 50060337 main/binary-amd64/Packages\n";
        let release = Release::parse(text).unwrap();
        assert_eq!(release.codename, "bookworm");
        assert_eq!(release.date, "Sat, 11 Jul 2026 10:16:37 UTC");
        assert_eq!(release.files.len(), 2);
        assert_eq!(
            release.files["main/binary-amd64/Packages.xz"].size,
            8_790_396
        );
        assert_eq!(
            release.files["main/binary-amd64/Packages"].sha256,
            "ae7ba2c1b6a1e6b4f3b0c7c4b7ad34d2b6b2c5a5e4f0a0d1c3e2b1a0f9e8d7c6"
        );
        assert!(Release::parse("Codename: x\n").is_err());
        assert!(Release::parse("Codename: x\nSHA256:\n 00 1 a\n").is_err());
    }
}
