//! Files replaced in one rename: a reader sees the old bytes or the new ones, never half, and
//! a failed write leaves the old file as it was. The temporary file has a unique name (two
//! writers never share one) and sits beside the target, so the rename stays on one file
//! system. A new file gets mode 0644 and a replaced one keeps its mode, as an editor's save
//! would; `tempfile`'s own default (0600) would hide a lock or manifest from the team.

use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// Whether the bytes must be on disk before the rename: for files a user would lose work
/// over (the lock, the manifest), not for state that is rebuilt or recomputed after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Synced,
    Cached,
}

/// Replace `path` with `bytes`.
pub fn write(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let mode = fs_err::metadata(path).map_or(0o644, |metadata| metadata.permissions().mode());
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode & 0o7777))
        .tempfile_in(directory)?;
    temp.write_all(bytes)?;
    if durability == Durability::Synced {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_keeping_the_mode_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlpack.lock");
        write(&path, b"one", Durability::Synced).unwrap();
        let mode = |path: &Path| fs_err::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o644);
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write(&path, b"two", Durability::Cached).unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"two");
        assert_eq!(mode(&path), 0o600);
        let entries = fs_err::read_dir(dir.path()).unwrap().count();
        assert_eq!(entries, 1, "the temporary file is gone");
    }

    #[test]
    fn a_failed_rename_leaves_the_target_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("outputs");
        fs_err::create_dir(&target).unwrap();
        fs_err::write(target.join("model.pt"), b"weights").unwrap();
        assert!(write(&target, b"new", Durability::Cached).is_err());
        assert_eq!(fs_err::read(target.join("model.pt")).unwrap(), b"weights");
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 1);
    }
}
