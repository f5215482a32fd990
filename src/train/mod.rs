//! `mlpack train`'s record keeping: a fingerprint of every dataset (content hashes, cached by
//! path, size, mtime and inode so unchanged data costs almost nothing to re-check) and the
//! run record, `outputs/<run-id>/run.json`, that says exactly what produced a model. The
//! build and the container run themselves are `build`'s and `runtime`'s.

mod fingerprint;
mod outputs;
mod package;
pub mod pycache;
mod record;
mod run_id;

pub use self::fingerprint::{Fingerprint, FingerprintCache, FingerprintError};
pub use self::outputs::{Outputs, read_outputs, write_replacing};
pub use self::package::{RUN_LABEL, model_reference, package};
pub use self::record::{
    DatasetRecord, GitRecord, HostFacts, ImageRecord, METRICS, RUN_RECORD, RunRecord, TRAIN_LOG,
    list_runs,
};
pub use self::run_id::{InvalidRunId, RunId};
