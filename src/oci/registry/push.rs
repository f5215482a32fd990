//! `push`: an image from the store to a registry: its config and layers first (each skipped
//! when the registry has it), then the manifest, byte for byte as stored.
//!
//! Spec: <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#push>. Per
//! blob: 1. `HEAD` it; 2. else mount it from another repository if one is known to have it;
//! 3. else `POST` an upload and `PUT` it whole; 4. if that is refused (413 and kin), or
//! the blob is too big to hold in memory, upload it in chunks (`PATCH` with
//! `Content-Range`, then `PUT ?digest=`).

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use url::Url;

use super::super::digest::Digest;
use super::super::error::OciError;
use super::super::reference::ImageReference;
use super::super::resolve::ResolvedImage;
use super::super::store::Store;
use super::client::{Access, RegistryClient, blocking, build_request};
use super::error::RegistryError;
use super::manifest::ManifestKind;
use super::progress::TransferProgress;
use crate::error::FromIo;

/// Blobs uploaded at once.
const CONCURRENCY: usize = 4;
/// Blobs up to this size go up in one `PUT`, read into memory first: reqwest here has no
/// streaming request bodies.
const MONOLITHIC_MAX: u64 = 32 << 20;
/// The chunk size of a chunked upload, unless the registry asks for more
/// (`OCI-Chunk-Min-Length`).
const CHUNK_SIZE: u64 = 16 << 20;
/// The chunk size to retry with when a registry refuses the first: GHCR takes at most 4 MiB
/// per request.
const SMALL_CHUNK_SIZE: u64 = 4 << 20;
const OCTET_STREAM: &str = "application/octet-stream";

/// What a push sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The digest of the manifest pushed (the image's, unchanged).
    pub manifest_digest: Digest,
    /// Blobs sent.
    pub blobs_uploaded: usize,
    /// Blobs the registry took from another of its repositories without an upload.
    pub blobs_mounted: usize,
    /// Blobs the registry already had.
    pub blobs_skipped: usize,
    /// The bytes of the blobs sent (not counting the manifest).
    pub bytes_uploaded: u64,
}

/// Push `image` from `store` to `target` through `client` (which must be for
/// `target.registry()`). The manifest goes to `target`'s tag, or to its digest when it has no
/// tag; a digest in `target` must be the image's. Pushing an unchanged image again uploads
/// nothing but the manifest. Layers of a registry base on the same registry are mounted from
/// the base's repository rather than uploaded.
pub async fn push(
    client: &RegistryClient,
    store: &Store,
    image: &ResolvedImage,
    target: &ImageReference,
    progress: &dyn TransferProgress,
) -> Result<PushReport, RegistryError> {
    let mount_from = base_repository(image, target);
    push_mounting(
        client,
        store,
        image,
        target,
        mount_from.as_deref(),
        progress,
    )
    .await
}

/// The repository of the registry image `image` was built on, when it is on `target`'s
/// registry but another repository: the registry can take the base's layers from there
/// without an upload. Only images built on a registry base (whose labels pin its digest).
fn base_repository(image: &ResolvedImage, target: &ImageReference) -> Option<String> {
    let labels = image.config.config().as_ref()?.labels().as_ref()?;
    labels.get("org.opencontainers.image.base.digest")?;
    let base = super::remote_reference(labels.get("org.opencontainers.image.base.name")?).ok()?;
    (base.registry() == target.registry() && base.repository() != target.repository())
        .then(|| base.repository().into_owned())
}

