//! Locking a project: settle the inputs and target, decide whether the existing lock still
//! holds, and otherwise resolve on the solver thread. Shared by `mlpack lock` and by the
//! commands that lock on the way (`mlpack build`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::str::FromStr;

use pep508_rs::PackageName;

use super::hardware::{HardwareTarget, LockedHardware};
use super::{LockError, LockInputs, LockedImage, LockedPackage, Lockfile, PinnedBase, Platforms};
use crate::arch::Arch;
use crate::error::FromIo;
use crate::manifest::LoadedManifest;
use crate::network::Network;
use crate::project::Project;
use crate::pypi::{IndexClient, IndexMap};
use crate::python::PythonVersion;
use crate::resolve::{self, DynamicSdist, ResolveError, ResolveOptions, Target};
use crate::scan::{self, ScanOptions, Scope};

/// How to lock, from the command line.
#[derive(Debug, Clone, Default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches, each a flag of `mlpack lock`"
)]
pub struct LockSettings {
    pub python: Option<PythonVersion>,
    pub arch: Option<Arch>,
    pub prerelease: bool,
    /// Refuse sdists (with `[python] no-build`).
    pub no_build: bool,
    pub exclude_newer: Option<String>,
    pub offline: bool,
    pub upgrade: bool,
    pub upgrade_packages: Vec<PackageName>,
}

/// Everything the lock depends on, settled before any network access.
#[derive(Debug)]
pub struct LockPlan {
    pub lock_path: PathBuf,
    pub inputs: LockInputs,
    /// The target of the platform the command builds for.
    pub target: Target,
    /// Each platform the lock holds, the first being the lock's `[target]`.
    pub platforms: Vec<PlatformPlan>,
    /// The architecture the command builds for.
    pub selected: Arch,
    pub indexes: IndexMap,
    /// The inputs' hash: equal to the existing lock's when nothing that matters changed.
    pub hash: String,
    pub existing: Option<Lockfile>,
    pub hardware: HardwareTarget,
    /// Refuse sdists: the flag or `[python] no-build`.
    pub no_build: bool,
    /// What the check of unmapped imports on the index could not ask (an unreachable
    /// index): those imports stay unlocked, and the user should know why.
    pub verify_warnings: Vec<String>,
}

/// One platform of a lock: its target, and the registry image it builds on, pinned for its
/// architecture (`None` for a Debian base).
#[derive(Debug, Clone)]
pub struct PlatformPlan {
    pub target: Target,
    pub base_image: Option<LockedImage>,
}

