//! A training run: build the project's image when its inputs changed (only changed layers),
//! run the `[train]` command in it with the datasets mounted and a fresh `outputs/<run-id>/`,
//! tee the job's output to the terminal and `train.log`, and write `run.json`.
//!
//! The container is started by `mlpack run` in a child process: this process ran the build's
//! async runtime and thread pools, and namespaces must be created from a process that never
//! had other threads.

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use nix::sys::signal::{SigHandler, Signal, signal};

use super::sidecars::SidecarPlan;
use super::{
    DatasetRecord, FingerprintCache, GitRecord, HostFacts, ImageRecord, RunRecord, TRAIN_LOG,
    TrainError,
};
use crate::build::{BuildOptions, BuildReport, PipelineReporter};
use crate::context::Context;
use crate::manifest::{Accelerator, Manifest};
use crate::project::Project;

/// What a run tells its user as it goes, beyond the build's progress.
#[derive(Debug)]
pub enum TrainEvent<'a> {
    /// The image was built (or found up to date).
    Built(&'a BuildReport),
    /// The job starts.
    Started {
        run_id: &'a str,
        command: &'a [String],
    },
    /// The job wrote `bytes` (also kept in `train.log`).
    Output { stream: Stream, bytes: &'a [u8] },
}

/// Which of the job's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Told of the build's progress and each [`TrainEvent`].
pub trait TrainReporter: PipelineReporter {
    fn train_event(&self, event: TrainEvent<'_>);
}

/// A run's record and where it was written.
#[derive(Debug)]
pub struct Finished {
    pub record: RunRecord,
    pub record_path: PathBuf,
}

/// A dataset as the run mounts it, checked to exist before anything is built.
#[derive(Debug)]
pub(crate) struct Dataset {
    /// As the manifest names it.
    pub(crate) source: String,
    /// Canonical.
    pub(crate) host: PathBuf,
    pub(crate) target: String,
    pub(crate) read_only: bool,
}

/// `mlpack train`: build if needed, then run `[train] command` followed by `extra`.
pub fn train(
    context: &Context,
    project: &Project,
    options: &BuildOptions,
    extra: &[String],
    reporter: &dyn TrainReporter,
) -> Result<Finished, TrainError> {
    let datasets = check_datasets(project)?;
    let sidecars = SidecarPlan::check(project)?;
    let built = crate::build::build_project(context, project, options, reporter)?;
    reporter.train_event(TrainEvent::Built(&built));
    let mut command = project.manifest().train.command.args();
    command.extend(extra.iter().cloned());
    let run = RunInputs {
        datasets: &datasets,
        image: ImageRecord::of(&built),
        command,
        reproduces: None,
        sidecars,
    };
    start_run(context, project, run, reporter)
}

/// `mlpack reproduce ID`: the same command in the same image (by digest) on the same data,
/// refused when a dataset's fingerprint no longer matches the record's.
pub fn reproduce(
    context: &Context,
    project: &Project,
    id: &str,
    reporter: &dyn TrainReporter,
) -> Result<Finished, TrainError> {
    let original = super::find_run(&project.outputs_dir(), id)?;
    let datasets = check_datasets(project)?;
    let sidecars = SidecarPlan::check(project)?;
    let mut cache = FingerprintCache::open(&crate::dirs::cache_dir()?);
    for recorded in &original.datasets {
        let Some(dataset) = datasets
            .iter()
            .find(|dataset| dataset.source == recorded.source)
        else {
            return Err(TrainError::DroppedDataset {
                run: original.id.to_string(),
                dataset: recorded.source.clone(),
            });
        };
        let now = cache.fingerprint(&dataset.host)?;
        if now.sha256 != recorded.sha256 {
            return Err(TrainError::ChangedDataset {
                dataset: recorded.source.clone(),
                run: original.id.to_string(),
                was: recorded.sha256[..12].to_string(),
                now: now.sha256[..12].to_string(),
                files: now.files,
                bytes: now.bytes,
            });
        }
    }
    cache.save();
    context
        .store()?
        .resolve(&original.image.digest)
        .map_err(|source| TrainError::RunImage {
            used: format!("run {} used image {}", original.id, original.image.digest),
            source: Box::new(source),
        })?;
    let run = RunInputs {
        datasets: &datasets,
        image: original.image.clone(),
        command: original.command.clone(),
        reproduces: Some(original.id.clone()),
        sidecars,
    };
    start_run(context, project, run, reporter)
}

/// What a run is made of, settled before it starts.
struct RunInputs<'a> {
    datasets: &'a [Dataset],
    image: ImageRecord,
    command: Vec<String>,
    /// The run this one repeats (`mlpack reproduce`).
    reproduces: Option<super::RunId>,
    /// `[train] services`, started beside the job.
    sidecars: Option<SidecarPlan>,
}

/// Fingerprint the data, run the job, and write its record.
fn start_run(
    context: &Context,
    project: &Project,
    run: RunInputs<'_>,
    reporter: &dyn TrainReporter,
) -> Result<Finished, TrainError> {
    let RunInputs {
        datasets,
        image,
        command,
        reproduces,
        sidecars,
    } = run;
    let run_id = super::RunId::generate();
    let run_dir = project.outputs_dir().join(run_id.as_str());
    let cache_dir = crate::dirs::cache_dir()?;
    let mut cache = FingerprintCache::open(&cache_dir);
    let mut dataset_records = Vec::new();
    for dataset in datasets {
        let fingerprint = cache.fingerprint(&dataset.host)?;
        dataset_records.push(DatasetRecord {
            source: dataset.source.clone(),
            target: dataset.target.clone(),
            read_only: dataset.read_only,
            sha256: fingerprint.sha256,
            files: fingerprint.files,
            bytes: fingerprint.bytes,
            links: fingerprint.links,
        });
    }
    cache.save();
    // After the fingerprints: a dataset refused leaves no empty run directory behind.
    fs_err::create_dir_all(&run_dir)?;

    // Removed when dropped, after the job, however it ended.
    let _running = sidecars
        .as_ref()
        .map(|plan| plan.start(run_id.as_str(), &run_dir))
        .transpose()?;
    let started = jiff::Timestamp::now();
    reporter.train_event(TrainEvent::Started {
        run_id: run_id.as_str(),
        command: &command,
    });
    let bytecode_in_image = context
        .store()?
        .resolve(&image.digest)
        .ok()
        .and_then(|resolved| resolved.config.config().clone()?.labels().clone())
        .is_some_and(|labels| labels.contains_key(crate::build::BYTECODE_LABEL));
    let job = Job {
        manifest: project.manifest(),
        image: &image,
        bytecode_in_image,
        datasets,
        run_dir: &run_dir,
        run_id: run_id.as_str(),
        command: &command,
        cache_dir: &cache_dir,
        reporter,
    };
    let exit_code = job.run()?;
    let finished = jiff::Timestamp::now();

    let outputs = super::read_outputs(&run_dir);
    let record = RunRecord {
        id: run_id.clone(),
        started: started.to_string(),
        finished: finished.to_string(),
        seconds: (finished - started).as_secs_f64(),
        exit_code,
        command,
        image,
        reproduces,
        lock_sha256: crate::sha256::file_sha256(&project.lock_path).ok(),
        git: crate::build::git_state(&project.dir)
            .map(|(commit, dirty)| GitRecord { commit, dirty }),
        datasets: dataset_records,
        outputs: outputs.hashes,
        outputs_skipped: outputs.skipped,
        host: HostFacts::collect(),
        metrics: outputs.metrics,
        metrics_skipped: outputs.metrics_skipped,
        cluster: None,
    };
    let mut json = serde_json::to_vec_pretty(&record)?;
    json.push(b'\n');
    let record_path =
        super::write_replacing(&run_dir, super::RUN_RECORD, &json).map_err(|source| {
            TrainError::WriteRecord {
                run: run_id.to_string(),
                source,
            }
        })?;
    // Kept by `mlpack prune` for `reproduce` and `package`, after a newer build takes the name.
    crate::gc::RunRoot {
        run: run_id,
        image: record.image.digest.parse()?,
        project: fs_err::canonicalize(&project.dir)?,
        record: fs_err::canonicalize(&record_path)?,
    }
    .save(context.store()?)?;
    Ok(Finished {
        record,
        record_path,
    })
}

/// Each dataset of the manifest, checked to exist before anything is built.
pub(crate) fn check_datasets(project: &Project) -> Result<Vec<Dataset>, TrainError> {
    let mut datasets = Vec::new();
    for dataset in &project.manifest().datasets {
        let source = dataset.source.get_ref();
        let host = project.dir.join(source);
        if !host.exists() {
            return Err(TrainError::MissingDataset {
                location: project.loaded.location(&dataset.source),
                path: host,
            });
        }
        datasets.push(Dataset {
            source: source.display().to_string(),
            host: fs_err::canonicalize(&host)?,
            target: dataset.target.get_ref().clone(),
            read_only: dataset.read_only,
        });
    }
    Ok(datasets)
}

/// Where the job's bytecode cache is mounted.
const PYCACHE_TARGET: &str = "/var/cache/mlpack/pycache";

/// Where `mlpack build` puts the project's code (its top layer).
const CODE_DIR: &str = "app";

/// One job's container, run by `mlpack run --rm` in a child.
struct Job<'a> {
    manifest: &'a Manifest,
    image: &'a ImageRecord,
    /// The image's packages layers carry their bytecode (`dev.mlpack.bytecode`).
    bytecode_in_image: bool,
    datasets: &'a [Dataset],
    run_dir: &'a Path,
    run_id: &'a str,
    command: &'a [String],
    cache_dir: &'a Path,
    reporter: &'a dyn TrainReporter,
}

