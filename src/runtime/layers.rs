//! The layer cache: each image layer unpacked once, to `<store>/layers/<diffID hex>/`, and
//! shared read-only by every container as an overlayfs lower dir. Layer format and whiteouts:
//! <https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md>; whiteouts are stored
//! as overlayfs reads them (<https://docs.kernel.org/filesystems/overlayfs.html>). A layer is
//! untrusted input: [`Unpacker`] lists the rules that keep every write inside its directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt as _, PermissionsExt};
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, makedev};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use oci_spec::image::Descriptor;
use sha2::{Digest as _, Sha256};

use super::merged_view::{Found, MergedView, get_xattr};
use crate::debian::rootfs::{Root, RootError};
use crate::error::{Diagnostic, FromIo, IoError};
use crate::oci::{
    DiffId, Digest, Leftover, OciError, ResolvedImage, Store, TempTree, chain_ids, leftovers,
    remove_tree, tree_size,
};

/// The cache's directory under the store root.
const LAYERS_DIR: &str = "layers";
/// Layers being unpacked: `layers/.tmp-<random>/`, renamed to `layers/<hex>/` when whole.
const TEMP_PREFIX: &str = ".tmp-";
/// Short names for the layer directories, made by `launch` for the overlay's options.
pub(crate) const SHORT_LINKS_DIR: &str = "l";
/// `.wh.<name>` deletes `<name>` of the layers below (layer.md, "Whiteouts").
const WHITEOUT_PREFIX: &str = ".wh.";
/// `.wh..wh..opq` hides everything the layers below have in its directory; after
/// [`WHITEOUT_PREFIX`], it reads as this.
const OPAQUE_AFTER_PREFIX: &str = ".wh..opq";
/// The opaque-directory xattr overlayfs reads when mounted by root.
const OPAQUE_XATTR_TRUSTED: &str = "trusted.overlay.opaque";
/// The one it reads when mounted with `userxattr`, as a rootless container's overlay is:
/// unprivileged users cannot set `trusted.*` xattrs.
const OPAQUE_XATTR_USER: &str = "user.overlay.opaque";
/// File capabilities, as GNU tar and `docker save` carry them (a pax record).
const CAPABILITY_PAX_KEY: &str = "SCHILY.xattr.security.capability";
const CAPABILITY_XATTR: &str = "security.capability";
/// Read and write in these pieces when copying a file out of the layer.
const COPY_BUFFER: usize = 64 * 1024;

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
        let mut dirs = Vec::with_capacity(layers.len());
        for ((descriptor, diff_id), chain_id) in layers.iter().zip(chain_ids(&diff_ids)) {
            let dir = self.ensure_on(store, descriptor, diff_id, &chain_id, &dirs)?;
            dirs.push(dir);
        }
        Ok(dirs)
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
    /// The blob `layer` is read from `store`, decompressed, and unpacked into a temp dir while
    /// its uncompressed bytes are hashed; only when they hash to `diff_id` is the temp dir
    /// renamed into place. If another process unpacked the same layer meanwhile, its copy is
    /// used and this one dropped.
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
        let mut reader = HashingReader::new(store.open_layer(layer)?);
        let lower: Vec<PathBuf> = below.iter().rev().cloned().collect();
        let linked_below =
            Unpacker::new(temp.path(), digest.clone(), &lower)?.unpack(&mut reader)?;
        // The diffID covers the whole stream: the end-of-archive blocks and any padding after
        // them, which the tar reader stops short of.
        let actual = reader.finish().map_err(|source| LayerError::Unreadable {
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

/// What can go wrong unpacking a layer. Each message names the layer's digest, and the entry
/// where there is one.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading the blob from the store failed (missing, unknown media type).
    #[error(transparent)]
    Store(#[from] OciError),

    /// A file system operation failed.
    #[error(transparent)]
    Io(#[from] IoError),

    /// The blob did not decompress, or is not a tar archive.
    #[error("layer `{digest}` could not be read as a tar archive")]
    Unreadable {
        digest: Digest,
        #[source]
        source: io::Error,
    },

    /// An entry would write outside the layer's directory, or cannot be placed as asked.
    #[error("layer `{digest}` has an unsafe entry `{entry}`: {reason}")]
    UnsafeEntry {
        digest: Digest,
        entry: String,
        reason: String,
    },

    #[error(
        "layer `{digest}` has an entry `{entry}` of tar type {kind}, which mlpack cannot unpack"
    )]
    UnsupportedEntry {
        digest: Digest,
        entry: String,
        kind: String,
    },

    /// The uncompressed layer does not hash to the diffID its image config names.
    #[error(
        "layer `{digest}` unpacks to content with diffID `{actual}`, but the image config says `{expected}`"
    )]
    DiffIdMismatch {
        digest: Digest,
        expected: DiffId,
        actual: DiffId,
    },
}

