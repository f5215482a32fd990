//! The outer tar of an image archive, read as a table of entries and never extracted.
//!
//! An archive is untrusted input. Its entries are looked up by name and streamed from their
//! offsets in the file, so no path in it ever reaches the file system. The rules: 1. an entry
//! named absolutely or with a `..` component is refused; 2. a symlink resolves lexically
//! inside the archive (Docker 25 writes `<id>/layer.tar -> ../blobs/sha256/<hex>`, older
//! Dockers `<id>/layer.tar -> ../<other id>/layer.tar` for a repeated layer), and one that
//! leaves it is refused; 3. a hard link names another entry from the archive's root; 4. only
//! regular files have content: anything else named by a document is an error.
//!
//! Tar format: <https://pubs.opengroup.org/onlinepubs/9799919799/utilities/pax.html>.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::super::error::OciError;
use crate::compression::MAGIC_LEN;
use crate::error::FromIo;

/// The largest JSON document (manifest, config, index) read into memory. Configs with a long
/// history run to a few hundred KiB.
const MAX_DOCUMENT_SIZE: u64 = 32 << 20;
/// Symlinks followed in a row before the lookup gives up.
const MAX_LINK_DEPTH: usize = 16;

/// An archive's entries by normalized name (`blobs/sha256/<hex>`, no `./`).
pub(super) struct Archive {
    path: PathBuf,
    file: File,
    entries: HashMap<String, Node>,
}

enum Node {
    /// A regular file's content: where it starts in the archive, and its length.
    File { offset: u64, size: u64 },
    /// A symlink or hard link, by the normalized name of its target.
    Link(String),
    /// A directory, device or other entry with no content (`kind` names it).
    Other(&'static str),
}

/// A regular file in the archive, found by [`Archive::entry`].
pub(super) struct Entry<'a> {
    archive: &'a Archive,
    /// The name it was looked up by, for messages.
    pub(super) name: String,
    offset: u64,
    pub(super) size: u64,
}

impl Archive {
    /// List the entries of the tar in `file`; `path` names it in messages. Reads only the
    /// headers: contents are skipped by seeking.
    pub(super) fn read(file: File, path: &Path) -> Result<Self, OciError> {
        let invalid = |message: String| OciError::InvalidArchive {
            path: path.to_path_buf(),
            message,
        };
        let unsafe_entry = |entry: &str| OciError::UnsafeArchiveEntry {
            path: path.to_path_buf(),
            entry: entry.to_string(),
        };
        // The tar reader's own errors quote raw header bytes, so they are not shown.
        let damaged = |last: &Option<String>| match last {
            None => invalid("it is not a tar file".to_string()),
            Some(last) => invalid(format!(
                "the tar file is damaged or cut short after the entry `{last}`"
            )),
        };
        let mut entries = HashMap::new();
        let mut last = None;
        let mut tar = tar::Archive::new(&file);
        let listed = tar.entries_with_seek().map_err(|_| damaged(&last))?;
        for entry in listed {
            let entry = entry.map_err(|_| damaged(&last))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            last = Some(raw.clone());
            let Some(name) = normalize_name(&raw) else {
                return Err(unsafe_entry(&raw));
            };
            let kind = entry.header().entry_type();
            let node = if kind.is_file() {
                Node::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|target| String::from_utf8_lossy(&target).into_owned())
                    .unwrap_or_default();
                let resolved = if kind.is_symlink() {
                    resolve_symlink(&name, &target)
                } else {
                    normalize_name(&target)
                };
                Node::Link(resolved.ok_or_else(|| unsafe_entry(&format!("{raw} -> {target}")))?)
            } else if kind.is_dir() {
                Node::Other("directory")
            } else {
                Node::Other("special file")
            };
            if !name.is_empty() {
                entries.insert(name, node);
            }
        }
        if entries.is_empty() {
            return Err(invalid("it is empty".to_string()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            entries,
        })
    }

    /// The archive's name in messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the archive has an entry `name` (of any kind).
    pub(super) fn has(&self, name: &str) -> bool {
        normalize_name(name).is_some_and(|name| self.entries.contains_key(&name))
    }

