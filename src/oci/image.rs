//! Image config and manifest: what turns a list of layers into a runnable image.
//!
//! Specs: <https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md> and
//! <https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md>. Both are written as
//! canonical JSON (keys sorted), so the same [`ImageSpec`] always gives the same manifest
//! digest.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use oci_spec::image::{
    Arch, Config, Descriptor, History, ImageConfiguration, ImageManifestBuilder, MediaType, Os,
    Platform, RootFs,
};

use super::error::OciError;
use super::json::to_canonical_json;
use super::layer::Layer;
use super::store::Store;

/// Everything an image is made of, in the form mlpack builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Bottom first.
    pub layers: Vec<Layer>,
    /// `NAME=value` entries.
    pub env: Vec<String>,
    /// Empty for none.
    pub working_dir: String,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    /// Empty for the default (root).
    pub user: String,
    /// `8080/tcp` entries.
    pub exposed_ports: Vec<String>,
    /// Paths declared as volumes.
    pub volumes: Vec<String>,
    /// Empty for the default (`SIGTERM`).
    pub stop_signal: String,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339 (`2024-06-01T00:00:00Z`); fixed from `SOURCE_DATE_EPOCH` for reproducibility.
    pub created: String,
    /// The Go name: `amd64` or `arm64`.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// One entry per layer (`empty_layer: false`), plus any metadata-only steps. Empty for
    /// no history; otherwise its non-empty entries must match the layers in number, as
    /// Docker checks when loading.
    pub history: Vec<HistoryEntry>,
}

impl ImageSpec {
    /// An image of `layers` for Linux on `architecture` (the Go name) with an empty config and
    /// no history; callers set what their image needs with struct update syntax.
    pub fn new(layers: Vec<Layer>, architecture: &str, created: String) -> Self {
        Self {
            layers,
            env: Vec::new(),
            working_dir: String::new(),
            cmd: Vec::new(),
            entrypoint: Vec::new(),
            user: String::new(),
            exposed_ports: Vec::new(),
            volumes: Vec::new(),
            stop_signal: String::new(),
            labels: BTreeMap::new(),
            created,
            architecture: architecture.to_string(),
            os: "linux".to_string(),
            history: Vec::new(),
        }
    }
}

/// One step of the image's history, as `docker history` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub created_by: String,
    pub comment: String,
    /// True for a step that changed only the config, not the file system.
    pub empty_layer: bool,
}

/// Write `spec`'s config and manifest blobs into `store` and return the manifest's
/// descriptor (with its platform), ready for [`Store::tag`]. The layers must be in the store.
pub fn write_image(store: &Store, spec: &ImageSpec) -> Result<Descriptor, OciError> {
    write_image_with(store, spec, &serde_json::Map::new())
}

