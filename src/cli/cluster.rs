//! The commands on cluster runs: `mlpack cancel RUN` and `mlpack logs RUN [--rank K]`, each
//! one `train::cluster` function. Starting a cluster run is `mlpack train --on` (`train`).

use std::path::{Path, PathBuf};

use super::progress::report_cluster_event;
use super::{ExitStatus, Printer};
use crate::error::Result;
use crate::train::cluster::ClusterEvent;

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
    let (mut record, run_dir) = find(directory, id)?;
    // A run whose `train` was killed while it waited is finished here, so `-f` stops.
    crate::train::cluster::settle(&mut record, &run_dir)?;
    let mut report = |event: ClusterEvent<'_>| report_cluster_event(&event, printer);
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
