//! `mlpack train`, `mlpack reproduce` and `mlpack package`: settings from flags, then one
//! `train` function each, and the run's or the model image's summary.

use std::path::Path;

use crate::error::Result;

use super::args::BuildArgs;
use super::progress::{PipelineProgress, report_cluster_event, report_finished};
use super::{ExitStatus, Printer};
use crate::cluster::{Engine, Resources, WorkloadKind};
use crate::context::Context;
use crate::manifest::ClusterSection;
use crate::project::Project;
use crate::train::cluster::{ClusterEvent, ClusterTarget};

#[derive(Debug, clap::Args)]
pub(super) struct TrainArgs {
    #[command(flatten)]
    build: BuildArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
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
    if let Some(status) = on_cluster(
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

#[derive(Debug, clap::Args)]
pub(super) struct FingerprintArgs {
    /// A dataset: a directory or a file.
    path: std::path::PathBuf,
    /// The sha256 it must have; exits 1 when it differs.
    #[arg(long, value_name = "SHA256", requires = "run")]
    expect: Option<String>,
    /// The run whose record holds the expected fingerprint, for the message.
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// The directory of the file-hash cache to use (`fingerprints.json`): files whose path,
    /// size, mtime and inode it has are not read [default: mlpack's cache].
    #[arg(long, value_name = "DIR")]
    cache: Option<std::path::PathBuf>,
}

/// `mlpack fingerprint PATH [--expect SHA256 --run ID]`.
pub(super) fn fingerprint(args: &FingerprintArgs, printer: Printer) -> Result<ExitStatus> {
    let expected = args.expect.as_deref().zip(args.run.as_deref());
    let fingerprint =
        crate::train::cluster::check_fingerprint(&args.path, expected, args.cache.as_deref())?;
    if printer.json {
        printer.json(&fingerprint)?;
    } else {
        printer.result(&format!("{}\n", fingerprint.sha256))?;
    }
    Ok(ExitStatus::Success)
}

/// Where `mlpack train` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Target {
    /// This machine.
    Local,
    /// A Slurm cluster, through `sbatch`.
    Slurm,
    /// A Kubernetes cluster, through `kubectl` and its current context.
    Kubernetes,
}

#[derive(Debug, clap::Args)]
pub(super) struct ClusterArgs {
    /// Where to train [default: `[cluster] engine`, else `local`].
    #[arg(long = "on", value_enum, value_name = "ENGINE")]
    on: Option<Target>,
    /// Nodes [default: `[cluster] nodes`, else 1].
    #[arg(long, value_name = "N")]
    nodes: Option<u32>,
    /// GPUs per node; one process per GPU [default: `[cluster] gpus-per-node`, else 0].
    #[arg(long, value_name = "G")]
    gpus_per_node: Option<u32>,
    /// CPUs per node [default: `[cluster] cpus-per-node`, else the engine's].
    #[arg(long, value_name = "C")]
    cpus_per_node: Option<u32>,
    /// Memory per node, as the engine writes it (`64G`) [default: `[cluster] memory`].
    #[arg(long, value_name = "M")]
    memory: Option<String>,
    /// Time limit, as the engine writes it (`2:00:00`) [default: `[cluster] time`].
    #[arg(long, value_name = "T")]
    time: Option<String>,
    /// The queue: Slurm's partition, Kueue's LocalQueue on Kubernetes [default: `[cluster]
    /// partition`, `[cluster.kubernetes] queue`].
    #[arg(long, value_name = "Q")]
    queue: Option<String>,
    /// The Kubernetes workload [default: `[cluster.kubernetes] kind`, else `job`].
    #[arg(long, value_enum)]
    kind: Option<WorkloadKind>,
}

impl ClusterArgs {
    /// The engine the flags and `[cluster]` name; `None` to run on this machine.
    fn engine(&self, section: &ClusterSection) -> Option<Engine> {
        match self.on {
            Some(Target::Local) => None,
            Some(Target::Slurm) => Some(Engine::Slurm),
            Some(Target::Kubernetes) => Some(Engine::Kubernetes),
            None => section.engine,
        }
    }

    /// Flags first, then `[cluster]`, then the defaults.
    fn resources(&self, engine: Engine, section: &ClusterSection) -> Resources {
        let queue = match engine {
            Engine::Slurm => section.partition.clone(),
            Engine::Kubernetes => section.kubernetes.queue.clone(),
        };
        Resources {
            nodes: self.nodes.or(section.nodes).unwrap_or(1),
            gpus_per_node: self.gpus_per_node.or(section.gpus_per_node).unwrap_or(0),
            cpus_per_node: self.cpus_per_node.or(section.cpus_per_node),
            memory: self.memory.clone().or_else(|| section.memory.clone()),
            time: self.time.clone().or_else(|| section.time.clone()),
            queue: self.queue.clone().or(queue),
            account: section.account.clone(),
            extra: section.sbatch_options.clone(),
        }
    }
}

/// `mlpack train --on ENGINE`: build, submit, follow rank 0's log and record. `None` when
/// the run is local.
fn on_cluster(
    args: &ClusterArgs,
    project: &Project,
    context: &Context,
    build_args: &BuildArgs,
    extra: &[String],
    printer: Printer,
) -> Result<Option<ExitStatus>> {
    let section = &project.manifest().cluster;
    let Some(engine) = args.engine(section) else {
        return Ok(None);
    };
    let target = ClusterTarget {
        engine,
        resources: args.resources(engine, section),
        kind: args.kind.or(section.kubernetes.kind).unwrap_or_default(),
        dry_run: build_args.dry_run,
    };
    let progress = PipelineProgress::new(printer, false);
    let mut report = |event: ClusterEvent<'_>| report_cluster_event(&event, printer);
    let finished = crate::train::cluster::train(
        context,
        project,
        &build_args.options(),
        target,
        extra,
        &progress,
        &mut report,
    );
    progress.finish();
    match finished? {
        Some(finished) => report_finished(&finished, printer).map(Some),
        None => Ok(Some(ExitStatus::Success)),
    }
}
