//! Fetching a suite's index and its `.deb`s from a mirror, the way apt's secure APT does
//! ([SecureApt]): `InRelease` must carry a good signature by a shipped Debian key, the
//! `Packages` index must match the size and sha256 the signed text gives it, and each `.deb`
//! must match the size and sha256 the index gives it.
//!
//! The cache, under the directory the caller gives:
//!
//! - `index/<codename>-<arch>-<mirror hash>/InRelease`, with `InRelease.last-modified`: stored
//!   only once verified, verified again whenever used, and revalidated with
//!   `If-Modified-Since` on every fetch (one small request when nothing changed).
//! - `index/…/Packages-<sha256>.xz` (or `.gz`): the compressed index the signed text names, so
//!   a changed `InRelease` that names the same index downloads nothing more.
//! - `index/…/Contents-<arch>-<sha256>.gz`: the file list `contents.rs` reads, kept the same way.
//! - `debs/<sha256>.deb`: pool files, re-hashed before each use and fetched again if corrupt.
//!
//! Files are written to a temporary file and renamed into place, so a reader never sees half
//! of one.
//!
//! [SecureApt]: https://wiki.debian.org/SecureApt

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::openpgp::{Keyring, Verified};
use super::packages::{DebPackage, PackageIndex};
use super::release::{FileEntry, Release};
use super::{DebianError, Suite};
use crate::compression::Compression;

/// The most an `InRelease` may be: bookworm's is 150 KB.
const MAX_INRELEASE_BYTES: usize = 16 << 20;

/// The most a `Packages` index may expand to when the `Release` text gives no size for it
/// (bookworm's `main` for amd64 is 50 MB).
const MAX_PACKAGES_BYTES: u64 = 1 << 30;

/// How often a request is tried when the connection fails or the mirror answers 5xx.
const ATTEMPTS: u32 = 3;

/// The `.deb`s of `packages`, fetched and verified (see [`download`]), in order, the
/// downloads overlapping, `downloaded` told of each package's position as it is there (for
/// progress); a failure names the package's position.
pub async fn download_all(
    http: &reqwest::Client,
    suite: &Suite,
    packages: &[DebPackage],
    cache_dir: &Path,
    downloaded: &(dyn Fn(usize) + Sync),
) -> Result<Vec<PathBuf>, (usize, DebianError)> {
    let downloads = packages
        .iter()
        .enumerate()
        .map(|(position, package)| async move {
            let path = download(http, suite, package, cache_dir)
                .await
                .map_err(|error| (position, error))?;
            downloaded(position);
            Ok(path)
        });
    futures::future::try_join_all(downloads).await
}

/// The HTTP client for Debian mirrors, with the settings every mlpack client shares.
pub fn http_client() -> Result<reqwest::Client, DebianError> {
    crate::network::client_builder(Some(crate::network::READ_TIMEOUT))
        .map_err(|error| DebianError::Certificates {
            path: error.path,
            message: error.message,
        })?
        .build()
        .map_err(|source| DebianError::Client { source })
}

