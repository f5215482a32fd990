//! `pull`: an image from a registry into the store: the manifest (the platform's, when the
//! reference names an index), then the config and layers the store lacks, each verified
//! before it enters `blobs/`, and finally a name in `index.json`.
//!
//! Spec: <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pull>.
//! Downloads resume: a blob is written to `<store>/tmp/partial-<hex>` and a later attempt
//! asks for the rest with `Range` (RFC 9110 §14), starting over if the server ignores it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use oci_spec::image::{Arch, ImageConfiguration, ImageManifest, MediaType, Os, Platform};
use reqwest::header::{ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use tempfile::{NamedTempFile, TempPath};

use super::super::Descriptor;
use super::super::digest::{DiffId, Digest};
use super::super::reference::ImageReference;
use super::super::store::{PARTIAL_PREFIX, Store};
use super::client::{Access, ReadError, RegistryClient, blocking, build_request, read_limited};
use super::error::RegistryError;
use super::manifest::{
    ACCEPT as MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, ManifestKind, PlatformMatch, media_type_of,
    select_platform,
};
use super::progress::TransferProgress;
use crate::error::FromIo;

/// Blobs downloaded at once.
const CONCURRENCY: usize = 4;
/// Tries per blob; each after the first resumes where the last stopped.
const ATTEMPTS: u32 = 3;
/// Buffer between the network and a partial file.
const WRITE_BUFFER: usize = 1 << 20;

/// What a pull fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The image manifest now in the store under the local name (the platform's, when the
    /// reference named an index).
    pub manifest_digest: Digest,
    /// The index or manifest list the reference named, when it named one: the digest to pin
    /// the reference to for every platform.
    pub index_digest: Option<Digest>,
    pub blobs_downloaded: usize,
    /// Blobs the store already had.
    pub blobs_present: usize,
    /// The bytes downloaded, counting only what came over the network this time.
    pub bytes_downloaded: u64,
}

/// Told of each layer of a pull, with its diffID, as soon as its blob is in the store (at
/// once for a blob the store had), so that it can be unpacked while later layers download.
pub type LayerStored<'a> = dyn Fn(&Descriptor, &DiffId) + Sync + 'a;

/// Pull `source` through `client` (which must be for `source.registry()`) into `store`, and
/// name it `local_name` there (callers usually pass [`ImageReference::store_name`]). `platform` is `(os, architecture)` with Go's
/// names (`linux`, `amd64` or `arm64`), used when `source` names an index.
pub async fn pull(
    client: &RegistryClient,
    store: &Store,
    source: &ImageReference,
    platform: (&str, &str),
    local_name: &ImageReference,
    progress: &dyn TransferProgress,
) -> Result<PullReport, RegistryError> {
    pull_each(
        client,
        store,
        source,
        platform,
        local_name,
        progress,
        &|_, _| {},
    )
    .await
}

/// [`pull`], calling `stored` with each layer once its blob is in the store. The config is
/// downloaded first (it names the layers' diffIDs), then the layers the store lacks, the
/// smallest first: the interpreter and libraries arrive, and can be unpacked, while the big
/// framework layers are still on the way. A layer is only handed over when the config lists
/// as many diffIDs as the manifest has layers; otherwise whoever unpacks the image meets that
/// error later, with its context.
pub async fn pull_each(
    client: &RegistryClient,
    store: &Store,
    source: &ImageReference,
    platform: (&str, &str),
    local_name: &ImageReference,
    progress: &dyn TransferProgress,
    stored: &LayerStored<'_>,
) -> Result<PullReport, RegistryError> {
    client.check_reference(source)?;
    let mut failures = Vec::new();
    for mirror in client.mirrors() {
        let pulled = pull_from(
            mirror, store, source, platform, local_name, progress, stored,
        );
        match pulled.await {
            Ok(report) => return Ok(report),
            Err(error) if error.passes_mirror() => {
                failures.push((mirror.base_url().to_string(), error_chain(&error)));
            }
            Err(error) => return Err(error),
        }
    }
    let pulled = pull_from(
        client, store, source, platform, local_name, progress, stored,
    )
    .await;
    match pulled {
        Err(error) if !failures.is_empty() && error.passes_mirror() => {
            Err(RegistryError::AfterMirrors {
                registry: client.registry().to_string(),
                error: Box::new(error),
                failures,
            })
        }
        pulled => pulled,
    }
}

