//! Training on a cluster: one job description ([`ClusterJob`]: image by digest, command,
//! nodes × GPUs, read-only datasets, outputs) handed to the scheduler the user already has,
//! one adapter per engine (`slurm`, `kubernetes`). mlpack writes no scheduler: it writes the
//! engine's job files into the run's folder, submits them, and asks the engine for the job's
//! state. Every node runs the image (with mlpack's own runtime on Slurm, the cluster's on
//! Kubernetes) and gets the rendezvous variables of [`rendezvous`], which torchrun,
//! `accelerate` and `jax.distributed` read.

mod error;
mod kubernetes;
pub mod rendezvous;
mod slurm;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

pub use self::error::ClusterError;
pub use self::kubernetes::{
    DatasetVolume, Kubernetes, KubernetesJob, PullSecret, Reachability, WorkloadKind,
};
pub use self::slurm::{Slurm, SlurmNodes};
pub use self::store::share_image;

/// The schedulers mlpack hands jobs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// `sbatch`, `srun`, `squeue`, `scancel`.
    Slurm,
    /// `kubectl apply`, `get`, `logs`, `delete`, with the current context.
    Kubernetes,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slurm => "slurm",
            Self::Kubernetes => "kubernetes",
        }
    }
}

/// What the job asks the scheduler for; `None` leaves the choice to the engine's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub nodes: u32,
    pub gpus_per_node: u32,
    pub cpus_per_node: Option<u32>,
    pub memory: Option<String>,
    pub time: Option<String>,
    pub queue: Option<String>,
    pub account: Option<String>,
    /// Options for the engine, passed as written.
    pub extra: Vec<String>,
}

impl Resources {
    /// Processes per node: one per GPU, or one on a CPU-only node.
    pub fn processes_per_node(&self) -> u32 {
        self.gpus_per_node.max(1)
    }
}

/// A host path mounted into the container on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// One training job, the same for every engine.
#[derive(Debug)]
pub struct ClusterJob<'a> {
    pub run_id: &'a str,
    /// `outputs/<run-id>/`, on a filesystem the nodes share: rank 0's outputs, the logs and
    /// the engine's files.
    pub run_dir: &'a Path,
    /// The image's manifest digest; the nodes run exactly this image.
    pub image: &'a str,
    pub command: &'a [String],
    pub resources: &'a Resources,
    pub datasets: &'a [Mount],
    /// Each dataset's fingerprint (sha256) as computed at submission, in the same order:
    /// node 0 checks them before training.
    pub fingerprints: &'a [String],
    /// Where the job writes its outputs inside the container.
    pub outputs_target: &'a str,
    pub workdir: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub shm_size: Option<&'a str>,
}

/// The engine's files of a run, beside its outputs: `<run-dir>/<ENGINE_DIR>/`.
pub const ENGINE_DIR: &str = "cluster";

/// Rank `rank`'s log in the run's directory.
pub fn rank_log(run_dir: &Path, rank: u32) -> PathBuf {
    run_dir.join(format!("rank-{rank}.log"))
}

/// Whether a file of the run's directory is the engine's or a log rather than an output.
pub fn is_engine_file(relative: &str) -> bool {
    relative == ENGINE_DIR
        || relative.starts_with(&format!("{ENGINE_DIR}/"))
        || relative
            .strip_prefix("rank-")
            .and_then(|rest| rest.strip_suffix(".log"))
            .is_some_and(|rank| !rank.is_empty() && rank.bytes().all(|byte| byte.is_ascii_digit()))
}

/// A job's state as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    /// The engine no longer knows the job, or said something else (`TIMEOUT`, `NODE_FAIL`).
    Other(String),
}

impl JobState {
    /// Slurm's state names (`squeue -o %T`, `sacct -o State`).
    pub fn from_slurm(text: &str) -> Self {
        let text = text.trim();
        let word = text.split_whitespace().next().unwrap_or("");
        match word {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "RESV_DEL_HOLD" | "SUSPENDED" => Self::Pending,
            "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" => Self::Running,
            "COMPLETED" => Self::Completed,
            "FAILED" | "OUT_OF_MEMORY" | "BOOT_FAIL" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            other => Self::Other(other.to_ascii_lowercase()),
        }
    }

    /// Still queued or running: its record is not final.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Other(other) => other,
        }
    }
}

/// What `run.json` says of a cluster run, beside what every run records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterRecord {
    pub engine: Engine,
    pub job_id: String,
    pub state: JobState,
    pub nodes: u32,
    pub gpus_per_node: u32,
    /// The node each rank ran on, by rank, as far as known.
    #[serde(default)]
    pub node_names: Vec<Option<String>>,
    /// Each rank's exit code; `None` for a rank that never finished (cancelled, killed when
    /// another rank failed, or never started).
    #[serde(default)]
    pub rank_exit_codes: Vec<Option<i32>>,
    /// Kubernetes: the workload's kind and namespace (`None`: the context's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WorkloadKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl ClusterRecord {
    /// The run's exit code: the first failing rank's, else a failure the engine reports
    /// (143 for a cancelled job, as for SIGTERM), else 0.
    pub fn exit_code(&self) -> i32 {
        if let Some(code) = self
            .rank_exit_codes
            .iter()
            .flatten()
            .find(|code| **code != 0)
        {
            return *code;
        }
        match &self.state {
            JobState::Cancelled => 143,
            JobState::Completed if self.rank_exit_codes.iter().all(Option::is_some) => 0,
            _ => 1,
        }
    }
}

/// Run an engine's command; its stdout, or why it failed.
fn run_engine(
    command: &mut Command,
    name: &'static str,
    engine: &'static str,
) -> Result<String, ClusterError> {
    let output = command.output().map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            ClusterError::MissingCommand {
                command: name,
                engine,
            }
        } else {
            ClusterError::CommandFailed {
                command: name.to_string(),
                status: "not started".to_string(),
                stderr: error.to_string(),
            }
        }
    })?;
    if !output.status.success() {
        return Err(ClusterError::CommandFailed {
            command: name.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