/// The `Packages` index of `suite`'s `main` component, verified and parsed. See the module
/// documentation for what is checked and cached.
pub async fn fetch_index(
    http: &reqwest::Client,
    suite: &Suite,
    cache_dir: &Path,
) -> Result<PackageIndex, DebianError> {
    let SignedRelease {
        directory,
        url: release_url,
        release,
        signer,
    } = signed_release(http, suite, cache_dir).await?;
    let bad_release = |message: String| DebianError::BadRelease {
        url: release_url.clone(),
        message,
    };
    let base = format!("main/binary-{}/Packages", suite.arch.debian());
    let (path, compression) = [Compression::Xz, Compression::Gzip]
        .into_iter()
        .map(|compression| (format!("{base}{}", compression.suffix()), compression))
        .find(|(path, _)| release.files.contains_key(path))
        .ok_or_else(|| {
            bad_release(format!(
                "it lists neither `{base}.xz` nor `{base}.gz`, so this mirror does not carry `{}` for `{}`",
                suite.codename, suite.arch.debian()
            ))
        })?;
    let entry = release.files[&path].clone();
    let packages_url = suite.dists_url(&path);
    let cached = directory.join(format!("Packages-{}{}", entry.sha256, compression.suffix()));
    let authority = format!("the signed `{release_url}` (dated {})", release.date);
    cached_index_file(http, &packages_url, &entry, &cached, &authority).await?;
    remove_stale_indexes(&directory, &cached, "Packages-");
    let uncompressed = release.files.get(&base).cloned();
    let label = suite.to_string();
    let date = release.date.clone();
    blocking(move || {
        let compressed = fs_err::read(&cached)?;
        let limit = uncompressed
            .as_ref()
            .map_or(MAX_PACKAGES_BYTES, |entry| entry.size);
        let bad_index = |message: String| DebianError::BadIndex {
            url: packages_url.clone(),
            line: 0,
            message,
        };
        let bytes = decompress(compression, &compressed, limit)
            .map_err(|error| bad_index(format!("cannot decompress it: {error}")))?;
        if let Some(expected) = uncompressed {
            check(
                &bytes,
                &expected,
                &format!("{packages_url} (decompressed)"),
                &authority,
            )?;
        }
        let text =
            String::from_utf8(bytes).map_err(|_| bad_index("it is not UTF-8 text".to_string()))?;
        let mut index = PackageIndex::parse(&text, &packages_url, &label)?;
        index.date = date;
        index.signer = signer;
        Ok(index)
    })
    .await
}

/// A suite's `InRelease`, verified, and the cache directory of its index files.
pub(super) struct SignedRelease {
    pub(super) directory: PathBuf,
    pub(super) url: String,
    pub(super) release: Release,
    pub(super) signer: String,
}

/// Fetch (or revalidate) and verify `suite`'s `InRelease`, and check it is for `suite`.
pub(super) async fn signed_release(
    http: &reqwest::Client,
    suite: &Suite,
    cache_dir: &Path,
) -> Result<SignedRelease, DebianError> {
    let directory = cache_dir.join("index").join(suite.cache_key());
    fs_err::create_dir_all(&directory)?;
    let url = suite.dists_url("InRelease");
    let verified = fetch_release(http, &url, &directory).await?;
    let bad_release = |message: String| DebianError::BadRelease {
        url: url.clone(),
        message,
    };
    let release = Release::parse(&verified.text).map_err(bad_release)?;
    if release.codename != suite.codename {
        return Err(bad_release(format!(
            "it is signed for `{}`, not `{}`",
            release.codename, suite.codename
        )));
    }
    Ok(SignedRelease {
        directory,
        url,
        release,
        signer: verified.signer,
    })
}

/// Make `cached` hold the index file at `url` with the size and sha256 of `entry` (from the
/// signed release text `authority` names), downloading it unless it already does.
pub(super) async fn cached_index_file(
    http: &reqwest::Client,
    url: &str,
    entry: &FileEntry,
    cached: &Path,
    authority: &str,
) -> Result<(), DebianError> {
    let matches = blocking({
        let cached = cached.to_path_buf();
        let entry = entry.clone();
        move || file_matches(&cached, &entry)
    })
    .await;
    if !matches {
        download_verified(http, url, entry, cached, authority).await?;
    }
    Ok(())
}

