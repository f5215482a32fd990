//! Where a run's bytecode caches live on the host, under `$XDG_CACHE_HOME/mlpack/`. Every run
//! starts from a fresh upper dir, so without them each run compiles its modules again.
//! Images built since bytecode went into the packages layers (label `dev.mlpack.bytecode`,
//! see `build::bytecode`) need only the code's cache, mounted over `/app/__pycache__` (the
//! project's top-level modules; `PYTHONPYCACHEPREFIX` would hide the image's `.pyc`). Older
//! images hold no `.pyc`, so both caches are mounted under `PYTHONPYCACHEPREFIX` (Python
//! 3.8+), where the run's Python keeps all its bytecode:
//!
//! 1. The libraries' cache, `pycache/<key>`, is shared by every image with the same layers
//!    below the code layer: the same files, so the same valid `.pyc`; a code edit keeps it
//!    warm. The key is the sha256 of those layers' digests.
//! 2. The code's own cache, `pycache-code/<manifest digest hex>`, is per image: every layer
//!    file carries the same fixed mtime, so an edited module of the same size would pass
//!    Python's mtime+size check and run stale bytecode if the cache outlived its image.

use std::path::{Path, PathBuf};

/// The libraries' caches, under the cache root.
pub const LIBRARIES_DIR: &str = "pycache";
/// The code's caches, under the cache root.
pub const CODE_DIR: &str = "pycache-code";

/// The two caches of the image with manifest `digest` and layer digests `layers` (bottom
/// first, the code layer last), under the cache root `cache`: `(libraries, code)`.
pub fn dirs(cache: &Path, digest: &str, layers: &[String]) -> (PathBuf, PathBuf) {
    let below_code = layers.len().saturating_sub(1);
    let key = crate::sha256::sha256_hex(layers[..below_code].join("\n").as_bytes());
    (
        cache.join(LIBRARIES_DIR).join(key),
        cache
            .join(CODE_DIR)
            .join(digest.trim_start_matches("sha256:")),
    )
}
