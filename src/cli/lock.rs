//! `mlpack lock`: settings from flags, then the lock module's plan: reuse the lock when its
//! inputs are unchanged, else resolve and write it atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Context, Result};
use pep508_rs::PackageName;

use super::{ExitStatus, Printer, UserError};
use crate::arch::Arch;
use crate::lock::{LOCK_FILE, LockPlan, LockSettings, LockedImage, Lockfile, changes};
use crate::manifest::{LoadedManifest, Manifest, project_path};
use crate::python::PythonVersion;

#[derive(Debug, clap::Args)]
pub(super) struct LockArgs {
    /// The project [default: the `-C` directory].
    dir: Option<PathBuf>,
    /// Do not write: exit 1 if `mlpack.lock` is missing or its inputs changed (for CI).
    #[arg(long)]
    check: bool,
    /// Re-resolve every package to its newest fitting version.
    #[arg(short = 'U', long)]
    upgrade: bool,
    /// Re-resolve this package to its newest fitting version; keep the others.
    #[arg(short = 'P', long, value_name = "PACKAGE")]
    upgrade_package: Vec<PackageName>,
    #[command(flatten)]
    resolver: ResolverArgs,
}

/// Flags every command that may lock shares.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct ResolverArgs {
    /// Use only the cache; fail and say what is missing instead of asking the network.
    #[arg(long, env = "MLPACK_OFFLINE", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) offline: bool,
    /// Ignore files uploaded after this date (`2026-01-01` or an RFC 3339 time).
    #[arg(long, value_name = "DATE", env = "MLPACK_EXCLUDE_NEWER")]
    exclude_newer: Option<String>,
    /// Allow pre-releases of every package.
    #[arg(long)]
    prerelease: bool,
    /// The target Python [default: `[python] version`, else the base's].
    #[arg(long, value_name = "VERSION")]
    python: Option<PythonVersion>,
    /// The target architecture (`x86_64` or `aarch64`) [default: this machine's].
    #[arg(long, value_name = "ARCH")]
    arch: Option<Arch>,
    /// Refuse sdists: use only versions with a wheel for the target (also `[python] no-build`).
    #[arg(long)]
    no_build: bool,
}

impl ResolverArgs {
    pub(super) fn settings(&self) -> LockSettings {
        LockSettings {
            python: self.python,
            arch: self.arch,
            prerelease: self.prerelease,
            no_build: self.no_build,
            exclude_newer: self.exclude_newer.clone(),
            offline: self.offline,
            upgrade: false,
            upgrade_packages: Vec::new(),
        }
    }
}

pub(super) fn run(args: &LockArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let project = args.dir.clone().unwrap_or_else(|| directory.to_path_buf());
    let loaded = Manifest::load(&project)?;
    let settings = LockSettings {
        upgrade: args.upgrade,
        upgrade_packages: args.upgrade_package.clone(),
        ..args.resolver.settings()
    };
    let base = if args.check {
        match pinned_in_lock(&project, &loaded, &args.resolver)? {
            Pin::Pinned(image) => Some(*image),
            Pin::Debian => None,
            Pin::Unpinned => {
                return Err(UserError::new(format!(
                    "`{}` is out of date: it does not pin the base image `{}`",
                    project_path(&project, Path::new(LOCK_FILE)).display(),
                    loaded.manifest.base.image
                ))
                .hint("run `mlpack lock` and commit the new `mlpack.lock`")
                .into());
            }
        }
    } else {
        base_image(
            &project,
            &loaded,
            &args.resolver,
            false,
            args.upgrade,
            printer,
        )?
    };
    let plan = LockPlan::new(&project, &loaded, &settings, base)?;
    warn_unresolved(&plan, printer);
    if args.check {
        return check(&plan, printer);
    }
    if plan.is_fresh() && !args.upgrade && args.upgrade_package.is_empty() {
        printer.status(&format!(
            "`{}` is up to date ({} packages)",
            plan.lock_path.display(),
            plan.existing.as_ref().map_or(0, |lock| lock.packages.len())
        ));
        return report(&plan, plan.existing.as_ref(), None, printer);
    }
    let started = Instant::now();
    let lock = resolve(&plan, &settings, &loaded.manifest)?;
    lock.write(&plan.lock_path)?;
    let seconds = started.elapsed().as_secs_f64();
    printer.status(&format!(
        "Resolved {} packages for {} in {seconds:.2}s",
        lock.packages.len(),
        plan.target.describe()
    ));
    for change in changes(plan.existing.as_ref(), &lock) {
        printer.status(&format!(" {change}"));
    }
    report_hardware(&plan, &lock, printer);
    report(&plan, Some(&lock), Some(seconds), printer)
}

/// Resolve `plan`; an sdist that does not state its dependencies has its backend compute
/// them in a build container (from the store).
fn resolve(plan: &LockPlan, settings: &LockSettings, manifest: &Manifest) -> Result<Lockfile> {
    let store = crate::oci::Store::open_default()?;
    let metadata = crate::build::SdistMetadata {
        store: &store,
        project: plan.lock_path.parent().unwrap_or(Path::new(".")),
        manifest,
        offline: settings.offline,
        reporter: &crate::build::NoReporter,
    };
    Ok(plan.resolve(settings, Some(&metadata))?)
}

