//! `mlpack train --on slurm` and the commands on cluster runs (`cancel`, `logs --rank`):
//! flags merged with `[cluster]`, then one `train::cluster` function each.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::args::BuildArgs;
use super::progress::PipelineProgress;
use super::{ExitStatus, Printer};
use crate::cluster::{Engine, Resources};
use crate::context::Context;
use crate::error::Result;
use crate::manifest::ClusterSection;
use crate::project::Project;
use crate::train::cluster::{ClusterEvent, ClusterTarget};

/// Where `mlpack train` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Target {
    /// This machine.
    Local,
    /// A Slurm cluster, through `sbatch`.
    Slurm,
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
    /// The queue: Slurm's partition [default: `[cluster] partition`].
    #[arg(long, value_name = "Q")]
    queue: Option<String>,
}

impl ClusterArgs {
    /// The engine the flags and `[cluster]` name; `None` to run on this machine.
    fn engine(&self, section: &ClusterSection) -> Option<Engine> {
        match self.on {
            Some(Target::Local) => None,
            Some(Target::Slurm) => Some(Engine::Slurm),
            None => section.engine,
        }
    }

    /// Flags first, then `[cluster]`, then the defaults.
    fn resources(&self, section: &ClusterSection) -> Resources {
        Resources {
            nodes: self.nodes.or(section.nodes).unwrap_or(1),
            gpus_per_node: self.gpus_per_node.or(section.gpus_per_node).unwrap_or(0),
            cpus_per_node: self.cpus_per_node.or(section.cpus_per_node),
            memory: self.memory.clone().or_else(|| section.memory.clone()),
            time: self.time.clone().or_else(|| section.time.clone()),
            queue: self.queue.clone().or_else(|| section.partition.clone()),
            account: section.account.clone(),
            extra: section.sbatch_options.clone(),
        }
    }
}

/// `mlpack train --on ENGINE`: build, submit, follow rank 0's log and record. `None` when
/// the run is local.
pub(super) fn train(
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
        resources: args.resources(section),
        dry_run: build_args.dry_run,
    };
    let progress = PipelineProgress::new(printer, false);
    let mut report = |event: ClusterEvent<'_>| report_event(&event, printer);
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
        Some(finished) => super::progress::report_finished(&finished, printer).map(Some),
        None => Ok(Some(ExitStatus::Success)),
    }
}

fn report_event(event: &ClusterEvent<'_>, printer: Printer) {
    match event {
        ClusterEvent::Written { run_id, script } => printer.status(&format!(
            "Wrote the job of run {run_id} to `{}` (not submitted: --dry-run)",
            script.display()
        )),
        ClusterEvent::Submitted {
            run_id,
            job_id,
            script,
        } => printer.status(&format!(
            "Submitted run {run_id} as Slurm job {job_id} (`{}`)",
            script.display()
        )),
        ClusterEvent::State(state) => printer.status(&format!("Job {}", state.as_str())),
        ClusterEvent::Output(bytes) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(bytes);
            let _ = stdout.flush();
        }
    }
}

#[derive(Debug, clap::Args)]
pub(super) struct CancelArgs {
    /// A cluster run: its ID, or a unique prefix or suffix of one.
    id: String,
}

/// `mlpack cancel RUN`.
pub(super) fn cancel(args: &CancelArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let (record, _) = find(directory, &args.id)?;
    let job = crate::train::cluster::cancel(&record)?;
    printer.status(&format!("Cancelled run {} (job {job})", record.id));
    Ok(ExitStatus::Success)
}

/// `mlpack logs RUN [--rank K] [-f]`.
pub(super) fn logs(
    directory: &Path,
    id: &str,
    rank: u32,
    follow: bool,
    printer: Printer,
) -> Result<ExitStatus> {
    let (record, run_dir) = find(directory, id)?;
    let mut report = |event: ClusterEvent<'_>| report_event(&event, printer);
    crate::train::cluster::logs(&record, &run_dir, rank, follow, &mut report)?;
    Ok(ExitStatus::Success)
}

/// Whether `id` names one of the project's cluster runs.
pub(super) fn is_cluster_run(directory: &Path, id: &str) -> bool {
    find(directory, id).is_ok_and(|(record, _)| record.cluster.is_some())
}

/// The project's run `id` and its directory.
fn find(directory: &Path, id: &str) -> Result<(crate::train::RunRecord, PathBuf)> {
    let loaded = crate::manifest::Manifest::load(directory)?;
    let outputs = directory.join(&loaded.manifest.outputs.dir);
    let record = crate::train::find_run(&outputs, id)?;
    let run_dir = outputs.join(record.id.as_str());
    Ok((record, run_dir))
}
