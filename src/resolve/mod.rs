//! Resolution: from root requirements to one exact, wheel-backed version of every package, for
//! one target interpreter and platform, with PubGrub (the `pubgrub` crate) over PEP 440 ranges.
//!
//! Rules, in the order they apply to a candidate version:
//! 1. its files must fit the target: `Requires-Python`, and a wheel whose tags the target
//!    accepts (a version with only an sdist is skipped and named if nothing else fits);
//! 2. yanked files are used only when a requirement pins that version exactly (PEP 592);
//! 3. pre-releases are used when asked (`prerelease`, or a requirement naming one), or when
//!    only pre-releases satisfy an explicit root requirement;
//! 4. among what remains, the current lock's version is kept when it still fits, else the newest.

mod candidates;
mod package;
mod provider;
mod report;
pub mod tags;
pub mod target;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName, Requirement};
use pubgrub::{DefaultStringReporter, PubGrubError, Ranges, Reporter};
use tokio::runtime::Handle;

pub use self::package::ResolvePackage;
use self::provider::Provider;
pub use self::target::Target;
use crate::error::Diagnostic;
use crate::pypi::{BuildSystem, DistFile, IndexClient, IndexMap, PypiError};

/// What the lock names as the index of a package from a direct reference (`name @ URL`).
pub const DIRECT_INDEX: &str = "direct";

/// A requirement of the project itself, and where it came from, in words: "the import of
/// `sklearn` at train.py:3", "`torch>=2` at mlpack.toml:6".
#[derive(Debug, Clone)]
pub struct RootRequirement {
    pub requirement: Requirement,
    pub origin: String,
}

/// Everything besides the requirements that decides the result.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    pub target: Target,
    pub indexes: IndexMap,
    /// Versions to keep when they still fit (the current lock's).
    pub preferences: HashMap<PackageName, Version>,
    /// Constraints: limit a package's versions if it is needed at all.
    pub constraints: HashMap<PackageName, Ranges<Version>>,
    /// Allow pre-releases of every package.
    pub prerelease: bool,
    /// Limits with a reason: a version whose requirement on the package falls wholly outside
    /// the limit cannot be used, and the conflict says why (the `[hardware]` CUDA target).
    pub limits: HashMap<PackageName, Limit>,
    /// Refuse sdists: only versions with a wheel for the target are used (uv's `--no-build`).
    pub no_build: bool,
    /// Stop at the first sdist whose metadata needs its backend, with
    /// [`ResolveError::DynamicMetadata`], so the caller can build it; else such a version is
    /// unusable.
    pub build_metadata: bool,
}

/// An sdist whose metadata its build backend must compute.
#[derive(Debug, Clone)]
pub struct DynamicSdist {
    pub name: PackageName,
    pub version: Version,
    pub file: DistFile,
    pub build_system: BuildSystem,
}

/// A range a package must stay in, and why, in words that finish "… cannot be used because
/// it needs `x` ==1, but {reason}".
#[derive(Debug, Clone)]
pub struct Limit {
    pub range: Ranges<Version>,
    pub reason: String,
}

/// One locked distribution.
#[derive(Debug, Clone)]
pub struct ResolvedPackage {
    pub name: PackageName,
    pub version: Version,
    /// The wheel for the target, or the sdist `mlpack build` builds one from, with its build
    /// system.
    pub file: ResolvedFile,
    pub index: String,
    /// The extras the resolution activated.
    pub extras: BTreeSet<ExtraName>,
    /// Direct dependencies within the resolution, sorted.
    pub dependencies: Vec<PackageName>,
    pub requires_python: Option<String>,
}

/// What a locked package is installed from.
#[derive(Debug, Clone)]
pub enum ResolvedFile {
    Wheel(DistFile),
    Sdist(DistFile, BuildSystem),
}

impl ResolvedFile {
    pub fn file(&self) -> &DistFile {
        match self {
            Self::Wheel(file) | Self::Sdist(file, _) => file,
        }
    }
}

/// The outcome: every package, sorted by name.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub packages: Vec<ResolvedPackage>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Index(#[from] PypiError),
    #[error("`{name}` was not found on the package index `{index}`{}", origin.as_ref().map(|origin| format!(" (needed by {origin})")).unwrap_or_default())]
    NotFound {
        name: PackageName,
        index: String,
        origin: Option<String>,
        suggestion: Option<String>,
    },
    #[error("no set of packages satisfies the requirements on {target}:\n\n{explanation}")]
    NoSolution {
        target: String,
        explanation: String,
        hints: Vec<String>,
    },
    /// An sdist whose dependencies only its build backend can tell (and `build_metadata` is
    /// set: the caller builds its metadata and resolves again).
    #[error("the sdist of `{}` {} does not state its dependencies", .0.name, .0.version)]
    DynamicMetadata(Box<DynamicSdist>),
    #[error("internal resolver error: {0}")]
    Internal(String),
}

impl ResolveError {
    fn not_found(name: &PackageName, index: &str, roots: &[RootRequirement]) -> Self {
        Self::NotFound {
            name: name.clone(),
            index: index.to_string(),
            origin: roots
                .iter()
                .find(|root| root.requirement.name == *name)
                .map(|root| root.origin.clone()),
            suggestion: crate::scan::similar_project(name.as_ref()),
        }
    }
}