/// [`push`], asking the registry to take blobs it lacks in `target`'s repository from
/// `mount_from` (another repository of the same registry, which the credentials may pull
/// from) before uploading them: the repository of the image's base when its labels name one
/// on the same registry (`org.opencontainers.image.base.name`).
async fn push_mounting(
    client: &RegistryClient,
    store: &Store,
    image: &ResolvedImage,
    target: &ImageReference,
    mount_from: Option<&str>,
    progress: &dyn TransferProgress,
) -> Result<PushReport, RegistryError> {
    client.check_reference(target)?;
    let manifest_digest = image.manifest_digest()?;
    if let Some(expected) = target.digest()
        && *expected != manifest_digest
    {
        return Err(RegistryError::TargetDigest {
            reference: target.to_string(),
            expected: expected.clone(),
            actual: manifest_digest,
        });
    }
    let manifest = store.read_blob(&manifest_digest)?;
    let media_type = manifest_media_type(image, &manifest);
    let blobs = blobs_of(image)?;
    let access = Access::push(&target.repository());
    let uploads = blobs
        .iter()
        .map(|blob| upload_blob(client, store, &access, blob, mount_from, progress));
    let outcomes: Vec<Outcome> = futures::stream::iter(uploads)
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;

    let reference = target
        .tag()
        .map_or_else(|| manifest_digest.to_string(), str::to_string);
    let url = client.url(&format!("v2/{}/manifests/{reference}", target.repository()))?;
    let request = build_request(
        client
            .with_body(Method::PUT, url, manifest)
            .header(CONTENT_TYPE, media_type),
    )?;
    let response = client.send(request, &access).await?;
    if !response.status().is_success() {
        return Err(client.status_error(&Method::PUT, response, &access).await);
    }

    let mut report = PushReport {
        manifest_digest,
        blobs_uploaded: 0,
        blobs_mounted: 0,
        blobs_skipped: 0,
        bytes_uploaded: 0,
    };
    for outcome in outcomes {
        match outcome {
            Outcome::Present => report.blobs_skipped += 1,
            Outcome::Mounted => report.blobs_mounted += 1,
            Outcome::Uploaded(bytes) => {
                report.blobs_uploaded += 1;
                report.bytes_uploaded += bytes;
            }
        }
    }
    Ok(report)
}

/// A blob of the image: its config or a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Blob {
    digest: Digest,
    size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Present,
    Mounted,
    Uploaded(u64),
}

/// The media type to send the manifest with: the one its bytes declare (a registry checks
/// that they agree), else the store's descriptor's.
fn manifest_media_type(image: &ResolvedImage, bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Declared {
        media_type: Option<String>,
    }
    serde_json::from_slice::<Declared>(bytes)
        .ok()
        .and_then(|declared| declared.media_type)
        .filter(|media_type| ManifestKind::of(media_type) == Some(ManifestKind::Image))
        .unwrap_or_else(|| image.manifest_descriptor.media_type().to_string())
}

/// The config and layers, each once (an image may repeat a layer).
fn blobs_of(image: &ResolvedImage) -> Result<Vec<Blob>, RegistryError> {
    let config = image.manifest.config();
    let mut blobs = vec![Blob {
        digest: Digest::from_oci(config.digest())?,
        size: config.size(),
    }];
    for layer in image.manifest.layers() {
        let blob = Blob {
            digest: Digest::from_oci(layer.digest())?,
            size: layer.size(),
        };
        if !blobs.contains(&blob) {
            blobs.push(blob);
        }
    }
    Ok(blobs)
}

/// Make sure the registry has `blob` in `access`'s repository (see the module docs).
async fn upload_blob(
    client: &RegistryClient,
    store: &Store,
    access: &Access,
    blob: &Blob,
    mount_from: Option<&str>,
    progress: &dyn TransferProgress,
) -> Result<Outcome, RegistryError> {
    let name = blob.digest.as_str();
    progress.start(name, blob.size);
    let repository = access.repository.as_deref().unwrap_or_default();
    if blob_exists(client, access, repository, blob).await? {
        progress.finish(name);
        return Ok(Outcome::Present);
    }
    let path = store.blob_path(&blob.digest);
    let mut session = match mount_from {
        Some(from) => match mount(client, repository, from, blob).await? {
            Mount::Mounted => {
                progress.finish(name);
                return Ok(Outcome::Mounted);
            }
            Mount::Session(session) => session,
        },
        None => start_upload(client, access, repository).await?,
    };
    if blob.size <= MONOLITHIC_MAX {
        let bytes = read_whole(path.clone(), blob.clone()).await?;
        if put_whole(client, access, &session, blob, bytes).await? {
            progress.advance(name, blob.size);
            progress.finish(name);
            return Ok(Outcome::Uploaded(blob.size));
        }
        session = start_upload(client, access, repository).await?;
    }
    let min_chunk = session.min_chunk.unwrap_or(0);
    let mut chunk_size = min_chunk.max(CHUNK_SIZE);
    loop {
        match upload_chunks(client, access, session, &path, blob, chunk_size, progress).await? {
            Chunked::Done => break,
            Chunked::FirstChunkRefused(error) => {
                let smaller = min_chunk.max(SMALL_CHUNK_SIZE);
                if smaller >= chunk_size {
                    return Err(error);
                }
                chunk_size = smaller;
                session = start_upload(client, access, repository).await?;
            }
        }
    }
    progress.finish(name);
    Ok(Outcome::Uploaded(blob.size))
}

