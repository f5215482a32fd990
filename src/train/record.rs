//! The run record, `outputs/<run-id>/run.json`: what ran (command, image digest and layers,
//! lock hash, git state), on what (dataset fingerprints), where (host facts), with what result
//! (exit status, the sha256 of every output file, the job's `metrics.json`; see
//! [`super::outputs`] for how they are read).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RunId;

/// The record's file name in a run's directory.
pub const RUN_RECORD: &str = "run.json";
/// The log `train` tees the job's output into.
pub const TRAIN_LOG: &str = "train.log";
/// What the job may write to report its metrics.
pub const METRICS: &str = "metrics.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub started: String,
    pub finished: String,
    pub seconds: f64,
    pub exit_code: i32,
    pub command: Vec<String>,
    pub image: ImageRecord,
    /// The run this one repeated (`mlpack reproduce`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduces: Option<RunId>,
    pub lock_sha256: Option<String>,
    pub git: Option<GitRecord>,
    pub datasets: Vec<DatasetRecord>,
    /// Output file (relative to the run's directory) → sha256.
    pub outputs: BTreeMap<String, String>,
    /// What the job left that was not hashed, and why: links (never followed), FIFOs,
    /// sockets and devices (never opened), files over the size limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs_skipped: BTreeMap<String, String>,
    pub host: HostFacts,
    pub metrics: Option<serde_json::Value>,
    /// Why `metrics` is empty although the job left a `metrics.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_skipped: Option<String>,
    /// Where a cluster run ran: the engine, its job, nodes, GPUs and each rank's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::ClusterRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub reference: String,
    pub digest: String,
    pub layers: Vec<String>,
}

impl ImageRecord {
    /// The image a build just made, as a run records it.
    pub fn of(built: &crate::build::BuildReport) -> Self {
        Self {
            reference: built.reference.to_string(),
            digest: built.manifest_digest.clone(),
            layers: built
                .layers
                .iter()
                .map(|layer| layer.digest.clone())
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitRecord {
    pub commit: String,
    pub dirty: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// As the manifest names it, relative to the project.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub sha256: String,
    pub files: u64,
    pub bytes: u64,
    /// Symlinks in the dataset, fingerprinted as links (never followed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub links: u64,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(count: &u64) -> bool {
    *count == 0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    pub cpu: String,
    pub cpus: usize,
    pub memory_bytes: u64,
    /// The NVIDIA driver version, when there is one.
    pub gpu_driver: Option<String>,
}

impl HostFacts {
    pub fn collect() -> Self {
        let cpuinfo = fs_err::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let uname = nix::sys::utsname::uname().ok();
        Self {
            hostname: nix::unistd::gethostname()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kernel: uname
                .map(|uname| uname.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            cpu: cpuinfo
                .lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
                .unwrap_or_default(),
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            memory_bytes: crate::hardware::total_memory_bytes().unwrap_or(0),
            gpu_driver: crate::hardware::NvidiaDriver::detect()
                .ok()
                .flatten()
                .map(|driver| driver.version.to_string()),
        }
    }
}

/// Every run under `outputs`, oldest first; directories without a readable record are skipped.
pub fn list_runs(outputs: &Path) -> Vec<(PathBuf, RunRecord)> {
    let mut runs: Vec<(PathBuf, RunRecord)> = fs_err::read_dir(outputs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let dir = entry.path();
            let bytes = fs_err::read(dir.join(RUN_RECORD)).ok()?;
            Some((dir, serde_json::from_slice(&bytes).ok()?))
        })
        .collect();
    runs.sort_by(|a, b| a.1.started.cmp(&b.1.started).then(a.1.id.cmp(&b.1.id)));
    runs
}