/// Lock `project` if its lock is missing or stale; the lock to build from.
pub(super) fn ensure_locked(
    project: &Path,
    loaded: &crate::manifest::LoadedManifest,
    resolver: &ResolverArgs,
    locked: bool,
    printer: Printer,
) -> Result<Lockfile> {
    let settings = resolver.settings();
    let base = base_image(project, loaded, resolver, locked, false, printer)?;
    let plan = LockPlan::new(project, loaded, &settings, base)?;
    if let (true, Some(lock)) = (plan.is_fresh(), &plan.existing) {
        return Ok(lock.clone());
    }
    if locked {
        return Err(UserError::new(format!(
            "`{}` is missing or out of date, and `--locked` forbids changing it",
            plan.lock_path.display()
        ))
        .hint("run `mlpack lock` and commit `mlpack.lock`")
        .into());
    }
    warn_unresolved(&plan, printer);
    let started = Instant::now();
    let lock = resolve(&plan, &settings, &loaded.manifest)?;
    lock.write(&plan.lock_path)?;
    printer.status(&format!(
        "Resolved {} packages for {} in {:.2}s",
        lock.packages.len(),
        plan.target.describe(),
        started.elapsed().as_secs_f64()
    ));
    report_hardware(&plan, &lock, printer);
    Ok(lock)
}

/// What the existing lock says of a registry base.
enum Pin {
    /// The base is a Debian base mlpack builds.
    Debian,
    /// The lock pins `[base] image` for the target's architecture.
    Pinned(Box<LockedImage>),
    Unpinned,
}

fn pinned_in_lock(project: &Path, loaded: &LoadedManifest, resolver: &ResolverArgs) -> Result<Pin> {
    let manifest = &loaded.manifest;
    if !manifest.base.is_registry_image() {
        return Ok(Pin::Debian);
    }
    let arch = resolver.arch.unwrap_or_else(Arch::host);
    let existing = Lockfile::read(&project_path(project, Path::new(LOCK_FILE)))?;
    Ok(existing
        .as_ref()
        .and_then(Lockfile::image_base)
        .filter(|image| {
            image.image == manifest.base.image && image.arch.parse::<Arch>() == Ok(arch)
        })
        .map_or(Pin::Unpinned, |image| Pin::Pinned(Box::new(image.clone()))))
}

/// The registry image `[base] image` names, pinned: the lock's pin while it names the same
/// image for the same architecture (no network), else pulled and read anew (never with
/// `--locked`; from the store only with `--offline`). `None` for a Debian base.
fn base_image(
    project: &Path,
    loaded: &LoadedManifest,
    resolver: &ResolverArgs,
    locked: bool,
    upgrade: bool,
    printer: Printer,
) -> Result<Option<LockedImage>> {
    let image = &loaded.manifest.base.image;
    match pinned_in_lock(project, loaded, resolver)? {
        Pin::Debian => return Ok(None),
        Pin::Pinned(pinned) if !upgrade => return Ok(Some(*pinned)),
        Pin::Pinned(_) | Pin::Unpinned => {}
    }
    crate::build::check_base(&loaded.manifest)?;
    if locked {
        return Err(UserError::new(format!(
            "`{}` does not pin the base image `{image}`, and `--locked` forbids changing it",
            project_path(project, Path::new(LOCK_FILE)).display()
        ))
        .hint("run `mlpack lock` and commit `mlpack.lock`")
        .into());
    }
    let store = crate::oci::Store::open_default()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let bars = super::registry::Bars::new(printer);
    let pinned = crate::build::pin_image_base(
        &runtime,
        &store,
        image,
        resolver.arch.unwrap_or_else(Arch::host),
        resolver.offline,
        &bars,
    );
    bars.clear();
    runtime.shutdown_background();
    let pinned = pinned?;
    printer.status(&format!(
        "Pinned the base image `{image}` to {} (Python {} at `{}`, glibc {})",
        pinned.digest, pinned.python_version, pinned.python, pinned.glibc
    ));
    Ok(Some(pinned))
}

fn report_hardware(plan: &LockPlan, lock: &Lockfile, printer: Printer) {
    if let Some(summary) = crate::lock::hardware_summary(&plan.hardware, lock) {
        printer.status(&summary);
    }
}

fn warn_unresolved(plan: &LockPlan, printer: Printer) {
    for name in &plan.inputs.unresolved {
        printer.status(&format!("warning: the import `{name}` maps to no distribution and is not locked (see `mlpack scan`)"));
    }
}

fn check(plan: &LockPlan, printer: Printer) -> Result<ExitStatus> {
    match (&plan.existing, plan.is_fresh()) {
        (Some(_), true) => {
            printer.status(&format!("`{}` is up to date", plan.lock_path.display()));
            Ok(ExitStatus::Success)
        }
        (None, _) => Err(
            UserError::new(format!("`{}` does not exist", plan.lock_path.display()))
                .hint("run `mlpack lock` and commit `mlpack.lock`")
                .into(),
        ),
        (Some(_), false) => Err(UserError::new(format!(
            "`{}` is out of date: the requirements, target or indexes changed since it was written",
            plan.lock_path.display()
        ))
        .hint("run `mlpack lock` and commit the new `mlpack.lock`")
        .into()),
    }
}

fn report(
    plan: &LockPlan,
    lock: Option<&Lockfile>,
    seconds: Option<f64>,
    printer: Printer,
) -> Result<ExitStatus> {
    if printer.json {
        let packages: Vec<_> = lock
            .iter()
            .flat_map(|lock| &lock.packages)
            .map(|p| serde_json::json!({"name": p.name, "version": p.version, "wheel": p.wheels.first().map(|w| &w.name), "sdist": p.sdist.as_ref().map(|s| &s.name)}))
            .collect();
        printer.json(&serde_json::json!({
            "lock": plan.lock_path,
            "target": plan.target,
            "inputs_sha256": plan.hash,
            "resolved": seconds.is_some(),
            "seconds": seconds,
            "packages": packages,
            "hardware": lock.and_then(|lock| lock.hardware.as_ref()),
            "unresolved_imports": plan.inputs.unresolved,
        }))?;
    }
    Ok(ExitStatus::Success)
}
