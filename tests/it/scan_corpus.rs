//! `mlpack scan --offline` on the hand-audited corpus of real ML repositories and notebooks
//! (`tests/data/scan-corpus`, see its README): micro-averaged precision and recall of the
//! required distributions must not fall below what was measured (bench/RESULTS.md), so a
//! change that loses or invents dependencies on real code fails here.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::common::{TestContext, repo_root};

/// Measured with `--offline` when the corpus was audited, rounded down.
const MIN_PRECISION: f64 = 0.99;
const MIN_RECALL: f64 = 0.975;

#[test]
fn precision_and_recall_hold_on_real_projects() {
    let corpus = repo_root().join("tests/data/scan-corpus");
    let manifest: toml::Table =
        toml::from_str(&fs_err::read_to_string(corpus.join("corpus.toml")).unwrap()).unwrap();
    let context = TestContext::new();
    let (mut correct, mut found_total, mut met, mut truth_total) = (0, 0, 0, 0);
    let mut details = String::new();
    for project in manifest["project"].as_array().unwrap() {
        let dir = project["dir"].as_str().unwrap();
        let truth: Vec<BTreeSet<&str>> = project["truth"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item.as_str().unwrap().split('|').collect())
            .collect();
        let found = required_distributions(&context, &corpus.join(dir));
        let known: BTreeSet<&str> = truth.iter().flatten().copied().collect();
        let wrong: Vec<&String> = found
            .iter()
            .filter(|name| !known.contains(name.as_str()))
            .collect();
        let missed: Vec<&BTreeSet<&str>> = truth
            .iter()
            .filter(|item| !item.iter().any(|name| found.contains(*name)))
            .collect();
        correct += found.len() - wrong.len();
        found_total += found.len();
        met += truth.len() - missed.len();
        truth_total += truth.len();
        if !wrong.is_empty() || !missed.is_empty() {
            writeln!(
                details,
                "{dir}: missed {missed:?}, false positives {wrong:?}"
            )
            .unwrap();
        }
    }
    let precision = ratio(correct, found_total);
    let recall = ratio(met, truth_total);
    assert!(
        precision >= MIN_PRECISION && recall >= MIN_RECALL,
        "precision {precision:.3} ({correct}/{found_total}, at least {MIN_PRECISION}), \
         recall {recall:.3} ({met}/{truth_total}, at least {MIN_RECALL}):\n{details}"
    );
}

fn ratio(part: usize, whole: usize) -> f64 {
    f64::from(u32::try_from(part).unwrap()) / f64::from(u32::try_from(whole).unwrap())
}

/// `mlpack --json scan --offline DIR`: the distributions it reports as required.
fn required_distributions(context: &TestContext, dir: &std::path::Path) -> BTreeSet<String> {
    let output = context
        .mlpack(&["--json", "scan", "--offline"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", context.render(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    report["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|used| used["required"] == true)
        .map(|used| used["name"].as_str().unwrap().to_string())
        .collect()
}
