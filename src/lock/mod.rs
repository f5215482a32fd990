//! `mlpack.lock`: the complete, hash-pinned resolution for one target, or for each of the
//! project's platforms (see [`platforms`]), as deterministic TOML.
//!
//! The package tables follow PEP 751's `[[packages]]` schema where it fits (`name`, `version`,
//! `index`, `dependencies`, `wheels` with `url`, `size` and `hashes`), so the lock reads like a
//! `pylock.toml`; mlpack adds the target, the inputs' hash and each package's `why`. Spec:
//! <https://packaging.python.org/en/latest/specifications/pylock-toml/>.

mod export;
mod graph;
mod hardware;
mod inputs;
mod platforms;
mod project;
mod session;
mod system_libraries;
mod system_packages;
mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};

pub use self::graph::{DEPENDENCY_OF, LockGraph};

/// How `why` names a build requirement: "build requirement of fvcore".
pub const BUILD_REQUIREMENT_OF: &str = "build requirement of ";
pub use self::hardware::{
    HardwareTarget, HardwareTargetError, LockedHardware, cuda_release, hardware_wheels,
    summary as hardware_summary,
};
pub use self::inputs::{InputError, LockInputs};
pub use self::platforms::{PlatformLock, Platforms};
pub use self::project::{LockPlan, LockSettings, MetadataBuilder, MetadataRequest, changes};
pub use self::session::{BasePin, LockEvent, LockReporter, ProjectLock};
pub use self::system_libraries::{LockedSystemLibraries, NeededLibrary};
pub use self::system_packages::LockedSystemPackages;
use crate::arch::Arch;
use crate::atomic_file::{self, Durability};
use crate::error::{Diagnostic, FromIo, IoError};
use crate::resolve::{Resolution, ResolvedFile, Target};

/// The lock's file name in a project directory.
pub const LOCK_FILE: &str = "mlpack.lock";
/// The format version of a lock for one platform, written and understood.
pub const LOCK_VERSION: &str = "1.0";
/// The format version of a lock for several platforms: a new major, so that an mlpack that
/// knows only one platform refuses it instead of reading the packages of all as its own.
pub const MULTI_PLATFORM_LOCK_VERSION: &str = "2.0";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lockfile {
    pub lock_version: String,
    pub created_by: String,
    /// Every platform the lock holds, the first being `target`'s; empty for a lock of one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Arch>,
    pub target: Target,
    pub inputs: Inputs,
    /// What the lock was resolved for in hardware; absent for a CPU lock without CUDA wheels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<LockedHardware>,
    /// The base: a Debian base's packages, pinned by `mlpack build` the first time it builds
    /// the base (and kept by `mlpack lock` while the base's inputs are unchanged), or a
    /// registry image, pinned by `mlpack lock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PinnedBase>,
    /// Debian packages the wheels' shared objects need beyond the base, pinned by
    /// `mlpack build` (see [`LockedSystemLibraries`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_libraries: Option<LockedSystemLibraries>,
    /// The Debian packages `[build] system-packages` names, pinned by `mlpack build` (see
    /// [`LockedSystemPackages`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_packages: Option<LockedSystemPackages>,
    #[serde(default)]
    pub packages: Vec<LockedPackage>,
    /// The wheels of the sdists' build environments (never installed in the image).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_packages: Vec<LockedPackage>,
    /// What each platform after the first has of its own: its target, base, hardware,
    /// system libraries and built wheels (`[platform.aarch64]`).
    #[serde(
        default,
        rename = "platform",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub other_platforms: BTreeMap<Arch, PlatformLock>,
}

/// The two kinds of base, told apart by their keys: an image has a `digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PinnedBase {
    Image(LockedImage),
    Debian(LockedBase),
}

/// A base image from a registry, pinned by digest, with what mlpack read from its files: the
/// interpreter and the C library that decide which wheels fit, and where packages go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedImage {
    /// The reference as `[base] image` writes it (`127.0.0.1:5000/py:3.11`).
    pub image: String,
    /// The image manifest for the target's platform.
    pub digest: String,
    /// The index the tag named, when it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// The platform's architecture, as images name it (`amd64`).
    pub arch: String,
    /// The interpreter's path inside the image (`/usr/local/bin/python3`).
    pub python: String,
    /// `3.11.9`, or `3.11` when the image does not say its patch level.
    pub python_version: String,
    /// `2.36`.
    pub glibc: String,
    /// The install prefix: scripts go to `<prefix>/bin`, headers to `<prefix>/include`.
    pub prefix: String,
    /// Where packages are installed (`/usr/local/lib/python3.11/site-packages`).
    pub site_packages: String,
}

