//! A training run on a cluster: the same record as a local run, with the job handed to the
//! engine. `submit` fingerprints the data, makes the image reachable (a shared store), writes
//! the engine's files into `outputs/<run-id>/cluster/`, submits them and writes a first
//! `run.json` (state `pending`); `wait` follows rank 0's log until the engine says the job
//! ended, then finishes the record with every rank's exit code and rank 0's outputs.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    DatasetRecord, FingerprintCache, FingerprintError, Finished, GitRecord, HostFacts, ImageRecord,
    RunRecord, TrainError, TrainEvent, TrainReporter,
};
use crate::build::BuildOptions;
use crate::cluster::{
    ClusterError, ClusterJob, ClusterRecord, Engine, JobState, Mount, Resources, Slurm,
};
use crate::context::Context;
use crate::error::{Diagnostic, IoError};
use crate::gc::GcError;
use crate::oci::{OciError, Store};
use crate::project::Project;

/// How often rank 0's log is read while `train` waits: its first line is what users wait for.
const POLL: Duration = Duration::from_millis(100);
/// Every how many log reads the engine is asked for the job's state (`squeue` costs a request
/// to the controller).
const STATE_EVERY: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ClusterRunError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    #[error(transparent)]
    Gc(#[from] GcError),
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("could not write the record of run {run}")]
    Record {
        run: String,
        #[source]
        source: std::io::Error,
    },
    #[error("run {run} did not run on a cluster")]
    NotClusterRun { run: String },
    #[error("run {run} has no rank {rank}: it ran on {nodes} nodes")]
    NoSuchRank { run: String, rank: u32, nodes: u32 },
}

impl Diagnostic for ClusterRunError {
    fn is_user_error(&self) -> bool {
        match self {
            Self::Cluster(error) => error.is_user_error(),
            Self::Fingerprint(error) => error.is_user_error(),
            Self::Oci(error) => error.is_user_error(),
            Self::NotClusterRun { .. } | Self::NoSuchRank { .. } => true,
            Self::Gc(_) | Self::Io(_) | Self::Record { .. } => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::Cluster(error) => error.hints(),
            Self::NotClusterRun { .. } => {
                vec![
                    "`mlpack train --on slurm` starts one; `mlpack runs` shows each run's engine"
                        .to_string(),
                ]
            }
            _ => Vec::new(),
        }
    }
}

/// Where a cluster job runs and how big it is, as the flags and `[cluster]` settle it.
#[derive(Debug, Clone)]
pub struct ClusterTarget {
    pub engine: Engine,
    pub resources: Resources,
    /// Write the engine's files and stop.
    pub dry_run: bool,
}

/// `mlpack train --on ENGINE`: the datasets checked, the image built, the job submitted and
/// followed to its end. `None` after a dry run (the job's files written, nothing submitted).
pub fn train(
    context: &Context,
    project: &Project,
    options: &BuildOptions,
    target: ClusterTarget,
    extra: &[String],
    reporter: &dyn TrainReporter,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<Option<Finished>, TrainError> {
    let datasets = datasets(project)?;
    let built = crate::build::build_project(context, project, options, reporter)?;
    reporter.train_event(TrainEvent::Built(&built));
    let mut command = project.manifest().train.command.args();
    command.extend(extra.iter().cloned());
    let request = ClusterRequest {
        engine: target.engine,
        resources: target.resources,
        project: &project.dir,
        manifest: project.manifest(),
        image: ImageRecord::of(&built),
        command,
        datasets,
        dry_run: target.dry_run,
    };
    let Some(submitted) = submit(&request, report)? else {
        return Ok(None);
    };
    Ok(Some(wait(submitted, report)?))
}

/// A dataset as the nodes mount it, with the name the manifest gives it.
#[derive(Debug, Clone)]
pub struct ClusterDataset {
    pub source: String,
    pub mount: Mount,
}

/// The manifest's datasets as the nodes mount them, each checked to exist here first (the
/// same check, and error, as a local `mlpack train`).
fn datasets(project: &Project) -> Result<Vec<ClusterDataset>, TrainError> {
    let datasets = super::job::check_datasets(project)?;
    Ok(datasets
        .into_iter()
        .map(|dataset| ClusterDataset {
            source: dataset.source,
            mount: Mount {
                host: dataset.host,
                target: dataset.target,
                read_only: dataset.read_only,
            },
        })
        .collect())
}

/// Everything a cluster run needs, settled by the caller from flags and `[cluster]`.
#[derive(Debug)]
pub struct ClusterRequest<'a> {
    pub engine: Engine,
    pub resources: Resources,
    pub project: &'a Path,
    pub manifest: &'a crate::manifest::Manifest,
    pub image: ImageRecord,
    pub command: Vec<String>,
    pub datasets: Vec<ClusterDataset>,
    /// Write the engine's files and stop.
    pub dry_run: bool,
}

