//! What can go wrong with named volumes.

use std::path::PathBuf;

use crate::error::{Diagnostic, IoError};
use crate::oci::OciError;
use crate::runtime::RuntimeError;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(transparent)]
    Io(#[from] IoError),

    #[error(transparent)]
    Oci(#[from] OciError),

    /// Listing the containers that may use a volume failed.
    #[error(transparent)]
    Containers(#[from] Box<RuntimeError>),

    #[error("no volume `{name}`")]
    NotFound { name: String },

    #[error(
        "invalid volume name `{name}`: use letters, digits, `_`, `.` and `-`, at least two, starting with a letter or digit"
    )]
    InvalidName { name: String },

    #[error("volume `{name}` is in use by containers: {containers}")]
    InUse { name: String, containers: String },

    #[error("invalid volume record `{path}`")]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Diagnostic for VolumeError {
    fn is_user_error(&self) -> bool {
        match self {
            Self::Oci(error) => error.is_user_error(),
            Self::Containers(error) => error.is_user_error(),
            Self::NotFound { .. } | Self::InvalidName { .. } | Self::InUse { .. } => true,
            Self::Io(_) | Self::Record { .. } => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::NotFound { .. } => vec!["`mlpack volume ls` lists the volumes".to_string()],
            Self::InUse { .. } => {
                vec!["remove those containers first (`mlpack rm CONTAINER`)".to_string()]
            }
            Self::Oci(error) => error.hints(),
            Self::Containers(error) => error.hints(),
            _ => Vec::new(),
        }
    }
}
