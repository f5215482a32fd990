//! A directory tree as a reproducible tar stream: the same tree gives the same bytes on any
//! machine, whoever owns the files, whatever the umask and whenever they were written.
//!
//! Layer format: <https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md>; tar
//! format: POSIX pax (<https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html>).
//! The rules, in the order they are applied:
//! 1. Every entry below the root, the root itself excluded; a directory's name ends in `/`.
//! 2. Entries sorted by path, bytewise, so each directory comes before what it holds.
//! 3. uid and gid 0, no user or group names, one fixed mtime, no atime, ctime or xattrs.
//! 4. Modes: directories 0755, regular files 0644, or 0755 if any execute bit is set;
//!    setuid, setgid and sticky bits are kept, and a sticky directory keeps its whole mode
//!    (`/tmp` stays 1777). Symlinks are 0777; device nodes and FIFOs keep their mode.
//! 5. A path or link target longer than 100 bytes, or a size of 8 GiB or more, goes in a pax
//!    extended header (not a GNU long-name entry).
//! 6. A regular file with several links is written once, at the first of its paths in sort
//!    order; its other paths are hard links to that one.
//! 7. Whiteouts (`.wh.<name>`, `.wh..wh..opq`) are ordinary files the caller created, or,
//!    for an overlayfs upper dir ([`TreeOptions::overlay_upper`]), empty 0644 files written
//!    for its whiteouts (0:0 character devices) and opaque directories (an `overlay.opaque`
//!    xattr of `y`), as `docker commit` writes them.
//! 8. Paths in [`TreeOptions::exclude`] are left out, with everything under them.
//! 9. With [`TreeOptions::keep_owners`] (a Dockerfile's layers, whose `RUN chown`,
//!    `useradd` and `COPY --chown/--chmod` must survive as `docker build` keeps them), rules
//!    3 and 4 keep each entry's uid, gid and permission bits as found; times stay fixed.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::error::OciError;
use crate::error::FromIo;
use crate::fs_tree::{whiteout, xattr};

/// The longest path or link target the ustar header holds.
const USTAR_NAME_LEN: usize = 100;
/// The largest size the ustar header's 11 octal digits hold.
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;
/// The name of a pax extended header entry (Python's `tarfile` writes the same).
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";

/// How [`write_tree`] reads the tree.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TreeOptions<'a> {
    /// The tree is an overlayfs upper dir
    /// (<https://docs.kernel.org/filesystems/overlayfs.html>): its whiteouts and opaque
    /// directories become OCI ones, and what the tar format cannot say (a directory renamed
    /// with `redirect_dir`, a file whose data `metacopy` left below) is refused.
    pub(crate) overlay_upper: bool,
    /// Paths left out, with everything under them: relative and `/`-separated (a leading or
    /// trailing `/` or a leading `./` is ignored), such as `etc/resolv.conf`.
    pub(crate) exclude: &'a [String],
    /// Keep owners and modes as found (rule 9).
    pub(crate) keep_owners: bool,
}

/// [`TreeOptions`] as the walk uses them.
struct Walk {
    overlay_upper: bool,
    keep_owners: bool,
    exclude: HashSet<Vec<u8>>,
}

/// One entry to write, found by walking the tree.
#[derive(Debug)]
struct TreeEntry {
    /// The path inside the layer: relative, `/`-separated, no leading `./`, no trailing `/`.
    name: Vec<u8>,
    /// Where it is on disk.
    source: PathBuf,
    kind: EntryKind,
    /// The mode as found on disk (permission and special bits).
    mode: u32,
    /// `(uid, gid)` as found on disk.
    owner: (u32, u32),
    /// `(device, inode)` for regular files with more than one link.
    inode: Option<(u64, u64)>,
    /// Written with its owner and mode as found (rule 9), not root's and the normalized one.
    kept: bool,
}

impl TreeEntry {
    /// The `(uid, gid, mode)` the layer gives it.
    fn written_as(&self) -> (u32, u32, u32) {
        if self.kept {
            (self.owner.0, self.owner.1, self.mode)
        } else {
            (0, 0, normalized_mode(&self.kind, self.mode))
        }
    }
}