impl Diagnostic for ResolveError {
    /// What the user can do about it.
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Index(error) => error.hints(),
            Self::NotFound {
                suggestion: Some(suggestion),
                ..
            } => vec![format!("did you mean `{suggestion}`?")],
            Self::NotFound { name, .. } => vec![format!(
                "check the spelling of `{name}`, or pin the import's distribution in mlpack.toml under `[python.imports]`"
            )],
            Self::NoSolution { hints, .. } => hints.clone(),
            Self::Internal(_) | Self::DynamicMetadata(_) => Vec::new(),
        }
    }
}

/// Resolve `roots` for `options.target`. Blocks: call it from a thread that is not driving
/// `runtime` (the runtime must be driven elsewhere, e.g. by `block_on` on the main thread).
pub fn resolve(
    client: IndexClient,
    runtime: Handle,
    roots: &[RootRequirement],
    options: &ResolveOptions,
) -> Result<Resolution, ResolveError> {
    let provider = Provider::new(client, runtime, options, roots);
    let selected = match pubgrub::resolve(&provider, ResolvePackage::Root, Version::new([0])) {
        Ok(selected) => selected,
        Err(PubGrubError::NoSolution(tree)) => {
            let formatter = report::Formatter { roots };
            let clashes = report::library_clashes(&tree);
            let mut explanation: Vec<String> =
                clashes.iter().map(report::LibraryClash::explain).collect();
            explanation.push(DefaultStringReporter::report_with_formatter(
                &tree, &formatter,
            ));
            let mut hints = no_solution_hints(&provider, options);
            hints.extend(clashes.iter().map(|clash| {
                format!(
                    "pick versions of {} built for the same {} (each release's notes name its CUDA libraries), or lock the frameworks in separate projects",
                    clash.projects.join(" and "),
                    clash.library
                )
            }));
            return Err(ResolveError::NoSolution {
                target: options.target.describe(),
                explanation: explanation.join("\n\n"),
                hints,
            });
        }
        Err(
            PubGrubError::ErrorChoosingVersion { source, .. }
            | PubGrubError::ErrorRetrievingDependencies { source, .. },
        ) => return Err(source),
        Err(other) => return Err(ResolveError::Internal(other.to_string())),
    };
    let mut versions: BTreeMap<PackageName, (Version, BTreeSet<ExtraName>)> = BTreeMap::new();
    for (package, version) in selected.iter() {
        if let ResolvePackage::Package { name, extra } = package {
            let entry = versions
                .entry(name.clone())
                .or_insert_with(|| (version.clone(), BTreeSet::new()));
            entry.1.extend(extra.clone());
        }
    }
    let markers = options.target.marker_environment();
    let mut packages = Vec::new();
    for (name, (version, extras)) in &versions {
        let file = if let Some(wheel) = provider.wheel(name, version) {
            ResolvedFile::Wheel(wheel)
        } else {
            let sdist = provider.sdist(name, version);
            let info = provider.sdist_info(name, version)?;
            let (Some(sdist), Some(info)) = (sdist, info) else {
                return Err(ResolveError::Internal(format!(
                    "no wheel or sdist for `{name}` {version}"
                )));
            };
            ResolvedFile::Sdist(sdist, info.build_system.clone())
        };
        let metadata = provider.metadata(name, version)?;
        let active: Vec<Vec<ExtraName>> = std::iter::once(Vec::new())
            .chain(extras.iter().map(|extra| vec![extra.clone()]))
            .collect();
        let mut dependencies: Vec<PackageName> = metadata
            .requires_dist
            .iter()
            .filter(|requirement| {
                active
                    .iter()
                    .any(|extras| requirement.marker.evaluate(&markers, extras))
            })
            .map(|requirement| requirement.name.clone())
            .filter(|dependency| dependency != name && versions.contains_key(dependency))
            .collect();
        dependencies.sort();
        dependencies.dedup();
        packages.push(ResolvedPackage {
            name: name.clone(),
            version: version.clone(),
            requires_python: file.file().requires_python.clone(),
            index: if provider.is_direct(name) {
                DIRECT_INDEX.to_string()
            } else {
                options.indexes.index_for(name).to_string()
            },
            file,
            extras: extras.clone(),
            dependencies,
        });
    }
    Ok(Resolution { packages })
}

fn no_solution_hints(provider: &Provider<'_>, options: &ResolveOptions) -> Vec<String> {
    let unusable = provider.unusable.borrow();
    let mut hints = Vec::new();
    for (name, versions) in &unusable.no_wheel {
        let listed: Vec<String> = versions
            .iter()
            .rev()
            .take(5)
            .map(ToString::to_string)
            .collect();
        let (has, remedy) = if options.no_build {
            (
                "only an sdist, which `--no-build` refuses, or wheels for other platforms",
                "pin another version that has one, or drop `--no-build` and `[python] no-build`",
            )
        } else {
            (
                "only wheels for other platforms",
                "pin another version that has one",
            )
        };
        hints.push(format!(
            "`{name}` has no wheel for {} in version(s) {} ({has}); {remedy}",
            options.target.describe(),
            listed.join(", "),
        ));
    }
    for name in &unusable.prerelease_only {
        hints.push(format!("only pre-releases of `{name}` fit; require one explicitly (like `{name}>=X.Y.0rc1`) to allow them"));
    }
    hints.sort();
    hints
}
