//! Layers: a directory tree written as one compressed, reproducible tar blob in the store.
//!
//! Spec: <https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md>. One pass does
//! it all: tar → sha256 (the diffID) → zstd or gzip → sha256 (the digest) → a temp file in the
//! store, renamed to `blobs/sha256/<hex>` when whole. The layer is never held in memory.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use oci_spec::image::{Descriptor, MediaType};
use tempfile::NamedTempFile;

use super::digest::{DiffId, Digest, DigestWriter};
use super::error::OciError;
use super::reproducible_tar::{TreeOptions, normalize_in_place, write_tree};
use super::store::Store;
use crate::compression::{Compression, DEFAULT_ZSTD_LEVEL, Encoder};
use crate::error::FromIo;

/// The mtime of every entry when `SOURCE_DATE_EPOCH` is not set: 2000-01-01T00:00:00Z.
/// Not 0: ZIP cannot store times before 1980, and Python's `zipfile` refuses such files.
pub const DEFAULT_MTIME: u64 = 946_684_800;
/// The variable that fixes the mtime (<https://reproducible-builds.org/specs/source-date-epoch/>).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// A layer blob in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The digest of the compressed blob: its name in the store and in the manifest.
    pub digest: Digest,
    /// The digest of the uncompressed tar: its entry in the config's `rootfs.diff_ids`.
    pub diff_id: DiffId,
    /// The size of the compressed blob in bytes.
    pub size: u64,
    pub media_type: String,
}

impl Layer {
    /// The manifest's `layers[]` entry for this layer.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            MediaType::from(self.media_type.as_str()),
            self.size,
            self.digest.to_oci(),
        )
    }
}

/// Writes directory trees as reproducible layers. Two writers with the same settings give
/// the same bytes for the same tree, on any machine.
#[derive(Debug, Clone)]
pub struct LayerWriter {
    compression: Compression,
    mtime: u64,
    zstd_level: i32,
    threads: u32,
}

impl Default for LayerWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerWriter {
    /// zstd at level 3, mtime [`DEFAULT_MTIME`], one zstd worker per CPU.
    pub fn new() -> Self {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        Self {
            compression: Compression::Zstd,
            mtime: DEFAULT_MTIME,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            threads,
        }
    }

    /// [`LayerWriter::new`], with the mtime from `SOURCE_DATE_EPOCH` when it is set.
    pub fn from_env() -> Result<Self, OciError> {
        let writer = Self::new();
        Ok(match source_date_epoch()? {
            Some(mtime) => writer.mtime(mtime),
            None => writer,
        })
    }

