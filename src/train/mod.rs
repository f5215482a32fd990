//! `mlpack train`'s record keeping: a fingerprint of every dataset (content hashes, cached by
//! path, size, mtime and inode so unchanged data costs almost nothing to re-check) and the
//! run record, `outputs/<run-id>/run.json`, that says exactly what produced a model. It runs
//! `train` and `reproduce` (the build through `build`, the job through `mlpack run`), makes
//! model images (`package`) and finds and compares recorded runs (`runs`).

pub mod cluster;
mod error;
mod fingerprint;
mod job;
mod outputs;
mod package;
pub mod pycache;
mod record;
mod run_id;
mod runs;
mod sidecars;

pub use self::error::TrainError;
pub use self::fingerprint::{Fingerprint, FingerprintCache, FingerprintError};
pub use self::job::{Finished, Stream, TrainEvent, TrainReporter, reproduce, train};
pub use self::outputs::{Outputs, read_outputs, write_replacing};
pub use self::package::{Packaged, RUN_LABEL, model_reference, package, package_run};
pub use self::record::{
    DatasetRecord, GitRecord, HostFacts, ImageRecord, METRICS, RUN_RECORD, RunRecord, TRAIN_LOG,
    list_runs,
};
pub use self::run_id::{InvalidRunId, RunId};
pub use self::runs::{diff, find_run, latest_successful_run, runs_newest_first};
