//! New images on top of an existing one: `commit` (a container's changes) and `package` (a
//! training run's outputs) both add one layer to an image in the store and keep its config
//! (user, ports, volumes and stop signal too), history and platform.

use std::collections::BTreeMap;

use oci_spec::image::Descriptor;

use super::digest::Digest;
use super::error::OciError;
use super::image::{HistoryEntry, ImageSpec, write_image};
use super::layer::Layer;
use super::resolve::ResolvedImage;
use super::store::Store;

/// What the new image changes besides the added layer.
#[derive(Debug, Clone, Default)]
pub struct Derivation {
    /// Replaces the image's `Cmd` when set.
    pub cmd: Option<Vec<String>>,
    /// Added to (and override) the image's labels.
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created: String,
    pub history: Option<HistoryEntry>,
}

/// Write `base` plus `layer` as a new image; its manifest descriptor (not yet tagged).
pub fn derive_image(
    store: &Store,
    base: &ResolvedImage,
    layer: Layer,
    derivation: Derivation,
) -> Result<Descriptor, OciError> {
    let mut layers = Vec::new();
    for (descriptor, diff_id) in base.layers()? {
        layers.push(Layer {
            digest: Digest::from_oci(descriptor.digest())?,
            diff_id,
            size: descriptor.size(),
            media_type: descriptor.media_type().to_string(),
        });
    }
    layers.push(layer);
    let config = base.config.config().clone().unwrap_or_default();
    let mut history = base.history();
    history.extend(derivation.history);
    let mut labels: BTreeMap<String, String> = config
        .labels()
        .clone()
        .map(|labels| labels.into_iter().collect())
        .unwrap_or_default();
    labels.extend(derivation.labels);
    let spec = ImageSpec {
        layers,
        env: config.env().clone().unwrap_or_default(),
        working_dir: config.working_dir().clone().unwrap_or_default(),
        cmd: derivation
            .cmd
            .unwrap_or_else(|| config.cmd().clone().unwrap_or_default()),
        entrypoint: config.entrypoint().clone().unwrap_or_default(),
        user: config.user().clone().unwrap_or_default(),
        exposed_ports: config.exposed_ports().clone().unwrap_or_default(),
        volumes: config.volumes().clone().unwrap_or_default(),
        stop_signal: config.stop_signal().clone().unwrap_or_default(),
        labels,
        created: derivation.created,
        architecture: base.config.architecture().to_string(),
        os: base.config.os().to_string(),
        history,
    };
    write_image(store, &spec)
}

/// `SOURCE_DATE_EPOCH` as RFC 3339 when set (reproducible), else now.
pub fn created_now() -> Result<String, OciError> {
    Ok(match super::layer::source_date_epoch()? {
        Some(seconds) => jiff::Timestamp::from_second(i64::try_from(seconds).unwrap_or(i64::MAX))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_string(),
        None => jiff::Timestamp::now().to_string(),
    })
}
