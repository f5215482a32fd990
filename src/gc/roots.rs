//! GC roots of recorded training runs: `$MLPACK_HOME/roots/runs/<run-id>.json`, written by
//! `mlpack train` once the run's `run.json` is written. Each names the image the run used (by
//! digest), the project and the record, so that `mlpack prune` keeps the image for `mlpack
//! reproduce` and `mlpack package` after a newer build has taken its name.
//!
//! A root lets go of its image when its record is gone from a project directory that still
//! exists (the run's outputs were deleted, so nothing can reproduce it), and all roots do
//! with `mlpack prune --runs`. A root whose project directory is gone is kept, since the
//! project may be on a disk that is not mounted; `--runs` drops it.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::GcError;
use crate::error::FromIo;
use crate::oci::{Digest, Store};
use crate::train::RunId;

/// Where the run roots live, under the store root.
const RUN_ROOTS_DIR: &str = "roots/runs";

/// One recorded run's claim on its image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRoot {
    pub run: RunId,
    /// The image's manifest digest.
    pub image: Digest,
    /// The project directory, absolute.
    pub project: PathBuf,
    /// The run's `run.json`, absolute.
    pub record: PathBuf,
}

impl RunRoot {
    /// Write the root into `store`, replacing one for the same run.
    pub fn save(&self, store: &Store) -> Result<(), GcError> {
        let dir = store.root().join(RUN_ROOTS_DIR);
        fs_err::create_dir_all(&dir)
            .map_err(|source| GcError::io("create the directory", &dir, source))?;
        // A run ID is one plain path component (see `RunId`), so this names a file in `dir`.
        let file = dir.join(format!("{}.json", self.run));
        let mut json = serde_json::to_vec_pretty(self).map_err(|source| GcError::InvalidRoot {
            path: file.clone(),
            source,
        })?;
        json.push(b'\n');
        store.write_file_atomic(&file, &json)?;
        Ok(())
    }

    /// Whether the run's record is gone from a project that still exists.
    fn is_stale(&self) -> bool {
        !self.record.is_file() && self.project.is_dir()
    }
}

/// The run roots to keep: every one, less those `drop_all` or staleness remove (their files
/// are deleted). Returns the kept roots and how many were removed.
pub(super) fn sweep(store: &Store, drop_all: bool) -> Result<(Vec<RunRoot>, usize), GcError> {
    let mut kept = Vec::new();
    let mut removed = 0;
    for (file, root) in list(store)? {
        if drop_all || root.is_stale() {
            match fs_err::remove_file(&file) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(GcError::io("remove", &file, source)),
            }
        } else {
            kept.push(root);
        }
    }
    Ok((kept, removed))
}

/// Every run root in `store`, with its file.
fn list(store: &Store) -> Result<Vec<(PathBuf, RunRoot)>, GcError> {
    let dir = store.root().join(RUN_ROOTS_DIR);
    let entries = match fs_err::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(GcError::io("list", &dir, source)),
    };
    let mut roots = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| GcError::io("list", &dir, source))?
            .path();
        if path.extension().is_none_or(|extension| extension != "json") {
            continue;
        }
        let bytes = fs_err::read(&path).map_err(|source| GcError::io("read", &path, source))?;
        let root = serde_json::from_slice(&bytes).map_err(|source| GcError::InvalidRoot {
            path: path.clone(),
            source,
        })?;
        roots.push((path, root));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn a_root_goes_with_its_record_but_not_with_its_project() {
        let temp = tempfile::tempdir().unwrap();
        let store = Store::open(&temp.path().join("store")).unwrap();
        let project = temp.path().join("project");
        let root = |run: &str, project: &Path| RunRoot {
            run: run.parse().unwrap(),
            image: Digest::of(run.as_bytes()),
            project: project.to_path_buf(),
            record: project.join("outputs").join(run).join("run.json"),
        };
        let kept = root("20260101-000000-aaaa", &project);
        let deleted = root("20260101-000000-bbbb", &project);
        let elsewhere = root("20260101-000000-cccc", &temp.path().join("unmounted"));
        fs_err::create_dir_all(kept.record.parent().unwrap()).unwrap();
        fs_err::write(&kept.record, "{}").unwrap();
        for root in [&kept, &deleted, &elsewhere] {
            root.save(&store).unwrap();
        }
        let (roots, removed) = sweep(&store, false).unwrap();
        assert_eq!(removed, 1);
        let mut runs: Vec<&str> = roots.iter().map(|root| root.run.as_str()).collect();
        runs.sort_unstable();
        assert_eq!(runs, [kept.run.as_str(), elsewhere.run.as_str()]);
        assert_eq!(sweep(&store, true).unwrap().1, 2);
        assert_eq!(sweep(&store, false).unwrap(), (Vec::new(), 0));
    }
}
