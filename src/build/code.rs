//! The project-code layer: the project's files at `/app`, as `COPY . /app` would put them.
//!
//! Left out, in order: what `.mlpackignore` names (gitignore syntax, like `.dockerignore`);
//! `.git`; virtualenvs (a directory with `pyvenv.cfg`) and `__pycache__`; the outputs
//! directory; and the dataset sources, which are mounted at run time, not baked in.

use std::path::{Path, PathBuf};

use super::BuildError;
use crate::error::FromIo;

/// The project-relative paths the manifest keeps out of the code: the outputs directory and
/// the dataset sources.
pub(crate) fn left_out(manifest: &crate::manifest::Manifest) -> Vec<PathBuf> {
    let mut skip = vec![manifest.outputs.dir.clone()];
    skip.extend(
        manifest
            .datasets
            .iter()
            .map(|dataset| dataset.source.get_ref().clone()),
    );
    skip
}

/// `dir` relative to `project` when it is inside it (links resolved): mlpack's own store or
/// cache there (`MLPACK_HOME=./.mlpack`) is never code, and copying the store into a staging
/// tree inside that same store would never end.
pub(crate) fn inside(project: &Path, dir: &Path) -> Option<PathBuf> {
    let project = fs_err::canonicalize(project).ok()?;
    let dir = fs_err::canonicalize(dir).ok()?;
    dir.strip_prefix(&project)
        .ok()
        .filter(|relative| !relative.as_os_str().is_empty())
        .map(Path::to_path_buf)
}

/// Copy the project's code into `staging` under `app`; returns how many files.
pub(crate) fn stage(
    project: &Path,
    skip: &[PathBuf],
    staging: &Path,
    app: &str,
) -> Result<usize, BuildError> {
    let target = staging.join(app.trim_start_matches('/'));
    let skip: Vec<PathBuf> = skip.iter().map(|dir| project.join(dir)).collect();
    let mut builder = ignore::WalkBuilder::new(project);
    builder
        .standard_filters(false)
        .sort_by_file_name(std::ffi::OsStr::cmp)
        .filter_entry(move |entry| !is_excluded(entry, &skip));
    let ignore_file = project.join(".mlpackignore");
    if ignore_file.is_file()
        && let Some(error) = builder.add_ignore(&ignore_file)
    {
        return Err(BuildError::Walk {
            path: ignore_file,
            message: error.to_string(),
        });
    }
    let mut count = 0;
    for entry in builder.build() {
        let entry = entry.map_err(|error| BuildError::Walk {
            path: project.to_path_buf(),
            message: error.to_string(),
        })?;
        let relative = entry.path().strip_prefix(project).unwrap_or(entry.path());
        let destination = target.join(relative);
        let kind = entry.file_type();
        let io = |source| BuildError::io("write", &destination, source);
        if kind.is_some_and(|kind| kind.is_dir()) {
            fs_err::create_dir_all(&destination).map_err(io)?;
        } else if kind.is_some_and(|kind| kind.is_symlink()) {
            let link = fs_err::read_link(entry.path()).map_err(io)?;
            std::os::unix::fs::symlink(&link, &destination).map_err(io)?;
            count += 1;
        } else if kind.is_some_and(|kind| kind.is_file()) {
            fs_err::copy(entry.path(), &destination).map_err(io)?;
            count += 1;
        }
    }
    Ok(count)
}

fn is_excluded(entry: &ignore::DirEntry, skip: &[PathBuf]) -> bool {
    if entry.depth() == 0 {
        return false;
    }
    let name = entry.file_name();
    let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
    name == ".git"
        || name == "mlpack.lock.mlpack-tmp"
        || (is_dir && (name == "__pycache__" || entry.path().join("pyvenv.cfg").exists()))
        || skip.iter().any(|dir| dir == entry.path())
}
