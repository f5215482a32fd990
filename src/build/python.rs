//! The Python layers: each group of locked wheels fetched (verified by sha256), installed
//! into its own staging tree with the image's install scheme, and written as one layer.

use std::path::{Path, PathBuf};

use crate::lock::{LockedPackage, Lockfile};
use crate::pypi::{DistFile, IndexClient, PypiError};
use crate::wheel::{InstallScheme, WheelInstaller};

use super::BuildError;

/// The interpreter launchers and `#!python` scripts point at in a Debian base mlpack builds.
pub(crate) const INTERPRETER: &str = "/usr/bin/python3";

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

/// The cache key of a group: its wheels' sha256s and where they are installed.
pub(crate) fn key(packages: &[&LockedPackage], installer: &WheelInstaller) -> String {
    let scheme = &installer.scheme;
    let mut parts = vec![
        format!("interpreter {}", installer.python),
        format!(
            "scheme {} {} {} {} {}",
            scheme.purelib, scheme.platlib, scheme.scripts, scheme.data, scheme.headers
        ),
    ];
    parts.extend(packages.iter().flat_map(|package| {
        package
            .wheels
            .iter()
            .map(|wheel| wheel.hashes.sha256.clone())
    }));
    super::cache::key("mlpack-wheels-v2", &parts)
}

/// Every wheel of `packages` on disk, downloads overlapping. Each is checked against the
/// sha256 the lock pins, so a mismatch names the lock's entry.
pub(crate) async fn fetch(
    client: &IndexClient,
    packages: &[&LockedPackage],
) -> Result<Vec<PathBuf>, BuildError> {
    let fetches = packages
        .iter()
        .flat_map(|package| package.wheels.iter().map(move |wheel| (package, wheel)))
        .map(|(package, wheel)| async move {
            let file = DistFile {
                filename: wheel.name.clone(),
                url: wheel.url.clone(),
                sha256: Some(wheel.hashes.sha256.clone()),
                size: wheel.size,
                requires_python: None,
                yanked: None,
                upload_time: None,
                core_metadata: false,
            };
            client
                .fetch_wheel(&file)
                .await
                .map_err(|error| match error {
                    PypiError::HashMismatch {
                        url,
                        expected,
                        actual,
                    } => BuildError::LockHashMismatch {
                        entry: format!(
                            "the wheel `{}` of `{}` {}",
                            wheel.name, package.name, package.version
                        ),
                        url,
                        expected: format!("sha256 `{expected}`"),
                        actual: format!("sha256 `{actual}`"),
                    },
                    error => BuildError::Index(error),
                })
        });
    futures::future::try_join_all(fetches).await
}

/// Install `wheels` into `staging`.
pub(crate) fn stage(
    installer: &WheelInstaller,
    wheels: &[PathBuf],
    staging: &Path,
) -> Result<(), BuildError> {
    for wheel in wheels {
        installer.install(wheel, staging).map_err(Box::new)?;
    }
    Ok(())
}