    /// [`Compression::Zstd`] (the default), [`Compression::Gzip`] or
    /// [`Compression::None`]; the others fail when a layer is written.
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The mtime of every entry, in seconds since 1970. Default: [`DEFAULT_MTIME`].
    #[must_use]
    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    /// The zstd level (1–22); it changes the bytes, so digests. Default: 3.
    #[must_use]
    pub fn zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }

    /// zstd worker threads. Default: the number of CPUs. zstd's multithreaded output is the
    /// same for any number of workers (the test `zstd_output_does_not_depend_on_the_thread_count`
    /// checks it), unlike its single-threaded mode, which mlpack therefore never uses: the
    /// count changes only the speed, never the digest.
    #[must_use]
    pub fn threads(mut self, threads: u32) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Write the tree at `root` (not `root` itself) as one layer blob into `store`. The tar is
    /// reproducible: entries sorted bytewise by path, directories explicit, uid/gid 0 with no
    /// names, this writer's mtime, no xattrs; directories 0755, files 0644 or 0755 (any
    /// execute bit), setuid/setgid/sticky kept and sticky directories (`/tmp`) unchanged;
    /// symlinks as symlinks, extra hard links as links to the first path in sort order; pax
    /// headers for paths over 100 bytes. Whiteouts are ordinary `.wh.*` files the caller made.
    /// If the blob already exists, the new copy is dropped.
    pub fn write_dir(&self, store: &Store, root: &Path) -> Result<Layer, OciError> {
        self.write_tree(store, root, TreeOptions::default(), &|_| {})
    }

    /// [`LayerWriter::write_dir`], telling `progress` of the tar's bytes as they are written
    /// (a MiB at a time, the rest at the end: the calls add up to the tar's size).
    pub fn write_dir_counted(
        &self,
        store: &Store,
        root: &Path,
        progress: &dyn Fn(u64),
    ) -> Result<Layer, OciError> {
        self.write_tree(store, root, TreeOptions::default(), progress)
    }

    /// Make the tree at `root`, just written with [`LayerWriter::write_dir`], what unpacking
    /// that layer gives (owners, modes, times as the tar has them), for the runtime's layer
    /// cache to take as it is; `false`, with nothing changed, when unpacking would not
    /// recreate it (device nodes, whiteout names).
    pub fn normalize_as_unpacked(&self, root: &Path) -> Result<bool, OciError> {
        normalize_in_place(root, self.mtime, false)
    }

    /// [`LayerWriter::normalize_as_unpacked`] for a tree written with
    /// [`LayerWriter::write_keeping_owners`]: only the times change.
    pub fn normalize_as_unpacked_keeping_owners(&self, root: &Path) -> Result<bool, OciError> {
        normalize_in_place(root, self.mtime, true)
    }

    /// Write an overlayfs upper dir as a layer: overlay whiteouts (0:0 char devices) become
    /// `.wh.NAME` entries, opaque dirs (xattr `trusted.overlay.opaque` or
    /// `user.overlay.opaque` = "y") get a `.wh..wh..opq` entry, and the paths in `exclude`
    /// (relative, `/`-separated, e.g. "etc/resolv.conf", "data") are left out with everything
    /// under them. Whiteouts are empty 0644 files, as `docker commit` writes them; the rest is
    /// as [`LayerWriter::write_dir`] writes it (so every entry is owned by 0:0). An upper dir
    /// written with overlayfs's `redirect_dir` or `metacopy` features is refused: a tar cannot
    /// say what they record.
    pub fn write_overlay_upper(
        &self,
        store: &Store,
        upper: &Path,
        exclude: &[String],
    ) -> Result<Layer, OciError> {
        let options = TreeOptions {
            overlay_upper: true,
            exclude,
            keep_owners: false,
        };
        self.write_tree(store, upper, options, &|_| {})
    }

    /// [`LayerWriter::write_overlay_upper`] or (without `overlay_upper`)
    /// [`LayerWriter::write_dir`], but each entry keeps its owner and mode as found, as a
    /// Dockerfile's layers need (`RUN useradd`, `chown`, `COPY --chown`); times stay fixed.
    pub fn write_keeping_owners(
        &self,
        store: &Store,
        root: &Path,
        overlay_upper: bool,
        exclude: &[String],
    ) -> Result<Layer, OciError> {
        let options = TreeOptions {
            overlay_upper,
            exclude,
            keep_owners: true,
        };
        self.write_tree(store, root, options, &|_| {})
    }

    fn write_tree(
        &self,
        store: &Store,
        root: &Path,
        options: TreeOptions<'_>,
        progress: &dyn Fn(u64),
    ) -> Result<Layer, OciError> {
        let temp = store.temp_file()?;
        let compressor = self.blob_compressor(&temp)?;
        let counted = Counted {
            inner: DigestWriter::new(compressor),
            progress,
            pending: 0,
        };
        let tar = write_tree(root, self.mtime, options, counted)?;
        let (compressor, diff_id, _) = tar.finish().finish();
        let layer = self.finish_blob(&temp, compressor, diff_id)?;
        store.persist_blob(temp, &layer.digest)?;
        Ok(layer)
    }

    /// A copy of the layer `layer` (whose uncompressed digest is `diff_id`) compressed this
    /// writer's way, in a temp file of the store, for registries or runtimes that cannot read
    /// its current compression. The diffID stays the same; the digest changes.
    pub(crate) fn recompress(
        &self,
        store: &Store,
        layer: &Descriptor,
        diff_id: &DiffId,
    ) -> Result<(NamedTempFile, Layer), OciError> {
        let digest = Digest::from_oci(layer.digest())?;
        let temp = store.temp_file()?;
        let mut tar = DigestWriter::new(self.blob_compressor(&temp)?);
        io::copy(&mut store.open_layer(layer)?, &mut tar)
            .map_err(|source| OciError::io("recompress", store.blob_path(&digest), source))?;
        let (compressor, actual, _) = tar.finish();
        if actual != *diff_id.digest() {
            return Err(OciError::DiffIdMismatch {
                digest,
                expected: diff_id.clone(),
                actual: DiffId::new(actual),
            });
        }
        let layer = self.finish_blob(&temp, compressor, actual)?;
        Ok((temp, layer))
    }

    /// The compressor writing into `temp`, through the digest of the compressed bytes.
    fn blob_compressor<'a>(
        &self,
        temp: &'a NamedTempFile,
    ) -> Result<Encoder<DigestWriter<BufWriter<&'a File>>>, OciError> {
        let blob = DigestWriter::new(BufWriter::with_capacity(1 << 20, temp.as_file()));
        self.compression
            .writer(blob, self.zstd_level, self.threads)
            .map_err(|source| OciError::Write {
                path: temp.path().to_path_buf(),
                source,
            })
    }

    /// Flush the compressor and the file; the layer's description.
    fn finish_blob(
        &self,
        temp: &NamedTempFile,
        compressor: Encoder<DigestWriter<BufWriter<&File>>>,
        diff_id: Digest,
    ) -> Result<Layer, OciError> {
        let write_failed = |source| OciError::Write {
            path: temp.path().to_path_buf(),
            source,
        };
        let media_type = self.compression.layer_media_type().ok_or_else(|| {
            write_failed(io::Error::other(format!(
                "layers are never compressed with {}",
                self.compression.name()
            )))
        })?;
        let blob = compressor.finish().map_err(write_failed)?;
        let (buffered, digest, size) = blob.finish();
        buffered
            .into_inner()
            .map_err(|error| write_failed(error.into_error()))?;
        Ok(Layer {
            digest,
            diff_id: DiffId::new(diff_id),
            size,
            media_type: media_type.to_string(),
        })
    }
}

