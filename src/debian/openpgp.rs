//! Verifying a cleartext-signed `InRelease` against the Debian archive keys shipped with
//! mlpack, as `gpgv` does for apt: [RFC 9580] §7 (cleartext signature framework), §6 (ASCII
//! armor), §5.2 (version 4 signatures) and §5.5.2 (version 4 public keys).
//!
//! Only what the Debian archive uses is implemented: RSA (PKCS#1 v1.5) and Ed25519 keys and
//! signatures, SHA-256/384/512, and signature type 0x01 (canonical text). A file verifies when
//! at least one of its signatures verifies against a shipped key; signatures by other keys are
//! ignored, as `gpgv` ignores keys it lacks. The text handed back is exactly the text that was
//! signed (dash-escapes removed, trailing whitespace dropped), and anything before the
//! `BEGIN PGP SIGNED MESSAGE` line or after the signature is refused, so nothing unsigned can
//! reach the `Release` parser.
//!
//! The shipped keyrings are trusted as they are: their self-signatures are not checked, and
//! neither are key expiry dates (2031 and later for bookworm's and trixie's keys).
//!
//! [RFC 9580]: https://www.rfc-editor.org/rfc/rfc9580

use std::time::{SystemTime, UNIX_EPOCH};

use rsa::traits::PublicKeyParts as _;
use sha1::Digest as _;

/// The keyrings copied from `debian-archive-keyring` (`/usr/share/keyrings/`): the automatic
/// archive signing keys and the stable release keys of bookworm and trixie.
const DEBIAN_KEYRINGS: &[(&str, &[u8])] = &[
    (
        "debian-archive-bookworm-automatic.gpg",
        include_bytes!("../../data/debian/keyrings/debian-archive-bookworm-automatic.gpg"),
    ),
    (
        "debian-archive-bookworm-stable.gpg",
        include_bytes!("../../data/debian/keyrings/debian-archive-bookworm-stable.gpg"),
    ),
    (
        "debian-archive-trixie-automatic.gpg",
        include_bytes!("../../data/debian/keyrings/debian-archive-trixie-automatic.gpg"),
    ),
    (
        "debian-archive-trixie-stable.gpg",
        include_bytes!("../../data/debian/keyrings/debian-archive-trixie-stable.gpg"),
    ),
];

/// The OID of Ed25519 in `EdDSALegacy` keys (RFC 9580 §9.2): 1.3.6.1.4.1.11591.15.1.
const ED25519_LEGACY_OID: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01];

/// Public-key algorithm IDs (RFC 9580 §9.1).
const RSA: u8 = 1;
const RSA_SIGN_ONLY: u8 = 3;
const EDDSA_LEGACY: u8 = 22;
const ED25519: u8 = 27;

/// Packet tags (RFC 9580 §5).
const SIGNATURE_PACKET: u8 = 2;
const PUBLIC_KEY_PACKET: u8 = 6;
const PUBLIC_SUBKEY_PACKET: u8 = 14;

/// The text a signature covers, and the key that verified it.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The signed text with `\n` line endings.
    pub(crate) text: String,
    /// The fingerprint (uppercase hex) of the key that made the first good signature.
    pub(crate) signer: String,
}

/// Public keys trusted to sign.
#[derive(Debug)]
pub(crate) struct Keyring {
    keys: Vec<Key>,
}

#[derive(Debug)]
struct Key {
    fingerprint: [u8; 20],
    material: KeyMaterial,
}