impl LockPlan {
    /// The plan for `project`, whose lock as read is `existing`, for `platforms`;
    /// `base_images` has, for each of them, the pinned registry image when `[base] image`
    /// names one (see [`Lockfile::image_base`]), whose interpreter and glibc are the target.
    ///
    /// With `network`, imports no table maps are verified on the index (`scan::verify`) and
    /// the ones a wheel provides become requirements; without it (`--check`, `--locked`), only
    /// the existing lock's recorded verdicts map them.
    pub fn new(
        project: &Project,
        settings: &LockSettings,
        platforms: &Platforms,
        base_images: Vec<Option<LockedImage>>,
        existing: Option<Lockfile>,
        network: Option<&Network>,
    ) -> Result<Self, LockError> {
        let loaded = &project.loaded;
        let manifest = &loaded.manifest;
        let wanted = settings.python.or(manifest.python.version);
        let image_targets = image_targets(platforms, &base_images, wanted)?;
        let python = match image_targets.first() {
            Some(Some(target)) => target.python,
            _ => settings.python.unwrap_or_else(|| manifest.python_version()),
        };
        let recorded = recorded_verdicts(existing.as_ref());
        let mut pins = pins(loaded)?;
        for (import, name) in &recorded {
            pins.entry(import.clone()).or_insert_with(|| name.clone());
        }
        let options = ScanOptions {
            python,
            pins,
            skip_dirs: vec![manifest.outputs.dir.clone()],
            exclude: manifest.excluded_imports(),
        };
        let mut report = scan::scan(&project.dir, &options)?;
        let mut verified: BTreeMap<String, PackageName> = recorded
            .into_iter()
            .filter(|(import, _)| {
                report
                    .distributions
                    .iter()
                    .any(|used| used.imports.contains(import))
            })
            .collect();
        let mut verify_warnings = Vec::new();
        if let Some(network) = network
            && report
                .unresolved
                .iter()
                .any(|unresolved| unresolved.required)
        {
            let url = IndexClient::index_url(manifest.python.index_url.as_deref());
            let found =
                scan::verify_on_index(&mut report, url, settings.offline, network, Scope::Lock);
            verified.extend(found.imports);
            verify_warnings = found.warnings;
        }
        let mut inputs = LockInputs::gather(&project.dir, loaded, &report)?;
        inputs.verified = verified;
        let platform_plans: Vec<PlatformPlan> = platforms
            .all
            .iter()
            .zip(image_targets)
            .zip(base_images)
            .map(|((arch, image_target), base_image)| PlatformPlan {
                target: image_target
                    .unwrap_or_else(|| Target::for_base(&manifest.base.image, python, *arch)),
                base_image,
            })
            .collect();
        let indexes = index_map(loaded)?;
        let hardware = HardwareTarget::decide(&manifest.hardware, host_driver)?;
        let mut resolver_settings = vec![
            ("resolver", RESOLVER_REVISION.to_string()),
            ("prerelease", settings.prerelease.to_string()),
            (
                "exclude-newer",
                settings.exclude_newer.clone().unwrap_or_default(),
            ),
        ];
        // A Debian base is named by the target already (and adding it would make every
        // existing lock stale); an image is named by its reference and digest.
        for image in platform_plans
            .iter()
            .filter_map(|plan| plan.base_image.as_ref())
        {
            resolver_settings.push(("base-image", format!("{} {}", image.image, image.digest)));
        }
        resolver_settings.extend(HardwareTarget::settings(&manifest.hardware));
        // A local library's content decides its metadata: an edit makes the lock stale.
        for (name, dir) in inputs.local_directories() {
            let digest = crate::pypi::directory_digest(&dir)
                .map_err(|source| LockError::io("read", &dir, source))?;
            resolver_settings.push(("directory", format!("{name} {digest}")));
        }
        let no_build = settings.no_build || manifest.python.no_build;
        // Only when set, so locks written before sdists were built stay fresh.
        if no_build {
            resolver_settings.push(("no-build", "true".to_string()));
        }
        let targets: Vec<&Target> = platform_plans.iter().map(|plan| &plan.target).collect();
        let hash = inputs.hash(&targets, &indexes, &resolver_settings);
        // `Platforms` holds its selected one among `all`, whose first is there in any case.
        let target = platform_plans
            .iter()
            .find(|plan| plan.target.arch == platforms.selected)
            .unwrap_or(&platform_plans[0])
            .target
            .clone();
        Ok(Self {
            lock_path: project.lock_path.clone(),
            inputs,
            target,
            platforms: platform_plans,
            selected: platforms.selected,
            indexes,
            hash,
            existing,
            hardware,
            no_build,
            verify_warnings,
        })
    }

    /// `CPython 3.11 on manylinux_2_36 x86_64`, each platform's, for messages.
    pub fn describe_targets(&self) -> String {
        let targets: Vec<String> = self
            .platforms
            .iter()
            .map(|plan| plan.target.describe())
            .collect();
        targets.join(" and ")
    }

    /// Whether the existing lock was computed from these very inputs.
    pub fn is_fresh(&self) -> bool {
        self.existing
            .as_ref()
            .is_some_and(|lock| lock.inputs.sha256 == self.hash)
    }

    /// Resolve each platform anew and merge the locks (see [`Lockfile::merge`]).
    pub fn resolve(
        &self,
        settings: &LockSettings,
        metadata: Option<&dyn MetadataBuilder>,
        network: &Network,
    ) -> Result<Lockfile, LockError> {
        let mut locks = Vec::new();
        for platform in &self.platforms {
            locks.push(self.resolve_platform(platform, settings, metadata, network)?);
        }
        let first = locks.remove(0);
        Ok(Lockfile::merge(first, locks))
    }

