//! Extended attributes of a path itself, never of what a symlink there points to
//! (`lgetxattr(2)`, `lsetxattr(2)`): overlayfs's opaque marks and file capabilities.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// The most an xattr value may hold (`XATTR_SIZE_MAX`).
const MAX_VALUE: usize = 65536;

/// The xattr `name` of `path`, or `None` where it has none or the file system keeps none.
/// Unprivileged callers see no `trusted.*` xattrs.
#[expect(unsafe_code, reason = "neither std nor nix wraps the xattr calls")]
pub(crate) fn get(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    let name = CString::new(name)?;
    // The values read here are `y`, a redirect path or a capability: one retry with the
    // largest size covers any.
    let mut value = vec![0_u8; 256];
    loop {
        // SAFETY: `path` and `name` are NUL-terminated and outlive the call; `value` is
        // writable for `value.len()` bytes, and the kernel writes no more than that.
        let length = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if let Ok(length) = usize::try_from(length) {
            value.truncate(length);
            return Ok(Some(value));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::ENODATA | libc::EOPNOTSUPP) => return Ok(None),
            Some(libc::ERANGE) if value.len() < MAX_VALUE => value.resize(MAX_VALUE, 0),
            _ => return Err(error),
        }
    }
}

/// Set the xattr `name` of `path` to `value`.
#[expect(unsafe_code, reason = "neither std nor nix wraps the xattr calls")]
pub(crate) fn set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
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
    use super::*;

    #[test]
    fn set_then_get_and_missing_is_none() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("file");
        fs_err::write(&path, "").unwrap();
        assert_eq!(get(&path, "user.mlpack.test").unwrap(), None);
        let long = vec![b'x'; 1000];
        set(&path, "user.mlpack.test", &long).unwrap();
        assert_eq!(get(&path, "user.mlpack.test").unwrap(), Some(long));
    }
}