#[derive(Debug)]
enum KeyMaterial {
    Rsa(rsa::PublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl Keyring {
    /// The Debian archive keys shipped with mlpack.
    pub(crate) fn debian() -> Result<Self, String> {
        Self::from_keyrings(DEBIAN_KEYRINGS)
    }

    /// Keys from binary (not armored) keyrings, named for errors. Primary keys and
    /// subkeys are both trusted; keys of algorithms this module does not verify are skipped.
    pub(crate) fn from_keyrings(keyrings: &[(&str, &[u8])]) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (name, bytes) in keyrings {
            for packet in packets(bytes).map_err(|error| format!("keyring `{name}`: {error}"))? {
                if matches!(packet.tag, PUBLIC_KEY_PACKET | PUBLIC_SUBKEY_PACKET) {
                    keys.extend(
                        parse_key(packet.body)
                            .map_err(|error| format!("keyring `{name}`: {error}"))?,
                    );
                }
            }
        }
        if keys.is_empty() {
            return Err("no usable public keys in the keyrings".to_string());
        }
        Ok(Self { keys })
    }

    /// Verifies a cleartext-signed message and returns the text it signs.
    pub(crate) fn verify_cleartext(&self, input: &[u8]) -> Result<Verified, String> {
        let input = std::str::from_utf8(input).map_err(|_| "it is not UTF-8 text".to_string())?;
        let message = parse_cleartext(input)?;
        let signed = message.lines.join("\r\n");
        let mut failures = Vec::new();
        let mut count = 0;
        for packet in packets(&message.signature)? {
            if packet.tag != SIGNATURE_PACKET {
                continue;
            }
            count += 1;
            match self.verify_signature(packet.body, signed.as_bytes()) {
                Ok(fingerprint) => {
                    let mut text = message.lines.join("\n");
                    text.push('\n');
                    return Ok(Verified {
                        text,
                        signer: upper_hex(&fingerprint),
                    });
                }
                Err(error) => failures.push(format!("signature {count}: {error}")),
            }
        }
        if count == 0 {
            return Err("the signature block holds no signature".to_string());
        }
        Err(failures.join("; "))
    }

    /// Verifies one signature packet over `data`, returning the fingerprint of the key.
    fn verify_signature(&self, body: &[u8], data: &[u8]) -> Result<[u8; 20], String> {
        let signature = Signature::parse(body)?;
        if signature.kind != 0x01 {
            return Err(format!(
                "signature type {:#04x} is not a text signature",
                signature.kind
            ));
        }
        signature.check_subpackets()?;
        let digest = signature.digest(data)?;
        if digest[..2] != signature.left16 {
            return Err(format!(
                "bad signature by {} (the digest does not match)",
                signature.issuer_text()
            ));
        }
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|key| signature.may_be_from(key))
            .collect();
        if candidates.is_empty() {
            return Err(format!(
                "made by {}, which is not a shipped key",
                signature.issuer_text()
            ));
        }
        for key in candidates {
            if signature.verify_with(key, &digest) {
                return Ok(key.fingerprint);
            }
        }
        Err(format!("bad signature by {}", signature.issuer_text()))
    }
}

/// A parsed version 4 signature packet.
struct Signature<'a> {
    kind: u8,
    algorithm: u8,
    hash: u8,
    /// The version through the hashed subpackets: what the trailer covers.
    hashed_part: &'a [u8],
    hashed_subpackets: Vec<Subpacket<'a>>,
    unhashed_subpackets: Vec<Subpacket<'a>>,
    left16: [u8; 2],
    material: &'a [u8],
}

impl<'a> Signature<'a> {
    fn parse(body: &'a [u8]) -> Result<Self, String> {
        let mut reader = Reader::new(body);
        let version = reader.byte()?;
        if version != 4 {
            return Err(format!("signature version {version} is not supported"));
        }
        let kind = reader.byte()?;
        let algorithm = reader.byte()?;
        let hash = reader.byte()?;
        let hashed_length = usize::from(reader.u16()?);
        let hashed = reader.take(hashed_length)?;
        let hashed_part = &body[..6 + hashed_length];
        let unhashed_length = usize::from(reader.u16()?);
        let unhashed = reader.take(unhashed_length)?;
        let left16 = [reader.byte()?, reader.byte()?];
        Ok(Self {
            kind,
            algorithm,
            hash,
            hashed_part,
            hashed_subpackets: subpackets(hashed)?,
            unhashed_subpackets: subpackets(unhashed)?,
            left16,
            material: reader.rest(),
        })
    }