    /// Resolve one platform anew, keeping the existing lock's versions where they still fit
    /// (unless told to upgrade), and carry over the base's pins. An sdist that does not state
    /// its dependencies has them computed by `metadata` (its build backend, run by `build`),
    /// and the resolution starts again with them; without `metadata` such a version is
    /// unusable.
    fn resolve_platform(
        &self,
        platform: &PlatformPlan,
        settings: &LockSettings,
        metadata: Option<&dyn MetadataBuilder>,
        network: &Network,
    ) -> Result<Lockfile, LockError> {
        let existing = self
            .existing
            .as_ref()
            .and_then(|lock| lock.for_platform(platform.target.arch));
        let mut preferences = match (&existing, settings.upgrade) {
            (Some(lock), false) => lock.preferences(),
            _ => HashMap::new(),
        };
        for name in &settings.upgrade_packages {
            preferences.remove(name);
        }
        let options = ResolveOptions {
            target: platform.target.clone(),
            indexes: self.indexes.clone(),
            preferences,
            constraints: self.inputs.constraint_ranges(),
            prerelease: settings.prerelease,
            limits: self.hardware.limits(),
            no_build: self.no_build,
            build_metadata: metadata.is_some(),
        };
        let mut client = IndexClient::builder()
            .offline(settings.offline)
            .exclude_newer(settings.exclude_newer.clone());
        if let Some(project) = self.lock_path.parent() {
            client = client.base_dir(project.to_path_buf());
        }
        let client = client.build()?;
        // After hashing: `auto` adds the CUDA extras only on a host with a driver, and the
        // lock must stay fresh on hosts without one.
        let mut roots = self.inputs.roots.clone();
        self.hardware.add_framework_extras(&mut roots);
        let mut built = 0;
        let (resolution, environments) = loop {
            let attempt = {
                let (client, roots, options) = (client.clone(), roots.clone(), options.clone());
                on_solver_thread(network, move |handle| {
                    let resolution =
                        resolve::resolve(client.clone(), handle.clone(), &roots, &options)?;
                    let environments = build_environments(&client, handle, &resolution, &options)?;
                    Ok((resolution, environments))
                })
            };
            match (attempt, metadata) {
                (Err(ResolveError::DynamicMetadata(sdist)), Some(builder))
                    if built < MAX_METADATA_BUILDS =>
                {
                    built += 1;
                    platform.build_metadata(network, &client, &options, &sdist, builder)?;
                }
                (attempt, _) => break attempt?,
            }
        };
        let mut lock = Lockfile::from_resolution(
            &resolution,
            &self.inputs,
            &platform.target,
            self.hash.clone(),
        )?;
        for (name, environment) in &environments {
            lock.add_build_environment(name, environment)?;
        }
        lock.hardware = LockedHardware::new(&self.hardware, &lock);
        // An image base was pinned by the caller. A Debian base's pins are `mlpack build`'s;
        // it re-checks them against their own inputs.
        // `--upgrade` drops them, so the next build pins the suite's current versions (a
        // point release removes the old ones from the mirror).
        lock.base = match &platform.base_image {
            Some(image) => Some(PinnedBase::Image(image.clone())),
            None if settings.upgrade => None,
            None => existing
                .as_ref()
                .and_then(Lockfile::debian_base)
                .map(|base| PinnedBase::Debian(base.clone())),
        };
        // Likewise the system libraries: `mlpack build` re-checks their inputs hash (the
        // wheels and the base) and pins them anew when it changed.
        // And the system packages: `mlpack build` re-checks them against the names and the
        // base.
        let system_packages = existing
            .as_ref()
            .and_then(|existing| existing.system_packages.clone());
        lock.system_libraries = existing.and_then(|existing| existing.system_libraries);
        lock.system_packages = system_packages;
        Ok(lock)
    }
}

/// Part of the inputs' hash: a lock written by a resolver that reads metadata differently is
/// stale. Revision 2 parses core metadata as `email.parser` does (revision 1 lost every
/// `Requires-Dist` after a blank continuation line), evaluates the project's own markers, and
/// locks sdists.
const RESOLVER_REVISION: &str = "2";

/// How many sdists' metadata one lock may build before it gives up: each build restarts the
/// resolution, and a resolution that keeps finding new ones is going nowhere.
const MAX_METADATA_BUILDS: usize = 32;

/// Runs an sdist's build backend to learn its metadata; `build` implements it with mlpack's
/// runtime, so that `lock` needs no container code of its own.
pub trait MetadataBuilder {
    /// The core metadata (`METADATA` text) the backend of `request.sdist` computes.
    fn prepare_metadata(
        &self,
        network: &Network,
        request: &MetadataRequest<'_>,
    ) -> Result<String, LockError>;
}

