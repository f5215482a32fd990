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

    #[error(
        "`[cluster] registry` is not implemented yet: the nodes can only run the image from a shared store"
    )]
    RegistryUnsupported,

    #[error("--nodes must be at least 1")]
    NoNodes,

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
            | Self::RegistryUnsupported
            | Self::NoNodes
            | Self::CommandFailed { .. } => true,
            Self::Oci(error) => error.is_user_error(),
            Self::UnexpectedAnswer { .. } | Self::Io(_) => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::MissingCommand { .. } => vec![
                "run `mlpack train` on a Slurm login node, or install the Slurm client (`slurm-client` on Debian)".to_string(),
            ],
            Self::MissingExecutable { .. } => vec![
                "put `mlpack` on a filesystem the nodes share and name it in `[cluster] mlpack`".to_string(),
            ],
            Self::RegistryUnsupported => vec![
                "remove `registry` from `[cluster]` and set `store` to a directory every node mounts".to_string(),
            ],
            Self::Oci(error) => error.hints(),
            _ => Vec::new(),
        }
    }
}
