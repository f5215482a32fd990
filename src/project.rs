//! The project a command works on, settled once: its directory, its `mlpack.toml` (read
//! once per command) and where its `mlpack.lock` lives. Commands build it from `-C`/`DIR`
//! and pass it down; nothing below the CLI resolves the directory or reads the manifest again.

use std::path::{Path, PathBuf};

use crate::manifest::{LoadedManifest, Manifest, ManifestError, project_path};

/// A project directory with its manifest.
#[derive(Debug)]
pub struct Project {
    /// As the user named it (`.` stays `.`, so messages name `mlpack.lock`, not `./mlpack.lock`).
    pub dir: PathBuf,
    pub loaded: LoadedManifest,
    pub lock_path: PathBuf,
}

impl Project {
    /// Read `dir`'s `mlpack.toml` (defaults when it has none).
    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        Ok(Self {
            dir: dir.to_path_buf(),
            loaded: Manifest::load(dir)?,
            lock_path: lock_path(dir),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.loaded.manifest
    }

    /// Where training runs write: `outputs/` (`[outputs] dir`).
    pub fn outputs_dir(&self) -> PathBuf {
        self.dir.join(&self.manifest().outputs.dir)
    }

    /// The project's name: `[project] name`, else its directory's, made a valid image name
    /// (the manifest checks a `[project] name`; a directory name like `_scratch` or
    /// `My..Data` is reduced to its letters and digits joined by `-`).
    pub fn name(&self) -> String {
        name(&self.dir, self.manifest())
    }

    /// The image reference a build tags: `tag`, else `[image] name`/`tag`, else the project's
    /// name and `latest`.
    pub fn image_reference(&self, tag: Option<&str>) -> String {
        if let Some(tag) = tag {
            return tag.to_string();
        }
        let image = &self.manifest().image;
        let name = image.name.clone().unwrap_or_else(|| self.name());
        format!("{name}:{}", image.tag.as_deref().unwrap_or("latest"))
    }
}

/// Where `dir`'s lock lives; the one place the path is derived (also for the commands that
/// read the lock without the manifest: `tree`, `why`, `export`).
pub fn lock_path(dir: &Path) -> PathBuf {
    project_path(dir, Path::new(crate::lock::LOCK_FILE))
}

/// The name of the project in `dir` with `manifest`: see [`Project::name`].
pub fn name(dir: &Path, manifest: &Manifest) -> String {
    if let Some(name) = &manifest.project.name {
        return name.clone();
    }
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name: String = absolute
        .file_name()
        .map(|name| name.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if crate::oci::ImageReference::parse_name(&name).is_ok() && name.len() <= 128 {
        return name;
    }
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let name: String = words.join("-").chars().take(128).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "project".to_string()
    } else {
        name.to_string()
    }
}
