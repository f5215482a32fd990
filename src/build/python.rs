//! The Python layers: each group of locked wheels fetched (verified by sha256), installed
//! into its own staging tree with the image's install scheme, and written as one layer.

use std::path::{Path, PathBuf};

use crate::lock::{LockedImage, LockedPackage, LockedWheel, Lockfile};
use crate::pypi::{DistFile, PypiError};
use crate::wheel::{InstallScheme, InstalledWheel, WheelInstaller};

use super::BuildError;
use super::sdist::SdistWheels;

/// The interpreter launchers and `#!python` scripts point at in a Debian base mlpack builds.
pub(crate) const INTERPRETER: &str = "/usr/bin/python3";

/// The image's interpreter: Debian's on a Debian base, else the registry image's.
pub(crate) fn interpreter(image: Option<&LockedImage>) -> String {
    image.map_or_else(|| INTERPRETER.to_string(), |image| image.python.clone())
}

/// The installer for the image's interpreter: Debian's `/usr/local` scheme (`3.11` →
/// `dist-packages`) on a Debian base, else the scheme the registry image's inspection found.
pub(crate) fn installer(lock: &Lockfile) -> WheelInstaller {
    let python = lock.target.python.to_string();
    match lock.image_base() {
        Some(image) => WheelInstaller {
            scheme: InstallScheme::with_prefix(&image.prefix, &image.site_packages, &python),
            python: image.python.clone(),
        },
        None => WheelInstaller {
            scheme: InstallScheme::debian(&python),
            python: INTERPRETER.to_string(),
        },
    }
}

/// The cache key of a group: its wheels' sha256s (a built wheel's for an sdist) and where
/// they are installed.
pub(crate) fn key(
    packages: &[&LockedPackage],
    installer: &WheelInstaller,
    built: &SdistWheels,
) -> String {
    let scheme = &installer.scheme;
    let mut parts = vec![
        format!("interpreter {}", installer.python),
        format!(
            "scheme {} {} {} {} {}",
            scheme.purelib, scheme.platlib, scheme.scripts, scheme.data, scheme.headers
        ),
    ];
    for package in packages {
        parts.extend(
            package
                .wheels
                .iter()
                .map(|wheel| wheel.hashes.sha256.clone()),
        );
        parts.extend(built.get(&package.name).map(|wheel| wheel.sha256.clone()));
    }
    super::cache::key("mlpack-wheels-v2", &parts)
}

/// The index file a lock entry names.
pub(crate) fn dist_file(locked: &LockedWheel) -> DistFile {
    DistFile {
        filename: locked.name.clone(),
        url: locked.url.clone(),
        sha256: Some(locked.hashes.sha256.clone()),
        size: locked.size,
        requires_python: None,
        yanked: None,
        upload_time: None,
        core_metadata: false,
    }
}

/// A failed fetch of a lock entry: a hash mismatch names the lock's `entry` (`the wheel …
/// of numpy 2.1.0`) rather than the index, since the lock is what the file was checked
/// against.
pub(crate) fn locked_error(error: PypiError, entry: String) -> BuildError {
    match error {
        PypiError::HashMismatch {
            url,
            expected,
            actual,
        } => BuildError::LockHashMismatch {
            entry,
            url,
            expected: format!("sha256 `{expected}`"),
            actual: format!("sha256 `{actual}`"),
        },
        error => BuildError::Index(error),
    }
}

/// Install `wheels` into `staging`, side by side (see [`WheelInstaller::install_all`]).
pub(crate) fn stage(
    installer: &WheelInstaller,
    wheels: &[(String, PathBuf)],
    staging: &Path,
) -> Result<Vec<InstalledWheel>, BuildError> {
    let files: Vec<PathBuf> = wheels.iter().map(|(_, wheel)| wheel.clone()).collect();
    Ok(installer.install_all(&files, staging).map_err(Box::new)?)
}
