//! Just enough of the [ZIP format] to find and read a wheel's `METADATA` from a few byte ranges:
//! the end-of-central-directory record (and its ZIP64 form), the central directory, and one
//! local file header with its data.
//!
//! Hand-written rather than the `zip` crate, because that wants a `Read + Seek` over the whole
//! file, while over HTTP ranges we want to fetch only the few kilobytes these records occupy
//! (a 700 MB `torch` wheel needs the tail, its directory and one small entry).
//!
//! [ZIP format]: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT

use std::io::Read;

const END_SIGNATURE: u32 = 0x0605_4b50;
const END_SIZE: usize = 22;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_SIZE: usize = 20;
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
pub(crate) const ZIP64_END_SIZE: usize = 56;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_SIZE: usize = 46;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
pub(crate) const LOCAL_SIZE: usize = 30;
/// `METADATA` files are a few KB; anything claiming more than this is not one.
pub(crate) const MAX_METADATA_SIZE: u64 = 64 * 1024 * 1024;

/// Where the central directory lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Directory {
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// What the end of the file says about the central directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Directory(Directory),
    /// A ZIP64 archive whose ZIP64 end record starts at this offset, outside the bytes given.
    Zip64At(u64),
}

/// One central directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) method: u16,
    pub(crate) compressed_size: u64,
    pub(crate) uncompressed_size: u64,
    pub(crate) local_offset: u64,
}

/// Reads the end record from `tail`, the last bytes of the file, which start at `tail_start`.
pub(crate) fn find_end(tail: &[u8], tail_start: u64) -> Result<End, String> {
    // The end record is the last thing in the file but for its comment (up to 64 KiB), so
    // search backwards for its signature.
    let position = (0..=tail.len().saturating_sub(END_SIZE))
        .rev()
        .find(|&at| read_u32(tail, at) == Some(END_SIGNATURE))
        .ok_or("no end of central directory record: not a zip file")?;
    let end = &tail[position..];
    let size = u64::from(read_u32(end, 12).ok_or("truncated end record")?);
    let offset = u64::from(read_u32(end, 16).ok_or("truncated end record")?);
    // A ZIP64 locator right before the end record means the real values live in the ZIP64
    // end record, wherever the locator points.
    if let Some(locator_at) = position.checked_sub(ZIP64_LOCATOR_SIZE)
        && read_u32(tail, locator_at) == Some(ZIP64_LOCATOR_SIGNATURE)
    {
        let record = read_u64(tail, locator_at + 8).ok_or("truncated ZIP64 locator")?;
        let inside = record
            .checked_sub(tail_start)
            .and_then(|relative| usize::try_from(relative).ok())
            .filter(|&relative| relative + ZIP64_END_SIZE <= tail.len());
        return match inside {
            Some(relative) => parse_zip64_end(&tail[relative..]).map(End::Directory),
            None => Ok(End::Zip64At(record)),
        };
    }
    Ok(End::Directory(Directory { offset, size }))
}

/// Reads a ZIP64 end of central directory record.
pub(crate) fn parse_zip64_end(record: &[u8]) -> Result<Directory, String> {
    if read_u32(record, 0) != Some(ZIP64_END_SIGNATURE) {
        return Err("the ZIP64 locator points at no ZIP64 end record".to_string());
    }
    Ok(Directory {
        size: read_u64(record, 40).ok_or("truncated ZIP64 end record")?,
        offset: read_u64(record, 48).ok_or("truncated ZIP64 end record")?,
    })
}

