//! The core metadata of a wheel, read with as little transfer as the index allows.
//!
//! In order (as uv's `wheel_metadata` does):
//! 1. the cache (`metadata-v1/`, keyed by the file's sha256): metadata never changes, so a hit is
//!    used without asking the index;
//! 2. [PEP 658]: `GET {url}.metadata`, when the index says the file exists (`core-metadata`);
//! 3. the same request speculatively, only on hosts known to serve them: one that has already
//!    answered one, or `files.pythonhosted.org` (PyPI serves `.metadata` for every wheel, yet
//!    some PyPI front ends omit the `core-metadata` field). A host that answers 404 before any
//!    success is not asked again;
//! 4. HTTP range requests into the wheel: its last 64 KiB (holding the end of central directory
//!    record and, for most wheels, the whole directory and `METADATA`), then the directory and
//!    the `METADATA` entry if they lie outside it: one to three requests of a few KB;
//! 5. when the server ignores `Range` (answers 200) or refuses it (416), the whole wheel,
//!    checked against its sha256 and read with the `zip` crate.
//!
//! sdists are refused: their metadata needs a build, which is not this module's job.
//!
//! [PEP 658]: https://peps.python.org/pep-0658/

use std::io::{Read, Seek, Write};
use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_RANGE, HeaderMap, HeaderValue, RANGE};
use sha2::{Digest, Sha256};
use url::Url;

use super::auth::redact;
use super::cache;
use super::client::{IndexClient, blocking, shared_cell};
use super::core_metadata::parse_core_metadata;
use super::http::{Answer, Counters, status_error};
use super::zip_directory::{self, End, Entry};
use super::{CoreMetadata, DistFile, PypiError, SharedMetadata};

/// How much of a wheel's end the first range request asks for.
pub(super) const TAIL_SIZE: u64 = 64 * 1024;

/// The host that serves PyPI's files, which has `.metadata` for every wheel.
const PYPI_FILES_HOST: &str = "files.pythonhosted.org";

impl IndexClient {
    /// The core metadata of `file`, a wheel; see the module documentation for how it is found.
    pub async fn metadata(&self, file: &DistFile) -> Result<SharedMetadata, PypiError> {
        if !is_wheel(&file.filename) {
            return Err(PypiError::NotAWheel {
                filename: file.filename.clone(),
            });
        }
        let cell = shared_cell(&self.inner.metadata, file.url.clone());
        cell.get_or_try_init(|| async { self.fetch_metadata(file).await.map(Arc::new) })
            .await
            .cloned()
    }

    async fn fetch_metadata(&self, file: &DistFile) -> Result<CoreMetadata, PypiError> {
        let path = self.inner.cache.metadata_path(file);
        let cached = blocking({
            let path = path.clone();
            move || cache::read_metadata(&path)
        })
        .await;
        // A cached file that no longer parses is treated as missing, like any bad cache file.
        if let Some(metadata) =
            cached.and_then(|bytes| parse_core_metadata(&bytes, &file.filename).ok())
        {
            return Ok(metadata);
        }
        if self.inner.offline {
            return Err(PypiError::Offline {
                what: format!("the metadata of `{}`", file.filename),
                url: redact(&file.url),
            });
        }
        let url = Url::parse(&file.url).map_err(|error| PypiError::InvalidUrl {
            url: redact(&file.url),
            message: error.to_string(),
        })?;
        let raw = match self.metadata_file(file, &url).await? {
            Some(raw) => raw,
            None => self.metadata_from_wheel(file, &url).await?,
        };
        let metadata = parse_core_metadata(&raw, &file.filename)?;
        blocking(move || cache::write_atomic(&path, &raw)).await?;
        Ok(metadata)
    }

