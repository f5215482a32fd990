//! Images out of the store as single files other tools load: a docker-archive for
//! `docker load`, and an oci-archive (a tar of an OCI image layout) for `skopeo`, `podman`
//! and `umoci`.
//!
//! Both are written to a temp file beside the output and renamed over it when whole, and both
//! are reproducible: entries in a fixed order, with fixed owners, modes and times.

mod docker;
mod oci;

use std::io::{self, BufWriter, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tempfile::NamedTempFile;

pub use self::docker::export_docker_archive;
pub use self::oci::{export_oci_archive, export_oci_archive_with_compression};
use super::digest::Digest;
use super::error::OciError;
use crate::error::FromIo;

/// A tar file being written next to `out`, with fixed entry metadata.
struct ArchiveWriter {
    out: PathBuf,
    builder: tar::Builder<BufWriter<NamedTempFile>>,
}

impl ArchiveWriter {
    fn create(out: &Path) -> Result<Self, OciError> {
        let dir = match out.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".mlpack-export-")
            .tempfile_in(dir)
            .map_err(|source| OciError::io("create a temp file in", dir, source))?;
        Ok(Self {
            out: out.to_path_buf(),
            builder: tar::Builder::new(BufWriter::with_capacity(1 << 20, temp)),
        })
    }

    fn failed(&self, source: io::Error) -> OciError {
        OciError::Write {
            path: self.out.clone(),
            source,
        }
    }

    fn header(
        name: &str,
        size: u64,
        entry_type: tar::EntryType,
        mode: u32,
    ) -> io::Result<tar::Header> {
        let mut header = tar::Header::new_ustar();
        header.set_path(name)?;
        header.set_size(size);
        header.set_entry_type(entry_type);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        Ok(header)
    }

    fn add_dir(&mut self, name: &str) -> Result<(), OciError> {
        Self::header(name, 0, tar::EntryType::Directory, 0o755)
            .and_then(|header| self.builder.append(&header, io::empty()))
            .map_err(|source| self.failed(source))
    }

    fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), OciError> {
        Self::header(name, bytes.len() as u64, tar::EntryType::Regular, 0o644)
            .and_then(|header| self.builder.append(&header, bytes))
            .map_err(|source| self.failed(source))
    }

    /// Add `size` bytes from `reader`; returns the sha256 of what was read. Fails if `reader`
    /// does not give exactly `size` bytes (`what` names it in the error).
    fn add_stream(
        &mut self,
        name: &str,
        size: u64,
        reader: impl Read,
        what: &Path,
    ) -> Result<Digest, OciError> {
        let mut hashing = HashingReader {
            inner: reader.take(size),
            hasher: Sha256::new(),
            count: 0,
        };
        Self::header(name, size, tar::EntryType::Regular, 0o644)
            .and_then(|header| self.builder.append(&header, &mut hashing))
            .map_err(|source| self.failed(source))?;
        if hashing.count != size {
            return Err(OciError::FileChanged {
                path: what.to_path_buf(),
                expected: size,
                actual: hashing.count,
            });
        }
        Ok(hashing.digest())
    }

    /// Finish the tar and move it to `out`.
    fn finish(self) -> Result<(), OciError> {
        let out = self.out;
        let failed = |source| OciError::Write {
            path: out.clone(),
            source,
        };
        let buffered = self.builder.into_inner().map_err(failed)?;
        let temp = buffered
            .into_inner()
            .map_err(|error| failed(error.into_error()))?;
        // Readable like any file the user writes (a temp file starts as 0600).
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .and_then(|()| temp.as_file().sync_all())
            .map_err(failed)?;
        temp.persist(&out)
            .map_err(|error| OciError::io("replace", out.clone(), error.error))?;
        Ok(())
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R> HashingReader<R> {
    fn digest(self) -> Digest {
        Digest::from_hash(&self.hasher.finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        self.count += read as u64;
        Ok(read)
    }
}