/// A writer that tells `progress` how many bytes went through it, a MiB at a time (a tar is
/// written 512 bytes at a time, too often to tell each).
struct Counted<'a, W> {
    inner: W,
    progress: &'a dyn Fn(u64),
    /// Written but not told yet.
    pending: u64,
}

impl<W> Counted<'_, W> {
    /// Tell what is left untold, and give the writer back.
    fn finish(self) -> W {
        (self.progress)(self.pending);
        self.inner
    }
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.pending += written as u64;
        if self.pending >= 1 << 20 {
            (self.progress)(std::mem::take(&mut self.pending));
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `SOURCE_DATE_EPOCH` as seconds, if set.
pub fn source_date_epoch() -> Result<Option<u64>, OciError> {
    match std::env::var_os(SOURCE_DATE_EPOCH) {
        Some(value) => parse_source_date_epoch(&value.to_string_lossy()),
        None => Ok(None),
    }
}

/// A `SOURCE_DATE_EPOCH` value: whole seconds, or empty for unset.
pub(crate) fn parse_source_date_epoch(value: &str) -> Result<Option<u64>, OciError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    trimmed
        .parse()
        .map(Some)
        .map_err(|_| OciError::InvalidSourceDateEpoch {
            value: value.to_string(),
        })
}

impl Store {
    /// A layer blob's uncompressed tar stream, decompressed as it is read. The content is not
    /// checked against the layer's diffID here.
    pub fn open_layer(&self, layer: &Descriptor) -> Result<Box<dyn Read + Send>, OciError> {
        let digest = Digest::from_oci(layer.digest())?;
        let media_type = layer.media_type().to_string();
        let Some(compression) = Compression::from_layer_media_type(&media_type) else {
            return Err(OciError::UnsupportedMediaType {
                what: format!("layer {digest}"),
                media_type,
            });
        };
        let file = io::BufReader::with_capacity(1 << 20, self.open_blob(&digest)?);
        let reader = compression
            .reader(file)
            .map_err(|source| OciError::io("read", self.blob_path(&digest), source))?;
        Ok(Box::new(reader))
    }
}