    /// Refuses critical hashed subpackets this module does not understand (RFC 9580 §5.2.3.7),
    /// and signatures that have expired.
    fn check_subpackets(&self) -> Result<(), String> {
        let mut created = None;
        let mut expires_after = None;
        for &(kind, critical, data) in &self.hashed_subpackets {
            match kind {
                2 => created = data.try_into().ok().map(u32::from_be_bytes),
                3 => expires_after = data.try_into().ok().map(u32::from_be_bytes),
                // Issuer key ID, issuer fingerprint, notation data, signer's user ID.
                16 | 33 | 20 | 28 => {}
                _ if critical => {
                    return Err(format!(
                        "a critical signature subpacket of type {kind} is not understood"
                    ));
                }
                _ => {}
            }
        }
        let created = created.ok_or("the signature has no creation time")?;
        if let Some(after) = expires_after.filter(|after| *after != 0) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            if now >= u64::from(created) + u64::from(after) {
                return Err("the signature has expired".to_string());
            }
        }
        Ok(())
    }

    /// The hash of `data` with the version 4 trailer (RFC 9580 §5.2.4).
    fn digest(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        fn hash<D: sha2::Digest>(data: &[u8], hashed_part: &[u8]) -> Vec<u8> {
            let length = u32::try_from(hashed_part.len()).unwrap_or(u32::MAX);
            let mut hasher = D::new();
            hasher.update(data);
            hasher.update(hashed_part);
            hasher.update([0x04, 0xFF]);
            hasher.update(length.to_be_bytes());
            hasher.finalize().to_vec()
        }
        match self.hash {
            8 => Ok(hash::<sha2::Sha256>(data, self.hashed_part)),
            9 => Ok(hash::<sha2::Sha384>(data, self.hashed_part)),
            10 => Ok(hash::<sha2::Sha512>(data, self.hashed_part)),
            other => Err(format!("hash algorithm {other} is not accepted")),
        }
    }

    /// The issuer fingerprint or key ID the signature names, from either subpacket area.
    fn issuer(&self) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
        let all = || {
            self.hashed_subpackets
                .iter()
                .chain(&self.unhashed_subpackets)
        };
        let fingerprint = all()
            .find(|(kind, _, data)| *kind == 33 && data.len() == 21 && data[0] == 4)
            .map(|(_, _, data)| &data[1..]);
        let key_id = all()
            .find(|(kind, _, data)| *kind == 16 && data.len() == 8)
            .map(|(_, _, data)| *data);
        (fingerprint, key_id)
    }

    fn issuer_text(&self) -> String {
        match self.issuer() {
            (Some(fingerprint), _) => format!("key {}", upper_hex(fingerprint)),
            (None, Some(key_id)) => format!("key ID {}", upper_hex(key_id)),
            (None, None) => "an unnamed key".to_string(),
        }
    }

    fn may_be_from(&self, key: &Key) -> bool {
        let algorithm_matches = match key.material {
            KeyMaterial::Rsa(_) => matches!(self.algorithm, RSA | RSA_SIGN_ONLY),
            KeyMaterial::Ed25519(_) => matches!(self.algorithm, EDDSA_LEGACY | ED25519),
        };
        algorithm_matches
            && match self.issuer() {
                (Some(fingerprint), _) => fingerprint == key.fingerprint,
                (None, Some(key_id)) => key_id == &key.fingerprint[12..],
                (None, None) => true,
            }
    }

    fn verify_with(&self, key: &Key, digest: &[u8]) -> bool {
        let mut reader = Reader::new(self.material);
        match &key.material {
            KeyMaterial::Rsa(public) => {
                let Ok(value) = reader.mpi() else {
                    return false;
                };
                let Some(signature) = left_pad(value, public.size()) else {
                    return false;
                };
                let scheme = match self.hash {
                    8 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    9 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                    10 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                    _ => return false,
                };
                public.verify(scheme, digest, &signature).is_ok()
            }
            KeyMaterial::Ed25519(public) => {
                let bytes = if self.algorithm == ED25519 {
                    reader.take(64).ok().map(<[u8]>::to_vec)
                } else {
                    // EdDSALegacy: the MPIs R and S, each up to 32 bytes (RFC 9580 §5.2.3.3).
                    match (reader.mpi(), reader.mpi()) {
                        (Ok(r), Ok(s)) => left_pad(r, 32)
                            .zip(left_pad(s, 32))
                            .map(|(r, s)| [r, s].concat()),
                        _ => None,
                    }
                };
                let Some(signature) = bytes.and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
                else {
                    return false;
                };
                let signature = ed25519_dalek::Signature::from_bytes(&signature);
                public.verify_strict(digest, &signature).is_ok()
            }
        }
    }
}