/// Downloads `package`'s pool file into `cache_dir/debs/<sha256>.deb` unless a file with the
/// right size and sha256 is there already, and returns its path.
pub async fn download(
    http: &reqwest::Client,
    suite: &Suite,
    package: &DebPackage,
    cache_dir: &Path,
) -> Result<PathBuf, DebianError> {
    let sha256 = package.sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(DebianError::InvalidRequest {
            request: package.name.clone(),
            message: format!("invalid sha256 `{}`", package.sha256),
        });
    }
    let directory = cache_dir.join("debs");
    fs_err::create_dir_all(&directory)?;
    let path = directory.join(format!("{sha256}.deb"));
    let entry = FileEntry {
        sha256,
        size: package.size,
    };
    if blocking({
        let path = path.clone();
        let entry = entry.clone();
        move || file_matches(&path, &entry)
    })
    .await
    {
        return Ok(path);
    }
    let url = suite.pool_url(&package.filename);
    let authority = format!("the index entry of `{}` {}", package.name, package.version);
    match download_verified(http, &url, &entry, &path, &authority).await {
        Err(DebianError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {}
        other => return other.map(|()| path),
    }
    // The mirror carries only a suite's current versions: a point release removes the one
    // the lock pins. The snapshot archive, when set, still has it.
    let gone = || DebianError::PinnedFileGone {
        name: package.name.clone(),
        version: package.version.clone(),
        url: url.clone(),
        snapshot: suite.snapshot_url(&package.filename),
    };
    let Some(snapshot) = suite.snapshot_url(&package.filename) else {
        return Err(gone());
    };
    match download_verified(http, &snapshot, &entry, &path, &authority).await {
        Err(DebianError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
            Err(gone())
        }
        other => other.map(|()| path),
    }
}

/// Fetches and verifies `InRelease`, revalidating a verified cached copy with
/// `If-Modified-Since`.
async fn fetch_release(
    http: &reqwest::Client,
    url: &str,
    directory: &Path,
) -> Result<Verified, DebianError> {
    let bad_signature = |reason: String| DebianError::BadSignature {
        url: url.to_string(),
        reason,
    };
    let keyring = Keyring::debian().map_err(bad_signature)?;
    let cached_path = directory.join("InRelease");
    let modified_path = directory.join("InRelease.last-modified");
    // A cached copy that no longer verifies (a damaged cache) is ignored and replaced.
    let cached = fs_err::read(&cached_path)
        .ok()
        .and_then(|bytes| keyring.verify_cleartext(&bytes).ok());
    let last_modified = cached
        .as_ref()
        .and_then(|_| fs_err::read_to_string(&modified_path).ok())
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty());
    let response = get(http, url, last_modified.as_deref()).await?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED
        && let Some(cached) = cached
    {
        return Ok(cached);
    }
    let response = success(response, url)?;
    let last_modified = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let bytes = read_limited(response, url, MAX_INRELEASE_BYTES).await?;
    let verified = keyring.verify_cleartext(&bytes).map_err(bad_signature)?;
    write_atomic(&cached_path, &bytes)?;
    match last_modified {
        Some(value) => write_atomic(&modified_path, value.as_bytes())?,
        None => {
            let _ = fs_err::remove_file(&modified_path);
        }
    }
    Ok(verified)
}

/// Streams `url` into `destination`, hashing as it goes, and keeps the file only if its size
/// and sha256 are those of `expected`.
async fn download_verified(
    http: &reqwest::Client,
    url: &str,
    expected: &FileEntry,
    destination: &Path,
    authority: &str,
) -> Result<(), DebianError> {
    let directory = destination.parent().unwrap_or(Path::new("."));
    let mut response = success(get(http, url, None).await?, url)?;
    let mut temporary = tempfile::NamedTempFile::new_in(directory)
        .map_err(|error| with_path(&error, "create a temporary file in", directory))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = next_chunk(&mut response, url).await? {
        let chunk = chunk.as_ref();
        size += chunk.len() as u64;
        if size > expected.size {
            return Err(DebianError::HashMismatch {
                url: url.to_string(),
                authority: authority.to_string(),
                expected_size: expected.size,
                expected_sha256: expected.sha256.clone(),
                actual_size: size,
                actual_sha256: "(not computed: the download was stopped)".to_string(),
            });
        }
        hasher.update(chunk);
        temporary
            .write_all(chunk)
            .map_err(|error| with_path(&error, "write", temporary.path()))?;
    }
    let actual = crate::sha256::hex(&hasher.finalize());
    if size != expected.size || actual != expected.sha256 {
        return Err(DebianError::HashMismatch {
            url: url.to_string(),
            authority: authority.to_string(),
            expected_size: expected.size,
            expected_sha256: expected.sha256.clone(),
            actual_size: size,
            actual_sha256: actual,
        });
    }
    temporary
        .persist(destination)
        .map_err(|error| with_path(&error.error, "rename a download to", destination))?;
    Ok(())
}

