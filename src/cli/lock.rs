//! `mlpack lock`: settings from flags, then `build::lock_project` (the lock module decides
//! and writes), and what became of the lock.

use std::path::{Path, PathBuf};

use crate::error::Result;
use pep508_rs::PackageName;

use super::args::ResolverArgs;
use super::progress::PipelineProgress;
use super::{ExitStatus, Printer};
use crate::build::LockOutcome;
use crate::context::Context;
use crate::lock::{LockPlan, Lockfile};
use crate::project::Project;

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

pub(super) fn run(
    args: &LockArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let project = Project::load(args.dir.as_deref().unwrap_or(directory))?;
    let settings = args.resolver.settings(args.upgrade, &args.upgrade_package);
    let progress = PipelineProgress::new(printer, true);
    let locked = crate::build::lock_project(context, &project, &settings, args.check, &progress);
    progress.finish();
    let (plan, outcome) = locked?;
    match outcome {
        LockOutcome::Checked => {
            printer.status(&format!("`{}` is up to date", plan.lock_path.display()));
            Ok(ExitStatus::Success)
        }
        LockOutcome::Fresh => {
            printer.status(&format!(
                "`{}` is up to date ({} packages)",
                plan.lock_path.display(),
                plan.existing.as_ref().map_or(0, |lock| lock.packages.len())
            ));
            report(&plan, plan.existing.as_ref(), None, printer)
        }
        LockOutcome::Resolved { lock, seconds } => {
            report(&plan, Some(&lock), Some(seconds), printer)
        }
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
            "platforms": plan.platforms.iter().map(|platform| &platform.target).collect::<Vec<_>>(),
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
