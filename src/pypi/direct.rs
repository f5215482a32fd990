//! Direct references (PEP 508 `name @ URL`, PEP 440's "direct references"): a wheel or an
//! sdist at an `https://` URL (checked against its `#sha256=` fragment when it has one), a
//! wheel or sdist on disk (`file:///abs/x.whl`), or a project directory (`file:///abs/dir`,
//! or a path relative to the project: `./libs/mylib`).
//!
//! A directory is packed into a reproducible `.tar.gz` (sorted entries, fixed mtimes and
//! owners, no `.git`, what its `.gitignore` ignores left out), so it is locked by the sha256 of
//! its content and built like any sdist; the same tree gives the same bytes on every machine.

use std::io::Write;
use std::path::{Path, PathBuf};

use pep508_rs::PackageName;

use super::client::{IndexClient, blocking};
use super::{DistFile, PypiError};

/// Where a direct reference points.
pub(crate) enum Location {
    Remote(url::Url),
    File(PathBuf),
    Directory(PathBuf),
}

impl IndexClient {
    /// Where the direct reference `url` (as the lock or the user wrote it) points; relative
    /// paths are relative to the client's base directory (the project).
    pub(crate) fn locate(&self, url: &str) -> Result<Location, PypiError> {
        let invalid = |message: String| PypiError::InvalidUrl {
            url: url.to_string(),
            message,
        };
        let without_fragment = url.split_once('#').map_or(url, |(base, _)| base);
        let path = match url::Url::parse(without_fragment) {
            Ok(parsed) if parsed.scheme() == "file" => parsed
                .to_file_path()
                .map_err(|()| invalid("not a local path".to_string()))?,
            Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => {
                return Ok(Location::Remote(parsed));
            }
            Ok(parsed) => {
                return Err(invalid(format!(
                    "the scheme `{}` is not supported (use https, file or a path)",
                    parsed.scheme()
                )));
            }
            Err(_) => self
                .inner
                .base_dir
                .join(without_fragment.trim_start_matches("file:")),
        };
        if path.is_dir() {
            Ok(Location::Directory(path))
        } else if path.is_file() {
            Ok(Location::File(path))
        } else {
            Err(invalid(format!("`{}` does not exist", path.display())))
        }
    }

    /// The file a direct reference names, as the lock will pin it: its name, the URL as
    /// given, and its sha256 (a directory's is its packed archive's).
    pub async fn direct_file(&self, name: &PackageName, url: &str) -> Result<DistFile, PypiError> {
        let fragment = url
            .split_once("#sha256=")
            .map(|(_, hash)| hash.to_ascii_lowercase());
        let (filename, sha256) = match self.locate(url)? {
            Location::Remote(remote) => {
                let filename = remote
                    .path_segments()
                    .and_then(|mut segments| segments.next_back())
                    .unwrap_or_default()
                    .to_string();
                // A download is checked against a hash known beforehand, as pip's
                // `--require-hashes` does: the URL must carry it.
                let Some(expected) = fragment.clone() else {
                    return Err(PypiError::InvalidUrl {
                        url: url.to_string(),
                        message: "a direct reference to a remote file needs its hash: add `#sha256=<hex>` to the URL".to_string(),
                    });
                };
                self.fetch_file(&direct(filename.clone(), url, Some(expected.clone())))
                    .await
                    .map_err(|error| match error {
                        PypiError::HashMismatch {
                            url,
                            expected,
                            actual,
                        } => PypiError::DirectHashMismatch {
                            url,
                            expected,
                            actual,
                        },
                        error => error,
                    })?;
                (filename, expected)
            }
            Location::File(path) => {
                let filename = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (filename, file_sha256(&path).await?)
            }
            Location::Directory(dir) => {
                let archive = self.pack_directory(name, &dir).await?;
                let filename = format!("{name}.tar.gz");
                (filename, file_sha256(&archive).await?)
            }
        };
        if let Some(expected) = fragment
            && expected != sha256
        {
            return Err(PypiError::DirectHashMismatch {
                url: url.to_string(),
                expected,
                actual: sha256,
            });
        }
        Ok(direct(filename, url, Some(sha256)))
    }

    /// The local file behind a direct reference, verified against `expected` (a directory is
    /// packed again first).
    pub(crate) async fn local_direct_file(
        &self,
        name: &str,
        location: Location,
        expected: &str,
        url: &str,
    ) -> Result<PathBuf, PypiError> {
        let path = match location {
            Location::File(path) => path,
            Location::Directory(dir) => {
                let name = name.parse().map_err(|_| PypiError::InvalidUrl {
                    url: url.to_string(),
                    message: format!("`{name}` is not a package name"),
                })?;
                self.pack_directory(&name, &dir).await?
            }
            Location::Remote(_) => {
                return Err(PypiError::InvalidUrl {
                    url: url.to_string(),
                    message: "not a local path".to_string(),
                });
            }
        };
        let actual = file_sha256(&path).await?;
        if actual != expected {
            return Err(PypiError::HashMismatch {
                url: url.to_string(),
                expected: expected.to_string(),
                actual,
            });
        }
        Ok(path)
    }