/// One sdist whose metadata is needed, with what its build needs.
pub struct MetadataRequest<'a> {
    pub sdist: &'a DynamicSdist,
    /// The locked build environment.
    pub environment: &'a [LockedPackage],
    pub target: &'a Target,
    /// The registry image the project builds on; `None` for a Debian base.
    pub base_image: Option<&'a LockedImage>,
}

impl PlatformPlan {
    /// Build the metadata of `sdist` (its build environment resolved first) and keep it in
    /// the index cache, where the next resolution finds it.
    fn build_metadata(
        &self,
        network: &Network,
        client: &IndexClient,
        options: &ResolveOptions,
        sdist: &DynamicSdist,
        builder: &dyn MetadataBuilder,
    ) -> Result<(), LockError> {
        let requires = sdist.build_system.requires.clone();
        let name = sdist.name.clone();
        let environment = {
            let (client, options) = (client.clone(), options.clone());
            on_solver_thread(network, move |handle| {
                build_environment(&client, handle, &name, &requires, &options)
            })?
        };
        let environment = super::locked_packages(&environment)?;
        let text = builder.prepare_metadata(
            network,
            &MetadataRequest {
                sdist,
                environment: &environment,
                target: &self.target,
                base_image: self.base_image.as_ref(),
            },
        )?;
        client.store_built_metadata(&sdist.file, &self.target.interpreter_key(), &text)?;
        Ok(())
    }
}

/// Run `work` on a thread of its own, which blocks on `network` while this thread drives it:
/// PubGrub is synchronous, and the index client's requests (and the prefetches) need the
/// runtime driven until the answer arrives.
fn on_solver_thread<T: Send + 'static>(
    network: &Network,
    work: impl FnOnce(&tokio::runtime::Handle) -> Result<T, ResolveError> + Send + 'static,
) -> Result<T, ResolveError> {
    let handle = network.handle().clone();
    network.block_on(async move {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = sender.send(work(&handle));
        });
        receiver.await.unwrap_or_else(|_| {
            Err(ResolveError::Internal(
                "the resolver thread stopped".to_string(),
            ))
        })
    })
}

/// The build environment of every sdist in `resolution`: its `[build-system] requires`,
/// resolved for the same target from wheels only (a build backend built from source would
/// need a build of its own), without the project's constraints, as pip and uv isolate builds.
fn build_environments(
    client: &IndexClient,
    runtime: &tokio::runtime::Handle,
    resolution: &resolve::Resolution,
    options: &ResolveOptions,
) -> Result<Vec<(PackageName, resolve::Resolution)>, ResolveError> {
    let mut environments = Vec::new();
    for package in &resolution.packages {
        let resolve::ResolvedFile::Sdist(_, build_system) = &package.file else {
            continue;
        };
        let environment = build_environment(
            client,
            runtime,
            &package.name,
            &build_system.requires,
            options,
        )?;
        environments.push((package.name.clone(), environment));
    }
    Ok(environments)
}

/// One sdist's build environment: `requires`, from wheels only, without the project's
/// constraints.
fn build_environment(
    client: &IndexClient,
    runtime: &tokio::runtime::Handle,
    name: &PackageName,
    requires: &[String],
    options: &ResolveOptions,
) -> Result<resolve::Resolution, ResolveError> {
    let options = ResolveOptions {
        constraints: HashMap::new(),
        limits: HashMap::new(),
        no_build: true,
        build_metadata: false,
        ..options.clone()
    };
    let roots = requires
        .iter()
        .filter_map(|requirement| requirement.parse().ok())
        .map(|requirement| resolve::RootRequirement {
            requirement,
            origin: format!("the build requirements of `{name}`"),
        })
        .collect::<Vec<_>>();
    resolve::resolve(client.clone(), runtime.clone(), &roots, &options)
}

/// The host's NVIDIA driver, for `accelerator = "auto"`; a driver mlpack cannot read counts
/// as none, so `auto` falls back to CPU as it says.
fn host_driver() -> Option<crate::hardware::DriverVersion> {
    crate::hardware::NvidiaDriver::detect()
        .ok()
        .flatten()
        .map(|driver| driver.version)
}

