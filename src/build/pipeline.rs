//! From a project to its image, as the commands run it: lock if needed, then build. The
//! locking policy and the writing are `lock`'s (reuse a fresh lock, when to pin a registry
//! base anew, what `--check` and `--locked` refuse); this file supplies what only `build` can
//! do for it: pull a registry base to read it, and run an sdist's backend in a container to
//! learn its metadata.

use std::path::Path;
use std::time::Instant;

use super::{
    BuildError, BuildReport, BuildReporter, BuildRequest, NoReporter, PlannedLayer, SdistMetadata,
    check_base, planned_layers,
};
use crate::arch::Arch;
use crate::context::Context;
use crate::lock::{
    BasePin, LockError, LockEvent, LockPlan, LockReporter, LockSettings, LockedImage, Lockfile,
    Platforms, ProjectLock,
};
use crate::oci::ImageReference;
use crate::oci::registry::TransferProgress;
use crate::project::Project;

/// What the pipeline tells its user: locking's events, the pull of a registry base, and the
/// build's phases.
pub trait PipelineReporter: LockReporter + BuildReporter + TransferProgress {}

impl<T: LockReporter + BuildReporter + TransferProgress> PipelineReporter for T {}

/// How `mlpack lock` ran.
#[derive(Debug)]
pub enum LockOutcome {
    /// `--check` found the lock fresh.
    Checked,
    /// The lock's inputs are unchanged: nothing was written.
    Fresh,
    /// Resolved and written.
    Resolved { lock: Box<Lockfile>, seconds: f64 },
}

/// `mlpack lock`: the plan, and what became of the lock. `check` only compares.
pub fn lock_project(
    context: &Context,
    project: &Project,
    settings: &LockSettings,
    check: bool,
    reporter: &dyn PipelineReporter,
) -> Result<(LockPlan, LockOutcome), BuildError> {
    let platforms = platforms(project, settings)?;
    let existing = Lockfile::read(&project.lock_path)?;
    if check {
        let mut bases = Vec::new();
        for (_, pin) in base_pins(project, &platforms, existing.as_ref()) {
            bases.push(pin.for_check(&project.lock_path, &project.manifest().base.image)?);
        }
        let plan = LockPlan::new(project, settings, &platforms, bases, existing, None)?;
        plan.report_unresolved(reporter);
        plan.check()?;
        return Ok((plan, LockOutcome::Checked));
    }
    let mut bases = Vec::new();
    for (arch, pin) in base_pins(project, &platforms, existing.as_ref()) {
        let upgrade = settings.upgrade;
        bases.push(pin_base(
            context, project, settings, arch, pin, upgrade, false, reporter,
        )?);
    }
    let plan = LockPlan::new(
        project,
        settings,
        &platforms,
        bases,
        existing,
        Some(context.network()?),
    )?;
    plan.report_unresolved(reporter);
    if plan.is_fresh() && !settings.upgrade && settings.upgrade_packages.is_empty() {
        return Ok((plan, LockOutcome::Fresh));
    }
    let (lock, seconds) = resolve(context, project, &plan, settings, reporter)?;
    let lock = Box::new(lock.into_lockfile());
    Ok((plan, LockOutcome::Resolved { lock, seconds }))
}

/// The lock to build from: the existing one while its inputs are unchanged, else resolved and
/// written (refused with `locked`).
pub fn ensure_locked(
    context: &Context,
    project: &Project,
    settings: &LockSettings,
    locked: bool,
    reporter: &dyn PipelineReporter,
) -> Result<ProjectLock, BuildError> {
    let platforms = platforms(project, settings)?;
    let existing = Lockfile::read(&project.lock_path)?;
    let mut bases = Vec::new();
    for (arch, pin) in base_pins(project, &platforms, existing.as_ref()) {
        bases.push(pin_base(
            context, project, settings, arch, pin, false, locked, reporter,
        )?);
    }
    let network = if locked {
        None
    } else {
        Some(context.network()?)
    };
    let plan = LockPlan::new(project, settings, &platforms, bases, existing, network)?;
    if let Some(lock) = plan.fresh(locked)? {
        return Ok(lock);
    }
    plan.report_unresolved(reporter);
    Ok(resolve(context, project, &plan, settings, reporter)?.0)
}