    /// Steps 2 and 3: the PEP 658 file, when the index has it or may have it. `None` means
    /// "read the wheel instead".
    async fn metadata_file(
        &self,
        file: &DistFile,
        url: &Url,
    ) -> Result<Option<Vec<u8>>, PypiError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let known = self.metadata_host(&host);
        let speculative = !file.core_metadata;
        if speculative && !(known == Some(true) || (host == PYPI_FILES_HOST && known.is_none())) {
            return Ok(None);
        }
        let metadata_url =
            Url::parse(&format!("{url}.metadata")).map_err(|error| PypiError::InvalidUrl {
                url: redact(url.as_str()),
                message: error.to_string(),
            })?;
        Counters::bump(&self.inner.transport.counters.metadata);
        let answer = self
            .inner
            .transport
            .get_bytes(&metadata_url, HeaderMap::new())
            .await?;
        if answer.status.is_success() {
            self.set_metadata_host(host, true);
            return Ok(Some(answer.body));
        }
        if answer.status == StatusCode::NOT_FOUND && known.is_none() {
            self.set_metadata_host(host, false);
        }
        // A promised file that is missing is the index's mistake, which the wheel itself can
        // make up for; any other refusal of a promised file is an error.
        if speculative || answer.status == StatusCode::NOT_FOUND {
            Ok(None)
        } else {
            Err(status_error(&metadata_url, answer.status))
        }
    }

    fn metadata_host(&self, host: &str) -> Option<bool> {
        self.inner
            .metadata_hosts
            .lock()
            .expect("the host map lock is never poisoned")
            .get(host)
            .copied()
    }

    fn set_metadata_host(&self, host: String, serves: bool) {
        let mut hosts = self
            .inner
            .metadata_hosts
            .lock()
            .expect("the host map lock is never poisoned");
        // Once a host has served one, a 404 means only that this file lacks it.
        if hosts.get(&host) != Some(&true) {
            hosts.insert(host, serves);
        }
    }

    /// Steps 4 and 5: `METADATA` from the wheel itself.
    async fn metadata_from_wheel(&self, file: &DistFile, url: &Url) -> Result<Vec<u8>, PypiError> {
        let transport = &self.inner.transport;
        Counters::bump(&transport.counters.range_requests);
        let answer = transport
            .get(url, range_headers(&format!("bytes=-{TAIL_SIZE}")))
            .await?;
        match answer.response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let mut wheel = RemoteWheel::from_tail(self, url, answer).await?;
                wheel.read_metadata(&file.filename).await
            }
            status if status.is_success() => self.metadata_from_download(file, url, answer).await,
            StatusCode::RANGE_NOT_SATISFIABLE => {
                let answer = transport.get(url, identity_headers()).await?;
                match answer.response.status() {
                    status if status.is_success() => {
                        self.metadata_from_download(file, url, answer).await
                    }
                    status => Err(status_error(url, status)),
                }
            }
            status => Err(status_error(url, status)),
        }
    }

    /// Step 5: stream the whole wheel into a temporary file, hashing it on the way.
    async fn metadata_from_download(
        &self,
        file: &DistFile,
        url: &Url,
        answer: Answer<'_>,
    ) -> Result<Vec<u8>, PypiError> {
        Counters::bump(&self.inner.transport.counters.downloads);
        let root = self.inner.cache.root().to_path_buf();
        let cache_error = |source| PypiError::Cache {
            path: root.clone(),
            source,
        };
        // A wheel can be gigabytes, so it goes to disk rather than memory, in the cache
        // directory, and is deleted when closed.
        fs_err::create_dir_all(&root).map_err(cache_error)?;
        let mut download = tempfile::tempfile_in(&root).map_err(cache_error)?;
        let mut hasher = Sha256::new();
        let mut response = answer.response;
        let unreachable = |source| PypiError::Unreachable {
            url: redact(url.as_str()),
            source,
        };
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            hasher.update(&chunk);
            download.write_all(&chunk).map_err(cache_error)?;
        }
        let actual = cache::hex(&hasher.finalize());
        if let Some(expected) = &file.sha256
            && *expected != actual
        {
            return Err(PypiError::HashMismatch {
                url: redact(url.as_str()),
                expected: expected.clone(),
                actual,
            });
        }
        download.rewind().map_err(cache_error)?;
        let filename = file.filename.clone();
        blocking(move || metadata_from_archive(download, &filename))
            .await
            .map_err(|message| PypiError::Malformed {
                url: redact(url.as_str()),
                message,
            })
    }
}

/// A wheel on a server that answers range requests: the byte ranges read so far.
pub(super) struct RemoteWheel<'a> {
    client: &'a IndexClient,
    url: &'a Url,
    /// `(start, bytes)` of each range received.
    windows: Vec<(u64, Vec<u8>)>,
}

impl<'a> RemoteWheel<'a> {
    /// From the answer to the first, suffix, range request.
    pub(super) async fn from_tail(
        client: &'a IndexClient,
        url: &'a Url,
        answer: Answer<'_>,
    ) -> Result<Self, PypiError> {
        let (start, bytes) = read_range(url, answer).await?;
        Ok(Self {
            client,
            url,
            windows: vec![(start, bytes)],
        })
    }

    fn malformed(&self, message: String) -> PypiError {
        PypiError::Malformed {
            url: redact(self.url.as_str()),
            message,
        }
    }

    async fn read_metadata(&mut self, filename: &str) -> Result<Vec<u8>, PypiError> {
        let (directory, entries) = self.read_directory().await?;
        let names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
        let entry: &Entry = &entries[zip_directory::find_metadata(&names, filename)
            .map_err(|message| self.malformed(message))?];
        // The local header's name and extra field are at most 64 KiB each; past that, the span
        // to the next entry is not this entry's.
        let most =
            zip_directory::LOCAL_SIZE as u64 + 2 * u64::from(u16::MAX) + entry.compressed_size;
        let span = zip_directory::local_span(&entries, entry, directory).min(most);
        let local = self.read(entry.local_offset, span).await?;
        zip_directory::read_entry(&local, entry).map_err(|message| self.malformed(message))
    }

