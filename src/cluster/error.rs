//! What can go wrong handing a job to a cluster engine.

use std::path::PathBuf;

use crate::error::{Diagnostic, IoError};
use crate::oci::OciError;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The engine's command is not installed on this machine.
    #[error("`{command}` is not on PATH: this machine cannot submit {engine} jobs")]
    MissingCommand {
        command: &'static str,
        engine: &'static str,
    },

    /// The engine's command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },

    /// The engine's answer was not what its documentation says.
    #[error("`{command}` answered `{answer}`, not a job ID")]
    UnexpectedAnswer { command: String, answer: String },

    /// The `mlpack` the nodes would run does not exist.
    #[error("the nodes would run `{}`, which does not exist", path.display())]
    MissingExecutable { path: PathBuf },

    #[error("--nodes must be at least 1")]
    NoNodes,

    /// Kubernetes nodes pull the image from a registry; none is named.
    #[error("a Kubernetes job needs a registry the nodes pull the image from")]
    NoRegistry,

    /// A dataset has no volume on Kubernetes.
    #[error("the dataset `{dataset}` has no volume on Kubernetes")]
    NoVolume { dataset: String },

    #[error("invalid time limit `{time}`")]
    InvalidTime { time: String },

    #[error("could not write the Kubernetes objects: {0}")]
    Serialize(String),

    #[error(transparent)]
    Io(#[from] IoError),

    #[error(transparent)]
    Oci(#[from] OciError),
}

impl Diagnostic for ClusterError {
    fn is_user_error(&self) -> bool {
        match self {
            Self::MissingCommand { .. }
            | Self::MissingExecutable { .. }
            | Self::NoNodes
            | Self::NoRegistry
            | Self::NoVolume { .. }
            | Self::InvalidTime { .. }
            | Self::CommandFailed { .. } => true,
            Self::Oci(error) => error.is_user_error(),
            Self::UnexpectedAnswer { .. } | Self::Serialize(_) | Self::Io(_) => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::MissingCommand { engine: "Slurm", .. } => vec![
                "run `mlpack train` on a Slurm login node, or install the Slurm client (`slurm-client` on Debian)".to_string(),
            ],
            Self::MissingCommand { .. } => vec![
                "install `kubectl` and point it at the cluster (`kubectl config use-context NAME`)".to_string(),
            ],
            Self::NoRegistry => vec![
                "name it in mlpack.toml: `[cluster] registry = \"registry.example.com/team\"`".to_string(),
            ],
            Self::NoVolume { dataset } => vec![format!(
                "name a claim or a host path for it: `[cluster.kubernetes.datasets] \"{dataset}\" = {{ claim = \"PVC\" }}` (or `host-path = \"/mnt/data\"`)"
            )],
            Self::InvalidTime { .. } => vec![
                "write it as Slurm does: `MINUTES`, `H:MM:SS` or `D-HH:MM:SS`".to_string(),
            ],
            Self::MissingExecutable { .. } => vec![
                "put `mlpack` on a filesystem the nodes share and name it in `[cluster] mlpack`".to_string(),
            ],
            Self::Oci(error) => error.hints(),
            _ => Vec::new(),
        }
    }
}
