//! Layers already built, by what went into them: a group of wheels or Debian packages (named
//! by their sha256s) always makes the same layer, so it is written once per store.
//!
//! An entry is trusted only while its blob is in the store; `mlpack prune` may remove either.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::atomic_file::{self, Durability};
use crate::oci::{DiffId, Digest, Layer, Store};

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    digest: String,
    diff_id: String,
    size: u64,
    media_type: String,
}

/// `$MLPACK_HOME/layer-cache/<key>.json`.
pub(crate) struct LayerCache {
    dir: PathBuf,
}

impl LayerCache {
    pub(crate) fn new(store: &Store) -> Self {
        Self {
            dir: store.root().join("layer-cache"),
        }
    }

    /// The layer built from inputs with this key, if its blob is still in the store.
    pub(crate) fn get(&self, key: &str, store: &Store) -> Option<Layer> {
        let text = fs_err::read_to_string(self.dir.join(format!("{key}.json"))).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        let digest: Digest = entry.digest.parse().ok()?;
        let diff_id = DiffId::new(entry.diff_id.parse().ok()?);
        store.has_blob(&digest).then_some(Layer {
            digest,
            diff_id,
            size: entry.size,
            media_type: entry.media_type,
        })
    }

    /// Remember `layer` for `key`; a failure only costs a rebuild later.
    pub(crate) fn put(&self, key: &str, layer: &Layer) {
        let entry = Entry {
            digest: layer.digest.to_string(),
            diff_id: layer.diff_id.digest().to_string(),
            size: layer.size,
            media_type: layer.media_type.clone(),
        };
        let Ok(text) = serde_json::to_string(&entry) else {
            return;
        };
        let path = self.dir.join(format!("{key}.json"));
        let _ = fs_err::create_dir_all(&self.dir)
            .and_then(|()| atomic_file::write(&path, text.as_bytes(), Durability::Cached));
    }
}

/// The cache key of a layer made from `parts` (sha256s and settings), under a format tag that
/// changes whenever mlpack would lay the same inputs out differently.
pub(crate) fn key(format: &str, parts: &[String]) -> String {
    let mut text = format.to_string();
    for part in parts {
        text.push('\n');
        text.push_str(part);
    }
    crate::sha256::sha256_hex(text.as_bytes())
}
