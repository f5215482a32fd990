//! What can go wrong building an image, each error with the hints that say what to do.

use std::path::PathBuf;

use crate::debian::DebianError;
use crate::error::{Diagnostic, IoError};
use crate::lock::{LockError, NeededLibrary};
use crate::oci::OciError;
use crate::oci::registry::RegistryError;
use crate::pypi::PypiError;
use crate::python::PythonVersion;
use crate::wheel::WheelError;

use super::sdist;
use super::{DockerfileError, InspectError, StepFailure};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "`[base] packages` adds Debian packages, which needs a Debian base that mlpack builds, but `{image}` is an image from a registry"
    )]
    PackagesOnImage { image: String },
    #[error("the base image `{image}` is not pinned in `mlpack.lock`")]
    UnpinnedImage { image: String },
    #[error("the base image `{image}` is not in the store, and `--offline` forbids pulling it")]
    OfflineImage { image: String },
    #[error("the base image `{image}` is for `{found}`, but the target is `{wanted}`")]
    ImageArch {
        image: String,
        found: String,
        wanted: String,
    },
    #[error("`{image}` provides Python {shipped}, but the project asks for Python {wanted}")]
    PythonMismatch {
        image: String,
        shipped: PythonVersion,
        wanted: PythonVersion,
        providers: Vec<String>,
    },
    #[error(
        "the base's Debian packages are not pinned in `mlpack.lock` yet, and `--offline` forbids fetching the Debian index"
    )]
    OfflineBase,
    #[error(
        "the base's Debian packages in `mlpack.lock` are missing or were pinned for other inputs, and `--locked` forbids changing the lock"
    )]
    LockedBase,
    #[error(
        "the system libraries in `mlpack.lock` are missing or were pinned for other wheels or another base, and `--locked` forbids changing the lock"
    )]
    LockedSystemLibraries,
    #[error(
        "the system libraries in `mlpack.lock` are missing or were pinned for other wheels or another base, and `--offline` forbids fetching the Debian index"
    )]
    OfflineSystemLibraries,
    #[error("no Debian package ships {}", describe_libraries(libraries))]
    UnresolvedLibraries { libraries: Vec<NeededLibrary> },
    #[error(
        "the base image `{image}` lacks {}, and it is not a Debian release mlpack can add packages to",
        describe_libraries(libraries)
    )]
    LibrariesOnImage {
        image: String,
        libraries: Vec<NeededLibrary>,
    },
    #[error(
        "the system packages in `mlpack.lock` are missing or were pinned for other names or another base, and `--locked` forbids changing the lock"
    )]
    LockedSystemPackages,
    #[error(
        "the system packages in `mlpack.lock` are missing or were pinned for other names or another base, and `--offline` forbids fetching the Debian index"
    )]
    OfflineSystemPackages,
    #[error(
        "`[build] system-packages` names `{name}`, but there is no package `{name}` in {suite}"
    )]
    UnknownSystemPackage {
        name: String,
        suite: String,
        codename: String,
        suggestion: Option<String>,
    },
    #[error(
        "`[build] system-packages` adds Debian packages, but the base image `{image}` is not a Debian release mlpack can add packages to"
    )]
    SystemPackagesOnImage { image: String },
    #[error(transparent)]
    SdistBuild(Box<sdist::SdistBuildFailure>),
    #[error(
        "compiling the Python packages to bytecode with `{python}` failed ({status}); the log's last lines:\n{tail}"
    )]
    Bytecode {
        python: String,
        status: String,
        tail: String,
    },
    #[error(transparent)]
    Step(Box<StepFailure>),
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error(transparent)]
    Dockerfile(#[from] DockerfileError),
    #[error(transparent)]
    DockerfileBuild(Box<super::DockerfileBuildError>),
    #[error("`{package}` is locked as an sdist, but no wheel was built from it")]
    Unbuilt { package: String },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("could not list the files of `{}`: {message}", path.display())]
    Walk { path: PathBuf, message: String },
    /// A download differs from what `mlpack.lock` pins for it.
    #[error(
        "the lock's hash disagrees with the file: `mlpack.lock` pins {entry} at {expected}, but the file from `{url}` has {actual}"
    )]
    LockHashMismatch {
        /// The lock's entry: `` the wheel `x.whl` of `x` 1.0 ``.
        entry: String,
        url: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Debian(#[from] DebianError),
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error(transparent)]
    Wheel(#[from] Box<WheelError>),
    #[error(transparent)]
    Index(#[from] PypiError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error(transparent)]
    Network(#[from] crate::network::StartError),
}

impl Diagnostic for BuildError {
    /// Whether the project, not the machine or network, is at fault.
    fn is_user_error(&self) -> bool {
        matches!(
            self,
            Self::PythonMismatch { .. }
                | Self::PackagesOnImage { .. }
                | Self::UnpinnedImage { .. }
                | Self::OfflineImage { .. }
                | Self::ImageArch { .. }
                | Self::OfflineBase
                | Self::LockedBase
                | Self::LockedSystemLibraries
                | Self::OfflineSystemLibraries
                | Self::LockedSystemPackages
                | Self::OfflineSystemPackages
                | Self::UnknownSystemPackage { .. }
                | Self::SystemPackagesOnImage { .. }
                | Self::UnresolvedLibraries { .. }
                | Self::LibrariesOnImage { .. }
                | Self::SdistBuild(_)
                | Self::Step(_)
                | Self::Dockerfile(_)
                | Self::DockerfileBuild(_)
                | Self::LockHashMismatch { .. }
                | Self::Wheel(_)
        ) || matches!(
            self,
            Self::Debian(crate::debian::DebianError::PinnedFileGone { .. })
        ) || matches!(
            self,
            Self::Index(PypiError::Offline { .. } | PypiError::HashMismatch { .. })
        ) || matches!(self, Self::Registry(error) if error.is_user_error())
            || matches!(self, Self::Lock(error) if error.is_user_error())
            || matches!(
                self,
                Self::Inspect(error) if !matches!(error, InspectError::Read { .. })
            )
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::PythonMismatch {
                providers, wanted, ..
            } if providers.is_empty() => {
                vec![format!(
                    "no Debian base mlpack knows ships Python {wanted}; use 3.11 (`debian:bookworm`) or 3.13 (`debian:trixie`) in `[python] version`"
                )]
            }
            Self::PythonMismatch { providers, .. } => {
                vec![format!("set `[base] image` to {}", providers.join(" or "))]
            }
            Self::OfflineBase => {
                vec!["run `mlpack build` once without `--offline` to pin the base".to_string()]
            }
            Self::UnknownSystemPackage {
                suggestion,
                codename,
                ..
            } => {
                let mut hints: Vec<String> = suggestion
                    .iter()
                    .map(|name| format!("did you mean `{name}`?"))
                    .collect();
                hints.push(format!("a package may be named otherwise than its command: find the one that ships a file with `apt-file search` or at https://packages.debian.org/{codename}/"));
                hints
            }
            Self::OfflineSystemPackages => vec![
                "run `mlpack build` once without `--offline` to pin the system packages"
                    .to_string(),
            ],
            Self::SystemPackagesOnImage { .. } => vec![
                "install them in the base image, or use a Debian bookworm or trixie image (`python:3.11-slim`) or `debian:bookworm` as the base".to_string(),
            ],
            Self::LockedBase | Self::LockedSystemLibraries | Self::LockedSystemPackages => {
                vec!["run `mlpack build` without `--locked` and commit `mlpack.lock`".to_string()]
            }
            Self::OfflineSystemLibraries => vec![
                "run `mlpack build` once without `--offline` to pin the system libraries"
                    .to_string(),
            ],
            Self::UnresolvedLibraries { .. } => vec![
                "if a Debian package installs it elsewhere (through alternatives, say), add that package to `[base] packages`; else use a wheel that bundles it (a manylinux wheel repaired by auditwheel)".to_string(),
            ],
            Self::LibrariesOnImage { .. } => vec![
                "install them in the base image, or use a Debian bookworm or trixie image (`python:3.11-slim`) or `debian:bookworm` as the base, where mlpack adds them".to_string(),
            ],
            Self::PackagesOnImage { .. } => vec![
                "remove `[base] packages`, or build on `debian:bookworm` or `debian:trixie`"
                    .to_string(),
            ],
            Self::LockHashMismatch { .. } => vec![
                "if `mlpack.lock` was edited (by hand or in a merge), restore it from version control, or delete it and run `mlpack lock`; if not, the file changed where it is served since it was locked".to_string(),
            ],
            Self::UnpinnedImage { .. } => {
                vec!["run `mlpack lock` to pin it, and commit `mlpack.lock`".to_string()]
            }
            Self::OfflineImage { image } => vec![format!(
                "run `mlpack pull {image}`, or run once without `--offline`"
            )],
            Self::ImageArch { .. } => {
                vec!["pick the target with `--arch`, or use a multi-platform image".to_string()]
            }
            Self::SdistBuild(failure) => failure.hints(),
            Self::Step(failure) => failure.hints(),
            Self::Runtime(error) => error.hints(),
            Self::Dockerfile(error) => error.hints(),
            Self::DockerfileBuild(error) => error.hints(),
            Self::Registry(error) => error.hints(),
            Self::Inspect(error) => error.hints(),
            Self::Debian(error) => error.hints(),
            Self::Oci(error) => error.hints(),
            Self::Wheel(error) => error.hints(),
            Self::Index(error) => error.hints(),
            Self::Lock(error) => error.hints(),
            _ => Vec::new(),
        }
    }
}

impl From<super::DockerfileBuildError> for BuildError {
    fn from(error: super::DockerfileBuildError) -> Self {
        Self::DockerfileBuild(Box::new(error))
    }
}

/// `` `libGL.so.1` (needed by `cv2/cv2.abi3.so` in `opencv-python`) ``, joined with "and".
fn describe_libraries(libraries: &[NeededLibrary]) -> String {
    libraries
        .iter()
        .map(|library| {
            format!(
                "`{}` (needed by `{}` in `{}`)",
                library.soname, library.file, library.wheel
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}
