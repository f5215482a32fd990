//! `mlpack commit`: a container's changes as a new image. The overlay's upper dir becomes one
//! reproducible layer (overlay whiteouts turned back into OCI `.wh.` entries, the runtime's
//! own mount points left out) on top of the container's image, whose config is kept.

use oci_spec::image::Descriptor;

use super::container::Container;
use super::error::RuntimeError;
use crate::oci::{self, Derivation, HistoryEntry, LayerWriter, Store};

/// Write the image and name it `reference`; its manifest descriptor.
pub fn commit(
    store: &Store,
    container: &Container,
    reference: &str,
) -> Result<Descriptor, RuntimeError> {
    let reference = oci::normalize_reference(reference)?;
    let base = store.resolve(&container.config.image.digest)?;
    let layer = LayerWriter::from_env()?.write_overlay_upper(
        store,
        &container.upper_dir(),
        &container.state.created_paths,
    )?;
    let name = &container.config.name;
    let derivation = Derivation {
        created: oci::created_now()?,
        history: Some(HistoryEntry {
            created_by: format!("mlpack commit {name}"),
            comment: format!("changes made in container {name}"),
            empty_layer: false,
        }),
        ..Derivation::default()
    };
    let descriptor = oci::derive_image(store, &base, layer, derivation)?;
    let _lock = store.lock()?;
    store.tag(&reference, &descriptor)?;
    Ok(descriptor)
}
