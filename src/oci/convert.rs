//! A copy of an image with its layers in another compression, for clients that cannot read
//! the stored one (Docker before 23.0 reads no zstd layers). The config and the diffIDs stay
//! the same; the layer and manifest digests change. Both variants live in the store.

use oci_spec::image::{Descriptor, MediaType};

use super::digest::Digest;
use super::error::OciError;
use super::json::to_canonical_json;
use super::layer::{LayerCompression, LayerWriter};
use super::resolve::ResolvedImage;
use super::store::Store;

/// `image` with every layer compressed as `compression` (layers already so are kept); the
/// new manifest is stored but not named.
pub fn recompressed_image(
    store: &Store,
    image: &ResolvedImage,
    compression: LayerCompression,
) -> Result<ResolvedImage, OciError> {
    let mut layers = Vec::new();
    for (layer, diff_id) in image.layers()? {
        if LayerCompression::from_media_type(layer.media_type().as_ref()) == Some(Some(compression))
        {
            layers.push(layer);
        } else {
            let converted = LayerWriter::new()
                .compression(compression)
                .recompress(store, &layer, &diff_id)?;
            layers.push(converted.descriptor());
        }
    }
    if layers == *image.manifest.layers() {
        return Ok(image.clone());
    }
    let mut manifest = image.manifest.clone();
    manifest.set_layers(layers);
    let bytes = to_canonical_json(&manifest, "the recompressed image's manifest")?;
    let digest: Digest = store.write_blob(&bytes)?;
    let mut descriptor = Descriptor::new(
        MediaType::ImageManifest,
        bytes.len() as u64,
        digest.to_oci(),
    );
    descriptor.set_platform(image.manifest_descriptor.platform().clone());
    Ok(ResolvedImage {
        reference: None,
        manifest_descriptor: descriptor,
        manifest,
        config: image.config.clone(),
    })
}