/// A version 4 public key packet body as a key, or `None` for versions and algorithms this
/// module does not verify.
fn parse_key(body: &[u8]) -> Result<Option<Key>, String> {
    let mut reader = Reader::new(body);
    if reader.byte()? != 4 {
        return Ok(None);
    }
    reader.take(4)?; // creation time
    let algorithm = reader.byte()?;
    let material = match algorithm {
        RSA | RSA_SIGN_ONLY => {
            let n = rsa::BoxedUint::from_be_slice_vartime(reader.mpi()?);
            let e = rsa::BoxedUint::from_be_slice_vartime(reader.mpi()?);
            let public = rsa::PublicKey::new(n, e)
                .map_err(|error| format!("an invalid RSA key: {error}"))?;
            KeyMaterial::Rsa(public)
        }
        EDDSA_LEGACY => {
            let oid_length = usize::from(reader.byte()?);
            if reader.take(oid_length)? != ED25519_LEGACY_OID {
                return Ok(None);
            }
            let point = reader.mpi()?;
            // A native point: the 0x40 prefix, then 32 bytes (RFC 9580 §5.5.5.5).
            let Some((0x40, point)) = point.split_first() else {
                return Err("an Ed25519 key without the 0x40 prefix".to_string());
            };
            KeyMaterial::Ed25519(ed25519_key(point)?)
        }
        ED25519 => KeyMaterial::Ed25519(ed25519_key(reader.take(32)?)?),
        _ => return Ok(None),
    };
    let length = u16::try_from(body.len()).map_err(|_| "a key packet over 64 KiB".to_string())?;
    let mut hasher = sha1::Sha1::new();
    hasher.update([0x99]);
    hasher.update(length.to_be_bytes());
    hasher.update(body);
    Ok(Some(Key {
        fingerprint: hasher.finalize().into(),
        material,
    }))
}

fn ed25519_key(bytes: &[u8]) -> Result<ed25519_dalek::VerifyingKey, String> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an Ed25519 key that is not 32 bytes".to_string())?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|error| format!("an invalid Ed25519 key: {error}"))
}

fn left_pad(value: &[u8], length: usize) -> Option<Vec<u8>> {
    let padding = length.checked_sub(value.len())?;
    let mut padded = vec![0; padding];
    padded.extend_from_slice(value);
    Some(padded)
}

fn upper_hex(bytes: &[u8]) -> String {
    crate::sha256::hex(bytes).to_ascii_uppercase()
}

/// Bounds-checked reading of packet bodies.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8], String> {
        if length > self.data.len() {
            return Err("a truncated packet".to_string());
        }
        let (taken, rest) = self.data.split_at(length);
        self.data = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A multiprecision integer (RFC 9580 §3.2): a bit count, then the big-endian bytes.
    fn mpi(&mut self) -> Result<&'a [u8], String> {
        let bits = usize::from(self.u16()?);
        self.take(bits.div_ceil(8))
    }

    fn rest(&self) -> &'a [u8] {
        self.data
    }
}

struct Packet<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Splits binary (dearmored) data into packets (RFC 9580 §4.2), in both header formats. Partial
/// body lengths are refused: neither keys nor signatures use them.
fn packets(data: &[u8]) -> Result<Vec<Packet<'_>>, String> {
    let mut reader = Reader::new(data);
    let mut packets = Vec::new();
    while !reader.rest().is_empty() {
        let header = reader.byte()?;
        if header & 0x80 == 0 {
            return Err(format!("an invalid packet header {header:#04x}"));
        }
        let (tag, length) = if header & 0x40 == 0 {
            let tag = (header >> 2) & 0x0F;
            let length = match header & 0x03 {
                0 => usize::from(reader.byte()?),
                1 => usize::from(reader.u16()?),
                2 => reader.u32()? as usize,
                _ => reader.rest().len(),
            };
            (tag, length)
        } else {
            let tag = header & 0x3F;
            let first = usize::from(reader.byte()?);
            let length = match first {
                0..192 => first,
                192..224 => ((first - 192) << 8) + usize::from(reader.byte()?) + 192,
                255 => reader.u32()? as usize,
                _ => return Err("a packet with partial body lengths".to_string()),
            };
            (tag, length)
        };
        packets.push(Packet {
            tag,
            body: reader.take(length)?,
        });
    }
    Ok(packets)
}

/// A signature subpacket: type, critical bit, data.
type Subpacket<'a> = (u8, bool, &'a [u8]);

/// Signature subpackets (RFC 9580 §5.2.3.7).
fn subpackets(data: &[u8]) -> Result<Vec<Subpacket<'_>>, String> {
    let mut reader = Reader::new(data);
    let mut subpackets = Vec::new();
    while !reader.rest().is_empty() {
        let first = usize::from(reader.byte()?);
        let length = match first {
            0..192 => first,
            192..255 => ((first - 192) << 8) + usize::from(reader.byte()?) + 192,
            _ => reader.u32()? as usize,
        };
        let body = reader.take(length)?;
        let Some((&kind, data)) = body.split_first() else {
            return Err("an empty signature subpacket".to_string());
        };
        subpackets.push((kind & 0x7F, kind & 0x80 != 0, data));
    }
    Ok(subpackets)
}