/// A base built from Debian packages: the suite it came from and every package, as the
/// signed index described it, so a rebuild fetches exactly these bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedBase {
    pub image: String,
    pub mirror: String,
    pub suite: String,
    pub arch: String,
    /// sha256 over the image, mirror, architecture and requested packages.
    pub inputs_sha256: String,
    pub packages: Vec<LockedDeb>,
}

/// One Debian package: its pool file and the control fields `dpkg` keeps in its status file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct LockedDeb {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub depends: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pre_depends: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub provides: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub section: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub multi_arch: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_size: Option<u64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub maintainer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// What the resolution was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Inputs {
    /// sha256 over everything that decides the resolution (see `lock_inputs_hash`).
    pub sha256: String,
    /// The root requirements, each with where it came from.
    pub requirements: Vec<String>,
    /// Imports no table maps that the index's wheels showed a distribution provides
    /// (`scan::verify`), by import: kept so that `--locked` and `--check` map them the same
    /// way without the network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub verified_imports: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    /// The platforms it is for, in a lock of several whose platforms resolved it differently;
    /// empty when it is for all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Arch>,
    pub index: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    /// Why it is in the lock: root requirements' origins, or "dependency of X".
    #[serde(default)]
    pub why: Vec<String>,
    /// The wheel for the target (one per platform in a lock of several: each wheel's tags
    /// say which); empty when the package is built from its sdist.
    #[serde(default)]
    pub wheels: Vec<LockedWheel>,
    /// The sdist, for a package with no wheel for the target (PEP 751's `sdist`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdist: Option<LockedWheel>,
    /// How `mlpack build` builds the sdist into a wheel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<LockedBuild>,
}

/// An sdist's build: its PEP 517 backend, its build requirements pinned (each an entry of
/// `[[build-packages]]`), and the wheel the last build made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedBuild {
    pub backend: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_path: Vec<String>,
    /// `[build-system] requires`, as the sdist states it.
    pub requires: Vec<String>,
    /// The resolved build environment: `name==version` of `[[build-packages]]` entries.
    pub environment: Vec<String>,
    /// The wheel `mlpack build` made from the sdist, recorded by the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel: Option<BuiltWheel>,
}

/// A wheel built from an sdist: its name and sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltWheel {
    pub name: String,
    pub sha256: String,
}