#[cfg(test)]
mod tests {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};

    use super::*;
    use crate::oci::tests::{layer_tar, list_tar, new_store};

    /// The xattr overlayfs would have set, in the namespace this process may write.
    fn overlay_xattr_name(name: &str) -> String {
        let namespace = if nix::unistd::geteuid().is_root() {
            "trusted"
        } else {
            "user"
        };
        format!("{namespace}.overlay.{name}")
    }

    fn set_xattr(path: &Path, name: &str, value: &[u8]) {
        crate::fs_tree::xattr::set(path, name, value).unwrap();
    }

    /// An upper dir as overlayfs leaves it after a container deleted `etc/gone`, replaced
    /// `opaque/`, and wrote a few files, some of them in the runtime's mount points.
    fn upper_dir(root: &Path) {
        fs_err::create_dir_all(root.join("etc")).unwrap();
        fs_err::write(root.join("etc/hostname"), "box\n").unwrap();
        fs_err::write(root.join("etc/resolv.conf"), "nameserver 10.0.0.1\n").unwrap();
        mknod(
            &root.join("etc/gone"),
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )
        .unwrap();
        mknod(
            &root.join("gone-too"),
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )
        .unwrap();
        fs_err::create_dir_all(root.join("data/shard")).unwrap();
        fs_err::write(root.join("data/shard/0.bin"), "mounted data").unwrap();
        fs_err::create_dir_all(root.join("opaque")).unwrap();
        fs_err::write(root.join("opaque/new"), "only this\n").unwrap();
        set_xattr(&root.join("opaque"), &overlay_xattr_name("opaque"), b"y");
        // Not opaque: overlayfs's `x` marks a directory holding xwhiteouts.
        fs_err::create_dir_all(root.join("merged")).unwrap();
        set_xattr(&root.join("merged"), &overlay_xattr_name("opaque"), b"x");
        fs_err::write(root.join("keep.txt"), "kept\n").unwrap();
    }

    fn names(store: &Store, layer: &Layer) -> Vec<(String, char)> {
        list_tar(&layer_tar(store, layer), DEFAULT_MTIME)
            .into_iter()
            .map(|entry| (entry.path, entry.kind))
            .collect()
    }

    #[test]
    fn an_overlay_upper_dir_becomes_oci_whiteouts() {
        let (_dir, store) = new_store();
        let upper = tempfile::tempdir().unwrap();
        upper_dir(upper.path());
        let exclude = ["etc/resolv.conf", "/data/", "./missing"].map(str::to_string);
        let layer = LayerWriter::new()
            .write_overlay_upper(&store, upper.path(), &exclude)
            .unwrap();
        let listed = list_tar(&layer_tar(&store, &layer), DEFAULT_MTIME);
        let whiteouts: Vec<_> = listed
            .iter()
            .filter(|entry| entry.path.contains(".wh."))
            .map(|entry| (entry.kind, entry.mode, entry.size))
            .collect();
        assert_eq!(whiteouts, [('0', 0o644, 0); 3]);
        let expected = [
            ("etc/", '5'),
            ("etc/.wh.gone", '0'),
            ("etc/hostname", '0'),
            (".wh.gone-too", '0'),
            ("keep.txt", '0'),
            ("merged/", '5'),
            ("opaque/", '5'),
            ("opaque/.wh..wh..opq", '0'),
            ("opaque/new", '0'),
        ];
        let mut expected: Vec<(String, char)> = expected
            .iter()
            .map(|(path, kind)| ((*path).to_string(), *kind))
            .collect();
        expected.sort();
        assert_eq!(names(&store, &layer), expected);
    }

    #[test]
    fn write_dir_takes_an_upper_dir_as_it_is() {
        let (_dir, store) = new_store();
        let upper = tempfile::tempdir().unwrap();
        upper_dir(upper.path());
        let layer = LayerWriter::new().write_dir(&store, upper.path()).unwrap();
        let listed = names(&store, &layer);
        assert!(
            listed.contains(&("etc/gone".to_string(), '3')),
            "{listed:?}"
        );
        assert!(listed.contains(&("data/shard/0.bin".to_string(), '0')));
        assert!(!listed.iter().any(|(path, _)| path.contains(".wh.")));
    }

    #[test]
    fn overlay_features_a_tar_cannot_carry_are_refused() {
        let (_dir, store) = new_store();
        for (path, xattr) in [("moved", "redirect"), ("file", "metacopy")] {
            let upper = tempfile::tempdir().unwrap();
            let source = upper.path().join(path);
            if xattr == "redirect" {
                fs_err::create_dir(&source).unwrap();
            } else {
                fs_err::write(&source, "").unwrap();
            }
            set_xattr(&source, &overlay_xattr_name(xattr), b"/old");
            let error = LayerWriter::new()
                .write_overlay_upper(&store, upper.path(), &[])
                .unwrap_err();
            assert!(
                matches!(error, OciError::UnsupportedFileType { .. }),
                "{error}"
            );
        }
        let error = OciError::UnsupportedFileType {
            path: "/containers/abc/upper/moved".into(),
            kind: "directory that overlayfs renamed with `redirect_dir=on`",
        };
        insta::assert_snapshot!(error, @"`/containers/abc/upper/moved` is a directory that overlayfs renamed with `redirect_dir=on`, which cannot be put in a layer");
    }
}