/// The target each platform's registry image gives (`None` for a Debian base), each checked
/// against the Python the project asks for.
fn image_targets(
    platforms: &Platforms,
    base_images: &[Option<LockedImage>],
    wanted: Option<PythonVersion>,
) -> Result<Vec<Option<Target>>, LockError> {
    let mut targets = Vec::new();
    for (arch, base_image) in platforms.all.iter().zip(base_images) {
        let Some(image) = base_image else {
            targets.push(None);
            continue;
        };
        let target = image_target(image, *arch)?;
        if let Some(wanted) = wanted
            && wanted != target.python
        {
            return Err(LockError::BasePython {
                image: image.image.clone(),
                shipped: image.python_version.clone(),
                wanted,
            });
        }
        targets.push(Some(target));
    }
    Ok(targets)
}

/// The target a registry image gives: its interpreter's version (`3.11.9`, or `3.11` taken
/// as `3.11.0`) and its glibc.
fn image_target(image: &LockedImage, arch: Arch) -> Result<Target, LockError> {
    let invalid = |message: String| LockError::BaseImage {
        image: image.image.clone(),
        message,
    };
    let mut parts = image.python_version.splitn(3, '.');
    let minor = match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        _ => {
            return Err(invalid(format!(
                "its Python version `{}` is not `MAJOR.MINOR[.PATCH]`",
                image.python_version
            )));
        }
    };
    let python = PythonVersion::from_str(&minor).map_err(|error| invalid(error.to_string()))?;
    let python_full = if parts.next().is_some() {
        image.python_version.clone()
    } else {
        format!("{python}.0")
    };
    let glibc = image
        .glibc
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
        .ok_or_else(|| {
            invalid(format!(
                "its glibc version `{}` is not `MAJOR.MINOR`",
                image.glibc
            ))
        })?;
    Ok(Target {
        python,
        python_full,
        implementation: "cpython".to_string(),
        arch,
        glibc,
    })
}

/// `+ numpy 2.1.0`, `- six 1.16.0`, `~ torch 2.4.0 -> 2.5.1`: what a new lock changed.
pub fn changes(old: Option<&Lockfile>, new: &Lockfile) -> Vec<String> {
    let versions = |lock: &Lockfile| -> BTreeMap<String, String> {
        lock.packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    };
    let before = old.map(versions).unwrap_or_default();
    let after = versions(new);
    let mut lines = Vec::new();
    for (name, version) in &after {
        match before.get(name) {
            None => lines.push(format!("+ {name} {version}")),
            Some(old) if old != version => lines.push(format!("~ {name} {old} -> {version}")),
            Some(_) => {}
        }
    }
    lines.extend(
        before
            .iter()
            .filter(|(name, _)| !after.contains_key(*name))
            .map(|(name, version)| format!("- {name} {version}")),
    );
    lines
}

/// The existing lock's verified imports (see [`super::Inputs::verified_imports`]); an entry
/// that is no distribution name is dropped, to be verified again.
fn recorded_verdicts(existing: Option<&Lockfile>) -> BTreeMap<String, PackageName> {
    existing
        .into_iter()
        .flat_map(|lock| &lock.inputs.verified_imports)
        .filter_map(|(import, name)| Some((import.clone(), PackageName::from_str(name).ok()?)))
        .collect()
}

fn pins(loaded: &LoadedManifest) -> Result<BTreeMap<String, PackageName>, LockError> {
    loaded
        .manifest
        .python
        .imports
        .iter()
        .map(|(import, name)| Ok((import.clone(), package_name(loaded, name)?)))
        .collect()
}

fn index_map(loaded: &LoadedManifest) -> Result<IndexMap, LockError> {
    let python = &loaded.manifest.python;
    let mut bound = BTreeMap::new();
    for index in &python.indexes {
        for name in &index.packages {
            bound.insert(
                package_name(loaded, name)?,
                index.url.trim_end_matches('/').to_string(),
            );
        }
    }
    Ok(IndexMap {
        default: IndexClient::index_url(python.index_url.as_deref())
            .trim_end_matches('/')
            .to_string(),
        bound,
    })
}

fn package_name(
    loaded: &LoadedManifest,
    name: &toml::Spanned<String>,
) -> Result<PackageName, LockError> {
    PackageName::from_str(name.get_ref()).map_err(|_| LockError::InvalidName {
        location: loaded.location(name),
        name: name.get_ref().clone(),
    })
}