/// What an entry is. `Whiteout` is an OCI whiteout, written as an empty regular file; its
/// source is the overlay whiteout or the opaque directory it stands for.
#[derive(Debug)]
enum EntryKind {
    Directory,
    File { size: u64 },
    Symlink { target: Vec<u8> },
    HardLink { target: Vec<u8> },
    Fifo,
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Whiteout,
}

/// Write the tree at `root` as a tar stream to `out` (finished with the two zero blocks) and
/// return `out`.
pub(crate) fn write_tree<W: Write>(
    root: &Path,
    mtime: u64,
    options: TreeOptions<'_>,
    out: W,
) -> Result<W, OciError> {
    let metadata = fs_err::metadata(root).map_err(|source| OciError::io("read", root, source))?;
    if !metadata.is_dir() {
        return Err(OciError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let walk = Walk {
        overlay_upper: options.overlay_upper,
        keep_owners: options.keep_owners,
        exclude: options
            .exclude
            .iter()
            .map(|path| normalized_path(path).as_bytes().to_vec())
            .filter(|path| !path.is_empty())
            .collect(),
    };
    let mut entries = Vec::new();
    collect(&walk, root, &[], &mut entries)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    link_hard_links(&mut entries);

    let mut builder = tar::Builder::new(out);
    for entry in &entries {
        append_entry(&mut builder, entry, mtime)?;
    }
    builder
        .into_inner()
        .map_err(|source| OciError::io("finish the layer for", root, source))
}

/// Give every entry below `root` the owner (0:0, when this process may give files away),
/// mode (rule 4) and `mtime` that [`write_tree`] writes for it, so the tree is what unpacking
/// its layer gives: a build hands it to the runtime's layer cache instead of unpacking the
/// blob it just wrote. `false`, with nothing changed, when unpacking would not recreate the
/// tree as it is: a device node (the unpacker skips them) or a whiteout name (it makes an
/// overlay whiteout of it). Owners go first: `chown` clears setuid bits.
/// With `keep_owners` (rule 9) only times change: owners and modes are what the tar has.
pub(crate) fn normalize_in_place(
    root: &Path,
    mtime: u64,
    keep_owners: bool,
) -> Result<bool, OciError> {
    let walk = Walk {
        overlay_upper: false,
        keep_owners,
        exclude: HashSet::new(),
    };
    let mut entries = Vec::new();
    collect(&walk, root, &[], &mut entries)?;
    let recreated = entries.iter().all(|entry| {
        let name = entry
            .name
            .rsplit(|byte| *byte == b'/')
            .next()
            .unwrap_or(&[]);
        !name.starts_with(whiteout::PREFIX.as_bytes())
            && !matches!(
                entry.kind,
                EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. }
            )
    });
    if !recreated {
        return Ok(false);
    }
    let as_root = nix::unistd::geteuid().is_root();
    let time = nix::sys::time::TimeSpec::new(i64::try_from(mtime).unwrap_or(i64::MAX), 0);
    for entry in &entries {
        normalize_entry(entry, as_root && !keep_owners, time)
            .map_err(|source| OciError::io("normalize", &entry.source, source))?;
    }
    // The root is the container's `/`, which the unpacker makes 0755 (a temp dir is 0700).
    fs_err::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|source| OciError::io("normalize", root, source))?;
    Ok(true)
}

