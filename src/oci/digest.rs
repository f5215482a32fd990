//! Content digests, as the OCI image spec writes them: `sha256:<64 lowercase hex>`.
//!
//! Spec: <https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md#digests>.
//! Only sha256 is accepted: it is what every registry and the store's `blobs/sha256/` use.
//! A layer has two: its [`Digest`] (of the compressed blob) and its [`DiffId`] (of the
//! uncompressed tar, listed in the image config's `rootfs.diff_ids`); distinct types keep
//! them from being swapped.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use super::error::OciError;

const SHA256_PREFIX: &str = "sha256:";

/// A validated `sha256:<64 lowercase hex>` content digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hash(&Sha256::digest(bytes))
    }

    /// A digest from 64 hex digits (without the `sha256:` prefix).
    pub fn from_sha256_hex(hex: &str) -> Result<Self, OciError> {
        Self::from_str(&format!("{SHA256_PREFIX}{hex}"))
    }

    pub(crate) fn from_hash(hash: &[u8]) -> Self {
        Self(format!("{SHA256_PREFIX}{}", crate::sha256::hex(hash)))
    }

    /// The algorithm, always `sha256`.
    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// The 64 hex digits after `sha256:`, which name the blob file.
    pub fn hex(&self) -> &str {
        &self.0[SHA256_PREFIX.len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same digest as `oci-spec` types it, for descriptors.
    pub fn to_oci(&self) -> oci_spec::image::Digest {
        oci_spec::image::Digest::from_str(&self.0)
            .expect("a validated sha256 digest is a valid oci-spec digest")
    }

    /// A digest from an `oci-spec` descriptor, which may use an algorithm mlpack does not.
    pub fn from_oci(digest: &oci_spec::image::Digest) -> Result<Self, OciError> {
        Self::from_str(digest.as_ref())
    }
}

impl FromStr for Digest {
    type Err = OciError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| OciError::InvalidDigest {
            value: value.to_string(),
            reason,
        };
        let Some(hex) = value.strip_prefix(SHA256_PREFIX) else {
            return Err(invalid("expected `sha256:` followed by 64 hex digits"));
        };
        if hex.len() != 64 {
            return Err(invalid("a sha256 digest has 64 hex digits"));
        }
        if !hex
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid("a sha256 digest is written in lowercase hex"));
        }
        Ok(Self(value.to_string()))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::from_str(&value).map_err(serde::de::Error::custom)
    }
}

/// The digest of a layer's uncompressed tar: the image config's `rootfs.diff_ids` entry, and
/// the name of the layer's unpacked directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DiffId(Digest);

impl DiffId {
    pub fn new(digest: Digest) -> Self {
        Self(digest)
    }

    pub fn digest(&self) -> &Digest {
        &self.0
    }

    pub fn hex(&self) -> &str {
        self.0.hex()
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for DiffId {
    type Err = OciError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Digest::from_str(value).map(Self)
    }
}

impl fmt::Display for DiffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A writer that hashes and counts what passes through it, so a digest costs no second pass.
pub(crate) struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> DigestWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The inner writer, the digest of everything written, and its length in bytes.
    pub(crate) fn finish(self) -> (W, Digest, u64) {
        (
            self.inner,
            Digest::from_hash(&self.hasher.finalize()),
            self.len,
        )
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The digest and length of everything `reader` yields.
pub(crate) fn digest_reader(reader: &mut impl io::Read) -> io::Result<(Digest, u64)> {
    let mut writer = DigestWriter::new(io::sink());
    io::copy(reader, &mut writer)?;
    let (_, digest, len) = writer.finish();
    Ok((digest, len))
}

/// The chain ID of each layer of a stack, bottom first: the image spec's `ChainID(L₀) =
/// DiffID(L₀)` and `ChainID(L₀|…|Lₙ) = Digest(ChainID(L₀|…|Lₙ₋₁) + " " + DiffID(Lₙ))`
/// (<https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md#layer-chainid>): a
/// name for a layer as it lies on the layers below it.
pub fn chain_ids(diff_ids: &[DiffId]) -> Vec<Digest> {
    let mut chain: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match chain.last() {
            None => diff_id.digest().clone(),
            Some(below) => Digest::of(format!("{below} {diff_id}").as_bytes()),
        };
        chain.push(next);
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_a_digest() {
        let text = format!("sha256:{}", "ab".repeat(32));
        let digest: Digest = text.parse().unwrap();
        assert_eq!(digest.to_string(), text);
        assert_eq!(digest.hex(), "ab".repeat(32));
        assert_eq!(digest.algorithm(), "sha256");
        assert_eq!(digest.to_oci().to_string(), text);
        assert_eq!(
            serde_json::to_string(&digest).unwrap(),
            format!("\"{text}\"")
        );
        let back: Digest = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(back, digest);
    }

    #[test]
    fn rejects_malformed_digests() {
        for (value, reason) in [
            ("md5:abcd", "expected `sha256:` followed by 64 hex digits"),
            ("sha256:abcd", "a sha256 digest has 64 hex digits"),
            (
                &format!("sha256:{}", "AB".repeat(32)),
                "a sha256 digest is written in lowercase hex",
            ),
        ] {
            let error = value.parse::<Digest>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid digest `{value}`: {reason}")
            );
        }
        assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = DiffId::new(Digest::of(b"a"));
        let b = DiffId::new(Digest::of(b"b"));
        let chain = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chain[0], *a.digest());
        assert_eq!(chain[1], Digest::of(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn digest_of_empty_input() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut writer = DigestWriter::new(Vec::new());
        writer.write_all(b"hello").unwrap();
        let (bytes, digest, len) = writer.finish();
        assert_eq!((bytes.as_slice(), len), (&b"hello"[..], 5));
        assert_eq!(digest, Digest::of(b"hello"));
    }
}