/// Reads every entry of a central directory.
pub(crate) fn parse_directory(directory: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at + CENTRAL_SIZE <= directory.len() {
        if read_u32(directory, at) != Some(CENTRAL_SIGNATURE) {
            // Past the last entry (the ZIP64 end record or the end record may follow).
            break;
        }
        let field16 = |offset| read_u16(directory, at + offset).map(usize::from);
        let truncated = || format!("truncated central directory entry at byte {at}");
        let method = read_u16(directory, at + 10).ok_or_else(truncated)?;
        let mut compressed_size = u64::from(read_u32(directory, at + 20).ok_or_else(truncated)?);
        let mut uncompressed_size = u64::from(read_u32(directory, at + 24).ok_or_else(truncated)?);
        let name_length = field16(28).ok_or_else(truncated)?;
        let extra_length = field16(30).ok_or_else(truncated)?;
        let comment_length = field16(32).ok_or_else(truncated)?;
        let mut local_offset = u64::from(read_u32(directory, at + 42).ok_or_else(truncated)?);
        let name_start = at + CENTRAL_SIZE;
        let extra_start = name_start + name_length;
        let next = extra_start + extra_length + comment_length;
        let name = directory
            .get(name_start..extra_start)
            .ok_or_else(truncated)?;
        let extra = directory
            .get(extra_start..extra_start + extra_length)
            .ok_or_else(truncated)?;
        // ZIP64 extra field (0x0001): 8-byte values for exactly those fields that are
        // 0xFFFFFFFF above, in this order.
        if let Some(mut zip64) = find_extra(extra, 0x0001) {
            for field in [
                &mut uncompressed_size,
                &mut compressed_size,
                &mut local_offset,
            ] {
                if *field == u64::from(u32::MAX) {
                    *field = read_u64(zip64, 0).ok_or("truncated ZIP64 extra field")?;
                    zip64 = &zip64[8..];
                }
            }
        }
        entries.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method,
            compressed_size,
            uncompressed_size,
            local_offset,
        });
        at = next;
    }
    Ok(entries)
}

/// Which of `names` (a wheel's entries) is its `METADATA`: `<name>-<version>.dist-info/METADATA`
/// at the top level. Should a wheel have several dist-info directories, the one matching the
/// filename's name and version is taken.
pub(crate) fn find_metadata(names: &[&str], filename: &str) -> Result<usize, String> {
    let candidates: Vec<(usize, &str)> = names
        .iter()
        .enumerate()
        .filter_map(|(index, name)| {
            let stem = name.strip_suffix(".dist-info/METADATA")?;
            (!stem.contains('/')).then_some((index, stem))
        })
        .collect();
    if let [(only, _)] = candidates.as_slice() {
        return Ok(*only);
    }
    let mut parts = filename.splitn(3, '-');
    let (name, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let wanted = format!("{}-{version}", normalize(name));
    candidates
        .iter()
        .find(|(_, stem)| {
            stem.rsplit_once('-').is_some_and(|(name, version)| {
                format!("{}-{version}", normalize(name)) == wanted
            })
        })
        .map(|(index, _)| *index)
        .ok_or_else(|| match candidates.len() {
            0 => "no `.dist-info/METADATA` at the top level".to_string(),
            count => format!(
                "{count} `.dist-info` directories, none named after the wheel (`{wanted}.dist-info`)"
            ),
        })
}

/// Name comparison for dist-info directories: case-insensitive, with `-`, `_` and `.` alike.
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '.'], "_")
}

/// How many bytes from the local header of `entry` its data may span: up to the next entry's
/// local header, or the central directory. The local header's own "extra" length may differ
/// from the central one's, so this bound is what makes a single range request enough.
pub(crate) fn local_span(entries: &[Entry], entry: &Entry, directory: Directory) -> u64 {
    let next = entries
        .iter()
        .map(|other| other.local_offset)
        .filter(|&offset| offset > entry.local_offset)
        .min()
        .unwrap_or(directory.offset);
    next.saturating_sub(entry.local_offset)
}