    /// The regular file `name`, following links; `referenced_by` says what names it, for the
    /// error when it is missing.
    pub(super) fn entry(&self, name: &str, referenced_by: &str) -> Result<Entry<'_>, OciError> {
        let unsafe_entry = || OciError::UnsafeArchiveEntry {
            path: self.path.clone(),
            entry: name.to_string(),
        };
        let mut current = normalize_name(name).ok_or_else(unsafe_entry)?;
        for _ in 0..MAX_LINK_DEPTH {
            match self.entries.get(&current) {
                Some(Node::File { offset, size }) => {
                    return Ok(Entry {
                        archive: self,
                        name: name.to_string(),
                        offset: *offset,
                        size: *size,
                    });
                }
                Some(Node::Link(target)) => current.clone_from(target),
                Some(Node::Other(kind)) => {
                    return Err(OciError::InvalidArchive {
                        path: self.path.clone(),
                        message: format!(
                            "`{name}`, which {referenced_by} names, is a {kind}, not a file"
                        ),
                    });
                }
                None => {
                    return Err(OciError::ArchiveEntryMissing {
                        path: self.path.clone(),
                        entry: name.to_string(),
                        referenced_by: referenced_by.to_string(),
                    });
                }
            }
        }
        Err(OciError::InvalidArchive {
            path: self.path.clone(),
            message: format!("`{name}` is a chain of more than {MAX_LINK_DEPTH} links"),
        })
    }

    /// Parse the JSON document `name`; returns it and its bytes (which its digest covers).
    pub(super) fn read_json<T: DeserializeOwned>(
        &self,
        name: &str,
        referenced_by: &str,
    ) -> Result<(T, Vec<u8>), OciError> {
        let entry = self.entry(name, referenced_by)?;
        let bytes = entry.read_document()?;
        let parsed = serde_json::from_slice(&bytes).map_err(|error| OciError::InvalidArchive {
            path: self.path.clone(),
            message: format!("`{name}` is not valid: {error}"),
        })?;
        Ok((parsed, bytes))
    }
}

impl Entry<'_> {
    /// The content as a stream, which fails if the archive ends before it does.
    pub(super) fn reader(&self) -> EntryReader<'_> {
        EntryReader {
            file: &self.archive.file,
            offset: self.offset,
            remaining: self.size,
        }
    }

    /// The first bytes of the content (fewer if it is shorter), to tell its compression.
    pub(super) fn head(&self) -> Result<Vec<u8>, OciError> {
        let mut head = Vec::with_capacity(MAGIC_LEN);
        self.reader()
            .take(MAGIC_LEN as u64)
            .read_to_end(&mut head)
            .map_err(|source| self.read_failed(&source))?;
        Ok(head)
    }

    /// The whole content of a small document.
    pub(super) fn read_document(&self) -> Result<Vec<u8>, OciError> {
        if self.size > MAX_DOCUMENT_SIZE {
            return Err(OciError::InvalidArchive {
                path: self.archive.path.clone(),
                message: format!(
                    "`{}` is {} bytes; a JSON document here is at most {MAX_DOCUMENT_SIZE}",
                    self.name, self.size
                ),
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        self.reader()
            .read_to_end(&mut bytes)
            .map_err(|source| self.read_failed(&source))?;
        Ok(bytes)
    }

    /// The error for a failed read of this entry.
    fn read_failed(&self, source: &io::Error) -> OciError {
        OciError::io(
            "read the archive",
            &self.archive.path,
            io::Error::new(source.kind(), format!("entry `{}`: {source}", self.name)),
        )
    }
}

/// An entry's bytes, read at their offset in the archive (so readers do not share a cursor).
pub(super) struct EntryReader<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wanted = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if wanted == 0 {
            return Ok(0);
        }
        let read = self.file.read_at(&mut buf[..wanted], self.offset)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside the entry",
            ));
        }
        self.offset += read as u64;
        self.remaining -= read as u64;
        Ok(read)
    }
}

/// `name` without `./`, empty and `.` components, or `None` if it is absolute or has a `..`
/// component. The archive's root is the empty string.
fn normalize_name(name: &str) -> Option<String> {
    if name.starts_with('/') {
        return None;
    }
    let mut components = Vec::new();
    for component in name.split('/') {
        match component {
            "" | "." => {}
            ".." => return None,
            component => components.push(component),
        }
    }
    Some(components.join("/"))
}

/// Where the symlink `link` (normalized) to `target` points, resolved inside the archive, or
/// `None` if it is absolute or climbs out of the archive.
fn resolve_symlink(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut components: Vec<&str> = link.split('/').filter(|c| !c.is_empty()).collect();
    components.pop();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                components.pop()?;
            }
            component => components.push(component),
        }
    }
    Some(components.join("/"))
}

/// Parse JSON that [`Archive::read_json`] read, for callers that hashed the bytes first.
pub(super) fn parse_json<T: DeserializeOwned>(
    archive: &Archive,
    name: &str,
    bytes: &[u8],
) -> Result<T, OciError> {
    serde_json::from_slice(bytes).map_err(|error| OciError::InvalidArchive {
        path: archive.path.clone(),
        message: format!("`{name}` is not valid: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_archive() {
        assert_eq!(
            normalize_name("./blobs//sha256/ab").as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(
            normalize_name("manifest.json").as_deref(),
            Some("manifest.json")
        );
        assert_eq!(normalize_name("./").as_deref(), Some(""));
        for bad in ["/etc/passwd", "../x", "a/../../x", "a/.."] {
            assert_eq!(normalize_name(bad), None, "{bad}");
        }
        assert_eq!(
            resolve_symlink("abc/layer.tar", "../blobs/sha256/ff").as_deref(),
            Some("blobs/sha256/ff")
        );
        assert_eq!(
            resolve_symlink("abc/layer.tar", "./other.tar").as_deref(),
            Some("abc/other.tar")
        );
        assert_eq!(resolve_symlink("abc/layer.tar", "../../etc/passwd"), None);
        assert_eq!(resolve_symlink("layer.tar", "/etc/passwd"), None);
    }
}
