//! Unpacking one layer's tar stream into a directory of the cache: the rules are
//! [`Unpacker`]'s.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt as _, PermissionsExt};
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, makedev};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};

use super::error::{LayerError, io_error};
use crate::error::FromIo;
use crate::fs_tree::whiteout::{self, EntryName};
use crate::fs_tree::{Found, MergedView, Root, RootError, entry_path, xattr};
use crate::oci::{Digest, remove_tree};

/// File capabilities, as GNU tar and `docker save` carry them (a pax record).
pub(super) const CAPABILITY_PAX_KEY: &str = "SCHILY.xattr.security.capability";
pub(super) const CAPABILITY_XATTR: &str = "security.capability";
/// Read and write in these pieces when copying a file out of the layer.
const COPY_BUFFER: usize = 64 * 1024;

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
/// 1. Its path, less a leading `./`, must be UTF-8, relative and free of `..`
///    ([`entry_path::tar_entry`]).
/// 2. Its parent is found with [`Root::directory`]: one component at a time with `lstat`,
///    symlinks resolved by this code inside the layer (an absolute target starts again at the
///    layer's root), one that climbs above the root refused. Missing parents are created.
///    Each directory is resolved once; the entries after it that it holds reuse the result
///    until rule 4 removes something, which could change where a path leads.
/// 3. `.wh.<name>` becomes a 0:0 character device at `<name>` (overlayfs's whiteout; creating
///    one needs no privilege since Linux 5.8), unless this layer itself has `<name>`: the
///    spec's whiteouts only hide what lower layers hold. `.wh..wh..opq` sets the opaque xattr
///    on its directory; other `.wh..wh.*` names (aufs's own bookkeeping) are skipped
///    ([`EntryName`]).
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
pub(super) struct Unpacker {
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
    /// Parent directories already resolved (rule 2), by their components joined with `/`:
    /// the entries of one directory come together, and walking each one's path again, one
    /// `lstat` per component, was most of the system calls. Only a removal (rule 4) can
    /// change what a resolved path leads to, since everything on it exists, and it empties
    /// this.
    resolved: HashMap<String, PathBuf>,
}

impl Unpacker {
    /// An unpacker into the empty directory `dir`, over the unpacked layers `lower`
    /// (nearest first).
    pub(super) fn new(dir: &Path, digest: Digest, lower: &[PathBuf]) -> Result<Self, LayerError> {
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
            resolved: HashMap::new(),
        })
    }

    /// Unpack the layer; returns whether a hard link copied a file of the layers below.
    pub(super) fn unpack(mut self, reader: &mut impl Read) -> Result<bool, LayerError> {
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
        let name = match EntryName::parse(name) {
            EntryName::Plain(name) => name,
            EntryName::Deletes(hidden) => return self.whiteout(parents, hidden),
            EntryName::Opaque => return self.opaque(parents),
            EntryName::AufsMetadata => return Ok(()),
        };
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

    /// An archive path's components below the layer's root; `what` names the path in errors.
    fn components<'p>(&self, path: &'p str, what: &str) -> Result<Vec<&'p str>, LayerError> {
        entry_path::tar_entry(path).map_err(|error| self.refuse(&error.reason(what)))
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

    /// Step 3: `<parents>/.wh..wh..opq`.
    fn opaque(&mut self, parents: &[&str]) -> Result<(), LayerError> {
        let directory = self.resolve(parents)?;
        whiteout::mark_opaque(&directory, self.privileged)
            .map_err(io_error("mark as an opaque directory", &directory))
    }

    /// Step 3: `<parents>/.wh.<hidden>`.
    fn whiteout(&mut self, parents: &[&str], hidden: &str) -> Result<(), LayerError> {
        if matches!(hidden, "" | "." | "..") {
            return Err(self.refuse("a whiteout without a name"));
        }
        let path = self.resolve(parents)?.join(hidden);
        match fs_err::symlink_metadata(&path) {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                whiteout::make_overlay_whiteout(&path)
                    .map_err(|source| LayerError::io("create the whiteout", path, source))
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
            xattr::set(path, CAPABILITY_XATTR, capability)
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
            .then(|| xattr::get(source, CAPABILITY_XATTR).ok().flatten())
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
                // Its directories are gone: step 8 must not look for them, nor rule 2.
                self.directories
                    .retain(|directory, _| !directory.starts_with(path));
                self.resolved.clear();
                remove_tree(path).map_err(io_error("remove", path))?;
                Ok(false)
            }
            Ok(_) => {
                // It may be a symlink a resolved path went through.
                self.resolved.clear();
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
    fn resolve(&mut self, components: &[&str]) -> Result<PathBuf, LayerError> {
        let key = components.join("/");
        if let Some(real) = self.resolved.get(&key) {
            return Ok(real.clone());
        }
        let real = self
            .root
            .directory(components, true)
            .map_err(|error| self.root_error(error))?;
        self.resolved.insert(key, real.clone());
        Ok(real)
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
pub(super) fn parse_pax_time(value: &str) -> Option<TimeSpec> {
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