/// An error and its causes on one line, as a mirror's failure is shown.
fn error_chain(error: &RegistryError) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// [`pull`] from one host: the registry, or one of its mirrors (which serves the same
/// repository paths).
async fn pull_from(
    client: &RegistryClient,
    store: &Store,
    source: &ImageReference,
    platform: (&str, &str),
    local_name: &ImageReference,
    progress: &dyn TransferProgress,
    stored: &LayerStored<'_>,
) -> Result<PullReport, RegistryError> {
    let local_name = local_name.clone().into_name()?;
    let access = Access::pull(&source.repository());
    let top = fetch_manifest(
        client,
        &access,
        source,
        &source.manifest_reference(),
        source.digest(),
    )
    .await?;
    let (manifest, index_digest) = match top.kind {
        ManifestKind::Image => (top, None),
        ManifestKind::Index => {
            let entry = platform_entry(source, &top, platform)?;
            let manifest =
                fetch_manifest(client, &access, source, entry.as_str(), Some(&entry)).await?;
            if manifest.kind != ManifestKind::Image {
                return Err(RegistryError::UnsupportedManifest {
                    reference: format!("{}/{}@{entry}", source.registry(), source.repository()),
                    media_type: manifest.media_type,
                });
            }
            (manifest, Some(top.digest))
        }
    };
    let image: ImageManifest = serde_json::from_slice(&manifest.bytes).map_err(|error| {
        RegistryError::InvalidManifest {
            reference: source.to_string(),
            message: error.to_string(),
        }
    })?;
    let blobs = blobs_of(&image)?;

    // From the first blob written to the tag, so that a `prune` in another process cannot
    // delete blobs that nothing names yet.
    let _lock = {
        let store = store.clone();
        blocking(move || store.lock()).await?
    };
    // A blob the store has is not downloaded again, so its size is checked here: nothing that
    // reads the image later may trust a size the manifest lies about.
    for blob in &blobs {
        if let Ok(metadata) = fs_err::metadata(store.blob_path(&blob.digest))
            && metadata.len() != blob.size
        {
            return Err(size_mismatch(client, blob, metadata.len()));
        }
    }
    store.write_blob(&manifest.bytes)?;
    let (present, missing): (Vec<Blob>, Vec<Blob>) = blobs
        .into_iter()
        .partition(|blob| store.has_blob(&blob.digest));
    for blob in &present {
        progress.start(blob.digest.as_str(), blob.size);
        progress.finish(blob.digest.as_str());
    }
    let config_blob = Blob::of(image.config())?;
    let mut downloaded = 0;
    if missing.contains(&config_blob) {
        downloaded += download_blob(client, store, &access, &config_blob, progress).await?;
    }
    let config = read_config(store, &config_blob.digest, source)?;
    let layers = layer_diff_ids(&image, &config);
    let hand_over = |digest: &Digest| {
        for (layer, diff_id) in &layers {
            if Digest::from_oci(layer.digest()).is_ok_and(|found| found == *digest) {
                stored(layer, diff_id);
            }
        }
    };
    for blob in &present {
        hand_over(&blob.digest);
    }
    let mut missing_layers: Vec<&Blob> = missing
        .iter()
        .filter(|blob| **blob != config_blob)
        .collect();
    missing_layers.sort_by_key(|blob| blob.size);
    let downloads = missing_layers.into_iter().map(|blob| async {
        let received = download_blob(client, store, &access, blob, progress).await?;
        hand_over(&blob.digest);
        Ok::<u64, RegistryError>(received)
    });
    let received: Vec<u64> = futures::stream::iter(downloads)
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    downloaded += received.iter().sum::<u64>();

    let descriptor = manifest_descriptor(&manifest, &config);
    store.tag(&local_name, &descriptor)?;
    Ok(PullReport {
        manifest_digest: manifest.digest,
        index_digest,
        blobs_downloaded: missing.len(),
        blobs_present: present.len(),
        bytes_downloaded: downloaded,
    })
}

