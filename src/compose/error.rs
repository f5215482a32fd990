//! What can go wrong reading a compose file and running its services.

use std::path::PathBuf;

use crate::error::{Diagnostic, IoError};
use crate::runtime::RuntimeError;
use crate::runtime::network::NetworkError;
use crate::runtime::volume::VolumeError;

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Io(#[from] IoError),

    #[error("no compose file in `{dir}` (looked for {names})")]
    NoFile { dir: PathBuf, names: String },

    /// The YAML, a key or a value is wrong; `location` is `FILE:LINE:COLUMN`.
    #[error("{location}: {message}")]
    Syntax { location: String, message: String },

    /// A value is wrong in a way only the whole file shows (an undeclared volume, a cycle).
    #[error("{file}: {message}")]
    Invalid { file: PathBuf, message: String },

    #[error("no service `{name}` in the project")]
    NoService { name: String },

    #[error("service `{service}` has no `image` and no `build`")]
    NoImage { service: String },

    #[error("service `{service}` exited{}", code.map(|code| format!(" with status {code}")).unwrap_or_default())]
    Exited { service: String, code: Option<i32> },

    #[error("service `{service}` is unhealthy{}", if output.is_empty() { String::new() } else { format!(": {output}") })]
    Unhealthy { service: String, output: String },

    /// `service_completed_successfully` saw a non-zero exit.
    #[error("service `{service}` didn't complete successfully: exit {code}")]
    Failed { service: String, code: i32 },

    #[error("could not run `mlpack` again for the build or the healthcheck")]
    CurrentExe(#[source] std::io::Error),

    #[error("`mlpack compose build` failed for {services}")]
    BuildFailed { services: String },

    #[error("service `{service}`: could not pull `{image}`")]
    Pull {
        service: String,
        image: String,
        #[source]
        source: Box<crate::runtime::PullError>,
    },

    #[error("`mlpack compose pull` failed for {services}")]
    PullFailed { services: String },

    #[error("could not start the network runtime")]
    NetworkRuntime(#[from] Box<crate::network::StartError>),

    #[error(transparent)]
    Manifest(#[from] Box<crate::manifest::ManifestError>),

    #[error(transparent)]
    Build(#[from] Box<crate::build::BuildError>),

    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    #[error(transparent)]
    Network(#[from] NetworkError),

    #[error(transparent)]
    Volume(#[from] VolumeError),
}

impl From<crate::oci::OciError> for ComposeError {
    fn from(error: crate::oci::OciError) -> Self {
        Self::Runtime(error.into())
    }
}

impl Diagnostic for ComposeError {
    fn is_user_error(&self) -> bool {
        match self {
            Self::Io(_) | Self::CurrentExe(_) | Self::NetworkRuntime(_) => false,
            Self::Pull { source, .. } => source.is_user_error(),
            Self::Manifest(error) => error.is_user_error(),
            Self::Build(error) => error.is_user_error(),
            Self::Runtime(error) => error.is_user_error(),
            Self::Network(error) => error.is_user_error(),
            Self::Volume(error) => error.is_user_error(),
            _ => true,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::NoFile { .. } => {
                vec!["give one with `-f FILE`, or write a `compose.yaml`".to_string()]
            }
            Self::Exited { service, .. }
            | Self::Unhealthy { service, .. }
            | Self::Failed { service, .. } => vec![format!(
                "its output is above; `mlpack compose logs {service}` shows it again"
            )],
            Self::NoImage { .. } => vec![
                "add `image: NAME`, or `build: DIR` with a directory that has an `mlpack.toml`"
                    .to_string(),
            ],
            Self::Pull { source, .. } => source.hints(),
            Self::PullFailed { .. } => vec![
                "its output is above; `build:` builds an image the registries do not have"
                    .to_string(),
            ],
            Self::Manifest(error) => error.hints(),
            Self::Build(error) => error.hints(),
            Self::Runtime(error) => error.hints(),
            Self::Network(error) => error.hints(),
            Self::Volume(error) => error.hints(),
            _ => Vec::new(),
        }
    }
}
