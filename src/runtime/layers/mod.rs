//! The layer cache: each image layer unpacked once, to `<store>/layers/<diffID hex>/`, and
//! shared read-only by every container as an overlayfs lower dir. Layer format and whiteouts:
//! <https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md>; whiteouts are stored
//! as overlayfs reads them (<https://docs.kernel.org/filesystems/overlayfs.html>). A layer is
//! untrusted input: [`Unpacker`] (in `unpack`) lists the rules that keep every write inside
//! its directory, with the tree rules of [`crate::fs_tree`].

mod error;
mod unpack;

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::Descriptor;
use sha2::{Digest as _, Sha256};

pub use self::error::LayerError;
use self::error::io_error;
use self::unpack::Unpacker;
use crate::error::FromIo;
use crate::oci::{
    DiffId, Digest, Leftover, OciError, ResolvedImage, Store, TempTree, chain_ids, leftovers,
    remove_tree, tree_size,
};
use crate::read_ahead::read_ahead;

/// The cache's directory under the store root.
const LAYERS_DIR: &str = "layers";
/// Layers being unpacked: `layers/.tmp-<random>/`, renamed to `layers/<hex>/` when whole.
const TEMP_PREFIX: &str = ".tmp-";
/// Short names for the layer directories, made by `launch` for the overlay's options.
pub(crate) const SHORT_LINKS_DIR: &str = "l";

/// The unpacked layers: `<store root>/layers/<diffID hex>/`.
#[derive(Debug, Clone)]
pub struct LayerCache {
    root: PathBuf,
}

