//! `mlpack train`, `mlpack reproduce` and `mlpack package`: settings from flags, then one
//! `train` function each, and the run's or the model image's summary.

use std::path::Path;

use crate::error::Result;

use super::args::BuildArgs;
use super::progress::{PipelineProgress, report_finished};
use super::{ExitStatus, Printer};
use crate::context::Context;
use crate::project::Project;

#[derive(Debug, clap::Args)]
pub(super) struct TrainArgs {
    #[command(flatten)]
    build: BuildArgs,
    #[command(flatten)]
    cluster: super::cluster::ClusterArgs,
    /// Arguments for the training command (after `--`).
    #[arg(last = true)]
    extra: Vec<String>,
}

pub(super) fn run(
    args: &TrainArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let project = Project::load(args.build.project_dir(directory))?;
    if let Some(status) = super::cluster::train(
        &args.cluster,
        &project,
        context,
        &args.build,
        &args.extra,
        printer,
    )? {
        return Ok(status);
    }
    let progress = PipelineProgress::new(printer, false);
    let finished = crate::train::train(
        context,
        &project,
        &args.build.options(),
        &args.extra,
        &progress,
    );
    progress.finish();
    report_finished(&finished?, printer)
}

#[derive(Debug, clap::Args)]
pub(super) struct ReproduceArgs {
    /// The run to repeat: its ID or a unique prefix.
    id: String,
}

pub(super) fn reproduce(
    args: &ReproduceArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let project = Project::load(directory)?;
    let progress = PipelineProgress::new(printer, false);
    let finished = crate::train::reproduce(context, &project, &args.id, &progress)?;
    report_finished(&finished, printer)
}

#[derive(Debug, clap::Args)]
pub(super) struct PackageArgs {
    /// The run whose outputs to package [default: the latest run that exited 0].
    id: Option<String>,
    /// The model image's name [default: `<image name>-model:<run id>`].
    #[arg(short, long, value_name = "NAME:TAG")]
    tag: Option<String>,
    /// The model image's command, split on whitespace [default: `[serve] command`].
    #[arg(long, value_name = "COMMAND")]
    cmd: Option<String>,
}

pub(super) fn package(
    args: &PackageArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let project = Project::load(directory)?;
    let packaged = crate::train::package_run(
        context.store()?,
        &project,
        args.id.as_deref(),
        args.tag.as_deref(),
        args.cmd.as_deref(),
    )?;
    if printer.json {
        printer.json(&serde_json::json!({"reference": packaged.reference, "digest": packaged.digest, "run": packaged.run}))?;
    } else {
        printer.status(&format!(
            "Packaged run {} as `{}` ({})",
            packaged.run, packaged.reference, packaged.digest
        ));
    }
    Ok(ExitStatus::Success)
}