/// Reads the data of `entry` from `local`, the bytes starting at its local header.
pub(crate) fn read_entry(local: &[u8], entry: &Entry) -> Result<Vec<u8>, String> {
    if read_u32(local, 0) != Some(LOCAL_SIGNATURE) {
        return Err(format!("no local file header for `{}`", entry.name));
    }
    let truncated = || format!("truncated local file header for `{}`", entry.name);
    let name_length = usize::from(read_u16(local, 26).ok_or_else(truncated)?);
    let extra_length = usize::from(read_u16(local, 28).ok_or_else(truncated)?);
    let start = LOCAL_SIZE + name_length + extra_length;
    let compressed_size = usize::try_from(entry.compressed_size).map_err(|_| truncated())?;
    let data = local
        .get(start..start + compressed_size)
        .ok_or_else(|| format!("the data of `{}` runs past what was read", entry.name))?;
    if entry.uncompressed_size > MAX_METADATA_SIZE {
        return Err(format!(
            "`{}` claims {} bytes, too large for metadata",
            entry.name, entry.uncompressed_size
        ));
    }
    let mut out = Vec::new();
    match entry.method {
        0 => out.extend_from_slice(data),
        8 => {
            flate2::read::DeflateDecoder::new(data)
                .take(MAX_METADATA_SIZE)
                .read_to_end(&mut out)
                .map_err(|error| format!("could not inflate `{}`: {error}", entry.name))?;
        }
        method => {
            return Err(format!(
                "`{}` uses compression method {method}; only stored (0) and deflate (8) are read",
                entry.name
            ));
        }
    }
    Ok(out)
}

