//! The system-packages layer: the Debian packages `[build] system-packages` names (`ffmpeg`,
//! `git`), resolved with their dependencies against the base's suite, less what the base
//! already has, pinned into `[system-packages]` in `mlpack.lock`, and unpacked without
//! maintainer scripts into a layer right above the base (so the system-libraries scan and
//! the sdist builds see them as part of the base).
//!
//! The suite is a Debian base's, or a registry image's when its `/etc/os-release` names a
//! Debian release mlpack knows (`python:3.11-slim` is bookworm); any other image is refused.

use std::collections::BTreeSet;

use crate::debian::{DebianError, Suite};
use crate::lock::{LockedSystemPackages, Lockfile, ProjectLock};

use super::system_libraries::{BaseTree, base_suite, installed_packages, stage_debs};
use super::{BuildError, BuildRequest, Builder, StagedLayer, base, cache};

/// The hash the pins are kept for: the names as written, the target, the mirror and the
/// base's pins (a Debian base's package sha256s, or an image's digest).
pub(crate) fn inputs_sha256(
    names: &[String],
    manifest: &crate::manifest::Manifest,
    lock: &Lockfile,
) -> String {
    let mut parts = vec![
        format!("arch {}", lock.target.arch.as_str()),
        format!("mirror {:?}", manifest.base.mirror),
    ];
    parts.extend(names.iter().map(|name| format!("package {name}")));
    parts.extend(super::system_libraries::base_pins(lock));
    cache::key("mlpack-system-packages-v1", &parts)
}

impl Builder<'_> {
    /// The layer of `[build] system-packages`, pinned first when the lock's pins are for
    /// other inputs; `None` when none are named or the base has them all. Also says whether
    /// it pinned.
    pub(super) fn system_packages_layer(
        &self,
        request: &BuildRequest<'_>,
        suite: Option<&Suite>,
        base: &BaseTree<'_>,
        lock: &mut ProjectLock,
    ) -> Result<(bool, Option<StagedLayer>), BuildError> {
        let names = request.manifest.build.system_package_names();
        if names.is_empty() {
            lock.forget_system_packages()?;
            return Ok((false, None));
        }
        let pinned = self.pin_system_packages(request, suite, base, &names, lock)?;
        let Some(pins) = lock
            .system_packages
            .as_ref()
            .filter(|pins| !pins.packages.is_empty())
        else {
            return Ok((pinned, None));
        };
        let mut parts: Vec<String> = pins.packages.iter().map(|deb| deb.sha256.clone()).collect();
        parts.sort();
        // The layer's dpkg status file includes the base's, so the base is part of the key.
        parts.extend(
            base.layers
                .iter()
                .map(|(_, layer)| layer.diff_id.digest().to_string()),
        );
        let key = cache::key("mlpack-system-packages-layer-v1", &parts);
        let description = format!(
            "system packages: {} ({} Debian packages)",
            names.join(", "),
            pins.packages.len()
        );
        let layer = self.cached_layer(&key, description.clone(), |dir| {
            let tree = base.get()?;
            let suite = base_suite(suite, tree, request.manifest, lock).ok_or_else(|| {
                BuildError::SystemPackagesOnImage {
                    image: request.manifest.base.image.clone(),
                }
            })?;
            self.reporter.phase(&description, "downloading");
            let debs = self.fetch.debs(&suite, &pins.packages, "system packages")?;
            self.reporter.phase(&description, "unpacking");
            stage_debs(dir, tree, &pins.packages, &debs)
        })?;
        Ok((pinned, Some(layer)))
    }

    /// Pin the closure of `names` less the base's packages, unless the lock pins it for these
    /// inputs already (then the Debian index is not read). Returns whether it pinned.
    fn pin_system_packages(
        &self,
        request: &BuildRequest<'_>,
        suite: Option<&Suite>,
        base: &BaseTree<'_>,
        names: &[String],
        lock: &mut ProjectLock,
    ) -> Result<bool, BuildError> {
        let inputs = inputs_sha256(names, request.manifest, lock);
        let recorded = lock
            .system_packages
            .as_ref()
            .map(|pins| &pins.inputs_sha256);
        if !super::must_pin(
            recorded,
            &inputs,
            request,
            BuildError::LockedSystemPackages,
            BuildError::OfflineSystemPackages,
        )? {
            return Ok(false);
        }
        self.reporter
            .phase("system packages", "resolving Debian packages");
        // A Debian base's packages are in the lock; an image's, in its dpkg status file.
        let (suite, have) = if let (Some(suite), Some(pinned)) = (suite, lock.debian_base()) {
            let names = pinned.packages.iter().map(|deb| deb.name.clone());
            (suite.clone(), names.collect::<BTreeSet<String>>())
        } else {
            let tree = base.get()?;
            let suite = base_suite(suite, tree, request.manifest, lock).ok_or_else(|| {
                BuildError::SystemPackagesOnImage {
                    image: request.manifest.base.image.clone(),
                }
            })?;
            let status = tree.text_at("var/lib/dpkg/status").unwrap_or_default();
            (suite, installed_packages(status))
        };
        let closure = self
            .fetch
            .debian_index(&suite)?
            .closure(names)
            .map_err(|error| unknown_package(error, names, &suite))?;
        lock.pin_system_packages(LockedSystemPackages {
            inputs_sha256: inputs,
            requested: names.to_vec(),
            packages: closure
                .into_iter()
                .filter(|package| !have.contains(&package.name))
                .map(base::locked_deb)
                .collect(),
        })?;
        Ok(true)
    }
}