impl Diagnostic for LayerError {
    /// Whether the image the user chose is at fault, rather than the store or the disk.
    fn is_user_error(&self) -> bool {
        match self {
            Self::Store(error) => error.is_user_error(),
            Self::UnsafeEntry { .. } | Self::UnsupportedEntry { .. } => true,
            Self::Io(_) | Self::Unreadable { .. } | Self::DiffIdMismatch { .. } => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::Store(error) => error.hints(),
            Self::Unreadable { .. } | Self::DiffIdMismatch { .. } => vec![
                "the store's copy is damaged; remove the image with `mlpack rmi` and build or pull it again"
                    .to_string(),
            ],
            Self::UnsafeEntry { .. } => vec![
                "mlpack refuses layers that could write outside their own directory; use an image from a source you trust"
                    .to_string(),
            ],
            Self::UnsupportedEntry { .. } => vec![
                "rebuild the image so that its layers hold only files, directories, links, device nodes and FIFOs"
                    .to_string(),
            ],
            Self::Io(_) => Vec::new(),
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LayerError {
    let path = path.to_path_buf();
    move |source| LayerError::io(action, path, source)
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

/// Rename the unpacked tree to `target`, or, if another process put one there first, drop
/// this one and use that. The file system is synced first: the rename must not outlive a
/// crash that loses the files, since a present directory is taken to be complete.
fn persist(temp: TempTree, target: &Path) -> Result<PathBuf, LayerError> {
    let synced = fs_err::File::open(temp.path())
        .and_then(|dir| nix::unistd::syncfs(&dir).map_err(io::Error::from));
    synced.map_err(io_error("sync", temp.path()))?;
    match temp.persist(target) {
        Ok(()) => Ok(target.to_path_buf()),
        // ENOTEMPTY or EEXIST: the same layer, unpacked by someone else.
        Err(_) if target.is_dir() => Ok(target.to_path_buf()),
        Err(source) => Err(LayerError::io("move an unpacked layer to", target, source)),
    }
}

/// Owner, mode and times taken from a tar header, applied once the node is written.
#[derive(Debug, Clone, Copy)]
struct Attributes {
    /// Permission and special bits.
    mode: u32,
    /// Set only when unpacking as root: anyone else cannot give files away.
    owner: Option<(Uid, Gid)>,
    /// `None` for the layer's root when the archive has no entry for it.
    mtime: Option<TimeSpec>,
}

/// Unpacks one layer's tar stream into an empty directory. The rules, in the order they apply
/// to each entry:
///
/// 1. Its path, less a leading `./`, must be UTF-8, relative and free of `..`.
/// 2. Its parent is found with [`Root::directory`]: one component at a time with `lstat`,
///    symlinks resolved by this code inside the layer (an absolute target starts again at the
///    layer's root), one that climbs above the root refused. Missing parents are created.
/// 3. `.wh.<name>` becomes a 0:0 character device at `<name>` (overlayfs's whiteout; creating
///    one needs no privilege since Linux 5.8), unless this layer itself has `<name>`: the
///    spec's whiteouts only hide what lower layers hold. `.wh..wh..opq` sets the opaque xattr
///    on its directory; other `.wh..wh.*` names (aufs's own bookkeeping) are skipped.
/// 4. Whatever this layer already has at the path is removed first (the later entry wins),
///    except a directory where a directory goes. New files are created with `O_EXCL`, so a
///    symlink that appeared there is never written through.
/// 5. Symlinks may point anywhere: they are resolved inside the container, later. A hard
///    link's target is looked up as Docker applies a layer, in the merged view of this layer
///    over the layers below ([`MergedView`]), and must be a regular file or symlink there,
///    inside the image. One in this layer is linked; one below is copied into this layer
///    (with its owner, mode, time and file capability), as overlayfs copies a file up before
///    linking it, and later links to the same file link to that copy.
/// 6. Device nodes are never created: a node in an image would give whoever can reach the
///    layer (a container through its overlay, a host user through the store) the device
///    itself, whatever the container's device allow-list says. They are skipped, as the
///    image spec lets an implementation do with entries it cannot represent (a container
///    gets its `/dev` at run time, and images rarely ship nodes elsewhere). The one kind kept
///    is a 0:0 character device, which opens nothing and which overlayfs reads as a
///    whiteout, as it would under Docker. FIFOs are always created.
/// 7. As root, owners come from the header (chown first, since it clears setuid bits and
///    file capabilities), and `security.capability` from its pax record.
/// 8. Directories get their mode, owner and mtime last, deepest first: a 0555 directory must
///    still receive its entries, and adding them would change its mtime.
struct Unpacker {
    root: Root,
    /// The layer's directory, canonical, as [`Root::directory`] returns paths.
    root_path: PathBuf,
    /// The layer's blob digest, for errors.
    digest: Digest,
    /// Whether this process runs as root, and so may set owners, device nodes and
    /// `trusted.*` xattrs.
    privileged: bool,
    /// The directories to finish, by real path.
    directories: BTreeMap<PathBuf, Attributes>,
    /// The entry being unpacked, as the archive names it, for errors.
    entry: String,
    /// This layer's directory and then the layers below, topmost first: the merged view
    /// hard links are resolved in.
    layers: Vec<PathBuf>,
    /// Files of the layers below copied into this layer for a hard link: each one's real
    /// path below, and its copy's path and inode (a later entry may have replaced it).
    copies: HashMap<PathBuf, (PathBuf, u64)>,
}

impl Unpacker {
    /// An unpacker into the empty directory `dir`, over the unpacked layers `lower`
    /// (nearest first).
    fn new(dir: &Path, digest: Digest, lower: &[PathBuf]) -> Result<Self, LayerError> {
        let root_path = fs_err::canonicalize(dir).map_err(io_error("open", dir))?;
        let root = Root::open(&root_path).map_err(io_error("open", &root_path))?;
        // The layer's root is `/` in the container; a temp dir starts out 0700.
        let directories = BTreeMap::from([(
            root_path.clone(),
            Attributes {
                mode: 0o755,
                owner: None,
                mtime: None,
            },
        )]);
        let layers = std::iter::once(root_path.clone())
            .chain(lower.iter().cloned())
            .collect();
        Ok(Self {
            root,
            root_path,
            digest,
            privileged: nix::unistd::geteuid().is_root(),
            directories,
            entry: String::new(),
            layers,
            copies: HashMap::new(),
        })
    }

    /// Unpack the layer; returns whether a hard link copied a file of the layers below.
    fn unpack(mut self, reader: &mut impl Read) -> Result<bool, LayerError> {
        let mut archive = tar::Archive::new(reader);
        let entries = archive.entries().map_err(|error| self.unreadable(error))?;
        for entry in entries {
            let mut entry = entry.map_err(|error| self.unreadable(error))?;
            self.entry = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            self.unpack_entry(&mut entry)?;
        }
        let linked_below = !self.copies.is_empty();
        self.finish_directories()?;
        Ok(linked_below)
    }

    fn unpack_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            // Archive-wide defaults (`g`): nothing in them is applied, as with Docker.
            return Ok(());
        }
        let path = std::str::from_utf8(&entry.path_bytes())
            .map_err(|_| self.refuse("its path is not UTF-8"))?
            .to_string();
        let components = self.components(&path, "it")?;
        let (attributes, capability) = self.attributes(entry)?;
        let Some((name, parents)) = components.split_last() else {
            if kind.is_dir() {
                self.directories.insert(self.root_path.clone(), attributes);
                return Ok(());
            }
            return Err(self.refuse("a non-directory at the layer's root"));
        };
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(parents, hidden);
        }
        let path = self.resolve(parents)?.join(name);
        match kind {
            tar::EntryType::Directory => self.directory(&path, attributes),
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.file(&path, attributes, capability.as_deref(), entry)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .filter(|target| !target.is_empty())
                    .ok_or_else(|| self.refuse("a symlink without a target"))?
                    .into_owned();
                self.symlink(&path, OsStr::from_bytes(&target), attributes)
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.refuse("a hard link without a target"))?;
                let target = std::str::from_utf8(&target)
                    .map_err(|_| self.refuse("a hard link target that is not UTF-8"))?
                    .to_string();
                self.hard_link(&path, &target)
            }
            tar::EntryType::Fifo => self.node(&path, SFlag::S_IFIFO, 0, attributes),
            tar::EntryType::Char if self.is_whiteout_node(entry.header())? => {
                self.node(&path, SFlag::S_IFCHR, makedev(0, 0), attributes)
            }
            tar::EntryType::Char | tar::EntryType::Block => Ok(()),
            other => Err(LayerError::UnsupportedEntry {
                digest: self.digest.clone(),
                entry: self.entry.clone(),
                kind: format!("`{}` ({other:?})", char::from(other.as_byte())),
            }),
        }
    }

    /// An archive path's components, less `./` and `.`: relative and without `..`. `what`
    /// names the path in errors.
    fn components(&self, path: &str, what: &str) -> Result<Vec<String>, LayerError> {
        let relative = path.strip_prefix("./").unwrap_or(path);
        if relative.starts_with('/') {
            return Err(self.refuse(&format!("{what} is an absolute path")));
        }
        let mut components = Vec::new();
        for component in relative.split('/') {
            match component {
                "" | "." => {}
                ".." => return Err(self.refuse(&format!("{what} has a `..` component"))),
                _ => components.push(component.to_string()),
            }
        }
        Ok(components)
    }

    /// The entry's attributes, and its file capability when it has one and this process may
    /// set it. Pax `uid`/`gid` records are already applied to the header by the tar reader;
    /// a pax `mtime` (with a fraction) is applied here.
    fn attributes<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(Attributes, Option<Vec<u8>>), LayerError> {
        let header = entry.header();
        let mode = header.mode().map_err(|error| self.unreadable(error))? & 0o7777;
        // An empty (or garbled) time or owner reads as 0, as in Go's `archive/tar`, which
        // reads most images; a mode cannot be guessed.
        let seconds = header.mtime().unwrap_or(0);
        let mut mtime = TimeSpec::new(i64::try_from(seconds).unwrap_or(i64::MAX), 0);
        let owner = if self.privileged {
            let id = |value: io::Result<u64>| {
                let value = value.unwrap_or(0);
                u32::try_from(value)
                    .map_err(|_| self.refuse(&format!("its owner id {value} is out of range")))
            };
            Some((
                Uid::from_raw(id(header.uid())?),
                Gid::from_raw(id(header.gid())?),
            ))
        } else {
            None
        };
        let mut capability = None;
        let extensions = entry
            .pax_extensions()
            .map_err(|error| self.unreadable(error))?;
        for extension in extensions.into_iter().flatten() {
            let extension = extension.map_err(|error| self.unreadable(error))?;
            match extension.key() {
                Ok("mtime") => {
                    if let Some(parsed) = extension.value().ok().and_then(parse_pax_time) {
                        mtime = parsed;
                    }
                }
                Ok(CAPABILITY_PAX_KEY) if self.privileged => {
                    capability = Some(extension.value_bytes().to_vec());
                }
                _ => {}
            }
        }
        let attributes = Attributes {
            mode,
            owner,
            mtime: Some(mtime),
        };
        Ok((attributes, capability))
    }

    /// Step 3: `<parents>/.wh.<hidden>`.
    fn whiteout(&mut self, parents: &[String], hidden: &str) -> Result<(), LayerError> {
        if hidden == OPAQUE_AFTER_PREFIX {
            let directory = self.resolve(parents)?;
            let name = if self.privileged {
                OPAQUE_XATTR_TRUSTED
            } else {
                OPAQUE_XATTR_USER
            };
            return set_xattr(&directory, name, b"y")
                .map_err(io_error("mark as an opaque directory", &directory));
        }
        if hidden.starts_with(WHITEOUT_PREFIX) {
            return Ok(());
        }
        if matches!(hidden, "" | "." | "..") {
            return Err(self.refuse("a whiteout without a name"));
        }
        let path = self.resolve(parents)?.join(hidden);
        match fs_err::symlink_metadata(&path) {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                nix::sys::stat::mknod(&path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                    .map_err(|errno| LayerError::io("create the whiteout", path, errno.into()))
            }
            Err(error) => Err(io_error("inspect", &path)(error)),
        }
    }

    fn directory(&mut self, path: &Path, attributes: Attributes) -> Result<(), LayerError> {
        if !self.make_room(path, true)? {
            // Owner-only until step 8, which gives it its mode.
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(path)
                .map_err(io_error("create the directory", path))?;
        }
        self.directories.insert(path.to_path_buf(), attributes);
        Ok(())
    }

    fn file(
        &mut self,
        path: &Path,
        attributes: Attributes,
        capability: Option<&[u8]>,
        content: &mut impl Read,
    ) -> Result<(), LayerError> {
        self.make_room(path, false)?;
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io_error("create", path))?;
        self.copy(content, &mut file, path)?;
        if let Some((uid, gid)) = attributes.owner {
            nix::unistd::fchown(&file, Some(uid), Some(gid))
                .map_err(|errno| io_error("change the owner of", path)(errno.into()))?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(attributes.mode))
            .map_err(io_error("set the mode of", path))?;
        if let Some(capability) = capability {
            set_xattr(path, CAPABILITY_XATTR, capability)
                .map_err(io_error("set the file capabilities of", path))?;
        }
        if let Some(mtime) = attributes.mtime {
            nix::sys::stat::futimens(&file, &mtime, &mtime)
                .map_err(|errno| io_error("set the times of", path)(errno.into()))?;
        }
        Ok(())
    }

    /// Copy a file's content, telling a bad archive from a failed write.
    fn copy(
        &self,
        content: &mut impl Read,
        file: &mut impl Write,
        path: &Path,
    ) -> Result<(), LayerError> {
        let mut buffer = vec![0; COPY_BUFFER];
        loop {
            let read = match content.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(self.unreadable(error)),
            };
            file.write_all(&buffer[..read])
                .map_err(io_error("write", path))?;
        }
    }

    fn symlink(
        &mut self,
        path: &Path,
        target: &OsStr,
        attributes: Attributes,
    ) -> Result<(), LayerError> {
        self.make_room(path, false)?;
        fs_err::os::unix::fs::symlink(target, path).map_err(io_error("create", path))?;
        Self::set_attributes(path, attributes, false)
    }

    /// Rule 5: a hard link to a file or symlink of the merged view.
    fn hard_link(&mut self, path: &Path, target: &str) -> Result<(), LayerError> {
        let components = self.components(target, &format!("its hard link target `{target}`"))?;
        if components.is_empty() {
            return Err(self.refuse("a hard link to the layer's root"));
        }
        let found = MergedView::new(&self.layers)
            .find(&components)
            .map_err(|reason| self.refuse(&format!("its hard link target `{target}`: {reason}")))?;
        let linkable = |source: &Path| {
            fs_err::symlink_metadata(source)
                .is_ok_and(|metadata| metadata.is_file() || metadata.is_symlink())
        };
        let (layer, source) = match found {
            Found::Entry { layer, path } if linkable(&path) => (layer, path),
            _ => {
                return Err(self.refuse(&format!(
                    "its hard link target `{target}` is not a file or symlink earlier in the layer or in the layers below"
                )));
            }
        };
        if source == path {
            return Ok(());
        }
        let copy = self.copies.get(&source).filter(|(copy, inode)| {
            fs_err::symlink_metadata(copy).is_ok_and(|metadata| metadata.ino() == *inode)
        });
        let existing = match copy {
            _ if layer == 0 => Some(source.clone()),
            Some((copy, _)) => Some(copy.clone()),
            None => None,
        };
        self.make_room(path, false)?;
        if let Some(existing) = existing {
            // `link(2)` (here `linkat` without `AT_SYMLINK_FOLLOW`) links a symlink itself.
            return fs_err::hard_link(&existing, path).map_err(io_error("create", path));
        }
        self.copy_up(&source, path)?;
        let inode = fs_err::symlink_metadata(path)
            .map_err(io_error("inspect", path))?
            .ino();
        self.copies.insert(source, (path.to_path_buf(), inode));
        Ok(())
    }

    /// Copy the file or symlink `source` of a layer below to `path` in this one, with its
    /// owner (as root), mode, time and file capability, as overlayfs copies a file up.
    fn copy_up(&mut self, source: &Path, path: &Path) -> Result<(), LayerError> {
        let metadata = fs_err::symlink_metadata(source).map_err(io_error("inspect", source))?;
        let attributes = Attributes {
            mode: metadata.mode() & 0o7777,
            owner: self
                .privileged
                .then(|| (Uid::from_raw(metadata.uid()), Gid::from_raw(metadata.gid()))),
            mtime: Some(TimeSpec::new(metadata.mtime(), metadata.mtime_nsec())),
        };
        if metadata.is_symlink() {
            let target = fs_err::read_link(source).map_err(io_error("read", source))?;
            return self.symlink(path, target.as_os_str(), attributes);
        }
        let capability = self
            .privileged
            .then(|| get_xattr(source, CAPABILITY_XATTR).ok())
            .flatten();
        let mut content = fs_err::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(source)
            .map_err(io_error("open", source))?;
        self.file(path, attributes, capability.as_deref(), &mut content)
    }

    /// A FIFO or device node.
    fn node(
        &mut self,
        path: &Path,
        kind: SFlag,
        device: libc::dev_t,
        attributes: Attributes,
    ) -> Result<(), LayerError> {
        self.make_room(path, false)?;
        nix::sys::stat::mknod(path, kind, Mode::S_IRUSR | Mode::S_IWUSR, device)
            .map_err(|errno| io_error("create", path)(errno.into()))?;
        Self::set_attributes(path, attributes, true)
    }

    /// `lchown`, `chmod` (with `mode`) and `lutimes`, for nodes that cannot be opened
    /// (symlinks, FIFOs, devices). The owner goes first: `chown` clears setuid bits.
    fn set_attributes(path: &Path, attributes: Attributes, mode: bool) -> Result<(), LayerError> {
        if let Some((uid, gid)) = attributes.owner {
            nix::unistd::fchownat(
                AT_FDCWD,
                path,
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|errno| io_error("change the owner of", path)(errno.into()))?;
        }
        if mode {
            // `chmod` follows symlinks, but `mode` is only asked for nodes just made here, in
            // a directory no other process writes to.
            fs_err::set_permissions(path, std::fs::Permissions::from_mode(attributes.mode))
                .map_err(io_error("set the mode of", path))?;
        }
        if let Some(mtime) = attributes.mtime {
            nix::sys::stat::utimensat(
                AT_FDCWD,
                path,
                &mtime,
                &mtime,
                UtimensatFlags::NoFollowSymlink,
            )
            .map_err(|errno| io_error("set the times of", path)(errno.into()))?;
        }
        Ok(())
    }

    /// Rule 4: clear `path` for a new entry. Returns whether a directory was kept there (only
    /// with `keep_directory`).
    fn make_room(&mut self, path: &Path, keep_directory: bool) -> Result<bool, LayerError> {
        match fs_err::symlink_metadata(path) {
            Ok(metadata) if metadata.is_dir() && keep_directory => Ok(true),
            Ok(metadata) if metadata.is_dir() => {
                // Its directories are gone: step 8 must not look for them.
                self.directories
                    .retain(|directory, _| !directory.starts_with(path));
                remove_tree(path).map_err(io_error("remove", path))?;
                Ok(false)
            }
            Ok(_) => {
                fs_err::remove_file(path).map_err(io_error("remove", path))?;
                Ok(false)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(io_error("inspect", path)(error)),
        }
    }

    /// Step 8. Each directory is opened without following a symlink, so a path that changed
    /// kind since cannot redirect the change.
    fn finish_directories(self) -> Result<(), LayerError> {
        for (path, attributes) in self.directories.iter().rev() {
            let directory = fs_err::OpenOptions::new()
                .read(true)
                .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW).bits())
                .open(path)
                .map_err(io_error("open", path))?;
            if let Some((uid, gid)) = attributes.owner {
                nix::unistd::fchown(&directory, Some(uid), Some(gid))
                    .map_err(|errno| io_error("change the owner of", path)(errno.into()))?;
            }
            directory
                .set_permissions(std::fs::Permissions::from_mode(attributes.mode))
                .map_err(io_error("set the mode of", path))?;
            if let Some(mtime) = attributes.mtime {
                nix::sys::stat::futimens(&directory, &mtime, &mtime)
                    .map_err(|errno| io_error("set the times of", path)(errno.into()))?;
            }
        }
        Ok(())
    }

    /// The real directory for `components` inside the layer, created if missing (rule 2).
    fn resolve(&self, components: &[String]) -> Result<PathBuf, LayerError> {
        self.root
            .directory(components, true)
            .map_err(|error| self.root_error(error))
    }

    fn root_error(&self, error: RootError) -> LayerError {
        match error {
            RootError::Refused(reason) => self.refuse(&reason),
            RootError::Io(source) => LayerError::io(
                "find the directory of",
                self.root_path.join(&self.entry),
                source,
            ),
        }
    }

    fn refuse(&self, reason: &str) -> LayerError {
        LayerError::UnsafeEntry {
            digest: self.digest.clone(),
            entry: self.entry.clone(),
            reason: reason.to_string(),
        }
    }

    /// Whether a character device entry is 0:0, overlayfs's whiteout.
    fn is_whiteout_node(&self, header: &tar::Header) -> Result<bool, LayerError> {
        let number = |value: io::Result<Option<u32>>| {
            value
                .map(|number| number.unwrap_or(0))
                .map_err(|error| self.unreadable(error))
        };
        Ok(number(header.device_major())? == 0 && number(header.device_minor())? == 0)
    }

    fn unreadable(&self, source: io::Error) -> LayerError {
        LayerError::Unreadable {
            digest: self.digest.clone(),
            source,
        }
    }
}