/// The data of extra field `id` within an extra block.
fn find_extra(mut extra: &[u8], id: u16) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let this = read_u16(extra, 0)?;
        let size = usize::from(read_u16(extra, 2)?);
        let data = extra.get(4..4 + size)?;
        if this == id {
            return Some(data);
        }
        extra = &extra[4 + size..];
    }
    None
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;

    use super::*;

    /// A wheel with `files` (name, contents), each deflated; `METADATA` goes last, as real
    /// wheels have it.
    pub(crate) fn build_wheel(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, contents) in files {
            let options = if name.to_ascii_lowercase().ends_with(".txt") {
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
            } else {
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
            };
            writer.start_file(*name, options).unwrap();
            writer.write_all(contents).unwrap();
        }
        writer.set_comment("a wheel built by a test").unwrap();
        writer.finish().unwrap().into_inner()
    }

    fn read_metadata_from(wheel: &[u8], filename: &str) -> Result<Vec<u8>, String> {
        let End::Directory(directory) = find_end(wheel, 0)? else {
            panic!("the whole file was given");
        };
        let start = usize::try_from(directory.offset).unwrap();
        let size = usize::try_from(directory.size).unwrap();
        let entries = parse_directory(&wheel[start..start + size])?;
        let names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
        let entry = &entries[find_metadata(&names, filename)?];
        let local = usize::try_from(entry.local_offset).unwrap();
        let span = usize::try_from(local_span(&entries, entry, directory)).unwrap();
        read_entry(&wheel[local..local + span], entry)
    }

    #[test]
    fn reads_deflated_and_stored_entries() {
        let wheel = build_wheel(&[
            ("demo/__init__.py", b"print('hi')\n"),
            ("demo-1.0.dist-info/RECORD.txt", b"stored"),
            ("demo-1.0.dist-info/METADATA", b"Name: demo\nVersion: 1.0\n"),
        ]);
        assert_eq!(
            read_metadata_from(&wheel, "demo-1.0-py3-none-any.whl").unwrap(),
            b"Name: demo\nVersion: 1.0\n"
        );
        let End::Directory(directory) = find_end(&wheel, 0).unwrap() else {
            unreachable!()
        };
        let start = usize::try_from(directory.offset).unwrap();
        let entries = parse_directory(&wheel[start..]).unwrap();
        let stored = &entries[1];
        assert_eq!(stored.method, 0);
        let local = usize::try_from(stored.local_offset).unwrap();
        assert_eq!(read_entry(&wheel[local..], stored).unwrap(), b"stored");
    }

    #[test]
    fn picks_the_dist_info_named_after_the_wheel() {
        let wheel = build_wheel(&[
            ("other-2.0.dist-info/METADATA", b"Name: other\n"),
            ("nested/x-1.dist-info/METADATA", b"Name: nested\n"),
            ("Demo.Pkg-1.0.dist-info/METADATA", b"Name: demo.pkg\n"),
        ]);
        assert_eq!(
            read_metadata_from(&wheel, "demo_pkg-1.0-py3-none-any.whl").unwrap(),
            b"Name: demo.pkg\n"
        );
        assert_eq!(
            read_metadata_from(&wheel, "third-1.0-py3-none-any.whl").unwrap_err(),
            "2 `.dist-info` directories, none named after the wheel (`third-1.0.dist-info`)"
        );
    }

    #[test]
    fn not_a_zip() {
        assert_eq!(
            find_end(b"definitely not a zip file at all", 0).unwrap_err(),
            "no end of central directory record: not a zip file"
        );
    }

    #[test]
    fn zip64_end_record() {
        // A synthetic tail: ZIP64 end record, its locator, then the classic end record with
        // the 0xFFFFFFFF placeholders.
        let mut tail = Vec::new();
        tail.extend_from_slice(&ZIP64_END_SIGNATURE.to_le_bytes());
        tail.extend_from_slice(&44u64.to_le_bytes());
        tail.extend_from_slice(&[0; 4]); // versions
        tail.extend_from_slice(&[0; 8]); // disks
        tail.extend_from_slice(&3u64.to_le_bytes());
        tail.extend_from_slice(&3u64.to_le_bytes());
        tail.extend_from_slice(&5_000_000_000u64.to_le_bytes()); // size
        tail.extend_from_slice(&6_000_000_000u64.to_le_bytes()); // offset
        tail.extend_from_slice(&ZIP64_LOCATOR_SIGNATURE.to_le_bytes());
        tail.extend_from_slice(&0u32.to_le_bytes());
        tail.extend_from_slice(&11_000_000_000u64.to_le_bytes());
        tail.extend_from_slice(&1u32.to_le_bytes());
        tail.extend_from_slice(&END_SIGNATURE.to_le_bytes());
        tail.extend_from_slice(&[0xff; 16]);
        tail.extend_from_slice(&0u16.to_le_bytes());
        let directory = Directory {
            offset: 6_000_000_000,
            size: 5_000_000_000,
        };
        assert_eq!(
            find_end(&tail, 11_000_000_000).unwrap(),
            End::Directory(directory)
        );
        // The same tail, cut after the ZIP64 record: it must be fetched.
        assert_eq!(
            find_end(&tail[ZIP64_END_SIZE..], 11_000_000_000 + 56).unwrap(),
            End::Zip64At(11_000_000_000)
        );
    }

    #[test]
    fn zip64_extra_field() {
        let mut directory = Vec::new();
        directory.extend_from_slice(&CENTRAL_SIGNATURE.to_le_bytes());
        directory.extend_from_slice(&[0; 6]);
        directory.extend_from_slice(&8u16.to_le_bytes());
        directory.extend_from_slice(&[0; 8]);
        directory.extend_from_slice(&u32::MAX.to_le_bytes()); // compressed
        directory.extend_from_slice(&100u32.to_le_bytes()); // uncompressed
        directory.extend_from_slice(&4u16.to_le_bytes()); // name
        directory.extend_from_slice(&20u16.to_le_bytes()); // extra
        directory.extend_from_slice(&[0; 10]); // comment, disk, attributes
        directory.extend_from_slice(&u32::MAX.to_le_bytes()); // offset
        directory.extend_from_slice(b"a/b/");
        directory.extend_from_slice(&1u16.to_le_bytes());
        directory.extend_from_slice(&16u16.to_le_bytes());
        directory.extend_from_slice(&7_000_000_000u64.to_le_bytes());
        directory.extend_from_slice(&9_000_000_000u64.to_le_bytes());
        let entries = parse_directory(&directory).unwrap();
        assert_eq!(
            entries,
            [Entry {
                name: "a/b/".to_string(),
                method: 8,
                compressed_size: 7_000_000_000,
                uncompressed_size: 100,
                local_offset: 9_000_000_000,
            }]
        );
    }
}
