//! A copy of an image with its layers in another compression, for clients that cannot read
//! the stored one (Docker before 23.0 and `umoci` 0.4 read no zstd layers). The config and
//! the diffIDs stay the same; the layer and manifest digests change. `push` stores the copy
//! beside the original (gzip by default) and records it, so the next push of the unchanged
//! image reuses it; an oci-archive or docker-archive export may carry one instead.
//!
//! The copy is deterministic: gzip's header carries no time, name or OS and its level is
//! fixed, zstd's multithreaded output does not depend on the thread count (see
//! [`Compression::writer`]), so recompressing again gives the same digests, and a registry
//! that has the blobs of an earlier push is sent none.

use oci_spec::image::{Descriptor, ImageManifest, MediaType};
use rayon::prelude::*;
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

/// `image`'s layers, each compressed as `compression` (layers already so are kept). The
/// layers are independent, so they are recompressed side by side, one per core (gzip has
/// one thread per stream).
pub(crate) fn recompress_layers(
    store: &Store,
    image: &ResolvedImage,
    compression: Compression,
) -> Result<Recompressed, OciError> {
    let writer = LayerWriter::new().compression(compression);
    let converted: Vec<(Descriptor, Option<(Digest, NamedTempFile)>)> = image
        .layers()?
        .into_par_iter()
        .map(|(layer, diff_id)| {
            if Compression::from_layer_media_type(layer.media_type().as_ref()) == Some(compression)
            {
                return Ok((layer, None));
            }
            let (temp, converted) = writer.recompress(store, &layer, &diff_id)?;
            Ok((converted.descriptor(), Some((converted.digest, temp))))
        })
        .collect::<Result<_, OciError>>()?;
    let (layers, blobs): (Vec<Descriptor>, Vec<_>) = converted.into_iter().unzip();
    let blobs: Vec<(Digest, NamedTempFile)> = blobs.into_iter().flatten().collect();
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

/// `image` with every layer compressed as `compression`, stored and recorded for the next
/// push (see [`Store::push_record`]); the new manifest is not named. A copy made before is
/// reused while all its blobs are in the store.
pub fn recompressed_image(
    store: &Store,
    image: &ResolvedImage,
    compression: Compression,
) -> Result<ResolvedImage, OciError> {
    let local = image.manifest_digest()?;
    if let Some(digest) = store.recompressed_manifest(&local, compression) {
        let bytes = store.read_blob(&digest)?;
        return Ok(stored_copy(
            image,
            store.parse(&digest)?,
            &digest,
            bytes.len(),
        ));
    }
    let recompressed = recompress_layers(store, image, compression)?;
    for (digest, temp) in recompressed.blobs {
        store.persist_blob(temp, &digest)?;
    }
    let Some((manifest, bytes)) = recompressed.manifest else {
        return Ok(image.clone());
    };
    let digest: Digest = store.write_blob(&bytes)?;
    store.record_recompressed(&local, compression, &digest)?;
    Ok(stored_copy(image, manifest, &digest, bytes.len()))
}

/// The image as the copy whose manifest (`bytes` long) is stored as `digest`.
fn stored_copy(
    image: &ResolvedImage,
    manifest: ImageManifest,
    digest: &Digest,
    bytes: usize,
) -> ResolvedImage {
    let mut descriptor = Descriptor::new(MediaType::ImageManifest, bytes as u64, digest.to_oci());
    descriptor.set_platform(image.manifest_descriptor.platform().clone());
    ResolvedImage {
        reference: None,
        manifest_descriptor: descriptor,
        manifest,
        config: image.config.clone(),
    }
}