    /// The core metadata of a direct reference's wheel, read from the file itself (there is
    /// no index to serve a PEP 658 file).
    pub async fn direct_wheel_metadata(
        &self,
        file: &DistFile,
    ) -> Result<super::CoreMetadata, PypiError> {
        let path = self.fetch_file(file).await?;
        let filename = file.filename.clone();
        blocking(move || {
            let invalid = |message: String| PypiError::InvalidMetadata {
                filename: filename.clone(),
                line: 0,
                message,
            };
            let reader = fs_err::File::open(&path).map_err(|error| invalid(error.to_string()))?;
            let raw = super::metadata::metadata_from_archive(reader, &filename).map_err(invalid)?;
            super::core_metadata::parse_core_metadata(&raw, &filename)
        })
        .await
    }

    /// `dir` as a reproducible `.tar.gz` in the cache, named by its content.
    async fn pack_directory(&self, name: &PackageName, dir: &Path) -> Result<PathBuf, PypiError> {
        let root = self.inner.cache.root().join("directories-v1");
        let name = name.to_string();
        let dir = dir.to_path_buf();
        blocking(move || pack(&name, &dir, &root)).await
    }
}

fn direct(filename: String, url: &str, sha256: Option<String>) -> DistFile {
    DistFile {
        filename,
        url: url.to_string(),
        sha256,
        size: None,
        requires_python: None,
        yanked: None,
        upload_time: None,
        core_metadata: false,
    }
}

async fn file_sha256(path: &Path) -> Result<String, PypiError> {
    let owned = path.to_path_buf();
    blocking(move || {
        crate::sha256::file_sha256(&owned).map_err(|source| PypiError::Cache {
            path: owned.clone(),
            source,
        })
    })
    .await
}

/// The files of a project directory that its archive holds, relative to it, sorted: no
/// `.git`, nothing its ignore files name.
fn project_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_some_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.path().strip_prefix(dir).ok().map(Path::to_path_buf))
        .collect();
    files.sort();
    files
}

/// A digest of a project directory's content (the files its archive would hold, their
/// paths, modes and bytes), for the lock's inputs: an edit to a local library makes the lock
/// stale.
pub fn directory_digest(dir: &Path) -> std::io::Result<String> {
    let mut lines = Vec::new();
    for relative in project_files(dir) {
        let path = dir.join(&relative);
        lines.push(format!(
            "{} {}",
            relative.display(),
            crate::sha256::file_sha256(&path)?
        ));
    }
    Ok(crate::sha256::sha256_hex(lines.join("\n").as_bytes()))
}

/// Pack `dir` into `<root>/<sha256>/<name>.tar.gz` (under a top directory `name/`).
fn pack(name: &str, dir: &Path, root: &Path) -> Result<PathBuf, PypiError> {
    let cache_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PypiError::Cache { path, source }
    };
    let files = project_files(dir);
    let encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for relative in &files {
        let path = dir.join(relative);
        let bytes = fs_err::read(&path).map_err(cache_error(&path))?;
        let executable = std::os::unix::fs::PermissionsExt::mode(
            &fs_err::metadata(&path)
                .map_err(cache_error(&path))?
                .permissions(),
        ) & 0o111
            != 0;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_mtime(crate::oci::DEFAULT_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        builder
            .append_data(
                &mut header,
                Path::new(name).join(relative),
                bytes.as_slice(),
            )
            .map_err(cache_error(&path))?;
    }
    let archive = builder
        .into_inner()
        .and_then(flate2::write::GzEncoder::finish)
        .map_err(cache_error(dir))?;
    let sha256 = crate::sha256::sha256_hex(&archive);
    let target_dir = root.join(&sha256);
    let target = target_dir.join(format!("{name}.tar.gz"));
    if !target.is_file() {
        fs_err::create_dir_all(&target_dir).map_err(cache_error(&target_dir))?;
        let mut temporary =
            tempfile::NamedTempFile::new_in(&target_dir).map_err(cache_error(&target_dir))?;
        temporary
            .write_all(&archive)
            .map_err(cache_error(&target))?;
        temporary
            .persist(&target)
            .map_err(|error| cache_error(&target)(error.error))?;
    }
    Ok(target)
}
