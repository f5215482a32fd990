//! `mlpack runs`: the project's training runs from their `outputs/<run-id>/run.json`, as a
//! table, or one run's whole record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::Result;

use super::{ExitStatus, Printer, UserError};
use crate::manifest::Manifest;
use crate::train::{RunId, RunRecord, list_runs};

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

/// The run whose ID is `id`, starts with it or ends with it: the end is the random part that
/// tells runs apart, and the part users copy, as with container IDs.
pub(super) fn find_run(outputs: &Path, id: &str) -> Result<RunRecord> {
    let runs: Vec<RunRecord> = list_runs(outputs)
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    match RunId::select(&runs, |run| &run.id, id).as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(
            UserError::new(format!("no run `{id}` in `{}`", outputs.display()))
                .hint("`mlpack runs` lists the runs")
                .into(),
        ),
        many => Err(UserError::new(format!(
            "`{id}` matches {} runs: {}",
            many.len(),
            many.iter()
                .map(|run| run.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("give more of the run ID, from its start or its end")
        .into()),
    }
}

pub(super) fn run(args: &RunsArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let loaded = Manifest::load(directory)?;
    let outputs = directory.join(&loaded.manifest.outputs.dir);
    // Newest first, in the table and in `--json` alike.
    let runs: Vec<RunRecord> = list_runs(&outputs)
        .into_iter()
        .rev()
        .map(|(_, record)| record)
        .collect();
    match &args.command {
        Some(RunsCommand::Show { id }) => printer.json(&find_run(&outputs, id)?)?,
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
        None if printer.json => printer.json(&runs)?,
        None => printer.result(&table(&runs))?,
    }
    Ok(ExitStatus::Success)
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
            run.exit_code.to_string(),
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

/// One line per difference, `what: before -> after`.
fn diff(a: &RunRecord, b: &RunRecord) -> Vec<String> {
    let mut changes = Vec::new();
    let mut compare = |what: &str, before: String, after: String| {
        if before != after {
            changes.push(format!("{what}: {before} -> {after}"));
        }
    };
    let git = |run: &RunRecord| {
        run.git.as_ref().map_or_else(
            || "none".to_string(),
            |git| {
                let dirty = if git.dirty { " (dirty)" } else { "" };
                format!("{}{dirty}", &git.commit[..12.min(git.commit.len())])
            },
        )
    };
    compare("code (git)", git(a), git(b));
    compare("image", a.image.digest.clone(), b.image.digest.clone());
    compare(
        "lock",
        a.lock_sha256.clone().unwrap_or_default(),
        b.lock_sha256.clone().unwrap_or_default(),
    );
    compare("command", a.command.join(" "), b.command.join(" "));
    let datasets = |run: &RunRecord| -> BTreeMap<String, String> {
        run.datasets
            .iter()
            .map(|dataset| (dataset.source.clone(), dataset.sha256.clone()))
            .collect()
    };
    let (data_a, data_b) = (datasets(a), datasets(b));
    let short = |value: Option<&String>| {
        value.map_or("absent".to_string(), |sha| {
            sha[..12.min(sha.len())].to_string()
        })
    };
    for source in data_a.keys().chain(data_b.keys()).collect::<BTreeSet<_>>() {
        compare(
            &format!("data `{source}`"),
            short(data_a.get(source)),
            short(data_b.get(source)),
        );
    }
    compare("exit", a.exit_code.to_string(), b.exit_code.to_string());
    let metrics = |run: &RunRecord| match &run.metrics {
        Some(serde_json::Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let (metrics_a, metrics_b) = (metrics(a), metrics(b));
    let show =
        |value: Option<&serde_json::Value>| value.map_or("absent".to_string(), ToString::to_string);
    for name in metrics_a
        .keys()
        .chain(metrics_b.keys())
        .collect::<BTreeSet<_>>()
    {
        compare(
            &format!("metric `{name}`"),
            show(metrics_a.get(name)),
            show(metrics_b.get(name)),
        );
    }
    changes
}