/// The platforms to lock for (`[python] platforms`, by default this machine's) and the one
/// `--arch` builds for.
fn platforms(project: &Project, settings: &LockSettings) -> Result<Platforms, LockError> {
    Platforms::settle(&project.manifest().python.platforms, settings.arch)
}

/// What the existing lock says of the base for each platform.
fn base_pins(
    project: &Project,
    platforms: &Platforms,
    existing: Option<&Lockfile>,
) -> Vec<(Arch, BasePin)> {
    platforms
        .all
        .iter()
        .map(|&arch| {
            let view = existing.and_then(|lock| lock.for_platform(arch));
            (arch, BasePin::of(project.manifest(), view.as_ref(), arch))
        })
        .collect()
}

/// The registry base `[base] image` names, pinned: the lock's pin while it holds, else pulled
/// and read anew (from the store only with `--offline`). `None` for a Debian base.
#[expect(
    clippy::too_many_arguments,
    reason = "the pin's inputs, each from a different place"
)]
fn pin_base(
    context: &Context,
    project: &Project,
    settings: &LockSettings,
    arch: Arch,
    pin: BasePin,
    upgrade: bool,
    locked: bool,
    reporter: &dyn PipelineReporter,
) -> Result<Option<LockedImage>, BuildError> {
    let image = &project.manifest().base.image;
    pin.or_pin(upgrade, locked, &project.lock_path, image, || {
        check_base(project.manifest())?;
        let pinned = super::image_base::pin(
            context.network()?,
            context.store()?,
            image,
            arch,
            settings.offline,
            reporter,
        )?;
        reporter.event(LockEvent::PinnedBase(&pinned));
        Ok(pinned)
    })
}

/// Resolve `plan` and write the lock (and how long that took); an sdist that does not state its dependencies has its
/// backend compute them in a build container (from the store).
fn resolve(
    context: &Context,
    project: &Project,
    plan: &LockPlan,
    settings: &LockSettings,
    reporter: &dyn PipelineReporter,
) -> Result<(ProjectLock, f64), BuildError> {
    let started = Instant::now();
    let metadata = SdistMetadata {
        store: context.store()?,
        project: plan.lock_path.parent().unwrap_or(Path::new(".")),
        manifest: project.manifest(),
        offline: settings.offline,
        reporter: &NoReporter,
    };
    let lock = plan.resolve(settings, Some(&metadata), context.network()?)?;
    let lock = plan.write(lock)?;
    let seconds = started.elapsed().as_secs_f64();
    reporter.event(LockEvent::Resolved {
        plan,
        lock: &lock,
        seconds,
    });
    Ok((lock, seconds))
}

/// How to build, from the command line.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `NAME:TAG` [default: `[image]`, else the project's name and `latest`].
    pub tag: Option<String>,
    pub compression: Option<crate::manifest::Compression>,
    /// Fail instead of writing `mlpack.lock` (for CI).
    pub locked: bool,
    pub lock: LockSettings,
}

/// Lock if needed, then build the project's image into the store and tag it.
pub fn build_project(
    context: &Context,
    project: &Project,
    options: &BuildOptions,
    reporter: &dyn PipelineReporter,
) -> Result<BuildReport, BuildError> {
    let manifest = project.manifest();
    check_base(manifest)?;
    let mut lock = ensure_locked(context, project, &options.lock, options.locked, reporter)?;
    let reference: ImageReference = project
        .image_reference(options.tag.as_deref())
        .parse()
        .map_err(crate::oci::OciError::from)?;
    let project_name = project.name();
    let request = BuildRequest {
        project: &project.dir,
        manifest,
        project_name: &project_name,
        reference: &reference,
        compression: options.compression.unwrap_or(manifest.image.compression),
        offline: options.lock.offline,
        locked: options.locked,
        reporter,
    };
    super::build(context.network()?, context.store()?, &request, &mut lock)
}

/// Lock if needed, and the Python layers the image would get (`mlpack build --dry-run`).
pub fn plan_project(
    context: &Context,
    project: &Project,
    options: &BuildOptions,
    reporter: &dyn PipelineReporter,
) -> Result<Vec<PlannedLayer>, BuildError> {
    check_base(project.manifest())?;
    let lock = ensure_locked(context, project, &options.lock, options.locked, reporter)?;
    Ok(planned_layers(&lock))
}
