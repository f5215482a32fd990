//! Deletions in a layer, in the two forms mlpack meets them. In a layer's tar, OCI whiteouts
//! (<https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md#whiteouts>):
//! `.wh.<name>` deletes `<name>` of the layers below, and `.wh..wh..opq` hides everything the
//! layers below have in its directory. On disk, overlayfs's own
//! (<https://docs.kernel.org/filesystems/overlayfs.html>, "whiteouts and opaque
//! directories"): a 0:0 character device, and an `overlay.opaque` xattr of `y`.

use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::Path;

use nix::sys::stat::{Mode, SFlag, makedev};

use super::xattr;

/// `.wh.<name>` deletes `<name>` of the layers below.
pub(crate) const PREFIX: &str = ".wh.";
/// The opaque whiteout: the layers below have nothing in this directory.
pub(crate) const OPAQUE: &str = ".wh..wh..opq";
/// The opaque-directory xattr overlayfs reads when mounted by root.
const OPAQUE_XATTR_TRUSTED: &str = "trusted.overlay.opaque";
/// The one it reads when mounted with `userxattr`, as a rootless container's overlay is:
/// unprivileged users cannot set `trusted.*` xattrs.
const OPAQUE_XATTR_USER: &str = "user.overlay.opaque";
/// Where overlayfs keeps its xattrs, in the order of the two above.
pub(crate) const OVERLAY_XATTR_PREFIXES: [&str; 2] = ["trusted.overlay.", "user.overlay."];

/// What a tar entry's last path component means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryName<'a> {
    /// An ordinary name.
    Plain(&'a str),
    /// `.wh.<name>`: `<name>` (possibly empty or `.`, which callers refuse) is deleted.
    Deletes(&'a str),
    /// `.wh..wh..opq`: its directory is opaque.
    Opaque,
    /// `.wh..wh.<other>`: aufs's own bookkeeping (hard link dirs and the like), which
    /// applies to nothing and is skipped, as Docker does.
    AufsMetadata,
}

impl<'a> EntryName<'a> {
    pub(crate) fn parse(name: &'a str) -> Self {
        match name.strip_prefix(PREFIX) {
            None => Self::Plain(name),
            Some(_) if name == OPAQUE => Self::Opaque,
            Some(hidden) if hidden.starts_with(PREFIX) => Self::AufsMetadata,
            Some(hidden) => Self::Deletes(hidden),
        }
    }
}

/// Whether `metadata` is overlayfs's whiteout: a 0:0 character device.
pub(crate) fn is_overlay_whiteout(metadata: &std::fs::Metadata) -> bool {
    metadata.file_type().is_char_device() && metadata.rdev() == 0
}

/// Create overlayfs's whiteout at `path` (no privilege needed since Linux 5.8).
pub(crate) fn make_overlay_whiteout(path: &Path) -> io::Result<()> {
    nix::sys::stat::mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        .map_err(io::Error::from)
}

/// Mark the directory `path` opaque, with the xattr an overlay mounted by root
/// (`privileged`) or without it reads.
pub(crate) fn mark_opaque(path: &Path, privileged: bool) -> io::Result<()> {
    let name = if privileged {
        OPAQUE_XATTR_TRUSTED
    } else {
        OPAQUE_XATTR_USER
    };
    xattr::set(path, name, b"y")
}

/// Whether overlayfs takes the directory `path` as opaque: either opaque xattr is `y`
/// (overlayfs's `x` marks a directory that holds whiteouts of its own, and is not opaque).
pub(crate) fn is_opaque(path: &Path) -> io::Result<bool> {
    for name in [OPAQUE_XATTR_TRUSTED, OPAQUE_XATTR_USER] {
        if xattr::get(path, name)?.as_deref() == Some(b"y") {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_a_layer() {
        assert_eq!(EntryName::parse("file"), EntryName::Plain("file"));
        assert_eq!(EntryName::parse(".wh.gone"), EntryName::Deletes("gone"));
        assert_eq!(EntryName::parse(".wh."), EntryName::Deletes(""));
        assert_eq!(EntryName::parse(".wh..wh..opq"), EntryName::Opaque);
        assert_eq!(EntryName::parse(".wh..wh.plnk"), EntryName::AufsMetadata);
        assert_eq!(EntryName::parse(".whx"), EntryName::Plain(".whx"));
    }
}