impl Job<'_> {
    /// Run the job, teeing its output into `train.log`; its exit code.
    fn run(&self) -> Result<i32, TrainError> {
        let exe = std::env::current_exe().map_err(TrainError::CurrentExe)?;
        let mut child = Command::new(exe)
            .args(self.run_args()?)
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(TrainError::Spawn)?;
        // Ctrl-C reaches the child (the terminal signals the whole process group), which
        // passes it to the job; this process waits for the job to end and still writes the
        // record.
        // SAFETY: ignoring a signal installs no handler.
        #[expect(unsafe_code, reason = "signal(2) is unsafe in nix")]
        let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) };
        let log = Mutex::new(fs_err::File::create(self.run_dir.join(TRAIN_LOG))?);
        let status = std::thread::scope(|scope| {
            if let Some(out) = child.stdout.take() {
                scope.spawn(|| tee(out, &log, self.reporter, Stream::Stdout));
            }
            if let Some(err) = child.stderr.take() {
                scope.spawn(|| tee(err, &log, self.reporter, Stream::Stderr));
            }
            child.wait()
        })?;
        Ok(status
            .code()
            .or_else(|| {
                std::os::unix::process::ExitStatusExt::signal(&status).map(|signal| 128 + signal)
            })
            .unwrap_or(1))
    }

    /// `mlpack run`'s arguments: the datasets, the run directory, `[train]`'s settings, the
    /// bytecode caches, the image and the command.
    fn run_args(&self) -> Result<Vec<String>, TrainError> {
        let manifest = self.manifest;
        let mut args: Vec<String> = vec![
            "run".into(),
            "--pull".into(),
            "never".into(),
            "--rm".into(),
            "--name".into(),
            format!("train-{}", self.run_id),
        ];
        for dataset in self.datasets {
            let mode = if dataset.read_only { "ro" } else { "rw" };
            let (host, target) = (dataset.host.display(), &dataset.target);
            args.extend(["-v".into(), format!("{host}:{target}:{mode}")]);
        }
        args.extend([
            "-v".into(),
            format!(
                "{}:{}",
                fs_err::canonicalize(self.run_dir)?.display(),
                manifest.outputs.target
            ),
            "-w".into(),
            manifest.train.workdir.clone(),
        ]);
        for (name, value) in &manifest.train.env {
            args.extend(["-e".into(), format!("{name}={value}")]);
        }
        if let Some(size) = &manifest.train.shm_size {
            args.extend(["--shm-size".into(), size.get_ref().clone()]);
        }
        if wants_gpus(manifest) {
            args.extend(["--gpus".into(), "all".into()]);
        }
        for (host, target) in self.pycache_mounts()? {
            args.extend(["-v".into(), format!("{}:{target}", host.display())]);
        }
        if !self.bytecode_in_image {
            args.extend(["-e".into(), format!("PYTHONPYCACHEPREFIX={PYCACHE_TARGET}")]);
        }
        args.push(self.image.digest.clone());
        args.extend(self.command.iter().cloned());
        Ok(args)
    }

    /// Bytecode caches for a run, as `(host dir, container dir)`, in mount order (see
    /// [`super::pycache`]). An image with its libraries' bytecode gets only the code's, over
    /// the code's own `__pycache__/`: `PYTHONPYCACHEPREFIX` would hide the image's `.pyc`
    /// from Python. An older image gets both under the prefix: the libraries' first, then the
    /// code's over `<prefix>/app`.
    fn pycache_mounts(&self) -> Result<Vec<(PathBuf, String)>, TrainError> {
        let (libraries, code) =
            super::pycache::dirs(self.cache_dir, &self.image.digest, &self.image.layers);
        if self.bytecode_in_image {
            fs_err::create_dir_all(&code)?;
            return Ok(vec![(code, format!("/{CODE_DIR}/__pycache__"))]);
        }
        for dir in [&libraries, &code] {
            fs_err::create_dir_all(dir)?;
        }
        Ok(vec![
            (libraries, PYCACHE_TARGET.to_string()),
            (code, format!("{PYCACHE_TARGET}/{CODE_DIR}")),
        ])
    }
}

/// Pass what the job writes on `stream` to the reporter (the terminal) and to the log.
fn tee(
    mut from: impl Read,
    log: &Mutex<fs_err::File>,
    reporter: &dyn TrainReporter,
    stream: Stream,
) {
    let mut buffer = [0_u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer) {
        if read == 0 {
            break;
        }
        let bytes = &buffer[..read];
        reporter.train_event(TrainEvent::Output { stream, bytes });
        if let Ok(mut log) = log.lock() {
            let _ = log.write_all(bytes);
        }
    }
}

/// `[hardware] accelerator`: `cuda` always asks for GPUs; `auto` when the host has a driver.
fn wants_gpus(manifest: &Manifest) -> bool {
    match manifest.hardware.accelerator {
        Accelerator::Cuda => true,
        Accelerator::Auto => crate::hardware::NvidiaDriver::detect()
            .ok()
            .flatten()
            .is_some(),
        Accelerator::Cpu => false,
    }
}