impl LockedPackage {
    /// The file its installation starts from: the wheel, else the sdist.
    pub fn locked_file(&self) -> Option<&LockedWheel> {
        self.wheels.first().or(self.sdist.as_ref())
    }
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
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("`{}` is not a valid mlpack lock: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("`{}` was written by a newer mlpack (lock version {found}; this mlpack reads {LOCK_VERSION} and {MULTI_PLATFORM_LOCK_VERSION})", path.display())]
    Version { path: PathBuf, found: String },
    #[error(transparent)]
    Scan(#[from] crate::scan::ScanError),
    #[error(transparent)]
    Inputs(#[from] InputError),
    #[error(transparent)]
    Resolve(#[from] crate::resolve::ResolveError),
    #[error(transparent)]
    Index(#[from] crate::pypi::PypiError),
    #[error(transparent)]
    MissingHash(#[from] MissingHash),
    #[error("{location}: `{name}` is not a valid distribution name")]
    InvalidName { location: String, name: String },
    #[error("`{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("the target architecture `{arch}` is not one of the project's platforms ({})", platforms::describe(platforms, *configured))]
    NotAPlatform {
        arch: Arch,
        platforms: Vec<Arch>,
        /// Whether `[python] platforms` named them (else they are this machine's).
        configured: bool,
    },
    #[error("`{}` holds no resolution for `{arch}`", path.display())]
    NoPlatform { path: PathBuf, arch: Arch },
    #[error("`{}` does not exist", path.display())]
    CheckMissing { path: PathBuf },
    #[error("`{}` is out of date: the requirements, target or indexes changed since it was written", path.display())]
    Stale { path: PathBuf },
    #[error("`{}` is out of date: it does not pin the base image `{image}`", path.display())]
    CheckUnpinnedBase { path: PathBuf, image: String },
    #[error("`{}` is missing or out of date, and `--locked` forbids changing it", path.display())]
    LockedStale { path: PathBuf },
    #[error("`{}` does not pin the base image `{image}`, and `--locked` forbids changing it", path.display())]
    LockedUnpinnedBase { path: PathBuf, image: String },
    #[error(
        "the base image `{image}` provides Python {shipped}, but the project asks for Python {wanted}"
    )]
    BasePython {
        image: String,
        shipped: String,
        wanted: crate::python::PythonVersion,
    },
    #[error("the base image `{image}` cannot be used: {message}")]
    BaseImage { image: String, message: String },
    #[error(transparent)]
    Hardware(#[from] HardwareTargetError),
    #[error("could not learn the dependencies of `{package}` {version} from its sdist: {message}")]
    SdistMetadata {
        package: String,
        version: String,
        message: String,
        hints: Vec<String>,
    },
}

impl Diagnostic for LockError {
    /// Whether the user's input, rather than the machine or the network, is at fault.
    fn is_user_error(&self) -> bool {
        match self {
            // Only a cache miss under `--offline` is the user's doing among index failures.
            Self::Resolve(crate::resolve::ResolveError::Index(error)) | Self::Index(error) => {
                matches!(
                    error,
                    crate::pypi::PypiError::Offline { .. }
                        | crate::pypi::PypiError::DirectHashMismatch { .. }
                        | crate::pypi::PypiError::InvalidUrl { .. }
                )
            }
            Self::Resolve(error) => !matches!(error, crate::resolve::ResolveError::Internal(_)),
            Self::Io(_) => false,
            _ => true,
        }
    }

    /// What the user can do about it.
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Resolve(error) => error.hints(),
            Self::Index(error) => error.hints(),
            Self::Invalid { .. } => vec![
                "restore `mlpack.lock` from version control, or delete it and run `mlpack lock` to write it anew"
                    .to_string(),
            ],
            Self::Version { .. } | Self::NoPlatform { .. } => {
                vec!["delete `mlpack.lock` and run `mlpack lock` to write it anew".to_string()]
            }
            Self::Hardware(error) => error.hints(),
            Self::Missing { .. } => vec!["run `mlpack lock` first".to_string()],
            Self::NotAPlatform {
                arch, platforms, ..
            } => vec![platforms::add_hint(*arch, platforms)],
            Self::CheckMissing { .. } | Self::LockedStale { .. } | Self::LockedUnpinnedBase { .. } => {
                vec!["run `mlpack lock` and commit `mlpack.lock`".to_string()]
            }
            Self::Stale { .. } | Self::CheckUnpinnedBase { .. } => {
                vec!["run `mlpack lock` and commit the new `mlpack.lock`".to_string()]
            }
            Self::SdistMetadata { hints, .. } => hints.clone(),
            Self::BasePython { wanted, .. } => vec![format!(
                "remove `[python] version` to use the image's Python, or name an image with Python {wanted} in `[base] image`"
            )],
            _ => Vec::new(),
        }
    }
}

impl Lockfile {
    /// Read the lock at `path`, which must exist (`tree`, `why`, `export`).
    pub fn read_existing(path: &Path) -> Result<Self, LockError> {
        Self::read(path)?.ok_or_else(|| LockError::Missing {
            path: path.to_path_buf(),
        })
    }

    /// Read the lock at `path`; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, LockError> {
        let bytes = match fs_err::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LockError::io("read", path, source)),
        };
        let invalid = |message: String| LockError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let at = |text: &str, offset: usize, message: &str| {
            let position = crate::source::LineIndex::new(text).position(text, offset);
            invalid(format!(
                "line {}, column {}: {message}",
                position.line, position.column
            ))
        };
        // Not UTF-8 is the lock's fault, not the disk's: a garbage file is the user's to fix.
        let text = String::from_utf8(bytes).map_err(|error| {
            let valid = error.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&error.as_bytes()[..valid]);
            at(&prefix, valid, "not UTF-8 text")
        })?;
        let lock: Self = toml::from_str(&text).map_err(|error| {
            let offset = error.span().map_or(0, |span| span.start);
            at(&text, offset, error.message().trim())
        })?;
        let major = |version: &str| version.split('.').next().map(str::to_string);
        let known = [LOCK_VERSION, MULTI_PLATFORM_LOCK_VERSION].map(major);
        if !known.contains(&major(&lock.lock_version)) {
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
        atomic_file::write(path, self.to_toml().as_bytes(), Durability::Synced)
            .map_err(|source| LockError::io("write", path, source))
    }

    /// The Debian base's pins, when the base is one.
    pub fn debian_base(&self) -> Option<&LockedBase> {
        match &self.base {
            Some(PinnedBase::Debian(base)) => Some(base),
            _ => None,
        }
    }

