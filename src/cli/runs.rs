//! `mlpack runs`: the project's training runs from their `outputs/<run-id>/run.json`, as a
//! table, or one run's whole record.

use std::path::Path;

use crate::error::Result;

use super::{ExitStatus, Printer};
use crate::project::Project;
use crate::train::{RunRecord, diff, find_run, runs_newest_first};

#[derive(Debug, clap::Args)]
pub(super) struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum RunsCommand {
    /// Print one run's record.
    Show {
        /// A run ID, or a unique prefix or suffix of one.
        id: String,
    },
    /// Say what changed between two runs: code, lock, data, command, metrics.
    Diff { a: String, b: String },
}

pub(super) fn run(args: &RunsArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let outputs = Project::load(directory)?.outputs_dir();
    match &args.command {
        Some(RunsCommand::Show { id }) => {
            let mut run = find_run(&outputs, id)?;
            settle(&mut run, &outputs);
            printer.json(&run)?;
        }
        Some(RunsCommand::Diff { a, b }) => {
            let (a, b) = (find_run(&outputs, a)?, find_run(&outputs, b)?);
            let changes = diff(&a, &b);
            if printer.json {
                printer.json(&changes)?;
            } else if changes.is_empty() {
                printer.result("no differences in code, lock, data, command or metrics\n")?;
            } else {
                printer.result(&(changes.join("\n") + "\n"))?;
            }
        }
        // Newest first, in the table and in `--json` alike.
        None => {
            let mut runs = runs_newest_first(&outputs);
            for run in &mut runs {
                settle(run, &outputs);
            }
            if printer.json {
                printer.json(&runs)?;
            } else {
                printer.result(&table(&runs))?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// A cluster run brought up to date from its engine (see `train::cluster::settle`); an engine
/// that does not answer leaves the record as it was: the list is still worth showing.
fn settle(run: &mut RunRecord, outputs: &Path) {
    let run_dir = outputs.join(run.id.as_str());
    let _ = crate::train::cluster::settle(run, &run_dir);
}

/// A finished run's exit code, or a cluster run's state as its engine reported it.
fn exit_or_state(run: &RunRecord) -> String {
    match &run.cluster {
        Some(cluster) if cluster.state.is_active() => cluster.state.as_str().to_string(),
        _ => run.exit_code.to_string(),
    }
}

fn table(runs: &[RunRecord]) -> String {
    let now = jiff::Timestamp::now();
    let mut rows = vec![
        ["RUN", "STARTED", "IMAGE", "DATA", "EXIT", "METRICS"]
            .map(String::from)
            .to_vec(),
    ];
    for run in runs {
        let data = run.datasets.first().map_or("-", |dataset| {
            &dataset.sha256[..12.min(dataset.sha256.len())]
        });
        let image = run.image.digest.trim_start_matches("sha256:");
        rows.push(vec![
            run.id.to_string(),
            super::table::ago(&run.started, now),
            image[..12.min(image.len())].to_string(),
            data.to_string(),
            exit_or_state(run),
            key_metrics(run.metrics.as_ref()),
        ]);
    }
    super::table::render(&rows, &[4])
}

/// Up to four numeric metrics, `name=value`.
fn key_metrics(metrics: Option<&serde_json::Value>) -> String {
    let Some(serde_json::Value::Object(map)) = metrics else {
        return String::new();
    };
    map.iter()
        .filter(|(_, value)| value.is_number())
        .take(4)
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}
