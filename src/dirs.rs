//! Where mlpack keeps what it can fetch again: `$XDG_CACHE_HOME/mlpack` (when set and
//! absolute, as the XDG Base Directory spec requires), else `~/.cache/mlpack`. Index pages,
//! wheels, `.deb`s, dataset fingerprints and bytecode caches all live under it.
//! Spec: <https://specifications.freedesktop.org/basedir-spec/latest/>.

use std::path::PathBuf;

/// The cache root; `None` when neither `XDG_CACHE_HOME` nor `HOME` says where it is.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::home_dir()
                .filter(|home| !home.as_os_str().is_empty())
                .map(|home| home.join(".cache"))
        })
        .map(|base| base.join("mlpack"))
}