/// A cleartext-signed message taken apart.
struct Cleartext<'a> {
    /// The signed lines, dash-escapes removed and trailing spaces and tabs dropped.
    lines: Vec<&'a str>,
    /// The dearmored signature packets.
    signature: Vec<u8>,
}

const BEGIN_MESSAGE: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";

/// Takes a cleartext signed message apart (RFC 9580 §7), strictly: it must start with the
/// `BEGIN PGP SIGNED MESSAGE` line, its only armor header is `Hash`, every signed line that
/// starts with `-` is dash-escaped, and nothing but whitespace follows the signature.
fn parse_cleartext(input: &str) -> Result<Cleartext<'_>, String> {
    let mut lines = input
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    if lines.next().map(str::trim_end) != Some(BEGIN_MESSAGE) {
        return Err(format!("it does not start with `{BEGIN_MESSAGE}`"));
    }
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if !line.starts_with("Hash:") {
            return Err(format!("an unexpected armor header `{line}`"));
        }
    }
    let mut signed = Vec::new();
    loop {
        let line = lines
            .next()
            .ok_or_else(|| format!("there is no `{BEGIN_SIGNATURE}` line"))?;
        if line.trim_end() == BEGIN_SIGNATURE {
            break;
        }
        let line = match line.strip_prefix("- ") {
            Some(unescaped) => unescaped,
            None if line.starts_with('-') => {
                return Err(format!(
                    "a signed line starts with `-` but is not dash-escaped: `{line}`"
                ));
            }
            None => line,
        };
        signed.push(line.trim_end_matches([' ', '\t']));
    }
    // Armor headers of the signature block (such as `Version:`), then a blank line.
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if !line.contains(": ") {
            return Err(format!("an invalid armor header `{line}` in the signature"));
        }
    }
    let mut base64 = String::new();
    let mut checksum = None;
    let mut ended = false;
    for line in lines.by_ref() {
        let line = line.trim();
        if line == END_SIGNATURE {
            ended = true;
            break;
        }
        if checksum.is_some() {
            return Err("text between the armor checksum and the end of the signature".to_string());
        }
        match line.strip_prefix('=') {
            Some(sum) if sum.len() == 4 => checksum = Some(sum.to_string()),
            _ => base64.push_str(line),
        }
    }
    if !ended {
        return Err(format!("there is no `{END_SIGNATURE}` line"));
    }
    if lines.any(|line| !line.trim().is_empty()) {
        return Err("text after the signature".to_string());
    }
    let signature = decode_base64(&base64).ok_or("the signature is not valid base64")?;
    if let Some(checksum) = checksum {
        let expected = decode_base64(&checksum).ok_or("the armor checksum is not valid base64")?;
        let actual = crc24(&signature).to_be_bytes();
        if expected != actual[1..] {
            return Err("the armor checksum does not match the signature".to_string());
        }
    }
    Ok(Cleartext {
        lines: signed,
        signature,
    })
}

