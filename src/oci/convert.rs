//! A copy of an image with its layers in another compression, for clients that cannot read
//! the stored one (Docker before 23.0 and `umoci` 0.4 read no zstd layers). The config and
//! the diffIDs stay the same; the layer and manifest digests change. `push --compression`
//! stores the copy beside the original; an oci-archive export may carry one instead.

use oci_spec::image::{Descriptor, ImageManifest, MediaType};
use tempfile::NamedTempFile;

use super::digest::Digest;
use super::error::OciError;
use super::json::to_canonical_json;
use super::layer::LayerWriter;
use super::resolve::ResolvedImage;
use super::store::Store;
use crate::compression::Compression;

/// An image's layers recompressed, not yet stored.
pub(crate) struct Recompressed {
    /// The manifest naming the new layers and its bytes, or `None` when every layer already
    /// was compressed so (and the image is unchanged).
    pub(crate) manifest: Option<(ImageManifest, Vec<u8>)>,
    /// The new layer blobs, each in a temp file of the store.
    pub(crate) blobs: Vec<(Digest, NamedTempFile)>,
}

/// `image`'s layers, each compressed as `compression` (layers already so are kept).
pub(crate) fn recompress_layers(
    store: &Store,
    image: &ResolvedImage,
    compression: Compression,
) -> Result<Recompressed, OciError> {
    let writer = LayerWriter::new().compression(compression);
    let mut layers = Vec::new();
    let mut blobs = Vec::new();
    for (layer, diff_id) in image.layers()? {
        if Compression::from_layer_media_type(layer.media_type().as_ref()) == Some(compression) {
            layers.push(layer);
        } else {
            let (temp, converted) = writer.recompress(store, &layer, &diff_id)?;
            layers.push(converted.descriptor());
            blobs.push((converted.digest, temp));
        }
    }
    if layers == *image.manifest.layers() {
        return Ok(Recompressed {
            manifest: None,
            blobs,
        });
    }
    let mut manifest = image.manifest.clone();
    manifest.set_layers(layers);
    let bytes = to_canonical_json(&manifest, "the recompressed image's manifest")?;
    Ok(Recompressed {
        manifest: Some((manifest, bytes)),
        blobs,
    })
}

/// `image` with every layer compressed as `compression`, stored; the new manifest is not
/// named.
pub fn recompressed_image(
    store: &Store,
    image: &ResolvedImage,
    compression: Compression,
) -> Result<ResolvedImage, OciError> {
    let recompressed = recompress_layers(store, image, compression)?;
    for (digest, temp) in recompressed.blobs {
        store.persist_blob(temp, &digest)?;
    }
    let Some((manifest, bytes)) = recompressed.manifest else {
        return Ok(image.clone());
    };
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
