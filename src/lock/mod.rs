//! `mlpack.lock`: the complete, hash-pinned resolution for one target, as deterministic TOML.
//!
//! The package tables follow PEP 751's `[[packages]]` schema where it fits (`name`, `version`,
//! `index`, `dependencies`, `wheels` with `url`, `size` and `hashes`), so the lock reads like a
//! `pylock.toml`; mlpack adds the target, the inputs' hash and each package's `why`. Spec:
//! <https://packaging.python.org/en/latest/specifications/pylock-toml/>.

mod graph;
mod inputs;
mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};

pub use self::graph::{DEPENDENCY_OF, LockGraph};
pub use self::inputs::{InputError, LockInputs};
use crate::resolve::{Resolution, Target};

/// The lock's file name in a project directory.
pub const LOCK_FILE: &str = "mlpack.lock";
/// The format version written and understood.
pub const LOCK_VERSION: &str = "1.0";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lockfile {
    pub lock_version: String,
    pub created_by: String,
    pub target: Target,
    pub inputs: Inputs,
    #[serde(default)]
    pub packages: Vec<LockedPackage>,
}

/// What the resolution was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Inputs {
    /// sha256 over everything that decides the resolution (see `lock_inputs_hash`).
    pub sha256: String,
    /// The root requirements, each with where it came from.
    pub requirements: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub index: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    /// Why it is in the lock: root requirements' origins, or "dependency of X".
    #[serde(default)]
    pub why: Vec<String>,
    pub wheels: Vec<LockedWheel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedWheel {
    pub name: String,
    pub url: String,
    pub size: Option<u64>,
    pub hashes: Hashes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashes {
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("could not read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a valid mlpack lock: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("`{}` was written by a newer mlpack (lock version {found}; this mlpack reads {LOCK_VERSION})", path.display())]
    Version { path: PathBuf, found: String },
    #[error("could not write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Lockfile {
    /// Read the lock at `path`; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, LockError> {
        let text = match fs_err::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LockError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let lock: Self = toml::from_str(&text).map_err(|error| LockError::Invalid {
            path: path.to_path_buf(),
            message: error.message().to_string(),
        })?;
        if lock.lock_version.split('.').next() != LOCK_VERSION.split('.').next() {
            return Err(LockError::Version {
                path: path.to_path_buf(),
                found: lock.lock_version,
            });
        }
        Ok(Some(lock))
    }

    /// Write atomically: a temporary file beside the lock, then a rename, so a reader never
    /// sees half a lock and a failed write leaves the old one.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let error = |source| LockError::Write {
            path: path.to_path_buf(),
            source,
        };
        let temporary = path.with_extension("lock.mlpack-tmp");
        fs_err::write(&temporary, self.to_toml()).map_err(error)?;
        fs_err::rename(&temporary, path).map_err(error)
    }

    pub fn package(&self, name: &str) -> Option<&LockedPackage> {
        self.packages.iter().find(|package| package.name == name)
    }

    /// The lock for `resolution`: each package with its wheel, its dependencies, and why it is
    /// there (the origins of the root requirements that name it, else its parents).
    pub fn from_resolution(
        resolution: &Resolution,
        inputs: &LockInputs,
        target: &Target,
        sha256: String,
    ) -> Result<Self, MissingHash> {
        let mut parents: BTreeMap<&PackageName, BTreeSet<&PackageName>> = BTreeMap::new();
        for package in &resolution.packages {
            for dependency in &package.dependencies {
                parents.entry(dependency).or_default().insert(&package.name);
            }
        }
        let mut packages = Vec::new();
        for package in &resolution.packages {
            let mut why: Vec<String> = inputs
                .roots
                .iter()
                .filter(|root| root.requirement.name == package.name)
                .map(|root| root.origin.clone())
                .collect();
            why.extend(
                parents
                    .get(&package.name)
                    .into_iter()
                    .flatten()
                    .map(|parent| format!("{DEPENDENCY_OF}{parent}")),
            );
            let sha256 = package.wheel.sha256.clone().ok_or_else(|| MissingHash {
                file: package.wheel.filename.clone(),
                index: package.index.clone(),
            })?;
            packages.push(LockedPackage {
                name: package.name.to_string(),
                version: package.version.to_string(),
                index: package.index.clone(),
                extras: package.extras.iter().map(ToString::to_string).collect(),
                dependencies: package
                    .dependencies
                    .iter()
                    .map(|name| Dependency {
                        name: name.to_string(),
                    })
                    .collect(),
                why,
                wheels: vec![LockedWheel {
                    name: package.wheel.filename.clone(),
                    url: package.wheel.url.clone(),
                    size: package.wheel.size,
                    hashes: Hashes { sha256 },
                }],
            });
        }
        Ok(Self {
            lock_version: LOCK_VERSION.to_string(),
            created_by: format!("mlpack {}", env!("CARGO_PKG_VERSION")),
            target: target.clone(),
            inputs: Inputs {
                sha256,
                requirements: inputs.describe(),
            },
            packages,
        })
    }

    /// Locked versions, for the resolver to keep when they still fit.
    pub fn preferences(&self) -> HashMap<PackageName, Version> {
        self.packages
            .iter()
            .filter_map(|package| {
                Some((
                    PackageName::from_str(&package.name).ok()?,
                    Version::from_str(&package.version).ok()?,
                ))
            })
            .collect()
    }
}

/// A wheel the index lists without a sha256, so it cannot be pinned.
#[derive(Debug, thiserror::Error)]
#[error("the index `{index}` gives no sha256 for `{file}`, so mlpack cannot pin it")]
pub struct MissingHash {
    pub file: String,
    pub index: String,
}

#[cfg(test)]
mod tests;