    /// The registry image the base is, when it is one.
    pub fn image_base(&self) -> Option<&LockedImage> {
        match &self.base {
            Some(PinnedBase::Image(image)) => Some(image),
            _ => None,
        }
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
        let markers = target.marker_environment();
        let mut packages = Vec::new();
        for package in &resolution.packages {
            let mut why: Vec<String> = inputs
                .roots
                .iter()
                .filter(|root| {
                    root.requirement.name == package.name
                        && root.requirement.marker.evaluate(&markers, &[])
                })
                .map(|root| root.origin.clone())
                .collect();
            why.extend(
                parents
                    .get(&package.name)
                    .into_iter()
                    .flatten()
                    .map(|parent| format!("{DEPENDENCY_OF}{parent}")),
            );
            let (wheels, sdist, build) = match &package.file {
                ResolvedFile::Wheel(file) => (vec![locked_file(file, &package.index)?], None, None),
                ResolvedFile::Sdist(file, build_system) => (
                    Vec::new(),
                    Some(locked_file(file, &package.index)?),
                    Some(LockedBuild {
                        backend: build_system.backend.clone(),
                        backend_path: build_system.backend_path.clone(),
                        requires: build_system.requires.clone(),
                        environment: Vec::new(),
                        wheel: None,
                    }),
                ),
            };
            packages.push(LockedPackage {
                name: package.name.to_string(),
                version: package.version.to_string(),
                platforms: Vec::new(),
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
                wheels,
                sdist,
                build,
            });
        }
        Ok(Self {
            lock_version: LOCK_VERSION.to_string(),
            created_by: format!("mlpack {}", env!("CARGO_PKG_VERSION")),
            platforms: Vec::new(),
            target: target.clone(),
            inputs: Inputs {
                sha256,
                requirements: inputs.describe(),
                verified_imports: inputs
                    .verified
                    .iter()
                    .map(|(import, name)| (import.clone(), name.to_string()))
                    .collect(),
            },
            hardware: None,
            base: None,
            system_libraries: None,
            system_packages: None,
            packages,
            build_packages: Vec::new(),
            other_platforms: BTreeMap::new(),
        })
    }

    /// Pin the resolved build environment of the sdist `package` into its `[packages.build]`
    /// and `[[build-packages]]` (shared by every sdist that needs the same wheel).
    pub fn add_build_environment(
        &mut self,
        package: &PackageName,
        environment: &Resolution,
    ) -> Result<(), MissingHash> {
        let mut pins = Vec::new();
        for mut entry in locked_packages(environment)? {
            pins.push(format!("{}=={}", entry.name, entry.version));
            let why = format!("{BUILD_REQUIREMENT_OF}{package}");
            if let Some(existing) = self
                .build_packages
                .iter_mut()
                .find(|existing| existing.name == entry.name && existing.version == entry.version)
            {
                if !existing.why.contains(&why) {
                    existing.why.push(why);
                }
                continue;
            }
            entry.why = vec![why];
            self.build_packages.push(entry);
        }
        if let Some(build) = self
            .packages
            .iter_mut()
            .find(|entry| entry.name == package.as_ref())
            .and_then(|entry| entry.build.as_mut())
        {
            build.environment = pins;
        }
        self.build_packages
            .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Ok(())
    }

    /// The `[[build-packages]]` entries the sdist `package` builds with.
    pub fn build_environment(&self, package: &LockedPackage) -> Vec<&LockedPackage> {
        let Some(build) = &package.build else {
            return Vec::new();
        };
        self.build_packages
            .iter()
            .filter(|entry| {
                build
                    .environment
                    .contains(&format!("{}=={}", entry.name, entry.version))
            })
            .collect()
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

/// The wheel-only resolution of a build environment as lock entries (no `why`).
pub fn locked_packages(resolution: &Resolution) -> Result<Vec<LockedPackage>, MissingHash> {
    let mut packages = Vec::new();
    for resolved in &resolution.packages {
        let ResolvedFile::Wheel(file) = &resolved.file else {
            continue;
        };
        packages.push(LockedPackage {
            name: resolved.name.to_string(),
            version: resolved.version.to_string(),
            platforms: Vec::new(),
            index: resolved.index.clone(),
            extras: resolved.extras.iter().map(ToString::to_string).collect(),
            dependencies: resolved
                .dependencies
                .iter()
                .map(|name| Dependency {
                    name: name.to_string(),
                })
                .collect(),
            why: Vec::new(),
            wheels: vec![locked_file(file, &resolved.index)?],
            sdist: None,
            build: None,
        });
    }
    Ok(packages)
}

/// The lock's entry for an index file, which must carry a sha256.
fn locked_file(file: &crate::pypi::DistFile, index: &str) -> Result<LockedWheel, MissingHash> {
    let sha256 = file.sha256.clone().ok_or_else(|| MissingHash {
        file: file.filename.clone(),
        index: index.to_string(),
    })?;
    Ok(LockedWheel {
        name: file.filename.clone(),
        url: file.url.clone(),
        size: file.size,
        hashes: Hashes { sha256 },
    })
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
