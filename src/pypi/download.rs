//! Whole files for a build, wheels and sdists: downloaded once into the cache by their sha256,
//! verified while streaming, re-verified when taken from the cache (a corrupt cached file is
//! fetched again).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use url::Url;

use super::auth::redact;
use super::client::{IndexClient, blocking};
use super::http::{Counters, status_error};
use super::metadata::identity_headers;
use super::{DistFile, PypiError};

impl IndexClient {
    /// Every file of `files` on disk (see [`IndexClient::fetch_file`]), in order, the
    /// downloads overlapping, `fetched` told of each file's position and path as it is there
    /// (for progress); a failure names the file's position.
    pub async fn fetch_files(
        &self,
        files: &[DistFile],
        fetched: &(dyn Fn(usize, &Path) + Sync),
    ) -> Result<Vec<PathBuf>, (usize, PypiError)> {
        let downloads = files.iter().enumerate().map(|(position, file)| async move {
            let path = self
                .fetch_file(file)
                .await
                .map_err(|error| (position, error))?;
            fetched(position, &path);
            Ok(path)
        });
        futures::future::try_join_all(downloads).await
    }

    /// The wheel or sdist `file` on disk, fetched if the cache lacks it or holds a corrupt
    /// copy. The file must carry a sha256 (every locked file does).
    pub async fn fetch_file(&self, file: &DistFile) -> Result<PathBuf, PypiError> {
        let expected = file.sha256.clone().ok_or_else(|| PypiError::Malformed {
            url: redact(&file.url),
            message: "no sha256 to verify the download against".to_string(),
        })?;
        if !(file.url.starts_with("https://") || file.url.starts_with("http://")) {
            // A direct reference to a local file or directory (`mylib @ ./libs/mylib`).
            let location = self.locate(&file.url)?;
            let name = file.filename.trim_end_matches(".tar.gz");
            return self
                .local_direct_file(name, location, &expected, &file.url)
                .await;
        }
        let kind = if super::metadata::is_wheel(&file.filename) {
            "wheels-v1"
        } else {
            "sdists-v1"
        };
        let dir = self.inner.cache.root().join(kind).join(&expected);
        let path = dir.join(safe_filename(&file.filename));
        let cached = path.clone();
        let want = expected.clone();
        if blocking(move || crate::sha256::file_sha256(&cached).is_ok_and(|actual| actual == want))
            .await
        {
            return Ok(path);
        }
        if self.inner.offline {
            return Err(PypiError::Offline {
                what: format!("the file `{}`", file.filename),
                url: redact(&file.url),
            });
        }
        let url = Url::parse(&file.url).map_err(|error| PypiError::InvalidUrl {
            url: redact(&file.url),
            message: error.to_string(),
        })?;
        let cache_error = |source| PypiError::Cache {
            path: dir.clone(),
            source,
        };
        fs_err::create_dir_all(&dir).map_err(cache_error)?;
        let answer = self.inner.transport.get(&url, identity_headers()).await?;
        if !answer.response.status().is_success() {
            return Err(status_error(&url, answer.response.status()));
        }
        Counters::bump(&self.inner.transport.counters.downloads);
        let mut temporary = tempfile::NamedTempFile::new_in(&dir).map_err(cache_error)?;
        let mut hasher = Sha256::new();
        let mut response = answer.response;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| PypiError::Unreachable {
                url: redact(url.as_str()),
                source,
            })?
        {
            hasher.update(&chunk);
            temporary.write_all(&chunk).map_err(cache_error)?;
        }
        let actual = crate::sha256::hex(&hasher.finalize());
        if actual != expected {
            return Err(PypiError::HashMismatch {
                url: redact(url.as_str()),
                expected,
                actual,
            });
        }
        temporary
            .persist(&path)
            .map_err(|error| cache_error(error.error))?;
        Ok(path)
    }
}

/// The file name as the index gave it, but never a path.
fn safe_filename(filename: &str) -> String {
    filename
        .rsplit(['/', '\\'])
        .next()
        .filter(|name| !name.is_empty() && *name != "..")
        .unwrap_or("wheel.whl")
        .to_string()
}