impl LayerCache {
    /// The cache at `root` (usually `<store root>/layers`); it is created when first needed.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The cache inside `store`: `<store root>/layers`.
    pub fn for_store(store: &Store) -> Self {
        Self::new(store.root().join(LAYERS_DIR))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the layer with `diff_id` is (or would be) unpacked.
    pub fn path(&self, diff_id: &DiffId) -> PathBuf {
        self.root.join(diff_id.hex())
    }

    /// The temp trees of layers whose unpacking was killed: listed, or removed (`remove`)
    /// and listed.
    pub fn leftovers(&self, remove: bool) -> Result<Vec<Leftover>, OciError> {
        leftovers(&self.root, TEMP_PREFIX, remove)
            .map_err(|source| OciError::io("clean up the temp trees in", &self.root, source))
    }

    /// Delete every unpacked layer whose directory name (64 hex digits) `keep` lacks, and
    /// the short links (`l/`) left pointing nowhere; returns how many layers went and their
    /// bytes. The caller holds the store lock, and `keep` names every layer that an image
    /// or container of the store has, so no container loses a lower dir it mounts.
    pub fn prune(&self, keep: &BTreeSet<String>) -> Result<(usize, u64), LayerError> {
        let entries = match fs_err::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(error) => return Err(io_error("list", &self.root)(error)),
        };
        let (mut removed, mut bytes) = (0, 0);
        for entry in entries {
            let entry = entry.map_err(io_error("list", &self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_layer = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_layer || keep.contains(&name) {
                continue;
            }
            let path = entry.path();
            bytes += tree_size(&path);
            remove_tree(&path).map_err(io_error("remove", &path))?;
            removed += 1;
        }
        let links = self.root.join(SHORT_LINKS_DIR);
        for link in fs_err::read_dir(&links).into_iter().flatten().flatten() {
            if !link.path().exists() {
                let _ = fs_err::remove_file(link.path());
            }
        }
        Ok((removed, bytes))
    }

    /// Take `tree` as the layer `diff_id` unpacked, unless the cache has it: a build's
    /// staging tree of a layer it just wrote, already as unpacking would make it
    /// ([`crate::oci::LayerWriter::normalize_as_unpacked`]), so the first run after the build
    /// unpacks nothing. The tree must be on the store's file system (in its `tmp/`); it is
    /// renamed into place as an unpacked one is, its files synced first by [`SyncedTree`].
    pub fn adopt(&self, tree: SyncedTree, diff_id: &DiffId) -> Result<PathBuf, LayerError> {
        let target = self.path(diff_id);
        if target.is_dir() {
            return Ok(target);
        }
        fs_err::create_dir_all(&self.root).map_err(io_error("create the directory", &self.root))?;
        rename_into_place(tree.0, &target)
    }

    /// Whether the layer is unpacked on its own. Its directory only appears by rename once
    /// the layer is whole and checked, so a present one is complete.
    #[cfg(test)]
    fn is_unpacked(&self, diff_id: &DiffId) -> bool {
        self.path(diff_id).is_dir()
    }

    /// Unpack every layer of `image` that is not unpacked yet, bottom first, each on the
    /// ones below it; returns their directories, bottom first.
    pub fn ensure_image(
        &self,
        store: &Store,
        image: &ResolvedImage,
    ) -> Result<Vec<PathBuf>, LayerError> {
        let layers = image.layers()?;
        let diff_ids: Vec<DiffId> = layers.iter().map(|(_, diff_id)| diff_id.clone()).collect();
        self.unpack_side_by_side(store, &layers, &chain_ids(&diff_ids));
        let mut dirs = Vec::with_capacity(layers.len());
        for ((descriptor, diff_id), chain_id) in layers.iter().zip(chain_ids(&diff_ids)) {
            let dir = self.ensure_on(store, descriptor, diff_id, &chain_id, &dirs)?;
            dirs.push(dir);
        }
        Ok(dirs)
    }

    /// Unpack the layers the cache lacks side by side, each on its own (see
    /// [`Self::unpack_as_handed`]).
    fn unpack_side_by_side(
        &self,
        store: &Store,
        layers: &[(Descriptor, DiffId)],
        chain_ids: &[Digest],
    ) {
        let missing: Vec<&(Descriptor, DiffId)> = layers
            .iter()
            .zip(chain_ids)
            .filter(|((_, diff_id), chain_id)| {
                !self.path(diff_id).is_dir() && !self.root.join(chain_id.hex()).is_dir()
            })
            .map(|(layer, _)| layer)
            .collect();
        if missing.len() < 2 {
            return;
        }
        self.unpack_as_handed(store, missing.len(), |hand_over| {
            for (layer, diff_id) in missing {
                hand_over(layer, diff_id);
            }
        });
    }

    /// Run `produce` with a function that hands it layers to unpack: each is unpacked on its
    /// own, as soon as a thread is free, while `produce` goes on (a pull hands each layer over
    /// once its blob is stored). At most `workers` threads, and no more than there are cores:
    /// decompressing is CPU work. Each layer goes to its own directory, so they are
    /// independent. Returns once `produce` has returned and every layer handed over is
    /// unpacked or has failed. A failure is left for [`Self::ensure_image`] to meet again and
    /// report with its context: a layer that hard-links a file of the layers below cannot be
    /// unpacked on its own, and is then unpacked on its layers, in order. Scoped threads, all
    /// joined before this returns: `mlpack run` creates its namespaces next, which needs a
    /// process with one thread.
    pub fn unpack_as_handed<T>(
        &self,
        store: &Store,
        workers: usize,
        produce: impl FnOnce(&(dyn Fn(&Descriptor, &DiffId) + Sync)) -> T,
    ) -> T {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(workers)
            .max(1);
        let (sender, receiver) = std::sync::mpsc::channel::<(Descriptor, DiffId)>();
        let receiver = std::sync::Mutex::new(receiver);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        // The lock is held while waiting, not while unpacking: one thread
                        // waits on the channel, the others on the lock.
                        let next = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => break,
                        };
                        let Ok((layer, diff_id)) = next else { break };
                        let _ = self.ensure_on(store, &layer, &diff_id, diff_id.digest(), &[]);
                    }
                });
            }
            let hand_over = move |layer: &Descriptor, diff_id: &DiffId| {
                // Only fails when every thread is gone; the layer is then unpacked later.
                let _ = sender.send((layer.clone(), diff_id.clone()));
            };
            // Dropped with `produce`, which ends the threads' loops once the queue is empty.
            produce(&hand_over)
        })
    }

    /// Unpack a bottom layer (if not already) and return its directory.
    #[cfg(test)]
    fn ensure(
        &self,
        store: &Store,
        layer: &Descriptor,
        diff_id: &DiffId,
    ) -> Result<PathBuf, LayerError> {
        self.ensure_on(store, layer, diff_id, diff_id.digest(), &[])
    }

    /// Unpack the layer (if not already) on the unpacked layers `below` (bottom first), and
    /// return its directory: `<diffID hex>/`, or `<chain ID hex>/` when the layer hard-links
    /// files of the layers below, which makes its content theirs too.
    ///
    /// The blob `layer` is read from `store`, decompressed and hashed on one thread, and
    /// unpacked into a temp dir on this one; only when its uncompressed bytes hash to
    /// `diff_id` is the temp dir renamed into place. If another process unpacked the same
    /// layer meanwhile, its copy is used and this one dropped.
    fn ensure_on(
        &self,
        store: &Store,
        layer: &Descriptor,
        diff_id: &DiffId,
        chain_id: &Digest,
        below: &[PathBuf],
    ) -> Result<PathBuf, LayerError> {
        let on_its_own = self.path(diff_id);
        let on_these = self.root.join(chain_id.hex());
        for dir in [&on_its_own, &on_these] {
            if dir.is_dir() {
                return Ok(dir.clone());
            }
        }
        let digest = Digest::from_oci(layer.digest())?;
        fs_err::create_dir_all(&self.root).map_err(io_error("create the directory", &self.root))?;
        let temp = TempTree::new_in(&self.root, TEMP_PREFIX)
            .map_err(io_error("create a temp directory in", &self.root))?;
        let source = store.open_layer(layer)?;
        let lower: Vec<PathBuf> = below.iter().rev().cloned().collect();
        let unpacker = Unpacker::new(temp.path(), digest.clone(), &lower)?;
        // The diffID covers the whole stream: the end-of-archive blocks and any padding after
        // them, which the tar reader stops short of.
        let (linked_below, source) =
            read_ahead(HashingReader::new(source), |reader| unpacker.unpack(reader));
        let linked_below = linked_below?;
        let actual =
            source
                .and_then(HashingReader::finish)
                .map_err(|source| LayerError::Unreadable {
                    digest: digest.clone(),
                    source,
                })?;
        if actual != *diff_id {
            return Err(LayerError::DiffIdMismatch {
                digest,
                expected: diff_id.clone(),
                actual,
            });
        }
        persist(temp, if linked_below { &on_these } else { &on_its_own })
    }
}