/// One GET, retried on connection failures and 5xx answers.
async fn get(
    http: &reqwest::Client,
    url: &str,
    if_modified_since: Option<&str>,
) -> Result<reqwest::Response, DebianError> {
    let mut attempt = 1;
    loop {
        let mut request = http.get(url);
        if let Some(value) = if_modified_since {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, value);
        }
        match request.send().await {
            Ok(response) if response.status().is_server_error() && attempt < ATTEMPTS => {}
            Ok(response) => return Ok(response),
            Err(error) if attempt < ATTEMPTS && crate::network::is_transient(&error) => {}
            Err(source) => {
                return Err(DebianError::Unreachable {
                    url: url.to_string(),
                    source,
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        attempt += 1;
    }
}

fn success(response: reqwest::Response, url: &str) -> Result<reqwest::Response, DebianError> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(DebianError::Status {
            url: url.to_string(),
            status: response.status(),
        })
    }
}

/// The next piece of `response`'s body; a read that fails leaves the mirror unreachable.
async fn next_chunk(
    response: &mut reqwest::Response,
    url: &str,
) -> Result<Option<impl AsRef<[u8]> + use<>>, DebianError> {
    response
        .chunk()
        .await
        .map_err(|source| DebianError::Unreachable {
            url: url.to_string(),
            source,
        })
}

async fn read_limited(
    mut response: reqwest::Response,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, DebianError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(&mut response, url).await? {
        bytes.extend_from_slice(chunk.as_ref());
        if bytes.len() > limit {
            return Err(DebianError::BadRelease {
                url: url.to_string(),
                message: format!("it is larger than {limit} bytes"),
            });
        }
    }
    Ok(bytes)
}

/// Whether `path` exists with `expected`'s size and sha256.
fn file_matches(path: &Path, expected: &FileEntry) -> bool {
    let Ok(metadata) = fs_err::metadata(path) else {
        return false;
    };
    if metadata.len() != expected.size {
        return false;
    }
    crate::sha256::file_sha256(path).is_ok_and(|actual| actual == expected.sha256)
}

fn check(
    bytes: &[u8],
    expected: &FileEntry,
    url: &str,
    authority: &str,
) -> Result<(), DebianError> {
    let actual = crate::sha256::sha256_hex(bytes);
    if bytes.len() as u64 == expected.size && actual == expected.sha256 {
        Ok(())
    } else {
        Err(DebianError::HashMismatch {
            url: url.to_string(),
            authority: authority.to_string(),
            expected_size: expected.size,
            expected_sha256: expected.sha256.clone(),
            actual_size: bytes.len() as u64,
            actual_sha256: actual,
        })
    }
}

/// Removes cached `<prefix>*` files (`Packages-`, `Contents-`) other than `keep`: an index is
/// only used while the signed text names it.
pub(super) fn remove_stale_indexes(directory: &Path, keep: &Path, prefix: &str) {
    let Ok(entries) = fs_err::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = path != keep
            && entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with(prefix));
        if stale {
            let _ = fs_err::remove_file(&path);
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DebianError> {
    let directory = path.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(directory)
        .map_err(|error| with_path(&error, "create a temporary file in", directory))?;
    temporary
        .write_all(bytes)
        .map_err(|error| with_path(&error, "write", temporary.path()))?;
    temporary
        .persist(path)
        .map_err(|error| with_path(&error.error, "write", path))?;
    Ok(())
}

fn with_path(error: &std::io::Error, action: &str, path: &Path) -> DebianError {
    DebianError::Io(std::io::Error::new(
        error.kind(),
        format!("failed to {action} `{}`: {error}", path.display()),
    ))
}

/// Decompresses `bytes`, refusing output over `limit` bytes.
fn decompress(compression: Compression, bytes: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
    let mut output = Vec::new();
    compression
        .reader(bytes)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut output)?;
    if output.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "it expands to more than {limit} bytes"
        )));
    }
    Ok(output)
}

pub(super) use crate::network::blocking;