/// `HEAD /v2/<name>/blobs/<digest>`: whether the registry has the blob, with the right size.
async fn blob_exists(
    client: &RegistryClient,
    access: &Access,
    repository: &str,
    blob: &Blob,
) -> Result<bool, RegistryError> {
    let url = client.url(&format!("v2/{repository}/blobs/{}", blob.digest))?;
    let request = build_request(client.head(url))?;
    let response = client.send(request, access).await?;
    match response.status() {
        status if status.is_success() => {
            let length = response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok());
            Ok(length.is_none_or(|length| length == blob.size))
        }
        StatusCode::NOT_FOUND => Ok(false),
        _ => Err(client.status_error(&Method::HEAD, response, access).await),
    }
}

/// An upload in progress: where to send the next request.
#[derive(Debug, Clone)]
struct Session {
    location: Url,
    /// `OCI-Chunk-Min-Length`: the smallest chunk the registry takes, if it says.
    min_chunk: Option<u64>,
}

enum Mount {
    Mounted,
    Session(Session),
}

/// `POST /v2/<name>/blobs/uploads/`: a new upload session.
async fn start_upload(
    client: &RegistryClient,
    access: &Access,
    repository: &str,
) -> Result<Session, RegistryError> {
    let url = client.url(&format!("v2/{repository}/blobs/uploads/"))?;
    let request = build_request(client.with_body(Method::POST, url, Vec::new()))?;
    let response = client.send(request, access).await?;
    if response.status() != StatusCode::ACCEPTED {
        return Err(client.status_error(&Method::POST, response, access).await);
    }
    session_of(client, &response)
}

/// `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>`: 201 when the registry
/// linked the blob, else (202) an ordinary upload session.
async fn mount(
    client: &RegistryClient,
    repository: &str,
    from: &str,
    blob: &Blob,
) -> Result<Mount, RegistryError> {
    let access = Access::push_mounting(repository, from);
    let mut url = client.url(&format!("v2/{repository}/blobs/uploads/"))?;
    url.query_pairs_mut()
        .append_pair("mount", blob.digest.as_str())
        .append_pair("from", from);
    let request = build_request(client.with_body(Method::POST, url, Vec::new()))?;
    let response = client.send(request, &access).await?;
    match response.status() {
        StatusCode::CREATED => Ok(Mount::Mounted),
        StatusCode::ACCEPTED => session_of(client, &response).map(Mount::Session),
        _ => Err(client.status_error(&Method::POST, response, &access).await),
    }
}

fn session_of(
    client: &RegistryClient,
    response: &reqwest::Response,
) -> Result<Session, RegistryError> {
    let min_chunk = response
        .headers()
        .get("oci-chunk-min-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    Ok(Session {
        location: client.location(response)?,
        min_chunk,
    })
}

/// `location` with `digest=<digest>` added to its query (which may have one already).
fn with_digest(location: &Url, digest: &Digest) -> Url {
    let mut url = location.clone();
    url.query_pairs_mut().append_pair("digest", digest.as_str());
    url
}

/// Whether a registry's answer to a whole-blob `PUT` or a first chunk means "not like this"
/// (too large, or no monolithic uploads) rather than a real failure.
fn refused_as_too_large(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::LENGTH_REQUIRED
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::RANGE_NOT_SATISFIABLE
            | StatusCode::NOT_IMPLEMENTED
    )
}

/// `PUT <location>?digest=` with the whole blob; `false` if the registry refused it in a
/// way chunks may get around.
async fn put_whole(
    client: &RegistryClient,
    access: &Access,
    session: &Session,
    blob: &Blob,
    bytes: Vec<u8>,
) -> Result<bool, RegistryError> {
    let url = with_digest(&session.location, &blob.digest);
    let request = build_request(
        client
            .with_body(Method::PUT, url, bytes)
            .header(CONTENT_TYPE, OCTET_STREAM),
    )?;
    let response = client.send(request, access).await?;
    match response.status() {
        status if status.is_success() => Ok(true),
        status if refused_as_too_large(status) => Ok(false),
        _ => Err(client.status_error(&Method::PUT, response, access).await),
    }
}

