//! Where mlpack keeps what it can fetch again: `$XDG_CACHE_HOME/mlpack` (when set and
//! absolute, as the XDG Base Directory spec requires), else `~/.cache/mlpack`. Index pages,
//! wheels, `.deb`s, dataset fingerprints and bytecode caches all live under it. The user's
//! settings (`config.toml`, `auth.json`) live in `$XDG_CONFIG_HOME/mlpack`, else
//! `~/.config/mlpack`.
//! Spec: <https://specifications.freedesktop.org/basedir-spec/latest/>.

use std::path::PathBuf;

/// Neither `XDG_CACHE_HOME` nor `HOME` says where the cache is.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no cache directory: neither `XDG_CACHE_HOME` nor `HOME` is set")]
pub struct NoCacheDir;

impl NoCacheDir {
    pub fn hint(self) -> String {
        "set `XDG_CACHE_HOME`, or pass a cache directory".to_string()
    }
}

impl crate::error::Diagnostic for NoCacheDir {
    fn hints(&self) -> Vec<String> {
        vec![self.hint()]
    }
}

/// The cache root. Callers that only clean or measure the cache (`prune`, `doctor`) skip it
/// on `Err`; the others fail with it.
pub fn cache_dir() -> Result<PathBuf, NoCacheDir> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::home_dir()
                .filter(|home| !home.as_os_str().is_empty())
                .map(|home| home.join(".cache"))
        })
        .map(|base| base.join("mlpack"))
        .ok_or(NoCacheDir)
}

/// The directory of the user's settings: `$XDG_CONFIG_HOME/mlpack` (when set and absolute),
/// else `~/.config/mlpack`; `None` when neither variable says where.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::home_dir()
                .filter(|home| !home.as_os_str().is_empty())
                .map(|home| home.join(".config"))
        })
        .map(|base| base.join("mlpack"))
}