/// [`write_image`] with `extra` fields in the config's `config` object that the OCI spec
/// does not name but Docker writes (a Dockerfile's `Healthcheck`).
pub fn write_image_with(
    store: &Store,
    spec: &ImageSpec,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Result<Descriptor, OciError> {
    let (architecture, os) = validate(spec)?;
    for layer in &spec.layers {
        if !store.has_blob(&layer.digest) {
            return Err(OciError::BlobNotFound {
                path: store.blob_path(&layer.digest),
                digest: layer.digest.clone(),
            });
        }
    }
    let config = image_configuration(spec, architecture.clone(), os.clone());
    let config_bytes = if extra.is_empty() {
        to_canonical_json(&config, "the image config")?
    } else {
        let mut value =
            serde_json::to_value(&config).map_err(|error| OciError::InvalidImageSpec {
                message: format!("could not write the image config: {error}"),
            })?;
        if let Some(inner) = value
            .get_mut("config")
            .and_then(serde_json::Value::as_object_mut)
        {
            inner.extend(extra.clone());
        }
        to_canonical_json(&value, "the image config")?
    };
    let config_digest = store.write_blob(&config_bytes)?;
    let config_descriptor = Descriptor::new(
        MediaType::ImageConfig,
        config_bytes.len() as u64,
        config_digest.to_oci(),
    );

    let manifest = ImageManifestBuilder::default()
        .schema_version(2_u32)
        .media_type(MediaType::ImageManifest)
        .config(config_descriptor)
        .layers(
            spec.layers
                .iter()
                .map(Layer::descriptor)
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(|error| OciError::InvalidImageSpec {
            message: format!("could not build the manifest: {error}"),
        })?;
    let manifest_bytes = to_canonical_json(&manifest, "the image manifest")?;
    let manifest_digest = store.write_blob(&manifest_bytes)?;

    let mut platform = Platform::default();
    platform.set_architecture(architecture);
    platform.set_os(os);
    let mut descriptor = Descriptor::new(
        MediaType::ImageManifest,
        manifest_bytes.len() as u64,
        manifest_digest.to_oci(),
    );
    descriptor.set_platform(Some(platform));
    Ok(descriptor)
}

fn validate(spec: &ImageSpec) -> Result<(Arch, Os), OciError> {
    let invalid = |message: String| OciError::InvalidImageSpec { message };
    jiff::Timestamp::from_str(&spec.created).map_err(|error| {
        invalid(format!(
            "the creation time `{}` is not an RFC 3339 timestamp: {error}",
            spec.created
        ))
    })?;
    let architecture = Arch::from(spec.architecture.as_str());
    if matches!(architecture, Arch::Other(_)) {
        return Err(invalid(format!(
            "unknown architecture `{}` (expected a Go name such as `amd64` or `arm64`)",
            spec.architecture
        )));
    }
    let os = Os::from(spec.os.as_str());
    if matches!(os, Os::Other(_)) {
        return Err(invalid(format!(
            "unknown operating system `{}` (expected `linux`)",
            spec.os
        )));
    }
    let layer_steps = spec.history.iter().filter(|step| !step.empty_layer).count();
    if !spec.history.is_empty() && layer_steps != spec.layers.len() {
        return Err(invalid(format!(
            "the history has {layer_steps} layer steps for {} layers: each layer needs one step with `empty_layer: false`",
            spec.layers.len()
        )));
    }
    for layer in &spec.layers {
        if crate::compression::Compression::from_layer_media_type(&layer.media_type).is_none() {
            return Err(invalid(format!(
                "layer `{}` has media type `{}`, which is not a layer type",
                layer.digest, layer.media_type
            )));
        }
    }
    Ok((architecture, os))
}

fn image_configuration(spec: &ImageSpec, architecture: Arch, os: Os) -> ImageConfiguration {
    let non_empty = |items: &[String]| (!items.is_empty()).then(|| items.to_vec());
    let mut config = Config::default();
    config.set_env(non_empty(&spec.env));
    config.set_cmd(non_empty(&spec.cmd));
    config.set_entrypoint(non_empty(&spec.entrypoint));
    config.set_working_dir((!spec.working_dir.is_empty()).then(|| spec.working_dir.clone()));
    config.set_user((!spec.user.is_empty()).then(|| spec.user.clone()));
    config.set_exposed_ports(non_empty(&spec.exposed_ports));
    config.set_volumes(non_empty(&spec.volumes));
    config.set_stop_signal((!spec.stop_signal.is_empty()).then(|| spec.stop_signal.clone()));
    config.set_labels((!spec.labels.is_empty()).then(|| {
        spec.labels
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect::<HashMap<_, _>>()
    }));

    let mut rootfs = RootFs::default();
    rootfs.set_diff_ids(
        spec.layers
            .iter()
            .map(|layer| layer.diff_id.to_string())
            .collect(),
    );

    let history = spec
        .history
        .iter()
        .map(|step| {
            let mut history = History::default();
            history.set_created(Some(spec.created.clone()));
            history.set_created_by(Some(step.created_by.clone()));
            history.set_comment((!step.comment.is_empty()).then(|| step.comment.clone()));
            history.set_empty_layer(step.empty_layer.then_some(true));
            history
        })
        .collect::<Vec<_>>();

    let mut image = ImageConfiguration::default();
    image.set_created(Some(spec.created.clone()));
    image.set_architecture(architecture);
    image.set_os(os);
    image.set_config(Some(config));
    image.set_rootfs(rootfs);
    image.set_history((!history.is_empty()).then_some(history));
    image
}
