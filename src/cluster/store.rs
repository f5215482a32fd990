//! Making the image reachable by the nodes through a shared store: the nodes run the image
//! by digest from a store on a filesystem they all mount. When that is not this machine's
//! store, the image's blobs are copied into it (only the missing ones) and it is named there
//! as here, so a prune of the shared store keeps it.

use std::path::Path;

use super::ClusterError;
use crate::oci::{Digest, OciError, Store};

/// Copy `digest`'s manifest, config and layers from `local` into the store at `shared`,
/// unless it is the same store. Returns the shared store's root.
pub fn share_image(
    local: &Store,
    shared: &Path,
    digest: &str,
    reference: &str,
) -> Result<std::path::PathBuf, ClusterError> {
    fs_err::create_dir_all(shared)
        .map_err(|source| crate::error::IoError::new("create the shared store", shared, source))?;
    let shared_root = fs_err::canonicalize(shared)
        .map_err(|source| crate::error::IoError::new("open the shared store", shared, source))?;
    if fs_err::canonicalize(local.root()).ok().as_deref() == Some(shared_root.as_path()) {
        return Ok(shared_root);
    }
    let image = local.resolve(digest)?;
    let target = Store::open(&shared_root)?;
    let mut blobs = vec![image.manifest_digest()?, image.config_digest()?];
    for (layer, _) in image.layers()? {
        blobs.push(Digest::from_oci(layer.digest())?);
    }
    for blob in &blobs {
        if !target.has_blob(blob) {
            let mut reader = local.open_blob(blob)?;
            target.write_blob_from(&mut reader)?;
        }
    }
    let name = crate::oci::ImageReference::parse_name(reference).map_err(OciError::from)?;
    target.tag(&name, &image.manifest_descriptor)?;
    Ok(shared_root)
}