/// What a cluster run tells its user as it goes.
#[derive(Debug)]
pub enum ClusterEvent<'a> {
    /// `--dry-run`: the job files are written, nothing was submitted.
    Written {
        run_id: &'a str,
        script: &'a Path,
    },
    Submitted {
        run_id: &'a str,
        job_id: &'a str,
        script: &'a Path,
    },
    State(&'a JobState),
    /// New bytes of rank 0's log.
    Output(&'a [u8]),
}

/// A submitted run: its record (state `pending`) and where it is.
#[derive(Debug)]
pub struct Submitted {
    pub record: RunRecord,
    pub run_dir: PathBuf,
}

/// Fingerprint, share the image, write the job files and submit them (unless `dry_run`).
pub fn submit(
    request: &ClusterRequest<'_>,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<Option<Submitted>, ClusterRunError> {
    let cluster = &request.manifest.cluster;
    if cluster.registry.is_some() {
        return Err(ClusterError::RegistryUnsupported.into());
    }
    if request.resources.nodes == 0 {
        return Err(ClusterError::NoNodes.into());
    }
    let mlpack = match &cluster.mlpack {
        Some(path) => request.project.join(path),
        None => std::env::current_exe()
            .map_err(|source| IoError::new("find", "the mlpack executable", source))?,
    };
    if !mlpack.is_file() {
        return Err(ClusterError::MissingExecutable { path: mlpack }.into());
    }
    let local = Store::open_default()?;
    let store = match &cluster.store {
        Some(path) => crate::cluster::share_image(
            &local,
            &request.project.join(path.get_ref()),
            &request.image.digest,
            &request.image.reference,
        )?,
        None => local.root().to_path_buf(),
    };
    let datasets = fingerprint(&request.datasets)?;
    let run_id = super::RunId::generate();
    let run_dir = request
        .project
        .join(&request.manifest.outputs.dir)
        .join(run_id.as_str());
    fs_err::create_dir_all(&run_dir).map_err(|source| IoError::new("create", &run_dir, source))?;
    let run_dir =
        fs_err::canonicalize(&run_dir).map_err(|source| IoError::new("open", &run_dir, source))?;
    let mounts: Vec<Mount> = request
        .datasets
        .iter()
        .map(|dataset| dataset.mount.clone())
        .collect();
    let train = &request.manifest.train;
    let job = ClusterJob {
        run_id: run_id.as_str(),
        run_dir: &run_dir,
        image: &request.image.digest,
        command: &request.command,
        resources: &request.resources,
        datasets: &mounts,
        outputs_target: &request.manifest.outputs.target,
        workdir: &train.workdir,
        env: &train.env,
        shm_size: train.shm_size.as_ref().map(|size| size.get_ref().as_str()),
        mlpack: &mlpack,
        store: &store,
    };
    let script = match request.engine {
        Engine::Slurm => Slurm::write(&job)?,
    };
    if request.dry_run {
        report(ClusterEvent::Written {
            run_id: run_id.as_str(),
            script: &script,
        });
        return Ok(None);
    }
    let job_id = match request.engine {
        Engine::Slurm => Slurm::submit(&script)?,
    };
    report(ClusterEvent::Submitted {
        run_id: run_id.as_str(),
        job_id: &job_id,
        script: &script,
    });
    let started = jiff::Timestamp::now();
    let record = RunRecord {
        id: run_id.clone(),
        started: started.to_string(),
        finished: String::new(),
        seconds: 0.0,
        exit_code: -1,
        command: request.command.clone(),
        image: request.image.clone(),
        reproduces: None,
        lock_sha256: crate::sha256::file_sha256(&request.project.join(crate::lock::LOCK_FILE)).ok(),
        git: crate::build::git_state(request.project)
            .map(|(commit, dirty)| GitRecord { commit, dirty }),
        datasets,
        outputs: std::collections::BTreeMap::new(),
        outputs_skipped: std::collections::BTreeMap::new(),
        host: HostFacts::collect(),
        metrics: None,
        metrics_skipped: None,
        cluster: Some(ClusterRecord {
            engine: request.engine,
            job_id,
            state: JobState::Pending,
            nodes: request.resources.nodes,
            gpus_per_node: request.resources.gpus_per_node,
            node_names: Vec::new(),
            rank_exit_codes: Vec::new(),
        }),
    };
    let record_path = write_record(&run_dir, &record)?;
    // Kept by `mlpack prune` while the nodes may still start it, and after for `reproduce`.
    crate::gc::RunRoot {
        run: run_id,
        image: record.image.digest.parse()?,
        project: fs_err::canonicalize(request.project)
            .map_err(|source| IoError::new("open", request.project, source))?,
        record: record_path,
    }
    .save(&local)?;
    Ok(Some(Submitted { record, run_dir }))
}

fn fingerprint(datasets: &[ClusterDataset]) -> Result<Vec<DatasetRecord>, ClusterRunError> {
    let cache_dir =
        crate::dirs::cache_dir().unwrap_or_else(|_| std::env::temp_dir().join("mlpack"));
    let mut cache = FingerprintCache::open(&cache_dir);
    let mut records = Vec::new();
    for dataset in datasets {
        let fingerprint = cache.fingerprint(&dataset.mount.host)?;
        records.push(DatasetRecord {
            source: dataset.source.clone(),
            target: dataset.mount.target.clone(),
            read_only: dataset.mount.read_only,
            sha256: fingerprint.sha256,
            files: fingerprint.files,
            bytes: fingerprint.bytes,
            links: fingerprint.links,
        });
    }
    cache.save();
    Ok(records)
}

fn write_record(run_dir: &Path, record: &RunRecord) -> Result<PathBuf, ClusterRunError> {
    let mut json = serde_json::to_vec_pretty(record).map_err(|source| ClusterRunError::Record {
        run: record.id.to_string(),
        source: source.into(),
    })?;
    json.push(b'\n');
    super::write_replacing(run_dir, super::RUN_RECORD, &json).map_err(|source| {
        ClusterRunError::Record {
            run: record.id.to_string(),
            source,
        }
    })
}

/// Follow rank 0's log until the job leaves the queue, then finish the record: each rank's
/// node and exit code, rank 0's outputs, the run's exit code.
pub fn wait(
    submitted: Submitted,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<Finished, ClusterRunError> {
    let Submitted {
        mut record,
        run_dir,
    } = submitted;
    let Some(cluster) = record.cluster.clone() else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    let mut follower = LogFollower::new(crate::cluster::rank_log(&run_dir, 0));
    let mut last = JobState::Pending;
    for tick in 0_u32.. {
        follower.emit(report);
        if tick % STATE_EVERY == 0 {
            let state = Slurm::state(&cluster.job_id)?;
            if state != last {
                report(ClusterEvent::State(&state));
                last = state;
            }
            if !last.is_active() {
                break;
            }
        }
        std::thread::sleep(POLL);
    }
    follower.emit(report);
    let record_path = finish(&mut record, &run_dir, last)?;
    Ok(Finished {
        record,
        record_path,
    })
}

/// The record of an ended job: ranks, outputs (not the logs or the engine's files), exit code.
/// Returns where it was written.
fn finish(
    record: &mut RunRecord,
    run_dir: &Path,
    state: JobState,
) -> Result<PathBuf, ClusterRunError> {
    let Some(cluster) = record.cluster.as_mut() else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    let (names, codes) = (0..cluster.nodes)
        .map(|rank| Slurm::rank_result(run_dir, rank))
        .unzip();
    cluster.node_names = names;
    cluster.rank_exit_codes = codes;
    cluster.state = state;
    record.exit_code = cluster.exit_code();
    let finished = jiff::Timestamp::now();
    record.seconds = record
        .started
        .parse::<jiff::Timestamp>()
        .map_or(0.0, |started| (finished - started).as_secs_f64());
    record.finished = finished.to_string();
    let mut outputs = super::read_outputs(run_dir);
    outputs
        .hashes
        .retain(|name, _| !crate::cluster::is_engine_file(name));
    outputs
        .skipped
        .retain(|name, _| !crate::cluster::is_engine_file(name));
    record.outputs = outputs.hashes;
    record.outputs_skipped = outputs.skipped;
    record.metrics = outputs.metrics;
    record.metrics_skipped = outputs.metrics_skipped;
    write_record(run_dir, record)
}

/// The engine's view of a recorded cluster run that its record still says is queued or
/// running; `None` for a local run or a finished one.
pub fn live_state(record: &RunRecord) -> Option<JobState> {
    let cluster = record
        .cluster
        .as_ref()
        .filter(|cluster| cluster.state.is_active())?;
    match cluster.engine {
        Engine::Slurm => {
            Some(Slurm::state(&cluster.job_id).unwrap_or_else(|_| cluster.state.clone()))
        }
    }
}

/// `mlpack cancel RUN`: ask the engine to end the job; `train`, if it waits, records the end.
pub fn cancel(record: &RunRecord) -> Result<String, ClusterRunError> {
    let Some(cluster) = &record.cluster else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    match cluster.engine {
        Engine::Slurm => Slurm::cancel(&cluster.job_id)?,
    }
    Ok(cluster.job_id.clone())
}

/// `mlpack logs RUN [--rank K] [-f]`: the rank's log so far, then, with `follow`, what it
/// gains until the job ends.
pub fn logs(
    record: &RunRecord,
    run_dir: &Path,
    rank: u32,
    follow: bool,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<(), ClusterRunError> {
    let Some(cluster) = &record.cluster else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    if rank >= cluster.nodes {
        return Err(ClusterRunError::NoSuchRank {
            run: record.id.to_string(),
            rank,
            nodes: cluster.nodes,
        });
    }
    let mut follower = LogFollower::new(crate::cluster::rank_log(run_dir, rank));
    follower.emit(report);
    if !follow {
        return Ok(());
    }
    let mut active = cluster.state.is_active();
    for tick in 0_u32.. {
        if tick % STATE_EVERY == 0 {
            active = active && Slurm::state(&cluster.job_id)?.is_active();
        }
        if !active {
            break;
        }
        std::thread::sleep(POLL);
        follower.emit(report);
    }
    follower.emit(report);
    Ok(())
}

/// A log file read from where the last read stopped; a file not there yet reads as empty.
struct LogFollower {
    path: PathBuf,
    offset: u64,
}

impl LogFollower {
    fn new(path: PathBuf) -> Self {
        Self { path, offset: 0 }
    }

    fn emit(&mut self, report: &mut dyn FnMut(ClusterEvent<'_>)) {
        let Ok(mut file) = fs_err::File::open(&self.path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        if let Ok(read) = file.read_to_end(&mut bytes)
            && read > 0
        {
            self.offset += read as u64;
            report(ClusterEvent::Output(&bytes));
        }
    }
}
