//! A base image from a registry, used as it is: pulled into the store (with the credentials
//! of `mlpack login` or `docker login`), pinned in `mlpack.lock` by digest with what its files
//! say about its interpreter and glibc, and below the project's layers at build time.
//!
//! The image is never run: see [`super::inspect`] for what is read and how.

use std::str::FromStr;

use crate::arch::Arch;
use crate::lock::LockedImage;
use crate::oci::registry::{self, TransferProgress};
use crate::oci::{Digest, HistoryEntry, Layer, ResolvedImage, Store};

use super::BuildError;
use super::fetch::{Fetcher, pull};
use super::inspect::{ImageTree, InspectError};

/// A client for `source`'s registry with the saved credentials, if any.
/// Pull `image` for `arch` (or, with `offline`, take the copy the store has under its name),
/// read its interpreter and glibc, and pin it.
pub(super) fn pin(
    network: &crate::network::Network,
    store: &Store,
    image: &str,
    arch: Arch,
    offline: bool,
    progress: &dyn TransferProgress,
) -> Result<LockedImage, BuildError> {
    let source = registry::remote_reference(image)?;
    let local_name = source.store_name();
    let (digest, index_digest) = if offline {
        let resolved =
            store
                .resolve(&local_name.to_string())
                .map_err(|_| BuildError::OfflineImage {
                    image: image.to_string(),
                })?;
        (resolved.manifest_digest()?, None)
    } else {
        let client = registry::client_for(source.registry())?;
        let platform = ("linux", arch.oci());
        let report = pull(
            network,
            &client,
            store,
            &source,
            platform,
            &local_name,
            progress,
        )?;
        (report.manifest_digest, report.index_digest)
    };
    let resolved = store.resolve(digest.as_str())?;
    check_arch(image, &resolved, arch)?;
    let facts = inspect(store, image, &resolved)?;
    Ok(LockedImage {
        image: image.to_string(),
        digest: digest.to_string(),
        index_digest: index_digest.map(|digest| digest.to_string()),
        arch: arch.oci().to_string(),
        python: facts.python,
        python_version: facts.python_version,
        glibc: format!("{}.{}", facts.glibc.0, facts.glibc.1),
        prefix: facts.prefix,
        site_packages: facts.site_packages,
    })
}

fn check_arch(image: &str, resolved: &ResolvedImage, arch: Arch) -> Result<(), BuildError> {
    let found = resolved.config.architecture().to_string();
    if found == arch.oci() {
        Ok(())
    } else {
        Err(BuildError::ImageArch {
            image: image.to_string(),
            found,
            wanted: arch.oci().to_string(),
        })
    }
}

/// Apply the image's layers, bottom first, and read what the build needs from them.
fn inspect(
    store: &Store,
    image: &str,
    resolved: &ResolvedImage,
) -> Result<super::inspect::ImageFacts, BuildError> {
    let mut tree = ImageTree::default();
    for layer in resolved.manifest.layers() {
        let reader = store.open_layer(layer)?;
        tree.apply_layer(reader)
            .map_err(|source| InspectError::Read {
                image: image.to_string(),
                layer: layer.digest().to_string(),
                source,
            })?;
    }
    Ok(tree.facts(image)?)
}

/// The pinned image from the store, pulled by its digest first when the store lacks any of
/// its blobs (never with `offline`).
pub(crate) fn ensure(
    fetch: &Fetcher<'_>,
    store: &Store,
    image: &LockedImage,
    offline: bool,
) -> Result<ResolvedImage, BuildError> {
    let digest = Digest::from_str(&image.digest)?;
    if let Some(resolved) = complete(store, &digest) {
        return Ok(resolved);
    }
    if offline {
        return Err(BuildError::OfflineImage {
            image: image.image.clone(),
        });
    }
    let source = registry::remote_reference(&image.image)?;
    let local_name = source.store_name();
    let source = source.with_digest(digest.clone());
    let client = registry::client_for(source.registry())?;
    fetch.pull(&client, store, &source, ("linux", &image.arch), &local_name)?;
    Ok(store.resolve(digest.as_str())?)
}