/// A name of `[build] system-packages` the suite lacks, said as the manifest's problem.
fn unknown_package(error: DebianError, names: &[String], suite: &Suite) -> BuildError {
    match error {
        DebianError::UnknownPackage {
            name,
            suite: described,
            suggestion,
        } if names
            .iter()
            .any(|written| written.split('=').next() == Some(name.as_str())) =>
        {
            BuildError::UnknownSystemPackage {
                name,
                suite: described,
                codename: suite.codename.clone(),
                suggestion,
            }
        }
        error => BuildError::Debian(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    fn suite() -> Suite {
        Suite::for_image("debian:bookworm", None, crate::arch::Arch::X86_64).unwrap()
    }

    #[test]
    fn an_unknown_name_is_the_manifest_s_problem_with_hints() {
        let unknown = DebianError::UnknownPackage {
            name: "ffmpg".to_string(),
            suite: "Debian bookworm (amd64)".to_string(),
            suggestion: Some("ffmpeg".to_string()),
        };
        let error = unknown_package(unknown, &["ffmpg".to_string()], &suite());
        insta::assert_snapshot!(error.to_string(), @"`[build] system-packages` names `ffmpg`, but there is no package `ffmpg` in Debian bookworm (amd64)");
        insta::assert_snapshot!(error.hints().join("\n"), @r"
        did you mean `ffmpeg`?
        a package may be named otherwise than its command: find the one that ships a file with `apt-file search` or at https://packages.debian.org/bookworm/
        ");
        assert!(error.is_user_error());
        // A dependency the index lacks is the index's problem, said as it was.
        let dependency = DebianError::UnknownPackage {
            name: "libfoo1".to_string(),
            suite: "Debian bookworm (amd64)".to_string(),
            suggestion: None,
        };
        assert!(matches!(
            unknown_package(dependency, &["ffmpeg".to_string()], &suite()),
            BuildError::Debian(_)
        ));
    }

    #[test]
    fn an_image_that_is_not_debian_is_refused_with_a_hint() {
        let error = BuildError::SystemPackagesOnImage {
            image: "alpine:3.20".to_string(),
        };
        insta::assert_snapshot!(error.to_string(), @"`[build] system-packages` adds Debian packages, but the base image `alpine:3.20` is not a Debian release mlpack can add packages to");
        insta::assert_snapshot!(error.hints().join("\n"), @"install them in the base image, or use a Debian bookworm or trixie image (`python:3.11-slim`) or `debian:bookworm` as the base");
    }
}
