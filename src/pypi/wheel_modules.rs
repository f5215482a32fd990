//! The top-level modules a project's newest wheel installs, read from the wheel's zip
//! directory with range requests (a few KB, as for `METADATA`): how `mlpack scan` checks that
//! an import no mapping knows really comes from the project of a similar name, rather than
//! trusting the name (PyPI's `google` does not provide `google.colab`).
//!
//! The file list is cached by the wheel's sha256 (`wheel-files-v1/`), since a file never
//! changes; the project page follows the index's cache rules like every page.

use std::collections::BTreeSet;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use reqwest::StatusCode;
use url::Url;

use super::auth::redact;
use super::cache;
use super::client::{IndexClient, blocking};
use super::http::{Counters, status_error};
use super::metadata::{RemoteWheel, TAIL_SIZE, is_wheel, range_headers};
use super::{DistFile, PypiError};

/// What the index says of a project, for checking which modules it provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WheelLookup {
    /// The index has no project of this name.
    NoProject,
    /// The project has no wheel (sdists only, or only pre-releases).
    NoWheel,
    Wheel(WheelModules),
}

/// What a project's newest wheel installs at the top of `site-packages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelModules {
    pub filename: String,
    /// Packages (`x/…`), modules (`x.py`) and extension modules (`x.cpython-311-….so`).
    pub modules: BTreeSet<String>,
}

impl IndexClient {
    /// The top-level modules of `name`'s newest wheel on `index`.
    pub async fn wheel_modules(
        &self,
        index: &str,
        name: &PackageName,
    ) -> Result<WheelLookup, PypiError> {
        let project = match self.project(index, name).await {
            Ok(project) => project,
            Err(PypiError::NotFound { .. }) => return Ok(WheelLookup::NoProject),
            Err(error) => return Err(error),
        };
        let Some(file) = newest_wheel(&project.files) else {
            return Ok(WheelLookup::NoWheel);
        };
        let names = self.wheel_file_names(file).await?;
        Ok(WheelLookup::Wheel(WheelModules {
            filename: file.filename.clone(),
            modules: top_level_modules(names.iter().map(String::as_str)),
        }))
    }

    /// [`Self::wheel_modules`] for many projects at once, concurrently.
    pub async fn wheel_modules_all(
        &self,
        index: &str,
        names: &[PackageName],
    ) -> Vec<Result<WheelLookup, PypiError>> {
        futures::future::join_all(names.iter().map(|name| self.wheel_modules(index, name))).await
    }

    async fn wheel_file_names(&self, file: &DistFile) -> Result<Vec<String>, PypiError> {
        let path = self.inner.cache.wheel_files_path(file);
        let cached = blocking({
            let path = path.clone();
            move || cache::read_metadata(&path)
        })
        .await;
        if let Some(text) = cached.and_then(|bytes| String::from_utf8(bytes).ok()) {
            return Ok(text.lines().map(str::to_string).collect());
        }
        if self.inner.offline {
            return Err(PypiError::Offline {
                what: format!("the file list of `{}`", file.filename),
                url: redact(&file.url),
            });
        }
        let url = Url::parse(&file.url).map_err(|error| PypiError::InvalidUrl {
            url: redact(&file.url),
            message: error.to_string(),
        })?;
        let transport = &self.inner.transport;
        Counters::bump(&transport.counters.range_requests);
        let answer = transport
            .get(&url, range_headers(&format!("bytes=-{TAIL_SIZE}")))
            .await?;
        // Without ranges the whole wheel would be needed, which a name check is not worth.
        if answer.response.status() != StatusCode::PARTIAL_CONTENT {
            return Err(status_error(&url, answer.response.status()));
        }
        let mut wheel = RemoteWheel::from_tail(self, &url, answer).await?;
        let (_, entries) = wheel.read_directory().await?;
        let names: Vec<String> = entries.into_iter().map(|entry| entry.name).collect();
        let text = names.join("\n");
        blocking(move || cache::write_atomic(&path, text.as_bytes())).await?;
        Ok(names)
    }
}

/// The newest version's wheel, not yanked, a pure-Python one when there is one.
fn newest_wheel(files: &[DistFile]) -> Option<&DistFile> {
    let version = |file: &DistFile| {
        let part = file.filename.split('-').nth(1)?;
        Version::from_str(part).ok()
    };
    files
        .iter()
        .filter(|file| is_wheel(&file.filename) && file.yanked.is_none())
        .filter_map(|file| Some((version(file)?, file)))
        .filter(|(version, _)| !version.any_prerelease())
        .max_by(|(a, a_file), (b, b_file)| {
            let pure = |file: &DistFile| file.filename.ends_with("-none-any.whl");
            a.cmp(b).then(pure(a_file).cmp(&pure(b_file)))
        })
        .map(|(_, file)| file)
}

/// The top-level names that a wheel's files install: `x/…` gives `x`, `x.py` and
/// `x.cpython-311-x86_64-linux-gnu.so` give `x`; `*.dist-info/`, `*.data/` and other files
/// at the top (`LICENSE`, `x.pth`) give nothing.
pub(crate) fn top_level_modules<'a>(names: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    names.filter_map(top_level_module).collect()
}

fn top_level_module(name: &str) -> Option<String> {
    if let Some((top, _)) = name.split_once('/') {
        let extension = std::path::Path::new(top).extension();
        let metadata = extension.is_some_and(|e| e == "dist-info" || e == "data");
        return (!metadata && !top.is_empty()).then(|| top.to_string());
    }
    let (stem, extension) = name.rsplit_once('.')?;
    match extension.to_ascii_lowercase().as_str() {
        "py" => Some(stem.to_string()),
        "so" | "pyd" => stem.split('.').next().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_modules_of_a_file_list() {
        let names = [
            "comet_ml/__init__.py",
            "comet_ml/api.py",
            "six.py",
            "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
            "comet_ml-3.47.0.dist-info/METADATA",
            "comet_ml-3.47.0.data/scripts/comet",
            "distutils-precedence.pth",
            "LICENSE",
        ];
        let modules = top_level_modules(names.into_iter());
        assert_eq!(
            modules.into_iter().collect::<Vec<_>>(),
            ["_cffi_backend", "comet_ml", "six"]
        );
    }

    fn file(filename: &str, yanked: bool) -> DistFile {
        DistFile {
            filename: filename.to_string(),
            url: format!("https://files.example/{filename}"),
            sha256: None,
            size: None,
            requires_python: None,
            yanked: yanked.then(String::new),
            upload_time: None,
            core_metadata: false,
        }
    }

    #[test]
    fn the_newest_final_wheel_is_taken() {
        let files = [
            file("x-1.0-py3-none-any.whl", false),
            file("x-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", false),
            file("x-2.0-py3-none-any.whl", false),
            file("x-3.0-py3-none-any.whl", true),
            file("x-4.0rc1-py3-none-any.whl", false),
            file("x-5.0.tar.gz", false),
        ];
        assert_eq!(
            newest_wheel(&files).map(|file| file.filename.as_str()),
            Some("x-2.0-py3-none-any.whl")
        );
    }
}