/// A manifest as fetched and checked.
#[derive(Debug)]
struct Fetched {
    bytes: Vec<u8>,
    digest: Digest,
    media_type: String,
    kind: ManifestKind,
}

/// `GET /v2/<name>/manifests/<reference>`, checked: at most [`MAX_MANIFEST_BYTES`], hashing
/// to `expected` when given and to `Docker-Content-Digest` when sent, and of a kind this
/// client follows.
async fn fetch_manifest(
    client: &RegistryClient,
    access: &Access,
    source: &ImageReference,
    reference: &str,
    expected: Option<&Digest>,
) -> Result<Fetched, RegistryError> {
    let separator = if reference.starts_with("sha256:") {
        '@'
    } else {
        ':'
    };
    let shown = format!(
        "{}/{}{separator}{reference}",
        source.registry(),
        source.repository()
    );
    let url = client.url(&format!("v2/{}/manifests/{reference}", source.repository()))?;
    let request = build_request(client.get(url.clone()).header(ACCEPT, MANIFEST_ACCEPT))?;
    let response = client.send(request, access).await?;
    match response.status() {
        status if status.is_success() => {}
        StatusCode::NOT_FOUND => {
            return Err(RegistryError::ManifestNotFound {
                registry: source.registry().to_string(),
                repository: source.repository().into_owned(),
                reference: reference.to_string(),
            });
        }
        _ => return Err(client.status_error(&Method::GET, response, access).await),
    }
    let content_type = header(&response, CONTENT_TYPE.as_str());
    let announced = header(&response, "docker-content-digest")
        .and_then(|value| Digest::from_str(value.trim()).ok());
    let too_large = || RegistryError::ManifestTooLarge {
        registry: source.registry().to_string(),
        reference: shown.clone(),
        limit: MAX_MANIFEST_BYTES,
    };
    let limit = usize::try_from(MAX_MANIFEST_BYTES).unwrap_or(usize::MAX);
    let bytes = read_limited(response, limit)
        .await
        .map_err(|error| match error {
            ReadError::TooLarge => too_large(),
            ReadError::Http(source) => client.request_error(&url, source),
        })?;
    let digest = Digest::of(&bytes);
    for wanted in expected.into_iter().chain(announced.as_ref()) {
        if *wanted != digest {
            return Err(RegistryError::DigestMismatch {
                registry: source.registry().to_string(),
                what: format!("the manifest `{shown}`"),
                expected: wanted.clone(),
                actual: digest,
            });
        }
    }
    let media_type = media_type_of(content_type.as_deref(), &bytes);
    let kind = media_type.as_deref().and_then(ManifestKind::of);
    match (media_type, kind) {
        (Some(media_type), Some(kind)) => Ok(Fetched {
            bytes,
            digest,
            media_type,
            kind,
        }),
        (media_type, _) => Err(RegistryError::UnsupportedManifest {
            reference: shown,
            media_type: media_type
                .or(content_type)
                .unwrap_or_else(|| "manifest of unknown type".to_string()),
        }),
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// The digest of the index entry for `platform`.
fn platform_entry(
    source: &ImageReference,
    index: &Fetched,
    (os, architecture): (&str, &str),
) -> Result<Digest, RegistryError> {
    let invalid = |message: String| RegistryError::InvalidManifest {
        reference: source.to_string(),
        message,
    };
    match select_platform(&index.bytes, os, architecture).map_err(invalid)? {
        PlatformMatch::Found(entry) => {
            if entry.size > MAX_MANIFEST_BYTES {
                return Err(RegistryError::ManifestTooLarge {
                    registry: source.registry().to_string(),
                    reference: format!("{}@{}", source, entry.digest),
                    limit: MAX_MANIFEST_BYTES,
                });
            }
            Digest::from_str(&entry.digest).map_err(|error| invalid(error.to_string()))
        }
        PlatformMatch::Missing(available) => Err(RegistryError::NoMatchingPlatform {
            reference: source.to_string(),
            platform: format!("{os}/{}", crate::arch::oci_architecture(architecture)),
            available,
        }),
    }
}

/// A blob an image needs: its config or a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Blob {
    digest: Digest,
    size: u64,
}

impl Blob {
    fn of(descriptor: &Descriptor) -> Result<Self, RegistryError> {
        Ok(Self {
            digest: Digest::from_oci(descriptor.digest())?,
            size: descriptor.size(),
        })
    }
}

/// The config and layers, each once.
fn blobs_of(image: &ImageManifest) -> Result<Vec<Blob>, RegistryError> {
    let mut blobs: Vec<Blob> = Vec::new();
    for descriptor in std::iter::once(image.config()).chain(image.layers()) {
        let blob = Blob::of(descriptor)?;
        if !blobs.contains(&blob) {
            blobs.push(blob);
        }
    }
    Ok(blobs)
}

/// The image's config, from the store (verified on its way in).
fn read_config(
    store: &Store,
    digest: &Digest,
    source: &ImageReference,
) -> Result<ImageConfiguration, RegistryError> {
    serde_json::from_slice(&store.read_blob(digest)?).map_err(|error| {
        RegistryError::InvalidManifest {
            reference: source.to_string(),
            message: format!("its config `{digest}` is not valid: {error}"),
        }
    })
}

/// Each layer with its diffID, bottom first; none when the config's diffIDs do not pair
/// with the manifest's layers one to one.
fn layer_diff_ids(image: &ImageManifest, config: &ImageConfiguration) -> Vec<(Descriptor, DiffId)> {
    let diff_ids: Result<Vec<DiffId>, _> = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|diff_id| DiffId::from_str(diff_id))
        .collect();
    match diff_ids {
        Ok(diff_ids) if diff_ids.len() == image.layers().len() => {
            image.layers().iter().cloned().zip(diff_ids).collect()
        }
        _ => Vec::new(),
    }
}

