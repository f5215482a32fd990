//! What can go wrong removing images and pruning the store.

use std::path::PathBuf;

use crate::oci::OciError;
use crate::runtime::{LayerError, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// `rmi` of the last name of an image that containers use; `containers` are `name (id)`.
    #[error("image `{image}` is used by {}", describe_containers(containers))]
    ImageInUse {
        image: String,
        containers: Vec<String>,
        /// The first container's name, for the hint.
        first: String,
    },

    /// A file system operation failed; `action` is a verb phrase.
    #[error("could not {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A run's GC root could not be read: pruning without it could delete the run's image.
    #[error("the GC root `{path}` is not valid")]
    InvalidRoot {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error(transparent)]
    Oci(#[from] OciError),

    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    #[error(transparent)]
    Layer(#[from] LayerError),
}

impl GcError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether the user can fix this by changing the command.
    pub fn is_user_error(&self) -> bool {
        match self {
            Self::ImageInUse { .. } => true,
            Self::Oci(error) => error.is_user_error(),
            Self::Runtime(error) => error.is_user_error(),
            Self::Layer(error) => error.is_user_error(),
            Self::Io { .. } | Self::InvalidRoot { .. } => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Self::ImageInUse { image, first, .. } => Some(format!(
                "remove the container first (`mlpack rm {first}`), or remove only the name with `mlpack rmi -f {image}`: the container keeps its image until it is removed"
            )),
            Self::InvalidRoot { .. } => Some(
                "delete the file to let `mlpack prune` remove that run's image, or restore it"
                    .to_string(),
            ),
            Self::Oci(error) => error.hint(),
            Self::Runtime(error) => error.hint(),
            Self::Layer(error) => error.hint(),
            Self::Io { .. } => None,
        }
    }
}

/// `container `a` (3f2a1c0b9d8e)` or `3 containers: `a` (…), `b` (…), `c` (…)`.
fn describe_containers(containers: &[String]) -> String {
    match containers {
        [one] => format!("container {one}"),
        many => format!("{} containers: {}", many.len(), many.join(", ")),
    }
}