/// A pax time, `<seconds>[.<fraction>]` (pax(1), "pax Extended Header").
fn parse_pax_time(value: &str) -> Option<TimeSpec> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    let seconds: i64 = seconds.parse().ok()?;
    let digits: String = fraction.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanoseconds = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(TimeSpec::new(seconds, nanoseconds))
}

/// `lsetxattr(2)`: sets `name` on `path` itself, never on what a symlink there points to.
#[expect(unsafe_code, reason = "neither std nor nix wraps the xattr calls")]
pub(super) fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    let name = CString::new(name)?;
    // SAFETY: `path` and `name` are NUL-terminated and outlive the call; `value` is valid for
    // `value.len()` bytes, which the kernel only reads.
    let result = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    use oci_spec::image::MediaType;
    use tar::EntryType;
    use tempfile::TempDir;

    use super::*;
    use crate::oci::{LayerWriter, MEDIA_TYPE_LAYER_TAR};

    const MTIME: u64 = 1_000_000_000;

    fn new_store() -> (TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        (dir, store)
    }

    /// A tar stream built entry by entry, with names written raw so that unsafe ones (which
    /// `tar::Builder`'s path setters refuse) can be made.
    struct TestTar(tar::Builder<Vec<u8>>);

    impl TestTar {
        fn new() -> Self {
            Self(tar::Builder::new(Vec::new()))
        }

        fn entry(&mut self, name: &str, kind: EntryType, mode: u32, link: &str, data: &[u8]) {
            let mut header = tar::Header::new_ustar();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_size(data.len() as u64);
            header.set_mtime(MTIME);
            header.set_uid(1000);
            header.set_gid(2000);
            header.set_cksum();
            self.0.append(&header, data).unwrap();
        }

        fn dir(mut self, name: &str, mode: u32) -> Self {
            self.entry(name, EntryType::Directory, mode, "", b"");
            self
        }

        fn file(mut self, name: &str, mode: u32, content: &str) -> Self {
            self.entry(name, EntryType::Regular, mode, "", content.as_bytes());
            self
        }

        fn symlink(mut self, name: &str, target: &str) -> Self {
            self.entry(name, EntryType::Symlink, 0o777, target, b"");
            self
        }

        fn hard_link(mut self, name: &str, target: &str) -> Self {
            self.entry(name, EntryType::Link, 0o644, target, b"");
            self
        }

        fn fifo(mut self, name: &str) -> Self {
            self.entry(name, EntryType::Fifo, 0o640, "", b"");
            self
        }

        fn device(mut self, name: &str, kind: EntryType, major: u32, minor: u32) -> Self {
            let mut header = tar::Header::new_ustar();
            header.set_path(name).unwrap();
            header.set_entry_type(kind);
            header.set_mode(0o666);
            header.set_size(0);
            header.set_device_major(major).unwrap();
            header.set_device_minor(minor).unwrap();
            header.set_cksum();
            self.0.append(&header, &b""[..]).unwrap();
            self
        }

        /// A pax extended header (`x`) for the entry that follows.
        fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
            let mut data = Vec::new();
            for (key, value) in records {
                // "<length> <key>=<value>\n", where <length> counts itself (here, 2 digits).
                let length = 2 + 3 + key.len() + value.len();
                assert!((10..100).contains(&length));
                data.extend_from_slice(format!("{length} {key}=").as_bytes());
                data.extend_from_slice(value);
                data.push(b'\n');
            }
            self.entry("././@PaxHeader", EntryType::XHeader, 0o644, "", &data);
            self
        }

        /// The archive as an uncompressed layer blob in `store`, whose diffID is its digest.
        fn store(self, store: &Store) -> (Descriptor, DiffId) {
            let bytes = self.0.into_inner().unwrap();
            let digest = store.write_blob(&bytes).unwrap();
            let descriptor = Descriptor::new(
                MediaType::from(MEDIA_TYPE_LAYER_TAR),
                bytes.len() as u64,
                digest.to_oci(),
            );
            (descriptor, DiffId::new(digest))
        }
    }

    fn mode(path: &Path) -> u32 {
        fs_err::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[expect(unsafe_code, reason = "reading an xattr back needs `lgetxattr`")]
    fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
        let path = CString::new(path.as_os_str().as_bytes()).unwrap();
        let name = CString::new(name).unwrap();
        let mut value = vec![0_u8; 64];
        // SAFETY: the strings are NUL-terminated; `value` is writable for its length.
        let length = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        let length = usize::try_from(length).ok()?;
        value.truncate(length);
        Some(value)
    }

    /// Whatever is in `dir`, by name, for "nothing was left behind" checks.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn unpacks_files_directories_and_links() {
        let (_dir, store) = new_store();
        let (layer, diff_id) = TestTar::new()
            .dir("./", 0o755)
            .dir("./etc/", 0o750)
            .file("./etc/config", 0o640, "x = 1\n")
            .symlink("etc/relative", "config")
            .symlink("etc/absolute", "/etc/config")
            .symlink("etc/dangling", "../../../nowhere")
            .hard_link("etc/hard", "etc/config")
            .hard_link("etc/hard-symlink", "./etc/relative")
            .file("bin/tool", 0o4755, "#!/bin/sh\n")
            // Its final mode would stop its entry being written, had it been set first.
            .dir("readonly/", 0o555)
            .file("readonly/file", 0o444, "read me")
            .dir("tmp", 0o1777)
            .file("deep/er/still/file", 0o600, "implicit parents")
            .fifo("run/fifo")
            .file("twice", 0o644, "first")
            .file("twice", 0o600, "second")
            .dir("replaced/", 0o755)
            .file("replaced/inside", 0o644, "gone")
            .file("replaced", 0o644, "a file now")
            .store(&store);
        let cache = LayerCache::for_store(&store);
        assert!(!cache.is_unpacked(&diff_id));
        let root = cache.ensure(&store, &layer, &diff_id).unwrap();
        assert_eq!(root, store.root().join("layers").join(diff_id.hex()));
        assert!(cache.is_unpacked(&diff_id));

        assert_eq!(
            fs_err::read_to_string(root.join("etc/config")).unwrap(),
            "x = 1\n"
        );
        assert_eq!(mode(&root.join("etc")), 0o750);
        assert_eq!(mode(&root.join("etc/config")), 0o640);
        assert_eq!(mode(&root.join("bin/tool")), 0o4755);
        assert_eq!(mode(&root.join("bin")), 0o755, "an implicit parent");
        assert_eq!(mode(&root.join("readonly")), 0o555);
        assert_eq!(
            fs_err::read_to_string(root.join("readonly/file")).unwrap(),
            "read me"
        );
        assert_eq!(mode(&root.join("tmp")), 0o1777);
        assert_eq!(mode(&root), 0o755);
        for (link, target) in [
            ("etc/relative", "config"),
            ("etc/absolute", "/etc/config"),
            ("etc/dangling", "../../../nowhere"),
        ] {
            assert_eq!(
                fs_err::read_link(root.join(link)).unwrap(),
                Path::new(target)
            );
        }
        let config = fs_err::metadata(root.join("etc/config")).unwrap();
        let hard = fs_err::metadata(root.join("etc/hard")).unwrap();
        assert_eq!((config.ino(), config.nlink()), (hard.ino(), 2));
        let symlink = fs_err::symlink_metadata(root.join("etc/relative")).unwrap();
        let hard_symlink = fs_err::symlink_metadata(root.join("etc/hard-symlink")).unwrap();
        assert_eq!(symlink.ino(), hard_symlink.ino());
        assert!(
            fs_err::symlink_metadata(root.join("run/fifo"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(mode(&root.join("run/fifo")), 0o640);
        assert_eq!(
            fs_err::read_to_string(root.join("deep/er/still/file")).unwrap(),
            "implicit parents"
        );
        assert_eq!(
            fs_err::read_to_string(root.join("twice")).unwrap(),
            "second"
        );
        assert_eq!(mode(&root.join("twice")), 0o600);
        assert_eq!(
            fs_err::read_to_string(root.join("replaced")).unwrap(),
            "a file now"
        );

        // Times, directories' included (set after their entries were written).
        let expected = i64::try_from(MTIME).unwrap();
        for path in [
            "etc",
            "etc/config",
            "etc/relative",
            "readonly",
            "run/fifo",
            ".",
        ] {
            let metadata = fs_err::symlink_metadata(root.join(path)).unwrap();
            assert_eq!(metadata.mtime(), expected, "{path}");
        }
        if nix::unistd::geteuid().is_root() {
            for path in ["etc", "etc/config", "etc/relative", "bin/tool", "run/fifo"] {
                let metadata = fs_err::symlink_metadata(root.join(path)).unwrap();
                assert_eq!((metadata.uid(), metadata.gid()), (1000, 2000), "{path}");
            }
        }
        assert_eq!(listing(cache.root()), [diff_id.hex()]);
    }

    #[test]
    fn pax_records_set_times_and_file_capabilities() {
        // `security.capability` v2 (linux/capability.h): effective, with `CAP_NET_RAW` (13)
        // permitted.
        let capability: Vec<u8> = [0x0200_0001_u32, 1 << 13, 0, 0, 0]
            .iter()
            .flat_map(|word| word.to_le_bytes())
            .collect();
        let (_dir, store) = new_store();
        let (layer, diff_id) = TestTar::new()
            .pax(&[
                ("mtime", b"1700000000.25"),
                (CAPABILITY_PAX_KEY, &capability),
            ])
            .file("bin/ping", 0o755, "")
            .store(&store);
        let root = LayerCache::for_store(&store)
            .ensure(&store, &layer, &diff_id)
            .unwrap();
        let metadata = fs_err::metadata(root.join("bin/ping")).unwrap();
        assert_eq!(
            (metadata.mtime(), metadata.mtime_nsec()),
            (1_700_000_000, 250_000_000)
        );
        let expected = nix::unistd::geteuid().is_root().then_some(capability);
        assert_eq!(xattr(&root.join("bin/ping"), CAPABILITY_XATTR), expected);
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let (_dir, store) = new_store();
        let (layer, diff_id) = TestTar::new()
            .dir("dir/", 0o755)
            .file("dir/.wh.gone", 0o644, "")
            .file("dir/.wh..wh..opq", 0o644, "")
            .file("dir/kept", 0o644, "this layer's own")
            // The spec's whiteouts hide only the layers below: `kept` stays.
            .file("dir/.wh.kept", 0o644, "")
            .file("missing/parent/.wh.file", 0o644, "")
            .dir(".wh..wh.plnk/", 0o700)
            .file(".wh..wh.aufs", 0o644, "")
            .store(&store);
        let root = LayerCache::for_store(&store)
            .ensure(&store, &layer, &diff_id)
            .unwrap();
        for path in ["dir/gone", "missing/parent/file"] {
            let metadata = fs_err::symlink_metadata(root.join(path)).unwrap();
            assert!(metadata.file_type().is_char_device(), "{path}");
            assert_eq!(metadata.rdev(), 0, "{path}");
        }
        assert_eq!(
            fs_err::read_to_string(root.join("dir/kept")).unwrap(),
            "this layer's own"
        );
        let opaque = if nix::unistd::geteuid().is_root() {
            OPAQUE_XATTR_TRUSTED
        } else {
            OPAQUE_XATTR_USER
        };
        assert_eq!(xattr(&root.join("dir"), opaque).as_deref(), Some(&b"y"[..]));
        assert_eq!(xattr(&root.join("missing"), opaque), None);
        assert_eq!(listing(&root), ["dir", "missing"]);
        assert_eq!(listing(&root.join("dir")), ["gone", "kept"]);
    }

    /// A node in a layer would give the device to whoever reaches the layer, whatever the
    /// container's device allow-list says: only the 0:0 whiteout is made.
    #[test]
    fn device_nodes_are_skipped_but_whiteout_nodes_kept() {
        let (_dir, store) = new_store();
        let (layer, diff_id) = TestTar::new()
            .device("kmsg", EntryType::Char, 1, 11)
            .device("dev/sda", EntryType::Block, 8, 0)
            .device("dev/null", EntryType::Char, 1, 3)
            .device("gone", EntryType::Char, 0, 0)
            .store(&store);
        let root = LayerCache::for_store(&store)
            .ensure(&store, &layer, &diff_id)
            .unwrap();
        assert_eq!(listing(&root), ["dev", "gone"]);
        assert!(listing(&root.join("dev")).is_empty());
        let whiteout = fs_err::symlink_metadata(root.join("gone")).unwrap();
        assert!(whiteout.file_type().is_char_device());
        assert_eq!(whiteout.rdev(), 0);
    }

    #[test]
    fn unsafe_entries_are_refused_and_leave_nothing() {
        let outside = tempfile::tempdir().unwrap();
        let outside_path = outside.path().to_str().unwrap().to_string();
        let cases = [
            ("dot-dot", TestTar::new().file("../escape", 0o644, "x")),
            ("absolute", TestTar::new().file("/abs", 0o644, "x")),
            (
                "symlink parent",
                TestTar::new()
                    .symlink("link", &outside_path)
                    .file("link/file", 0o644, "x"),
            ),
            (
                "relative symlink parent",
                TestTar::new()
                    .dir("a/", 0o755)
                    .symlink("a/up", "../..")
                    .file("a/up/file", 0o644, "x"),
            ),
            (
                "hard link with dot-dot",
                TestTar::new().hard_link("hard", "../outside"),
            ),
            (
                "hard link to an absolute path",
                TestTar::new().hard_link("hard", "/etc/passwd"),
            ),
            (
                "hard link through a symlink",
                TestTar::new()
                    .symlink("root", "/")
                    .hard_link("hard", "root/etc/passwd"),
            ),
            (
                "hard link to a directory",
                TestTar::new().dir("d/", 0o755).hard_link("hard", "d"),
            ),
            (
                "a file where a directory goes",
                TestTar::new()
                    .file("plain", 0o644, "x")
                    .file("plain/file", 0o644, "x"),
            ),
        ];
        for (case, tar) in cases {
            let (_dir, store) = new_store();
            let (layer, diff_id) = tar.store(&store);
            let cache = LayerCache::for_store(&store);
            let error = cache.ensure(&store, &layer, &diff_id).unwrap_err();
            assert!(
                matches!(error, LayerError::UnsafeEntry { .. }),
                "{case}: {error}"
            );
            assert!(error.is_user_error(), "{case}");
            assert!(!cache.is_unpacked(&diff_id), "{case}");
            assert!(
                listing(cache.root()).is_empty(),
                "{case}: a temp dir was left"
            );
            assert!(listing(outside.path()).is_empty(), "{case}: wrote outside");
        }
    }

    /// `upper` unpacked on `lower` (both stored in `store`): its directory.
    fn on_lower(
        store: &Store,
        lower: (Descriptor, DiffId),
        upper: &(Descriptor, DiffId),
    ) -> Result<PathBuf, LayerError> {
        let cache = LayerCache::for_store(store);
        let below = cache.ensure(store, &lower.0, &lower.1).unwrap();
        let chain = chain_ids(&[lower.1, upper.1.clone()]).pop().unwrap();
        cache.ensure_on(store, &upper.0, &upper.1, &chain, &[below])
    }

    fn lower_layer(store: &Store) -> (Descriptor, DiffId) {
        TestTar::new()
            .dir("usr/", 0o755)
            .dir("usr/bin/", 0o755)
            .file("usr/bin/tool", 0o4755, "#!/bin/sh\necho tool\n")
            .symlink("bin", "usr/bin")
            .symlink("usr/bin/alias", "tool")
            .symlink("escape", "../../outside")
            .store(store)
    }

    #[test]
    fn hard_links_to_the_layers_below_copy_the_file_up() {
        let (_dir, store) = new_store();
        let upper = TestTar::new()
            .hard_link("opt/one", "usr/bin/tool")
            .hard_link("opt/two", "./usr/bin/tool")
            // Through a symlink of the layer below, to the same file.
            .hard_link("opt/three", "bin/tool")
            .hard_link("opt/alias", "usr/bin/alias")
            .store(&store);
        let root = on_lower(&store, lower_layer(&store), &upper).unwrap();
        // Its content depends on the layer below: named by its chain ID, not its diffID.
        let cache = LayerCache::for_store(&store);
        assert!(!cache.is_unpacked(&upper.1));
        assert_ne!(root.file_name().unwrap(), upper.1.hex());

        assert_eq!(
            fs_err::read_to_string(root.join("opt/one")).unwrap(),
            "#!/bin/sh\necho tool\n"
        );
        assert_eq!(mode(&root.join("opt/one")), 0o4755);
        let inode = |path: &str| fs_err::symlink_metadata(root.join(path)).unwrap().ino();
        assert_eq!(inode("opt/one"), inode("opt/two"));
        assert_eq!(inode("opt/one"), inode("opt/three"));
        assert_eq!(
            fs_err::read_link(root.join("opt/alias")).unwrap(),
            Path::new("tool")
        );
        assert_eq!(
            fs_err::symlink_metadata(root.join("opt/one"))
                .unwrap()
                .mtime(),
            i64::try_from(MTIME).unwrap()
        );
        if nix::unistd::geteuid().is_root() {
            let metadata = fs_err::metadata(root.join("opt/one")).unwrap();
            assert_eq!((metadata.uid(), metadata.gid()), (1000, 2000));
        }
        assert!(!root.join("usr").exists(), "only the links are copied");
    }

    #[test]
    fn hard_links_below_that_are_missing_or_leave_the_image_are_refused() {
        let cases = [
            (
                "absent",
                TestTar::new().hard_link("link", "usr/bin/missing"),
            ),
            (
                "whited out",
                TestTar::new()
                    .file("usr/bin/.wh.tool", 0o644, "")
                    .hard_link("link", "usr/bin/tool"),
            ),
            ("a directory", TestTar::new().hard_link("link", "usr/bin")),
            (
                "through a symlink out",
                TestTar::new().hard_link("link", "escape/file"),
            ),
        ];
        for (case, tar) in cases {
            let (_dir, store) = new_store();
            let lower = lower_layer(&store);
            let upper = tar.store(&store);
            let error = on_lower(&store, lower, &upper).unwrap_err();
            assert!(
                matches!(error, LayerError::UnsafeEntry { .. }),
                "{case}: {error}"
            );
            let left: Vec<String> = listing(LayerCache::for_store(&store).root())
                .into_iter()
                .filter(|name| name.starts_with(TEMP_PREFIX))
                .collect();
            assert!(left.is_empty(), "{case}: {left:?}");
        }
    }

    #[test]
    fn a_wrong_diff_id_leaves_nothing() {
        let (_dir, store) = new_store();
        let (layer, diff_id) = TestTar::new().file("file", 0o644, "x").store(&store);
        let wrong = DiffId::new(Digest::of(b"something else"));
        let cache = LayerCache::for_store(&store);
        let error = cache.ensure(&store, &layer, &wrong).unwrap_err();
        let LayerError::DiffIdMismatch {
            expected, actual, ..
        } = &error
        else {
            panic!("{error}");
        };
        assert_eq!((expected, actual), (&wrong, &diff_id));
        assert!(!error.is_user_error());
        assert!(!cache.is_unpacked(&wrong));
        assert!(listing(cache.root()).is_empty());
    }

    #[test]
    fn a_second_ensure_does_not_read_the_blob() {
        let (_dir, store) = new_store();
        let (layer, diff_id) = TestTar::new().file("file", 0o644, "x").store(&store);
        let cache = LayerCache::for_store(&store);
        let first = cache.ensure(&store, &layer, &diff_id).unwrap();
        fs_err::remove_file(store.blob_path(diff_id.digest())).unwrap();
        assert_eq!(cache.ensure(&store, &layer, &diff_id).unwrap(), first);
        // A new cache over the same store finds it too.
        let other = LayerCache::new(store.root().join("layers"));
        assert_eq!(other.ensure(&store, &layer, &diff_id).unwrap(), first);
    }

    #[test]
    fn a_layer_unpacked_meanwhile_wins() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("layer");
        fs_err::create_dir(&target).unwrap();
        fs_err::write(target.join("theirs"), "").unwrap();
        let temp = TempTree::new_in(dir.path(), TEMP_PREFIX).unwrap();
        let temp_path = temp.path().to_path_buf();
        fs_err::create_dir(temp_path.join("readonly")).unwrap();
        fs_err::write(temp_path.join("readonly/ours"), "").unwrap();
        fs_err::set_permissions(
            temp_path.join("readonly"),
            std::fs::Permissions::from_mode(0o555),
        )
        .unwrap();
        assert_eq!(persist(temp, &target).unwrap(), target);
        assert_eq!(listing(&target), ["theirs"]);
        assert_eq!(listing(dir.path()), ["layer"]);
    }

    #[test]
    fn compressed_layers_round_trip() {
        let (_dir, store) = new_store();
        let tree = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(tree.path().join("app/data")).unwrap();
        fs_err::write(tree.path().join("app/main.py"), "print('hi')\n").unwrap();
        fs_err::os::unix::fs::symlink("main.py", tree.path().join("app/link.py")).unwrap();
        let written = LayerWriter::new().write_dir(&store, tree.path()).unwrap();
        let root = LayerCache::for_store(&store)
            .ensure(&store, &written.descriptor(), &written.diff_id)
            .unwrap();
        assert_eq!(
            fs_err::read_to_string(root.join("app/main.py")).unwrap(),
            "print('hi')\n"
        );
        assert_eq!(
            fs_err::read_link(root.join("app/link.py")).unwrap(),
            Path::new("main.py")
        );
        assert!(root.join("app/data").is_dir());
    }

    #[test]
    fn a_missing_blob_names_it() {
        let (_dir, store) = new_store();
        let (layer, diff_id) = TestTar::new().file("file", 0o644, "x").store(&store);
        fs_err::remove_file(store.blob_path(diff_id.digest())).unwrap();
        let error = LayerCache::for_store(&store)
            .ensure(&store, &layer, &diff_id)
            .unwrap_err();
        assert!(
            matches!(error, LayerError::Store(OciError::BlobNotFound { .. })),
            "{error}"
        );
        assert!(!error.hints().is_empty());
    }

    #[test]
    fn parses_pax_times() {
        assert_eq!(
            parse_pax_time("1700000000"),
            Some(TimeSpec::new(1_700_000_000, 0))
        );
        assert_eq!(
            parse_pax_time("1700000000.5"),
            Some(TimeSpec::new(1_700_000_000, 500_000_000))
        );
        assert_eq!(
            parse_pax_time("-1.25"),
            Some(TimeSpec::new(-1, 250_000_000))
        );
        assert_eq!(parse_pax_time("12x"), None);
        assert_eq!(parse_pax_time("1.2x"), None);
    }

    #[test]
    fn errors_name_the_layer_and_the_fix() {
        let digest = Digest::from_sha256_hex(&"ab".repeat(32)).unwrap();
        let error = LayerError::DiffIdMismatch {
            digest: digest.clone(),
            expected: DiffId::new(Digest::from_sha256_hex(&"cd".repeat(32)).unwrap()),
            actual: DiffId::new(Digest::from_sha256_hex(&"ef".repeat(32)).unwrap()),
        };
        insta::assert_snapshot!(error, @"layer `sha256:abababababababababababababababababababababababababababababababab` unpacks to content with diffID `sha256:efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef`, but the image config says `sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd`");
        insta::assert_snapshot!(error.hints().join("\n"), @"the store's copy is damaged; remove the image with `mlpack rmi` and build or pull it again");
        let error = LayerError::UnsafeEntry {
            digest,
            entry: "../escape".to_string(),
            reason: "it has a `..` component".to_string(),
        };
        insta::assert_snapshot!(error, @"layer `sha256:abababababababababababababababababababababababababababababababab` has an unsafe entry `../escape`: it has a `..` component");
        insta::assert_snapshot!(error.hints().join("\n"), @"mlpack refuses layers that could write outside their own directory; use an image from a source you trust");
    }
}