    /// The central directory: where it lies and its entries.
    pub(super) async fn read_directory(
        &mut self,
    ) -> Result<(zip_directory::Directory, Vec<Entry>), PypiError> {
        let (tail_start, tail) = self.windows[0].clone();
        let directory = match zip_directory::find_end(&tail, tail_start)
            .map_err(|message| self.malformed(message))?
        {
            End::Directory(directory) => directory,
            End::Zip64At(offset) => {
                let record = self
                    .read(offset, zip_directory::ZIP64_END_SIZE as u64)
                    .await?;
                zip_directory::parse_zip64_end(&record)
                    .map_err(|message| self.malformed(message))?
            }
        };
        let listing = self.read(directory.offset, directory.size).await?;
        let entries =
            zip_directory::parse_directory(&listing).map_err(|message| self.malformed(message))?;
        Ok((directory, entries))
    }

    /// Bytes `start..start + length`, from a range already read or with one more request.
    async fn read(&mut self, start: u64, length: u64) -> Result<Vec<u8>, PypiError> {
        let end = start + length;
        for (window_start, bytes) in &self.windows {
            if start >= *window_start && end <= window_start + bytes.len() as u64 {
                let from =
                    usize::try_from(start - window_start).expect("within a window in memory");
                let to = usize::try_from(end - window_start).expect("within a window in memory");
                return Ok(bytes[from..to].to_vec());
            }
        }
        if length == 0 {
            return Ok(Vec::new());
        }
        let transport = &self.client.inner.transport;
        Counters::bump(&transport.counters.range_requests);
        let answer = transport
            .get(
                self.url,
                range_headers(&format!("bytes={start}-{}", end - 1)),
            )
            .await?;
        let status = answer.response.status();
        if status != StatusCode::PARTIAL_CONTENT {
            return Err(self.malformed(format!(
                "answered `{status}` to a range request, after answering one with `206 Partial Content`"
            )));
        }
        let (got_start, bytes) = read_range(self.url, answer).await?;
        if got_start != start || (bytes.len() as u64) < length {
            return Err(self.malformed(format!(
                "asked for bytes {start}-{}, got {} bytes from {got_start}",
                end - 1,
                bytes.len()
            )));
        }
        let wanted = bytes[..usize::try_from(length).expect("the bytes are in memory")].to_vec();
        self.windows.push((got_start, bytes));
        Ok(wanted)
    }
}

/// The body of a `206` answer, with where it starts in the file (from `Content-Range`).
async fn read_range(url: &Url, answer: Answer<'_>) -> Result<(u64, Vec<u8>), PypiError> {
    let malformed = |message: String| PypiError::Malformed {
        url: redact(url.as_str()),
        message,
    };
    let content_range = answer
        .response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let bytes = answer
        .response
        .bytes()
        .await
        .map_err(|source| PypiError::Unreachable {
            url: redact(url.as_str()),
            source,
        })?;
    let Some(content_range) = content_range else {
        return Err(malformed(
            "a `206` answer without `Content-Range`".to_string(),
        ));
    };
    let start = parse_content_range(&content_range)
        .ok_or_else(|| malformed(format!("unreadable `Content-Range: {content_range}`")))?;
    Ok((start, bytes.into()))
}

/// The first byte of `bytes START-END/TOTAL`.
fn parse_content_range(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes ")?;
    let (span, _total) = range.split_once('/')?;
    let (start, _end) = span.split_once('-')?;
    start.trim().parse().ok()
}

pub(super) fn range_headers(range: &str) -> HeaderMap {
    let mut headers = identity_headers();
    headers.insert(
        RANGE,
        HeaderValue::from_str(range).expect("a range is ASCII"),
    );
    headers
}

/// Byte offsets are offsets into the file as stored, so no content coding may apply.
pub(crate) fn identity_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    headers
}

pub fn is_wheel(filename: &str) -> bool {
    std::path::Path::new(filename)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("whl"))
}

/// `METADATA` from a whole wheel on disk.
pub(crate) fn metadata_from_archive(
    file: impl Read + Seek,
    filename: &str,
) -> Result<Vec<u8>, String> {
    let mut archive = zip::ZipArchive::new(file).map_err(|error| error.to_string())?;
    let names = archive
        .file_names()
        .map(|name| name.map(std::borrow::Cow::into_owned))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|error| error.to_string())?;
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let name = &names[zip_directory::find_metadata(&name_refs, filename)?];
    let entry = archive.by_name(name).map_err(|error| error.to_string())?;
    let mut out = Vec::new();
    entry
        .take(zip_directory::MAX_METADATA_SIZE)
        .read_to_end(&mut out)
        .map_err(|error| format!("could not read `{name}`: {error}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 10122-10221/10222"), Some(10122));
        assert_eq!(parse_content_range("bytes 0-99/*"), Some(0));
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn wheels_by_extension() {
        assert!(is_wheel("demo-1.0-py3-none-any.whl"));
        assert!(is_wheel("DEMO-1.0-py3-none-any.WHL"));
        assert!(!is_wheel("demo-1.0.tar.gz"));
        assert!(!is_wheel("demo-1.0.zip"));
    }
}
