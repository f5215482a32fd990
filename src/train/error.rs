//! What can go wrong in `train`, `reproduce`, `package` and `runs`: each message names the
//! run, dataset or directory it is about, and [`TrainError::hints`] says what to do.

use std::path::PathBuf;

use super::FingerprintError;
use crate::build::BuildError;
use crate::error::Diagnostic;
use crate::gc::GcError;
use crate::oci::OciError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error(transparent)]
    Gc(#[from] GcError),
    #[error(transparent)]
    NoCacheDir(#[from] crate::dirs::NoCacheDir),
    #[error(transparent)]
    Cluster(#[from] super::cluster::ClusterRunError),
    #[error("{location}: the dataset `{}` does not exist", path.display())]
    MissingDataset { location: String, path: PathBuf },
    #[error("run {run} used the dataset `{dataset}`, which `mlpack.toml` no longer lists")]
    DroppedDataset { run: String, dataset: String },
    #[error(
        "the dataset `{dataset}` changed since run {run}: its fingerprint was {was} and is now {now} ({files} files, {bytes} bytes)"
    )]
    ChangedDataset {
        dataset: String,
        run: String,
        was: String,
        now: String,
        files: u64,
        bytes: u64,
    },
    /// `run {run} used image {image}`: the image is gone from the store.
    #[error("{used}")]
    RunImage {
        used: String,
        /// Boxed to keep the error small; its hint comes through [`TrainError::hints`].
        #[source]
        source: Box<OciError>,
    },
    #[error("no run `{id}` in `{}`", outputs.display())]
    NoRun { id: String, outputs: PathBuf },
    #[error("`{id}` matches {} runs: {}", runs.len(), runs.join(", "))]
    AmbiguousRun { id: String, runs: Vec<String> },
    #[error("no successful run in `{}`", outputs.display())]
    NoSuccessfulRun { outputs: PathBuf },
    #[error("no command for the model image: it would run the training command")]
    NoModelCommand,
    #[error("could not write the record of run {run}")]
    WriteRecord {
        run: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not find the mlpack executable")]
    CurrentExe(#[source] std::io::Error),
    #[error("could not start `mlpack run`")]
    Spawn(#[source] std::io::Error),
    #[error("`[train] services` in mlpack.toml")]
    Sidecars(#[source] Box<crate::compose::ComposeError>),
    #[error("the training's services ({services}) did not start")]
    SidecarsFailed { services: String, project: String },
    /// Reading or writing a file failed; `fs-err` puts the path in the message.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl Diagnostic for TrainError {
    /// What the user can do about it.
    fn hints(&self) -> Vec<String> {
        let hint = match self {
            Self::Build(error) => return error.hints(),
            Self::Fingerprint(error) => return error.hints(),
            Self::Oci(error) => return error.hints(),
            Self::RunImage { source, .. } => return source.hints(),
            Self::Gc(error) => return error.hints(),
            Self::Cluster(error) => return error.hints(),
            Self::Sidecars(error) => return error.hints(),
            Self::SidecarsFailed { project, .. } => Some(format!(
                "their output is above; `mlpack compose -p {project} logs` shows it again"
            )),
            Self::NoCacheDir(error) => Some(error.hint()),
            Self::MissingDataset { .. } => {
                Some("create it, or fix `source` in `[[datasets]]`".to_string())
            }
            Self::ChangedDataset { .. } => Some(
                "restore the data the run used, or start a new run with `mlpack train`".to_string(),
            ),
            Self::NoRun { .. } => Some("`mlpack runs` lists the runs".to_string()),
            Self::AmbiguousRun { .. } => {
                Some("give more of the run ID, from its start or its end".to_string())
            }
            Self::NoSuccessfulRun { .. } => Some("train one with `mlpack train`".to_string()),
            Self::NoModelCommand => Some(
                "add a `[serve]` section to mlpack.toml (`command = \"python3 predict.py\"`), \
                 or pass `--cmd \"python3 predict.py\"`"
                    .to_string(),
            ),
            _ => None,
        };
        hint.into_iter().collect()
    }

    /// Whether the user's input, rather than the machine, is at fault.
    fn is_user_error(&self) -> bool {
        match self {
            Self::Build(error) => error.is_user_error(),
            Self::Oci(error) => error.is_user_error(),
            Self::RunImage { source, .. } => source.is_user_error(),
            Self::Gc(error) => error.is_user_error(),
            Self::Cluster(error) => error.is_user_error(),
            Self::Sidecars(error) => error.is_user_error(),
            Self::MissingDataset { .. }
            | Self::DroppedDataset { .. }
            | Self::ChangedDataset { .. }
            | Self::NoRun { .. }
            | Self::AmbiguousRun { .. }
            | Self::NoSuccessfulRun { .. }
            | Self::NoModelCommand => true,
            _ => false,
        }
    }
}
