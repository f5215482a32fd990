//! What can go wrong removing images and pruning the store.

use std::path::PathBuf;

use crate::error::{Diagnostic, IoError};
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

    #[error(transparent)]
    Io(#[from] IoError),

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

impl Diagnostic for GcError {
    /// Whether the user can fix this by changing the command.
    fn is_user_error(&self) -> bool {
        match self {
            Self::ImageInUse { .. } => true,
            Self::Oci(error) => error.is_user_error(),
            Self::Runtime(error) => error.is_user_error(),
            Self::Layer(error) => error.is_user_error(),
            Self::Io(_) | Self::InvalidRoot { .. } => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::ImageInUse { image, first, .. } => vec![format!(
                "remove the container first (`mlpack rm {first}`), or remove only the name with `mlpack rmi -f {image}`: the container keeps its image until it is removed"
            )],
            Self::InvalidRoot { .. } => vec![
                "delete the file to let `mlpack prune` remove that run's image, or restore it"
                    .to_string(),
            ],
            Self::Oci(error) => error.hints(),
            Self::Runtime(error) => error.hints(),
            Self::Layer(error) => error.hints(),
            Self::Io(_) => Vec::new(),
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
