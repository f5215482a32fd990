//! `RECORD`: the list of a wheel's files with their hashes and sizes, read to verify what is
//! extracted and written anew for what was installed.
//!
//! Spec: <https://packaging.python.org/en/latest/specifications/recording-installed-packages/#the-record-file>.
//! A CSV file (Python's `csv` default dialect) of `path,hash,size` rows; the hash is
//! `<algorithm>=<urlsafe-base64-nopad digest>`, with an algorithm from `hashlib` that is sha256 or
//! stronger. `RECORD` lists itself with empty hash and size.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// One row of a `RECORD` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordEntry {
    pub(crate) path: String,
    /// `(algorithm, digest)` as written, the digest's `=` padding (not allowed, but seen) removed.
    pub(crate) hash: Option<(String, String)>,
    pub(crate) size: Option<u64>,
    /// 1-based line of the row, for messages.
    pub(crate) line: usize,
}

/// Parses a `RECORD` file; an error is `(line, message)`.
pub(crate) fn parse(text: &str) -> Result<Vec<RecordEntry>, (usize, String)> {
    let mut entries = Vec::new();
    for (line, fields) in csv_rows(text)? {
        if fields.iter().all(String::is_empty) {
            continue;
        }
        let [path, hash, size] = <[String; 3]>::try_from(fields).map_err(|fields| {
            (
                line,
                format!(
                    "expected 3 fields (path, hash, size), found {}",
                    fields.len()
                ),
            )
        })?;
        let hash = if hash.is_empty() {
            None
        } else {
            let (algorithm, digest) = hash
                .split_once('=')
                .ok_or_else(|| (line, format!("`{hash}` is not `<algorithm>=<digest>`")))?;
            Some((
                algorithm.to_string(),
                digest.trim_end_matches('=').to_string(),
            ))
        };
        let size = if size.is_empty() {
            None
        } else {
            Some(
                size.parse::<u64>()
                    .map_err(|_| (line, format!("`{size}` is not a size in bytes")))?,
            )
        };
        entries.push(RecordEntry {
            path,
            hash,
            size,
            line,
        });
    }
    Ok(entries)
}

/// A CSV row: the 1-based line it starts on, and its fields.
type CsvRow = (usize, Vec<String>);

/// Splits CSV text into rows of fields, each with the 1-based line it starts on. Quoted fields
/// may hold commas, doubled quotes and newlines, as Python's `csv` writes them.
fn csv_rows(text: &str) -> Result<Vec<CsvRow>, (usize, String)> {
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut row_line = 1;
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(char) = chars.next() {
        if quoted {
            match char {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => {
                    if char == '\n' {
                        line += 1;
                    }
                    field.push(char);
                }
            }
            continue;
        }
        match char {
            '"' if field.is_empty() => quoted = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                rows.push((row_line, std::mem::take(&mut fields)));
                line += 1;
                row_line = line;
            }
            _ => field.push(char),
        }
    }
    if quoted {
        return Err((row_line, "a quoted field is not closed".to_string()));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        rows.push((row_line, fields));
    }
    Ok(rows)
}

/// Writes `RECORD` rows `(path, hash, size)`, sorted by path as pip does, `\n`-terminated.
pub(crate) fn write(rows: &mut [(String, String, String)]) -> String {
    rows.sort();
    let mut text = String::new();
    for (path, hash, size) in rows.iter() {
        text.push_str(&csv_field(path));
        text.push(',');
        text.push_str(&csv_field(hash));
        text.push(',');
        text.push_str(&csv_field(size));
        text.push('\n');
    }
    text
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A hash algorithm a `RECORD` may use: `hashlib` names, sha256 or stronger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The `hashlib` name, as `RECORD` writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }
}

/// Hashes a file's bytes as they stream by: always sha256 (what the new `RECORD` says), and the
/// wheel's own algorithm when that is another one.
pub(crate) struct ContentHasher {
    sha256: Sha256,
    other: Option<OtherHasher>,
    size: u64,
}

enum OtherHasher {
    Sha384(Sha384),
    Sha512(Sha512),
}

/// What [`ContentHasher`] saw: digests as urlsafe base64 without padding.
pub(crate) struct ContentHashes {
    pub(crate) sha256: String,
    /// The digest in the algorithm the hasher was made for.
    pub(crate) verify: String,
    pub(crate) size: u64,
}

