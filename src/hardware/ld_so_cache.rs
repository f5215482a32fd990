//! A parser for glibc's `/etc/ld.so.cache`, the soname → path table `ldconfig` writes, in the
//! layouts of glibc 2.2 and later. Format: `sysdeps/generic/dl-cache.h`
//! (<https://sourceware.org/git/?p=glibc.git;a=blob;f=sysdeps/generic/dl-cache.h>).

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;
/// `FLAG_ELF_LIBC6 | FLAG_X8664_LIB64` and `FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64`.
const X86_64: i32 = 0x0303;
const AARCH64: i32 = 0x0a03;

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) flags: i32,
    /// The soname, `libcuda.so.1`.
    pub(super) key: String,
    /// The path `ldconfig` found it at, `/lib/x86_64-linux-gnu/libcuda.so.1`.
    pub(super) value: String,
}

impl Entry {
    /// A 64-bit x86-64 or `AArch64` library: 32-bit copies (`i386`, flags `0x0003`) can't
    /// be loaded by the 64-bit programs an ML image runs.
    pub(super) fn is_64_bit(&self) -> bool {
        matches!(self.flags, X86_64 | AARCH64)
    }
}

/// The entries in the file's order (the order the loader prefers them in).
///
/// 1. The new format alone (glibc 2.32+): header `glibc-ld.so.cache1.1` at byte 0.
/// 2. The old format followed by the new (glibc 2.2 to 2.31): `ld.so-1.7.0`, a `u32` count
///    at byte 12, that many 12-byte entries, then the new header aligned to 8 bytes; only the
///    new part is read. A cache in the old format alone (libc5 era) is refused.
///
/// The new header: magic and version (20 bytes), `nlibs: u32`, `len_strings: u32`,
/// `flags: u8` (bits 0-1: 2 little-endian, 3 big-endian, else the host's order), padding,
/// `extension_offset: u32` and 3 unused `u32`s; then `nlibs` entries of `flags: i32,
/// key: u32, value: u32, osversion: u32, hwcap: u64`. Key and value are offsets of
/// NUL-terminated strings, counted from the start of the new header.
pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Entry>, &'static str> {
    let start = if bytes.starts_with(NEW_MAGIC) {
        0
    } else if bytes.starts_with(OLD_MAGIC) {
        let old_count =
            read_u32(bytes, 12, cfg!(target_endian = "big")).ok_or("it is truncated")?;
        let old_end = usize::try_from(old_count)
            .ok()
            .and_then(|count| count.checked_mul(12))
            .and_then(|len| len.checked_add(16))
            .ok_or("it is truncated")?;
        let start = old_end.next_multiple_of(8);
        if !bytes
            .get(start..)
            .is_some_and(|rest| rest.starts_with(NEW_MAGIC))
        {
            return Err("it has only the old `ld.so-1.7.0` format, which mlpack does not read");
        }
        start
    } else {
        return Err("it does not start with `glibc-ld.so.cache1.1`");
    };
    let table = &bytes[start..];
    let header = table.get(..HEADER_LEN).ok_or("it is truncated")?;
    let big_endian = match header[28] & 3 {
        2 => false,
        3 => true,
        _ => cfg!(target_endian = "big"),
    };
    let count = read_u32(header, 20, big_endian).ok_or("it is truncated")?;
    let count = usize::try_from(count).map_err(|_| "it is truncated")?;
    let entries_end = count
        .checked_mul(ENTRY_LEN)
        .and_then(|len| len.checked_add(HEADER_LEN))
        .filter(|end| *end <= table.len())
        .ok_or("it is truncated")?;
    let mut entries = Vec::with_capacity(count);
    for at in (HEADER_LEN..entries_end).step_by(ENTRY_LEN) {
        let field = |offset| read_u32(table, at + offset, big_endian).ok_or("it is truncated");
        let flags = i32::from_ne_bytes(field(0)?.to_ne_bytes());
        let key = string_at(table, field(4)?)?;
        let value = string_at(table, field(8)?)?;
        // A name that isn't UTF-8 isn't one of the driver's.
        if let (Some(key), Some(value)) = (key, value) {
            entries.push(Entry { flags, key, value });
        }
    }
    Ok(entries)
}

fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(word)
    } else {
        u32::from_le_bytes(word)
    })
}

fn string_at(table: &[u8], offset: u32) -> Result<Option<String>, &'static str> {
    let rest = usize::try_from(offset)
        .ok()
        .and_then(|offset| table.get(offset..))
        .ok_or("a string offset points past its end")?;
    let end = rest
        .iter()
        .position(|byte| *byte == 0)
        .ok_or("a string runs past its end")?;
    Ok(String::from_utf8(rest[..end].to_vec()).ok())
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::hardware::tests::ld_so_cache;

    /// The glibc 2.2–2.31 layout: `ld.so-1.7.0`, padding, a native-endian count, one 12-byte
    /// old entry, padding to 8 bytes, then the new format.
    fn with_old_format(new: &[u8]) -> Vec<u8> {
        let mut bytes = b"ld.so-1.7.0\0".to_vec();
        bytes.extend(1u32.to_ne_bytes());
        bytes.extend([0; 12]);
        bytes.resize(32, 0);
        bytes.extend(new);
        bytes
    }

    #[test]
    fn linker_cache_reads_both_layouts() {
        let new = ld_so_cache(&[
            (
                0x0a03,
                "libcuda.so.1",
                "/usr/lib/aarch64-linux-gnu/libcuda.so.1",
            ),
            (
                0x0003,
                "libcuda.so.1",
                "/usr/lib/arm-linux-gnueabihf/libcuda.so.1",
            ),
        ]);
        for bytes in [new.clone(), with_old_format(&new)] {
            let entries = parse(&bytes).unwrap();
            let summary: Vec<(bool, &str, &str)> = entries
                .iter()
                .map(|entry| (entry.is_64_bit(), entry.key.as_str(), entry.value.as_str()))
                .collect();
            assert_eq!(
                summary,
                [
                    (
                        true,
                        "libcuda.so.1",
                        "/usr/lib/aarch64-linux-gnu/libcuda.so.1"
                    ),
                    (
                        false,
                        "libcuda.so.1",
                        "/usr/lib/arm-linux-gnueabihf/libcuda.so.1"
                    ),
                ]
            );
        }
        let mut old_only = b"ld.so-1.7.0\0".to_vec();
        old_only.extend(0u32.to_ne_bytes());
        let errors: Vec<&str> = [&old_only[..], b"\x7fELF", &new[..new.len() - 3], &new[..60]]
            .iter()
            .map(|bytes| parse(bytes).unwrap_err())
            .collect();
        insta::assert_snapshot!(errors.join("\n"), @"
        it has only the old `ld.so-1.7.0` format, which mlpack does not read
        it does not start with `glibc-ld.so.cache1.1`
        a string runs past its end
        it is truncated
        ");
    }
}