/// The image with `digest`, if its manifest, config and every layer are in the store.
fn complete(store: &Store, digest: &Digest) -> Option<ResolvedImage> {
    if !store.has_blob(digest) {
        return None;
    }
    let resolved = store.resolve(digest.as_str()).ok()?;
    let layers = resolved.layers().ok()?;
    layers
        .iter()
        .all(|(layer, _)| {
            Digest::from_oci(layer.digest()).is_ok_and(|digest| store.has_blob(&digest))
        })
        .then_some(resolved)
}

/// The image's layers as they are: descriptors unchanged, diffIDs from its config.
pub(crate) fn layers(resolved: &ResolvedImage) -> Result<Vec<Layer>, BuildError> {
    let mut layers = Vec::new();
    for (descriptor, diff_id) in resolved.layers()? {
        layers.push(Layer {
            digest: Digest::from_oci(descriptor.digest())?,
            diff_id,
            size: descriptor.size(),
            media_type: descriptor.media_type().to_string(),
        });
    }
    Ok(layers)
}

/// The image's history, one step per layer as the image spec requires; an image whose
/// history does not match its layers (or has none) gets a plain step per layer.
pub(crate) fn history(resolved: &ResolvedImage, image: &str) -> Vec<HistoryEntry> {
    let layers = resolved.manifest.layers().len();
    let steps = resolved.history();
    if steps.iter().filter(|step| !step.empty_layer).count() == layers {
        return steps;
    }
    (0..layers)
        .map(|index| HistoryEntry {
            created_by: format!("base image {image}, layer {}/{layers}", index + 1),
            comment: String::new(),
            empty_layer: false,
        })
        .collect()
}

/// The image's environment with mlpack's over it, except that the image's `PATH` stays (its
/// interpreter may be on a path of its own).
pub(crate) fn env(base: &[String], ours: &[String]) -> Vec<String> {
    let key = |entry: &str| {
        entry
            .split_once('=')
            .map_or(entry, |(key, _)| key)
            .to_string()
    };
    let mut env = base.to_vec();
    for entry in ours {
        let name = key(entry);
        match env.iter_mut().find(|existing| key(existing) == name) {
            Some(_) if name == "PATH" => {}
            Some(existing) => existing.clone_from(entry),
            None => env.push(entry.clone()),
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    #[test]
    fn errors_say_what_to_do() {
        let image = "127.0.0.1:5000/py:3.11".to_string();
        let show = |error: BuildError| format!("{error}\nhint: {}", error.hints().join("\n"));
        insta::assert_snapshot!(show(BuildError::OfflineImage { image: image.clone() }), @r"
        the base image `127.0.0.1:5000/py:3.11` is not in the store, and `--offline` forbids pulling it
        hint: run `mlpack pull 127.0.0.1:5000/py:3.11`, or run once without `--offline`
        ");
        insta::assert_snapshot!(show(BuildError::PackagesOnImage { image: image.clone() }), @r"
        `[base] packages` adds Debian packages, which needs a Debian base that mlpack builds, but `127.0.0.1:5000/py:3.11` is an image from a registry
        hint: remove `[base] packages`, or build on `debian:bookworm` or `debian:trixie`
        ");
        insta::assert_snapshot!(show(BuildError::ImageArch { image, found: "arm64".to_string(), wanted: "amd64".to_string() }), @r"
        the base image `127.0.0.1:5000/py:3.11` is for `arm64`, but the target is `amd64`
        hint: pick the target with `--arch`, or use a multi-platform image
        ");
    }

    #[test]
    fn the_images_path_stays_and_the_rest_is_ours() {
        let base = [
            "PATH=/opt/py/bin:/usr/bin".to_string(),
            "LANG=C".to_string(),
            "GPG_KEY=abc".to_string(),
        ];
        let ours = super::super::config::env();
        assert_eq!(
            env(&base, &ours),
            [
                "PATH=/opt/py/bin:/usr/bin",
                "LANG=C.UTF-8",
                "GPG_KEY=abc",
                "PYTHONUNBUFFERED=1"
            ]
        );
        assert_eq!(env(&[], &ours), ours);
    }
}