/// [`normalize_in_place`] for one entry (a symlink's own owner and time; it has no mode).
fn normalize_entry(
    entry: &TreeEntry,
    as_root: bool,
    time: nix::sys::time::TimeSpec,
) -> io::Result<()> {
    use nix::fcntl::{AT_FDCWD, AtFlags};
    // Most entries are already as the layer has them (written by root, modes as wheels and
    // packages give them): only the times always change. A chown clears set-id bits, so
    // the mode is set again after one.
    let chown = as_root && entry.owner != (0, 0);
    if chown {
        nix::unistd::fchownat(
            AT_FDCWD,
            &entry.source,
            Some(nix::unistd::Uid::from_raw(0)),
            Some(nix::unistd::Gid::from_raw(0)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    let mode = normalized_mode(&entry.kind, entry.mode);
    if !entry.kept
        && !matches!(entry.kind, EntryKind::Symlink { .. })
        && (chown || mode != entry.mode)
    {
        fs_err::set_permissions(
            &entry.source,
            std::os::unix::fs::PermissionsExt::from_mode(mode),
        )?;
    }
    nix::sys::stat::utimensat(
        AT_FDCWD,
        &entry.source,
        &time,
        &time,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

/// `path` as the layer names it: no leading `./` or `/`, no trailing `/`.
fn normalized_path(path: &str) -> &str {
    let path = path.strip_prefix("./").unwrap_or(path);
    path.trim_matches('/')
}

/// Append every entry below `dir` (whose name in the layer is `prefix`) to `entries`.
fn collect(
    walk: &Walk,
    dir: &Path,
    prefix: &[u8],
    entries: &mut Vec<TreeEntry>,
) -> Result<(), OciError> {
    let listing = fs_err::read_dir(dir).map_err(|source| OciError::io("list", dir, source))?;
    for item in listing {
        let item = item.map_err(|source| OciError::io("list", dir, source))?;
        let source = item.path();
        let metadata = fs_err::symlink_metadata(&source)
            .map_err(|source_error| OciError::io("read", &source, source_error))?;
        let mut name = prefix.to_vec();
        if !name.is_empty() {
            name.push(b'/');
        }
        name.extend_from_slice(item.file_name().as_bytes());
        if walk.exclude.contains(&name) {
            continue;
        }

        let file_type = metadata.file_type();
        let kind = if file_type.is_dir() {
            EntryKind::Directory
        } else if file_type.is_file() {
            EntryKind::File {
                size: metadata.len(),
            }
        } else if file_type.is_symlink() {
            let target = fs_err::read_link(&source)
                .map_err(|source_error| OciError::io("read the link", &source, source_error))?;
            EntryKind::Symlink {
                target: target.as_os_str().as_bytes().to_vec(),
            }
        } else if file_type.is_fifo() {
            EntryKind::Fifo
        } else if walk.overlay_upper && whiteout::is_overlay_whiteout(&metadata) {
            // An overlay whiteout: `<dir>/.wh.<name>` in OCI's terms.
            name.truncate(prefix.len());
            if !name.is_empty() {
                name.push(b'/');
            }
            name.extend_from_slice(whiteout::PREFIX.as_bytes());
            name.extend_from_slice(item.file_name().as_bytes());
            EntryKind::Whiteout
        } else if file_type.is_char_device() {
            let (major, minor) = split_device(metadata.rdev());
            EntryKind::CharDevice { major, minor }
        } else if file_type.is_block_device() {
            let (major, minor) = split_device(metadata.rdev());
            EntryKind::BlockDevice { major, minor }
        } else {
            return Err(OciError::UnsupportedFileType {
                path: source,
                kind: "socket",
            });
        };
        if walk.overlay_upper {
            check_overlay_entry(&source, &kind)?;
        }
        let inode =
            (file_type.is_file() && metadata.nlink() > 1).then(|| (metadata.dev(), metadata.ino()));
        let is_dir = matches!(kind, EntryKind::Directory);
        let kind_is_whiteout = matches!(kind, EntryKind::Whiteout);
        entries.push(TreeEntry {
            name: name.clone(),
            source: source.clone(),
            kind,
            mode: metadata.mode() & 0o7777,
            owner: (metadata.uid(), metadata.gid()),
            inode,
            kept: walk.keep_owners && !kind_is_whiteout,
        });
        if is_dir {
            if walk.overlay_upper && is_opaque(&source)? {
                let mut marker = name.clone();
                marker.push(b'/');
                marker.extend_from_slice(whiteout::OPAQUE.as_bytes());
                entries.push(TreeEntry {
                    name: marker,
                    source: source.clone(),
                    kind: EntryKind::Whiteout,
                    mode: 0o644,
                    owner: (0, 0),
                    inode: None,
                    kept: false,
                });
            }
            collect(walk, &source, &name, entries)?;
        }
    }
    Ok(())
}

/// Whether overlayfs marked the directory `path` opaque (it hides the lower layers' entries).
fn is_opaque(path: &Path) -> Result<bool, OciError> {
    whiteout::is_opaque(path).map_err(|source| OciError::io("read the xattrs of", path, source))
}

/// Refuse what overlayfs can leave in an upper dir that a tar walk would get wrong: a
/// directory renamed in place (`redirect_dir=on`), whose old name's whiteout the walk cannot
/// see, and a file whose data stayed in a lower layer (`metacopy=on`).
fn check_overlay_entry(path: &Path, kind: &EntryKind) -> Result<(), OciError> {
    let (xattr, refused) = match kind {
        EntryKind::Directory => (
            "redirect",
            "directory that overlayfs renamed with `redirect_dir=on`",
        ),
        EntryKind::File { .. } => (
            "metacopy",
            "file whose data overlayfs left in a lower layer (`metacopy=on`)",
        ),
        _ => return Ok(()),
    };
    let value = overlay_xattr(path, xattr)
        .map_err(|source| OciError::io("read the xattrs of", path, source))?;
    match value {
        Some(_) => Err(OciError::UnsupportedFileType {
            path: path.to_path_buf(),
            kind: refused,
        }),
        None => Ok(()),
    }
}

/// The overlayfs xattr `name` (`redirect`, `metacopy`) of `path`, under either of
/// [`whiteout::OVERLAY_XATTR_PREFIXES`].
fn overlay_xattr(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    for prefix in whiteout::OVERLAY_XATTR_PREFIXES {
        if let Some(value) = xattr::get(path, &format!("{prefix}{name}"))? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// Turn every later path of a multiply-linked file into a hard link to its first path.
fn link_hard_links(entries: &mut [TreeEntry]) {
    let mut first_paths: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    for entry in entries {
        let Some(inode) = entry.inode else { continue };
        match first_paths.get(&inode) {
            Some(target) => {
                entry.kind = EntryKind::HardLink {
                    target: target.clone(),
                };
            }
            None => {
                first_paths.insert(inode, entry.name.clone());
            }
        }
    }
}

/// glibc's `major()`/`minor()` for Linux's 64-bit `dev_t`.
fn split_device(device: u64) -> (u32, u32) {
    let major = ((device >> 8) & 0xfff) | ((device >> 32) & !0xfff);
    let minor = (device & 0xff) | ((device >> 12) & !0xff);
    (
        u32::try_from(major).unwrap_or(u32::MAX),
        u32::try_from(minor).unwrap_or(u32::MAX),
    )
}

/// The mode written for an entry (rule 4).
fn normalized_mode(kind: &EntryKind, mode: u32) -> u32 {
    let special = mode & 0o7000;
    match kind {
        EntryKind::Directory if mode & 0o1000 != 0 => mode & 0o7777,
        EntryKind::Directory => 0o755 | special,
        EntryKind::Whiteout => 0o644,
        EntryKind::File { .. } | EntryKind::HardLink { .. } => {
            let permissions = if mode & 0o111 == 0 { 0o644 } else { 0o755 };
            permissions | special
        }
        EntryKind::Symlink { .. } => 0o777,
        EntryKind::Fifo | EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } => {
            mode & 0o7777
        }
    }
}

fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &TreeEntry,
    mtime: u64,
) -> Result<(), OciError> {
    let failed = |source| OciError::io("add to a layer", &entry.source, source);
    let mut name = entry.name.clone();
    if matches!(entry.kind, EntryKind::Directory) {
        name.push(b'/');
    }
    let mut header = Header::new_ustar();
    let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
    set_long_field(&mut header.as_old_mut().name, &name, "path", &mut pax);
    let (uid, gid, mode) = entry.written_as();
    header.set_mode(mode);
    header.set_uid(uid.into());
    header.set_gid(gid.into());
    header.set_mtime(mtime);
    let size = match &entry.kind {
        EntryKind::File { size } => *size,
        _ => 0,
    };
    if size > USTAR_MAX_SIZE {
        pax.push(("size", size.to_string().into_bytes()));
        header.set_size(0);
    } else {
        header.set_size(size);
    }
    let entry_type = match &entry.kind {
        EntryKind::Directory => EntryType::Directory,
        EntryKind::File { .. } | EntryKind::Whiteout => EntryType::Regular,
        EntryKind::Symlink { target } => {
            set_long_field(
                &mut header.as_old_mut().linkname,
                target,
                "linkpath",
                &mut pax,
            );
            EntryType::Symlink
        }
        EntryKind::HardLink { target } => {
            set_long_field(
                &mut header.as_old_mut().linkname,
                target,
                "linkpath",
                &mut pax,
            );
            EntryType::Link
        }
        EntryKind::Fifo => EntryType::Fifo,
        EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
            header.set_device_major(*major).map_err(failed)?;
            header.set_device_minor(*minor).map_err(failed)?;
            if matches!(entry.kind, EntryKind::CharDevice { .. }) {
                EntryType::Char
            } else {
                EntryType::Block
            }
        }
    };
    header.set_entry_type(entry_type);
    header.set_cksum();

    if !pax.is_empty() {
        append_pax_header(builder, &pax, mtime).map_err(failed)?;
    }
    match &entry.kind {
        EntryKind::File { size } => append_file(builder, &header, entry, *size),
        _ => builder.append(&header, io::empty()).map_err(failed),
    }
}

/// Put `value` in a 100-byte ustar field, or, if longer, its first 100 bytes there and the
/// whole of it in a pax record `key`.
fn set_long_field(
    field: &mut [u8; USTAR_NAME_LEN],
    value: &[u8],
    key: &'static str,
    pax: &mut Vec<(&'static str, Vec<u8>)>,
) {
    let shown = value.len().min(USTAR_NAME_LEN);
    field[..shown].copy_from_slice(&value[..shown]);
    if value.len() > USTAR_NAME_LEN {
        pax.push((key, value.to_vec()));
    }
}

/// A pax extended header entry (typeflag `x`) carrying `records` for the entry that follows.
fn append_pax_header<W: Write>(
    builder: &mut tar::Builder<W>,
    records: &[(&str, Vec<u8>)],
    mtime: u64,
) -> io::Result<()> {
    let mut data = Vec::new();
    for (key, value) in records {
        // Each record is "<length> <key>=<value>\n", where <length> counts itself.
        let rest = 3 + key.len() + value.len();
        let mut length = rest;
        loop {
            let next = rest + length.to_string().len();
            if next == length {
                break;
            }
            length = next;
        }
        write!(data, "{length} {key}=")?;
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let mut header = Header::new_ustar();
    header.as_old_mut().name[..PAX_HEADER_NAME.len()].copy_from_slice(PAX_HEADER_NAME);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_size(data.len() as u64);
    header.set_entry_type(EntryType::XHeader);
    header.set_cksum();
    builder.append(&header, data.as_slice())
}

/// Append a regular file's header and content, failing if its size changed since it was
/// listed (the header already holds the old size).
fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    header: &Header,
    entry: &TreeEntry,
    size: u64,
) -> Result<(), OciError> {
    let failed = |source| OciError::io("add to a layer", &entry.source, source);
    let mut file = fs_err::File::open(&entry.source).map_err(failed)?;
    let mut counted = CountingReader {
        inner: (&mut file).take(size),
        count: 0,
    };
    builder.append(header, &mut counted).map_err(failed)?;
    let count = counted.count;
    let mut extra = [0u8; 1];
    let grew = file.read(&mut extra).map_err(failed)? > 0;
    if count != size || grew {
        let actual = fs_err::metadata(&entry.source).map_or(count, |m| m.len());
        return Err(OciError::FileChanged {
            path: entry.source.clone(),
            expected: size,
            actual,
        });
    }
    Ok(())
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let mut builder = tar::Builder::new(Vec::new());
        // 3 + 4 + 94 = 101 bytes before the length: the length itself makes it 104.
        append_pax_header(&mut builder, &[("path", vec![b'a'; 94])], 0).unwrap();
        let bytes = builder.into_inner().unwrap();
        assert!(bytes[512..].starts_with(b"104 path="));
        // 3 + 4 + 2 = 9: with one digit 10, which needs two digits: 11.
        let mut builder = tar::Builder::new(Vec::new());
        append_pax_header(&mut builder, &[("path", b"ab".to_vec())], 0).unwrap();
        let bytes = builder.into_inner().unwrap();
        assert!(bytes[512..].starts_with(b"11 path=ab\n"));
    }

    #[test]
    fn owners_and_modes_are_kept_when_asked() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shadow");
        fs_err::write(&file, b"x").unwrap();
        std::os::unix::fs::chown(&file, Some(1000), Some(42)).unwrap();
        fs_err::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        let headers = |keep_owners: bool| {
            let options = TreeOptions {
                keep_owners,
                ..TreeOptions::default()
            };
            let tar = write_tree(dir.path(), 0, options, Vec::new()).unwrap();
            let mut archive = tar::Archive::new(tar.as_slice());
            let entry = archive.entries().unwrap().next().unwrap().unwrap();
            let header = entry.header();
            (
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mode().unwrap(),
            )
        };
        assert_eq!(headers(true), (1000, 42, 0o640));
        assert_eq!(headers(false), (0, 0, 0o644));
    }

    #[test]
    fn modes_are_normalized() {
        let file = EntryKind::File { size: 0 };
        assert_eq!(normalized_mode(&file, 0o600), 0o644);
        assert_eq!(normalized_mode(&file, 0o700), 0o755);
        assert_eq!(normalized_mode(&file, 0o4711), 0o4755);
        assert_eq!(normalized_mode(&EntryKind::Directory, 0o700), 0o755);
        assert_eq!(normalized_mode(&EntryKind::Directory, 0o2775), 0o2755);
        assert_eq!(normalized_mode(&EntryKind::Directory, 0o1777), 0o1777);
    }

    #[test]
    fn splits_linux_device_numbers() {
        // /dev/null is 1:3, /dev/nvidia0 195:0, and a large minor from the 64-bit encoding.
        assert_eq!(split_device(0x103), (1, 3));
        assert_eq!(split_device(0xc300), (195, 0));
        assert_eq!(
            split_device((0x12 << 8) | 0x34 | (0x56 << 12 << 8)),
            (0x12, 0x5634)
        );
    }

    #[test]
    fn a_file_that_changes_size_fails_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("data.bin");
        fs_err::write(&source, b"12345").unwrap();
        for listed_size in [3, 10] {
            let entry = TreeEntry {
                name: b"data.bin".to_vec(),
                source: source.clone(),
                kind: EntryKind::File { size: listed_size },
                mode: 0o644,
                owner: (0, 0),
                inode: None,
                kept: false,
            };
            let mut builder = tar::Builder::new(Vec::new());
            let error = append_entry(&mut builder, &entry, 0).unwrap_err();
            let OciError::FileChanged {
                expected, actual, ..
            } = error
            else {
                panic!("{error}");
            };
            assert_eq!((expected, actual), (listed_size, 5));
        }
        let error = OciError::FileChanged {
            path: "/stage/app/data.bin".into(),
            expected: 10,
            actual: 12,
        };
        insta::assert_snapshot!(error, @"`/stage/app/data.bin` changed while it was being written into a layer (10 bytes, then 12)");
        insta::assert_snapshot!(error.hints().join("\n"), @"make sure nothing writes to the tree while mlpack builds");
    }
}
