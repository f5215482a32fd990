//! `mlpack runs`: the project's training runs from their `outputs/<run-id>/run.json`, as a
//! table, or one run's whole record.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::{ExitStatus, Printer, UserError};
use crate::manifest::Manifest;
use crate::train::{RunRecord, list_runs};

#[derive(Debug, clap::Args)]
pub(super) struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum RunsCommand {
    /// Print one run's record.
    Show {
        /// A run ID, or a unique prefix of one.
        id: String,
    },
}

pub(super) fn run(args: &RunsArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let loaded = Manifest::load(directory)?;
    let outputs = directory.join(&loaded.manifest.outputs.dir);
    let runs: Vec<RunRecord> = list_runs(&outputs)
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    match &args.command {
        Some(RunsCommand::Show { id }) => {
            let matches: Vec<&RunRecord> = runs
                .iter()
                .filter(|run| run.id.starts_with(id.as_str()))
                .collect();
            match matches.as_slice() {
                [one] => printer.json(one)?,
                [] => {
                    return Err(UserError::new(format!(
                        "no run `{id}` in `{}`",
                        outputs.display()
                    ))
                    .hint("`mlpack runs` lists the runs")
                    .into());
                }
                _ => {
                    return Err(
                        UserError::new(format!("`{id}` matches {} runs", matches.len()))
                            .hint("give more of the run ID")
                            .into(),
                    );
                }
            }
        }
        None if printer.json => printer.json(&runs)?,
        None => printer.result(&table(&runs))?,
    }
    Ok(ExitStatus::Success)
}

fn table(runs: &[RunRecord]) -> String {
    let mut text = format!(
        "{:<20}  {:<20}  {:<12}  {:<12}  {:>4}  {}\n",
        "RUN", "STARTED", "IMAGE", "DATA", "EXIT", "METRICS"
    );
    for run in runs.iter().rev() {
        let data = run.datasets.first().map_or("-", |dataset| {
            &dataset.sha256[..12.min(dataset.sha256.len())]
        });
        let image = run.image.digest.trim_start_matches("sha256:");
        let _ = writeln!(
            text,
            "{:<20}  {:<20}  {:<12}  {:<12}  {:>4}  {}",
            run.id,
            run.started.get(..19).unwrap_or(&run.started),
            &image[..12.min(image.len())],
            data,
            run.exit_code,
            key_metrics(run.metrics.as_ref())
        );
    }
    text
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