/// Strict standard base64 (RFC 4648 §4), with `=` padding only at the end.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let value = |byte: u8| -> Option<u32> {
        Some(u32::from(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut output = Vec::with_capacity(text.len() / 4 * 3);
    let chunks = text.len() / 4;
    for (index, chunk) in text.chunks(4).enumerate() {
        let padding = chunk.iter().rev().take_while(|byte| **byte == b'=').count();
        if padding > 2 || (padding > 0 && index + 1 != chunks) {
            return None;
        }
        let mut word = 0;
        for &byte in &chunk[..4 - padding] {
            word = (word << 6) | value(byte)?;
        }
        word <<= 6 * padding;
        let bytes = word.to_be_bytes();
        output.extend_from_slice(&bytes[1..4 - padding]);
    }
    Some(output)
}

/// The armor checksum (RFC 9580 §6.1).
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &[u8] = include_bytes!("testdata/InRelease.both");
    const RSA_SHA512: &[u8] = include_bytes!("testdata/InRelease.rsa-sha512");
    const ED25519_ONLY: &[u8] = include_bytes!("testdata/InRelease.ed25519");

    /// A test keyring made with `gpg`: an RSA-2048 primary key with an RSA signing subkey
    /// (the shape of Debian's archive keys), and an Ed25519 key (like the release keys).
    fn test_keyring() -> Keyring {
        Keyring::from_keyrings(&[(
            "test-keyring.gpg",
            include_bytes!("testdata/test-keyring.gpg"),
        )])
        .unwrap()
    }

    #[test]
    fn verifies_rsa_and_ed25519_signatures() {
        let keyring = test_keyring();
        for input in [BOTH, RSA_SHA512, ED25519_ONLY] {
            let verified = keyring.verify_cleartext(input).unwrap();
            assert!(
                verified
                    .text
                    .starts_with("Origin: Debian\nCodename: testsuite\n")
            );
            // The dash-escape is removed, and trailing whitespace is not part of the text.
            assert!(
                verified
                    .text
                    .contains("\n-- a line that needs dash-escaping\n")
            );
            assert!(verified.text.ends_with("\ntrailing whitespace here\n"));
        }
        let rsa_signer = keyring.verify_cleartext(RSA_SHA512).unwrap().signer;
        let ed_signer = keyring.verify_cleartext(ED25519_ONLY).unwrap().signer;
        assert_ne!(rsa_signer, ed_signer);
    }

    #[test]
    fn rejects_a_changed_byte() {
        let keyring = test_keyring();
        for input in [BOTH, RSA_SHA512, ED25519_ONLY] {
            let text = std::str::from_utf8(input).unwrap();
            let tampered = text.replacen("Codename: testsuite", "Codename: testsuitf", 1);
            let error = keyring.verify_cleartext(tampered.as_bytes()).unwrap_err();
            assert!(error.contains("bad signature"), "{error}");
            // Changing any one byte of the signed text breaks every signature.
            let start = text.find("Origin").unwrap();
            let end = text.find(BEGIN_SIGNATURE).unwrap();
            for at in (start..end).step_by(7) {
                let mut bytes = input.to_vec();
                bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
                assert!(keyring.verify_cleartext(&bytes).is_err(), "byte {at}");
            }
        }
        let tampered = std::str::from_utf8(BOTH).unwrap().replacen(
            "Codename: testsuite",
            "Codename: testsuitf",
            1,
        );
        let error = keyring.verify_cleartext(tampered.as_bytes()).unwrap_err();
        insta::assert_snapshot!(error, @"signature 1: bad signature by key 391A22AE4108C01A2583E9C287D9549030CBBBF1 (the digest does not match); signature 2: bad signature by key 7D90D55A4FC04E88802A3C642BBFD75666E04F7F (the digest does not match)");
    }

    #[test]
    fn rejects_unknown_keys_and_unsigned_text() {
        let debian = Keyring::debian().unwrap();
        let error = debian.verify_cleartext(BOTH).unwrap_err();
        assert!(error.contains("which is not a shipped key"), "{error}");

        let keyring = test_keyring();
        let text = std::str::from_utf8(BOTH).unwrap();
        let prepended = format!("Codename: evil\n\n{text}");
        insta::assert_snapshot!(keyring.verify_cleartext(prepended.as_bytes()).unwrap_err(), @"it does not start with `-----BEGIN PGP SIGNED MESSAGE-----`");
        let appended = format!("{text}Codename: evil\n");
        insta::assert_snapshot!(keyring.verify_cleartext(appended.as_bytes()).unwrap_err(), @"text after the signature");
        let unescaped = text.replacen("- -- a line", "-- a line", 1);
        assert!(keyring.verify_cleartext(unescaped.as_bytes()).is_err());
        let header = text.replacen("Hash: SHA256", "Hash: SHA256\nCharset: evil", 1);
        assert!(keyring.verify_cleartext(header.as_bytes()).is_err());
    }

    #[test]
    fn debian_keys_parse() {
        let keyring = Keyring::debian().unwrap();
        let fingerprints: Vec<String> = keyring
            .keys
            .iter()
            .map(|key| upper_hex(&key.fingerprint))
            .collect();
        // The signing subkeys of the automatic keys, and the Ed25519 release keys.
        for expected in [
            "4CB50190207B4758A3F73A796ED0E7B82643E131",
            "B8E5F13176D2A7A75220028078DBA3BC47EF2265",
            "4D64FEC119C2029067D6E791F8D2585B8783D481",
            "41587F7DB8C774BCCF131416762F67A0B2C39DE4",
        ] {
            assert!(
                fingerprints
                    .iter()
                    .any(|fingerprint| fingerprint == expected),
                "{expected}"
            );
        }
    }

    #[test]
    fn base64_and_crc24() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(decode_base64("aGVsbA==").unwrap(), b"hell");
        assert!(decode_base64("aGVsbG8").is_none());
        assert!(decode_base64("aG=sbG8=").is_none());
        assert!(decode_base64("aGVs*G8=").is_none());
        assert_eq!(crc24(b""), 0x00B7_04CE);
    }
}
