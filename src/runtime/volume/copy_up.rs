//! Docker's copy-up: a new, empty volume mounted over a path the image has content at gets
//! that content first, with its owners, modes, links and times, so `-v data:/var/lib/app`
//! starts from what the image put there. It runs in the container's init, after the overlay
//! is mounted and before the volume is bound over the path, so it reads the image's merged
//! view as the container sees it and writes as the container's root.
//!
//! Docker's rule: <https://docs.docker.com/engine/storage/volumes/#populate-a-volume-using-a-container>.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchownat};

/// Copy `from` (a directory in the image) into `to` (the volume's directory) when `to` is
/// empty; nothing when `from` is missing or not a directory. The volume's own directory
/// takes the owner and mode of `from`, as Docker's does.
pub(crate) fn copy_up(from: &Path, to: &Path) -> Result<(), String> {
    let Ok(metadata) = std::fs::symlink_metadata(from) else {
        return Ok(());
    };
    let empty = std::fs::read_dir(to)
        .map_err(|error| format!("read the volume `{}`: {error}", to.display()))?
        .next()
        .is_none();
    if !metadata.is_dir() || !empty {
        return Ok(());
    }
    copy_children(from, to).map_err(|error| {
        format!(
            "copy the image's `{}` into the volume: {error}",
            from.display()
        )
    })?;
    // `to` itself may be a `/proc/self/fd` link to the volume: followed, unlike the entries.
    copy_attributes(to, &metadata, true).map_err(|error| format!("set `{}`: {error}", to.display()))
}

fn copy_children(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let metadata = std::fs::symlink_metadata(&source)?;
        let kind = metadata.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_children(&source, &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target)?;
        } else {
            // Sockets, FIFOs and device nodes: an image rarely has them under a volume's
            // path, and a volume is no place for them.
            continue;
        }
        copy_attributes(&target, &metadata, false)?;
    }
    Ok(())
}

/// Owner, mode (not for links, which have none) and modification time; of the link itself
/// unless `follow`.
fn copy_attributes(path: &Path, metadata: &std::fs::Metadata, follow: bool) -> std::io::Result<()> {
    let (at_flags, time_flags) = if follow {
        (nix::fcntl::AtFlags::empty(), UtimensatFlags::FollowSymlink)
    } else {
        (
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            UtimensatFlags::NoFollowSymlink,
        )
    };
    fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(Uid::from_raw(metadata.uid())),
        Some(Gid::from_raw(metadata.gid())),
        at_flags,
    )?;
    if !metadata.file_type().is_symlink() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(metadata.mode()))?;
    }
    let mtime = TimeSpec::new(metadata.mtime(), metadata.mtime_nsec());
    utimensat(nix::fcntl::AT_FDCWD, path, &mtime, &mtime, time_flags)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_into_an_empty_volume_only() {
        let image = tempfile::tempdir().unwrap();
        fs_err::create_dir(image.path().join("sub")).unwrap();
        fs_err::write(image.path().join("sub/seed.txt"), "seed").unwrap();
        std::os::unix::fs::symlink("sub/seed.txt", image.path().join("link")).unwrap();
        fs_err::set_permissions(
            image.path().join("sub"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        let volume = tempfile::tempdir().unwrap();
        copy_up(image.path(), volume.path()).unwrap();
        assert_eq!(
            fs_err::read_to_string(volume.path().join("sub/seed.txt")).unwrap(),
            "seed"
        );
        assert_eq!(
            fs_err::read_link(volume.path().join("link")).unwrap(),
            Path::new("sub/seed.txt")
        );
        let mode = fs_err::metadata(volume.path().join("sub")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o750);

        // A volume with data keeps it as it is.
        fs_err::write(image.path().join("new.txt"), "new").unwrap();
        copy_up(image.path(), volume.path()).unwrap();
        assert!(!volume.path().join("new.txt").exists());
    }
}
