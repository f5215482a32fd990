//! `mlpack commit`: a container's changes as a new image. The overlay's upper dir becomes one
//! reproducible layer (overlay whiteouts turned back into OCI `.wh.` entries, the runtime's
//! own mount points left out) on top of the container's image, whose config is kept.

use oci_spec::image::Descriptor;

use super::container::Container;
use super::error::RuntimeError;
use crate::oci::{self, HistoryEntry, ImageSpec, Layer, LayerWriter, Store};

/// Write the image and name it `reference`; its manifest descriptor.
pub fn commit(
    store: &Store,
    container: &Container,
    reference: &str,
) -> Result<Descriptor, RuntimeError> {
    let reference = oci::normalize_reference(reference)?;
    let base = store.resolve(&container.config.image.digest)?;
    let writer = LayerWriter::from_env()?;
    let layer = writer.write_overlay_upper(
        store,
        &container.upper_dir(),
        &container.state.created_paths,
    )?;
    let mut layers: Vec<Layer> = Vec::new();
    for (descriptor, diff_id) in base.layers()? {
        layers.push(Layer {
            digest: oci::Digest::from_oci(descriptor.digest())?,
            diff_id,
            size: descriptor.size(),
            media_type: descriptor.media_type().to_string(),
        });
    }
    layers.push(layer);
    let config = base.config.config().clone().unwrap_or_default();
    let mut history: Vec<HistoryEntry> = base
        .config
        .history()
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|entry| HistoryEntry {
            created_by: entry.created_by().clone().unwrap_or_default(),
            comment: entry.comment().clone().unwrap_or_default(),
            empty_layer: entry.empty_layer().unwrap_or(false),
        })
        .collect();
    history.push(HistoryEntry {
        created_by: format!("mlpack commit {}", container.config.name),
        comment: format!("changes made in container {}", container.config.name),
        empty_layer: false,
    });
    let created = match oci::source_date_epoch()? {
        Some(seconds) => jiff::Timestamp::from_second(seconds.try_into().unwrap_or(i64::MAX))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_string(),
        None => jiff::Timestamp::now().to_string(),
    };
    let spec = ImageSpec {
        layers,
        env: config.env().clone().unwrap_or_default(),
        working_dir: config.working_dir().clone().unwrap_or_default(),
        cmd: config.cmd().clone().unwrap_or_default(),
        entrypoint: config.entrypoint().clone().unwrap_or_default(),
        labels: config
            .labels()
            .clone()
            .map(|labels| labels.into_iter().collect())
            .unwrap_or_default(),
        created,
        architecture: base.config.architecture().to_string(),
        os: base.config.os().to_string(),
        history,
    };
    let descriptor = oci::write_image(store, &spec)?;
    let _lock = store.lock()?;
    store.tag(&reference, &descriptor)?;
    Ok(descriptor)
}
