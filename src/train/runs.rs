//! The project's recorded runs: finding one by a prefix or suffix of its ID, and what changed
//! between two.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{RunId, RunRecord, TrainError, list_runs};

/// The project's runs, newest first.
pub fn runs_newest_first(outputs: &Path) -> Vec<RunRecord> {
    list_runs(outputs)
        .into_iter()
        .rev()
        .map(|(_, record)| record)
        .collect()
}

/// The run whose ID is `id`, starts with it or ends with it: the end is the random part that
/// tells runs apart, and the part users copy, as with container IDs.
pub fn find_run(outputs: &Path, id: &str) -> Result<RunRecord, TrainError> {
    let runs: Vec<RunRecord> = list_runs(outputs)
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    match RunId::select(&runs, |run| &run.id, id).as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(TrainError::NoRun {
            id: id.to_string(),
            outputs: outputs.to_path_buf(),
        }),
        many => Err(TrainError::AmbiguousRun {
            id: id.to_string(),
            runs: many.iter().map(|run| run.id.to_string()).collect(),
        }),
    }
}

/// The latest run that exited 0.
pub fn latest_successful_run(outputs: &Path) -> Result<RunRecord, TrainError> {
    runs_newest_first(outputs)
        .into_iter()
        .find(|record| record.exit_code == 0)
        .ok_or_else(|| TrainError::NoSuccessfulRun {
            outputs: outputs.to_path_buf(),
        })
}

/// One line per difference, `what: before -> after`.
pub fn diff(a: &RunRecord, b: &RunRecord) -> Vec<String> {
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