impl ContentHasher {
    pub(crate) fn new(verify: HashAlgorithm) -> Self {
        let other = match verify {
            HashAlgorithm::Sha256 => None,
            HashAlgorithm::Sha384 => Some(OtherHasher::Sha384(Sha384::new())),
            HashAlgorithm::Sha512 => Some(OtherHasher::Sha512(Sha512::new())),
        };
        Self {
            sha256: Sha256::new(),
            other,
            size: 0,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        match &mut self.other {
            None => {}
            Some(OtherHasher::Sha384(hasher)) => hasher.update(bytes),
            Some(OtherHasher::Sha512(hasher)) => hasher.update(bytes),
        }
        self.size += bytes.len() as u64;
    }

    pub(crate) fn finish(self) -> ContentHashes {
        let sha256 = urlsafe_base64(&self.sha256.finalize());
        let verify = match self.other {
            None => sha256.clone(),
            Some(OtherHasher::Sha384(hasher)) => urlsafe_base64(&hasher.finalize()),
            Some(OtherHasher::Sha512(hasher)) => urlsafe_base64(&hasher.finalize()),
        };
        ContentHashes {
            sha256,
            verify,
            size: self.size,
        }
    }
}

/// The `RECORD` hash field for `bytes`: `sha256=<urlsafe base64, no padding>`.
pub(crate) fn sha256_field(bytes: &[u8]) -> String {
    format!("sha256={}", urlsafe_base64(&Sha256::digest(bytes)))
}

/// RFC 4648 §5 base64 ("URL and filename safe" alphabet), without `=` padding, as `RECORD`
/// writes digests.
fn urlsafe_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, byte)| {
            group | u32::from(*byte) << (16 - 8 * i)
        });
        // 2, 3 or 4 characters for 1, 2 or 3 bytes.
        for i in 0..=chunk.len() {
            let index = (group >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_pip() {
        // pip's own `INSTALLER` row: `…/INSTALLER,sha256=zuuue4knoyJ-UwPPXg8fezS7VCrXJQrAP7zeNuwvFQg,4`.
        assert_eq!(
            sha256_field(b"pip\n"),
            "sha256=zuuue4knoyJ-UwPPXg8fezS7VCrXJQrAP7zeNuwvFQg"
        );
        assert_eq!(urlsafe_base64(b""), "");
        assert_eq!(urlsafe_base64(b"f"), "Zg");
        assert_eq!(urlsafe_base64(b"fo"), "Zm8");
        assert_eq!(urlsafe_base64(b"foo"), "Zm9v");
        assert_eq!(urlsafe_base64(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn other_algorithms() {
        let mut hasher = ContentHasher::new(HashAlgorithm::Sha512);
        hasher.update(b"abc");
        let digests = hasher.finish();
        assert_eq!(digests.size, 3);
        assert_eq!(digests.verify, urlsafe_base64(&Sha512::digest(b"abc")));
        assert_eq!(format!("sha256={}", digests.sha256), sha256_field(b"abc"));
    }

    #[test]
    fn parses_rows() {
        let text = "six.py,sha256=abc,12\r\n\"a,b.py\",sha384=de==,3\nx.dist-info/RECORD,,\n\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, "six.py");
        assert_eq!(entries[0].size, Some(12));
        assert_eq!(entries[1].path, "a,b.py");
        assert_eq!(
            entries[1].hash,
            Some(("sha384".to_string(), "de".to_string()))
        );
        assert_eq!(entries[1].line, 2);
        assert_eq!(entries[2].hash, None);
        assert_eq!(entries[2].size, None);
    }

    #[test]
    fn refuses_bad_rows() {
        assert_eq!(
            parse("a.py,sha256=x,1\nb.py,sha256=x\n").unwrap_err(),
            (
                2,
                "expected 3 fields (path, hash, size), found 2".to_string()
            )
        );
        assert_eq!(
            parse("a.py,x,1\n").unwrap_err().1,
            "`x` is not `<algorithm>=<digest>`"
        );
        assert_eq!(
            parse("a.py,sha256=x,big\n").unwrap_err().1,
            "`big` is not a size in bytes"
        );
        assert_eq!(
            parse("\"a.py,x,1\n").unwrap_err().1,
            "a quoted field is not closed"
        );
    }

    #[test]
    fn writes_sorted_and_quoted() {
        let mut rows = vec![
            ("b.py".to_string(), "sha256=x".to_string(), "1".to_string()),
            (
                "../../../bin/a".to_string(),
                "sha256=y".to_string(),
                "2".to_string(),
            ),
            ("a,\"q\".py".to_string(), String::new(), String::new()),
        ];
        let text = write(&mut rows);
        assert_eq!(
            text,
            "../../../bin/a,sha256=y,2\n\"a,\"\"q\"\".py\",,\nb.py,sha256=x,1\n"
        );
        let back = parse(&text).unwrap();
        assert_eq!(back[1].path, "a,\"q\".py");
    }
}
