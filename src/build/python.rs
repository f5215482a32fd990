//! The Python layers: each group of locked wheels fetched (verified by sha256), installed
//! into its own staging tree with the image's install scheme, and written as one layer.

use std::path::{Path, PathBuf};

use crate::lock::LockedPackage;
use crate::pypi::{DistFile, IndexClient};
use crate::wheel::{InstallScheme, WheelInstaller};

use super::BuildError;

/// The interpreter launchers and `#!python` scripts point at.
pub(crate) const INTERPRETER: &str = "/usr/bin/python3";

/// The installer for the image's interpreter (`3.11` → Debian's `/usr/local` scheme).
pub(crate) fn installer(python: &str) -> WheelInstaller {
    WheelInstaller {
        scheme: InstallScheme::debian(python),
        python: INTERPRETER.to_string(),
    }
}

/// The cache key of a group: its wheels' sha256s and where they are installed.
pub(crate) fn key(packages: &[&LockedPackage], python: &str) -> String {
    let mut parts = vec![
        format!("python {python}"),
        format!("interpreter {INTERPRETER}"),
    ];
    parts.extend(packages.iter().flat_map(|package| {
        package
            .wheels
            .iter()
            .map(|wheel| wheel.hashes.sha256.clone())
    }));
    super::cache::key("mlpack-wheels-v1", &parts)
}

/// Every wheel of `packages` on disk, downloads overlapping.
pub(crate) async fn fetch(
    client: &IndexClient,
    packages: &[&LockedPackage],
) -> Result<Vec<PathBuf>, BuildError> {
    let files: Vec<DistFile> = packages
        .iter()
        .flat_map(|package| package.wheels.iter())
        .map(|wheel| DistFile {
            filename: wheel.name.clone(),
            url: wheel.url.clone(),
            sha256: Some(wheel.hashes.sha256.clone()),
            size: wheel.size,
            requires_python: None,
            yanked: None,
            upload_time: None,
            core_metadata: false,
        })
        .collect();
    let fetches = files.iter().map(|file| client.fetch_wheel(file));
    Ok(futures::future::try_join_all(fetches).await?)
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