/// The descriptor to name the image by: the manifest's media type and size, and the
/// platform its config declares.
fn manifest_descriptor(manifest: &Fetched, config: &ImageConfiguration) -> Descriptor {
    let mut platform = Platform::default();
    platform.set_os(Os::from(config.os().to_string().as_str()));
    platform.set_architecture(Arch::from(config.architecture().to_string().as_str()));
    platform.set_variant(config.variant().clone());
    let mut descriptor = Descriptor::new(
        MediaType::from(manifest.media_type.as_str()),
        manifest.bytes.len() as u64,
        manifest.digest.to_oci(),
    );
    descriptor.set_platform(Some(platform));
    descriptor
}

/// Download `blob` into the store, resuming a partial file and retrying a broken transfer;
/// returns the bytes that came over the network.
async fn download_blob(
    client: &RegistryClient,
    store: &Store,
    access: &Access,
    blob: &Blob,
    progress: &dyn TransferProgress,
) -> Result<u64, RegistryError> {
    progress.start(blob.digest.as_str(), blob.size);
    let partial = store
        .temp_dir()
        .join(format!("{PARTIAL_PREFIX}{}", blob.digest.hex()));
    let mut received = 0;
    let mut attempt = 1;
    loop {
        match download_attempt(client, access, blob, &partial, progress).await {
            Ok(bytes) => {
                received += bytes;
                break;
            }
            Err(failure) => {
                received += failure.received;
                if attempt >= ATTEMPTS || !failure.retry {
                    // Keep what came for a later pull to resume, unless it is useless.
                    if !failure.error.is_transient() {
                        remove_partial(&partial);
                    }
                    return Err(failure.error);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        attempt += 1;
    }
    let file = std::fs::File::open(&partial)
        .map_err(|source| RegistryError::io("open", &partial, source))?;
    let path = TempPath::try_from_path(&partial)
        .map_err(|source| RegistryError::io("open", &partial, source))?;
    // Off the runtime's thread: the fsync of a big blob would stall the other downloads.
    let (owned_store, digest) = (store.clone(), blob.digest.clone());
    blocking(move || {
        owned_store
            .persist_blob(NamedTempFile::from_parts(file, path), &digest)
            .map_err(RegistryError::from)
    })
    .await?;
    progress.finish(blob.digest.as_str());
    Ok(received)
}

/// Why an attempt failed, and whether another may succeed.
struct Failure {
    error: RegistryError,
    /// A transient error, or one a fresh start may fix (the partial file was dropped).
    retry: bool,
    /// Bytes that came over the network before the failure.
    received: u64,
}

impl Failure {
    fn new(error: RegistryError, received: u64) -> Self {
        Self {
            retry: error.is_transient(),
            error,
            received,
        }
    }

    fn starting_over(error: RegistryError, received: u64) -> Self {
        Self {
            error,
            retry: true,
            received,
        }
    }
}

/// One `GET` of the blob into `partial`, asking for the rest if part of it is there; on
/// success the file is whole and verified. Returns the bytes received.
async fn download_attempt(
    client: &RegistryClient,
    access: &Access,
    blob: &Blob,
    partial: &Path,
    progress: &dyn TransferProgress,
) -> Result<u64, Failure> {
    let mut existing = fs_err::metadata(partial).map_or(0, |meta| meta.len());
    if existing >= blob.size {
        remove_partial(partial);
        existing = 0;
    }
    let repository = access.repository.as_deref().unwrap_or_default();
    let url = client
        .url(&format!("v2/{repository}/blobs/{}", blob.digest))
        .map_err(|error| Failure::new(error, 0))?;
    let mut builder = client.get(url.clone());
    if existing > 0 {
        builder = builder.header(RANGE, format!("bytes={existing}-"));
    }
    let request = build_request(builder).map_err(|error| Failure::new(error, 0))?;
    let response = client
        .send(request, access)
        .await
        .map_err(|error| Failure::new(error, 0))?;
    let status = response.status();
    let resumed = existing > 0
        && status == StatusCode::PARTIAL_CONTENT
        && header(&response, CONTENT_RANGE.as_str())
            .is_some_and(|range| range_starts_at(&range, existing));
    match status {
        _ if resumed => {}
        StatusCode::OK => existing = 0,
        StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE => {
            // Not the range asked for: drop the partial file and start over.
            remove_partial(partial);
            let error = client.status_error(&Method::GET, response, access).await;
            return Err(Failure::starting_over(error, 0));
        }
        StatusCode::NOT_FOUND => {
            return Err(Failure::new(
                RegistryError::BlobNotFound {
                    registry: client.registry().to_string(),
                    repository: repository.to_string(),
                    digest: blob.digest.clone(),
                },
                0,
            ));
        }
        _ => {
            let error = client.status_error(&Method::GET, response, access).await;
            return Err(Failure::new(error, 0));
        }
    }
    let hasher = if resumed {
        progress.advance(blob.digest.as_str(), existing);
        hash_prefix(partial.to_path_buf(), existing)
            .await
            .map_err(|error| Failure::new(error, 0))?
    } else {
        Sha256::new()
    };
    write_body(
        client, response, &url, blob, partial, existing, hasher, progress,
    )
    .await
    .map_err(|(error, received)| {
        // A mismatch after resuming may come from a damaged partial file, which is gone
        // now: a fresh start may succeed.
        let mismatch = matches!(
            error,
            RegistryError::DigestMismatch { .. } | RegistryError::SizeMismatch { .. }
        );
        if resumed && mismatch {
            Failure::starting_over(error, received)
        } else {
            Failure::new(error, received)
        }
    })
}

/// Append the body to `partial` (or replace it when `existing` is 0), then check the size
/// and digest of the whole. A mismatch removes the file.
#[expect(
    clippy::too_many_arguments,
    reason = "one download's state, passed once"
)]
async fn write_body(
    client: &RegistryClient,
    mut response: reqwest::Response,
    url: &url::Url,
    blob: &Blob,
    partial: &Path,
    existing: u64,
    mut hasher: Sha256,
    progress: &dyn TransferProgress,
) -> Result<u64, (RegistryError, u64)> {
    let file = fs_err::OpenOptions::new()
        .create(true)
        .write(true)
        .append(existing > 0)
        .truncate(existing == 0)
        .open(partial)
        .map_err(|source| (RegistryError::io("open", partial, source), 0))?;
    let mut writer = io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut size = existing;
    let mut received = 0;
    let write_error =
        |source: io::Error, received| (RegistryError::io("write", partial, source), received);
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(source) => {
                let flushed = writer.flush().map_err(|error| write_error(error, received));
                flushed?;
                return Err((client.request_error(url, source), received));
            }
        };
        let length = chunk.len() as u64;
        size += length;
        received += length;
        if size > blob.size {
            drop(writer);
            remove_partial(partial);
            return Err((size_mismatch(client, blob, size), received));
        }
        hasher.update(&chunk);
        writer
            .write_all(&chunk)
            .map_err(|error| write_error(error, received))?;
        progress.advance(blob.digest.as_str(), length);
    }
    writer
        .into_inner()
        .map_err(|error| write_error(error.into_error(), received))?;
    if size != blob.size {
        remove_partial(partial);
        return Err((size_mismatch(client, blob, size), received));
    }
    let actual = Digest::from_hash(&hasher.finalize());
    if actual != blob.digest {
        remove_partial(partial);
        return Err((
            RegistryError::DigestMismatch {
                registry: client.registry().to_string(),
                what: format!("blob `{}`", blob.digest),
                expected: blob.digest.clone(),
                actual,
            },
            received,
        ));
    }
    Ok(received)
}

