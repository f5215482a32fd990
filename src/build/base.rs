//! The base layer from Debian packages: pin the closure of the base's packages into
//! `mlpack.lock` (from the suite's signed index), then fetch exactly those `.deb`s, unpack them
//! without maintainer scripts, and write the dpkg database and what the scripts would have set.

use std::path::{Path, PathBuf};

use crate::debian::{self, DebPackage, DebianError, Suite};
use crate::lock::{LockedBase, LockedDeb};
use crate::manifest::Manifest;
use crate::python::PythonVersion;

use super::BuildError;
use super::fetch::Fetcher;

/// What every base has: a shell (`dash` is `/bin/sh`; nothing depends on it, so it is named)
/// and coreutils for debugging, the interpreter, CA certificates and time zones, and the C++
/// runtime, which the manylinux policy lets wheels expect from the system (numpy's
/// `_multiarray_umath` needs `libstdc++.so.6`). `[base] packages` adds to it.
pub(crate) const BASE_PACKAGES: &[&str] = &[
    "base-files",
    "base-passwd",
    "bash",
    "dash",
    "coreutils",
    "python3",
    "ca-certificates",
    "tzdata",
    "libstdc++6",
];

/// The Debian suite `image` names (`debian:bookworm`), from the manifest's mirror, with its
/// snapshot archive for pinned `.deb`s the mirror dropped.
pub(crate) fn suite(
    manifest: &Manifest,
    image: &str,
    arch: crate::arch::Arch,
) -> Result<Suite, crate::debian::DebianError> {
    let mut suite = Suite::for_image(image, manifest.base.mirror.as_deref(), arch)?;
    suite.snapshot.clone_from(&manifest.base.snapshot);
    Ok(suite)
}

/// The requested packages, base first, then the manifest's.
fn requested(manifest: &Manifest) -> Vec<String> {
    BASE_PACKAGES
        .iter()
        .map(|name| (*name).to_string())
        .chain(manifest.base.packages.iter().cloned())
        .collect()
}

/// The base's inputs hash: what decides its closure.
pub(crate) fn inputs_sha256(manifest: &Manifest, suite: &Suite) -> String {
    let mut parts = vec![
        manifest.base.image.clone(),
        suite.mirror.clone(),
        suite.arch.debian().to_string(),
    ];
    parts.extend(requested(manifest));
    super::cache::key("mlpack-base-inputs-v1", &parts)
}

/// Check the interpreter the project asks for is the one the base ships.
pub(crate) fn check_python(manifest: &Manifest) -> Result<(), BuildError> {
    let Some(shipped) = crate::manifest::base_python(&manifest.base.image) else {
        // Not a Debian base: a registry image's interpreter is checked when it is pinned.
        return Ok(());
    };
    let wanted = manifest.python_version();
    if wanted == shipped {
        return Ok(());
    }
    let providers: Vec<String> = [
        ("debian:bookworm", PythonVersion::new(3, 11)),
        ("debian:trixie", PythonVersion::new(3, 13)),
    ]
    .into_iter()
    .filter(|(_, python)| *python == wanted)
    .map(|(image, _)| format!("`{image}`"))
    .collect();
    Err(BuildError::PythonMismatch {
        image: manifest.base.image.clone(),
        shipped,
        wanted,
        providers,
    })
}

/// Compute the base's closure from the suite's verified index.
pub(crate) fn pin(
    fetch: &Fetcher<'_>,
    manifest: &Manifest,
    suite: &Suite,
) -> Result<LockedBase, BuildError> {
    let closure = fetch.debian_index(suite)?.closure(&requested(manifest))?;
    Ok(LockedBase {
        image: manifest.base.image.clone(),
        mirror: suite.mirror.clone(),
        suite: suite.codename.clone(),
        arch: suite.arch.debian().to_string(),
        inputs_sha256: inputs_sha256(manifest, suite),
        packages: closure.into_iter().map(locked_deb).collect(),
    })
}

/// A `.deb` that differs from what the lock pins is named as the lock's entry: the lock is
/// what the file was checked against.
pub(super) fn lock_mismatch(error: DebianError, locked: &LockedDeb) -> BuildError {
    match error {
        DebianError::HashMismatch {
            url,
            expected_size,
            expected_sha256,
            actual_size,
            actual_sha256,
            ..
        } => BuildError::LockHashMismatch {
            entry: format!("the Debian package `{}` {}", locked.name, locked.version),
            url,
            expected: format!("{expected_size} bytes with sha256 `{expected_sha256}`"),
            actual: format!("{actual_size} bytes with sha256 `{actual_sha256}`"),
        },
        error => BuildError::Debian(error),
    }
}

/// Unpack the pinned packages into `staging` and finish them into a working root: the
/// merged-`/usr` links first (as debootstrap makes them), then every package, then the dpkg
/// database and what the maintainer scripts would have done.
pub(crate) fn stage(
    suite: &Suite,
    base: &LockedBase,
    debs: &[PathBuf],
    staging: &Path,
) -> Result<(), BuildError> {
    debian::prepare_root(staging, suite)?;
    let mut installed = Vec::new();
    for (package, deb) in base.packages.iter().zip(debs) {
        let extracted = debian::extract(deb, staging)?;
        installed.push((deb_package(package), extracted));
    }
    debian::write_dpkg_database(staging, &installed)?;
    debian::finish_base(staging, &installed)?;
    Ok(())
}

pub(crate) fn locked_deb(package: DebPackage) -> LockedDeb {
    LockedDeb {
        name: package.name,
        version: package.version,
        architecture: package.architecture,
        filename: package.filename,
        sha256: package.sha256,
        size: package.size,
        depends: package.depends,
        pre_depends: package.pre_depends,
        provides: package.provides,
        essential: package.essential,
        priority: package.priority,
        section: package.section,
        multi_arch: package.multi_arch,
        source: package.source,
        installed_size: package.installed_size,
        maintainer: package.maintainer,
        description: package.description,
    }
}

pub(crate) fn deb_package(package: &LockedDeb) -> DebPackage {
    DebPackage {
        name: package.name.clone(),
        version: package.version.clone(),
        architecture: package.architecture.clone(),
        filename: package.filename.clone(),
        sha256: package.sha256.clone(),
        size: package.size,
        depends: package.depends.clone(),
        pre_depends: package.pre_depends.clone(),
        provides: package.provides.clone(),
        essential: package.essential,
        priority: package.priority.clone(),
        multi_arch: package.multi_arch.clone(),
        source: package.source.clone(),
        section: package.section.clone(),
        installed_size: package.installed_size,
        description: package.description.clone(),
        maintainer: package.maintainer.clone(),
    }
}