enum Chunked {
    Done,
    /// The first `PATCH` was refused: the chunk may be too large for this registry.
    FirstChunkRefused(RegistryError),
}

/// Send the blob in `chunk_size` pieces (`PATCH` each with its `Content-Range`, following
/// each answer's `Location`), then `PUT ?digest=` to close the upload. The offset is counted
/// here, not taken from the registry's `Range` (ECR's lags behind).
async fn upload_chunks(
    client: &RegistryClient,
    access: &Access,
    session: Session,
    path: &Path,
    blob: &Blob,
    chunk_size: u64,
    progress: &dyn TransferProgress,
) -> Result<Chunked, RegistryError> {
    let mut location = session.location;
    let mut hasher = Sha256::new();
    let mut offset = 0;
    while offset < blob.size {
        let length = chunk_size.min(blob.size - offset);
        let (chunk, next_hasher) = read_chunk(
            path.to_path_buf(),
            blob.digest.clone(),
            offset,
            length,
            hasher,
        )
        .await?;
        hasher = next_hasher;
        let range = format!("{offset}-{}", offset + length - 1);
        let request = build_request(
            client
                .with_body(Method::PATCH, location.clone(), chunk)
                .header(CONTENT_TYPE, OCTET_STREAM)
                .header(CONTENT_RANGE, range),
        )?;
        let response = client.send(request, access).await?;
        let status = response.status();
        if !status.is_success() {
            let error = client.status_error(&Method::PATCH, response, access).await;
            if offset == 0 && refused_as_too_large(status) {
                return Ok(Chunked::FirstChunkRefused(error));
            }
            return Err(error);
        }
        if response.headers().contains_key(reqwest::header::LOCATION) {
            location = client.location(&response)?;
        }
        offset += length;
        progress.advance(blob.digest.as_str(), length);
    }
    let actual = Digest::from_hash(&hasher.finalize());
    if actual != blob.digest {
        return Err(OciError::BlobCorrupted {
            digest: blob.digest.clone(),
            path: path.to_path_buf(),
            actual,
        }
        .into());
    }
    let url = with_digest(&location, &blob.digest);
    let request = build_request(client.with_body(Method::PUT, url, Vec::new()))?;
    let response = client.send(request, access).await?;
    if !response.status().is_success() {
        return Err(client.status_error(&Method::PUT, response, access).await);
    }
    Ok(Chunked::Done)
}

/// The whole blob, checked against its size and digest (a damaged store file must not
/// reach the registry).
async fn read_whole(path: PathBuf, blob: Blob) -> Result<Vec<u8>, RegistryError> {
    blocking(move || {
        let mut bytes = Vec::with_capacity(usize::try_from(blob.size).unwrap_or(0));
        fs_err::File::open(&path)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .map_err(|source| missing_or_io(&blob.digest, &path, source))?;
        let actual = Digest::of(&bytes);
        if actual != blob.digest {
            return Err(OciError::BlobCorrupted {
                digest: blob.digest,
                path,
                actual,
            }
            .into());
        }
        Ok(bytes)
    })
    .await
}

/// `length` bytes of the blob from `offset`, fed to `hasher` on the way.
async fn read_chunk(
    path: PathBuf,
    digest: Digest,
    offset: u64,
    length: u64,
    mut hasher: Sha256,
) -> Result<(Vec<u8>, Sha256), RegistryError> {
    blocking(move || {
        let length = usize::try_from(length).map_err(|_| {
            RegistryError::io(
                "read",
                &path,
                std::io::Error::other("chunk larger than memory"),
            )
        })?;
        let mut chunk = vec![0; length];
        let file =
            fs_err::File::open(&path).map_err(|source| missing_or_io(&digest, &path, source))?;
        file.file()
            .read_exact_at(&mut chunk, offset)
            .map_err(|source| RegistryError::io("read", &path, source))?;
        hasher.update(&chunk);
        Ok((chunk, hasher))
    })
    .await
}

fn missing_or_io(digest: &Digest, path: &Path, source: std::io::Error) -> RegistryError {
    if source.kind() == std::io::ErrorKind::NotFound {
        OciError::BlobNotFound {
            digest: digest.clone(),
            path: path.to_path_buf(),
        }
        .into()
    } else {
        RegistryError::io("read", path, source)
    }
}
