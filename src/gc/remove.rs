//! `mlpack rmi`: remove an image's names, under Docker's rule: the last name of an image that
//! a container uses (in any state) is removed only when forced, and the image itself stays
//! until that container is removed, since the container needs it to start again.

use super::containers_with_images;
use super::error::GcError;
use crate::oci::{self, Digest, Store};
use crate::runtime::Container;

/// What [`remove_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedImage {
    /// The names removed.
    pub untagged: Vec<String>,
    pub digest: Digest,
    /// The containers that keep the image (only with `force`): `name (id)`.
    pub kept_for: Vec<String>,
}

/// Remove `image`'s name (`NAME[:TAG]`), or every name of a manifest digest or digest prefix.
/// Removing the last name of an image a container uses is refused unless `force`.
pub fn remove_image(store: &Store, image: &str, force: bool) -> Result<RemovedImage, GcError> {
    // Held from looking at the containers to the new `index.json`, as container creation
    // holds it from checking its image to writing its directory.
    let _lock = store.lock()?;
    let resolved = store.resolve(image)?;
    let digest = resolved.manifest_digest()?;
    let names: Vec<String> = store
        .images()?
        .into_iter()
        .filter(|(_, descriptor)| descriptor.digest() == &digest.to_oci())
        .map(|(name, _)| name)
        .collect();
    // A name (`python:3.11`, found as `docker.io/library/python:3.11`) removes the name it
    // was found by; a digest, every name.
    let found_by = oci::ImageReference::parse_name(image)
        .ok()
        .and_then(|name| {
            [name.to_string(), name.normalized().to_string()]
                .into_iter()
                .find(|name| names.contains(name))
        });
    let untagged = found_by.map_or_else(|| names.clone(), |name| vec![name]);
    let users: Vec<Container> = containers_with_images(store)?
        .into_iter()
        .filter(|(_, used)| *used == digest)
        .map(|(container, _)| container)
        .collect();
    let described: Vec<String> = users
        .iter()
        .map(|container| format!("`{}` ({})", container.config.name, container.id().short()))
        .collect();
    let last_name = untagged.len() == names.len();
    if let Some(first) = users.first()
        && last_name
        && !force
    {
        return Err(GcError::ImageInUse {
            image: image.to_string(),
            containers: described,
            first: first.config.name.clone(),
        });
    }
    for name in &untagged {
        store.untag(name)?;
    }
    Ok(RemovedImage {
        untagged,
        digest,
        kept_for: if last_name { described } else { Vec::new() },
    })
}