/// A reader that hashes what passes through it: the diffID, computed while unpacking.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Read what is left, and return the digest of everything read.
    fn finish(mut self) -> io::Result<DiffId> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(DiffId::new(Digest::from_hash(&self.hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

/// A finished tree whose file system has been synced since: its files are on disk, so it may
/// be renamed into the cache, where a present directory is taken to be complete. The sync
/// must not be skipped: after a crash, a renamed tree could hold files that lost their data.
pub struct SyncedTree(TempTree);

impl SyncedTree {
    /// Sync the file system of `tree`, which nothing may change any more, with `syncfs`: one
    /// call covers every file (a build makes it while it writes the layer, which only reads
    /// the tree).
    pub fn sync(tree: TempTree) -> Result<Self, LayerError> {
        let synced = fs_err::File::open(tree.path())
            .and_then(|dir| nix::unistd::syncfs(&dir).map_err(io::Error::from));
        synced.map_err(io_error("sync", tree.path()))?;
        Ok(Self(tree))
    }
}

/// Sync and rename the unpacked tree to `target` (see [`SyncedTree`]).
fn persist(temp: TempTree, target: &Path) -> Result<PathBuf, LayerError> {
    rename_into_place(SyncedTree::sync(temp)?.0, target)
}

/// Rename the synced tree to `target`, or, if another process put one there first, drop this
/// one and use that.
fn rename_into_place(temp: TempTree, target: &Path) -> Result<PathBuf, LayerError> {
    match temp.persist(target) {
        Ok(()) => Ok(target.to_path_buf()),
        // ENOTEMPTY or EEXIST: the same layer, unpacked by someone else.
        Err(_) if target.is_dir() => Ok(target.to_path_buf()),
        Err(source) => Err(LayerError::io("move an unpacked layer to", target, source)),
    }
}

#[cfg(test)]
mod tests;