fn size_mismatch(client: &RegistryClient, blob: &Blob, actual: u64) -> RegistryError {
    RegistryError::SizeMismatch {
        registry: client.registry().to_string(),
        digest: blob.digest.clone(),
        expected: blob.size,
        actual,
    }
}

/// Whether a `Content-Range` (`bytes 100-199/200`) starts at `offset`.
fn range_starts_at(content_range: &str, offset: u64) -> bool {
    content_range
        .trim()
        .strip_prefix("bytes ")
        .and_then(|range| range.split_once('-'))
        .and_then(|(start, _)| start.trim().parse::<u64>().ok())
        == Some(offset)
}

/// The hash state after the first `length` bytes of `path`.
async fn hash_prefix(path: PathBuf, length: u64) -> Result<Sha256, RegistryError> {
    blocking(move || {
        let file =
            fs_err::File::open(&path).map_err(|source| RegistryError::io("open", &path, source))?;
        let mut hasher = Sha256::new();
        let mut limited = io::Read::take(file, length);
        let mut buffer = vec![0; WRITE_BUFFER];
        loop {
            let read = io::Read::read(&mut limited, &mut buffer)
                .map_err(|source| RegistryError::io("read", &path, source))?;
            if read == 0 {
                return Ok(hasher);
            }
            hasher.update(&buffer[..read]);
        }
    })
    .await
}

fn remove_partial(path: &Path) {
    let _ = fs_err::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert!(range_starts_at("bytes 100-199/200", 100));
        assert!(range_starts_at("bytes 100-199/*", 100));
        assert!(!range_starts_at("bytes 0-199/200", 100));
        assert!(!range_starts_at("items 100-199/200", 100));
        assert!(!range_starts_at("", 100));
    }
}
