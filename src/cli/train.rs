//! `mlpack train`: lock and build when the inputs changed (only changed layers), run the
//! `[train]` command in the image with the datasets mounted and a fresh `outputs/<run-id>/`,
//! tee the job's output to the terminal and `train.log`, and write `run.json`.
//!
//! The container is started by `mlpack run` in a child process: this process ran the build's
//! async runtime and thread pools, and namespaces must be created from a process that never
//! had other threads.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::error::{Context, Result};
use nix::sys::signal::{SigHandler, Signal, signal};

use super::build::{BuildArgs, build_image};
use super::{ExitStatus, Printer, UserError};
use crate::manifest::{Accelerator, CommandLine, LoadedManifest, Manifest};
use crate::train::{
    DatasetRecord, FingerprintCache, GitRecord, HostFacts, ImageRecord, RunRecord, TRAIN_LOG,
};

#[derive(Debug, clap::Args)]
pub(super) struct TrainArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Arguments for the training command (after `--`).
    #[arg(last = true)]
    extra: Vec<String>,
}

pub(super) fn run(args: &TrainArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let project = args.build.project(directory);
    let loaded = Manifest::load(&project)?;
    let datasets = check_datasets(&project, &loaded)?;
    let built = build_image(&args.build, &project, &loaded, printer)?;
    printer.status(&format!(
        "Built `{}` ({}) in {:.2}s",
        built.reference, &built.manifest_digest, built.seconds
    ));
    let image = ImageRecord {
        reference: built.reference.to_string(),
        digest: built.manifest_digest.clone(),
        layers: built
            .layers
            .iter()
            .map(|layer| layer.digest.clone())
            .collect(),
    };
    let mut command = loaded.manifest.train.command.args();
    command.extend(args.extra.iter().cloned());
    start_run(&project, &loaded, &datasets, image, command, None, printer)
}

#[derive(Debug, clap::Args)]
pub(super) struct ReproduceArgs {
    /// The run to repeat: its ID or a unique prefix.
    id: String,
}

/// `mlpack reproduce ID`: the same command in the same image (by digest) on the same data,
/// refused when a dataset's fingerprint no longer matches the record's.
pub(super) fn reproduce(
    args: &ReproduceArgs,
    directory: &Path,
    printer: Printer,
) -> Result<ExitStatus> {
    let loaded = Manifest::load(directory)?;
    let outputs = directory.join(&loaded.manifest.outputs.dir);
    let original = super::runs::find_run(&outputs, &args.id)?;
    let datasets = check_datasets(directory, &loaded)?;
    let mut cache = FingerprintCache::open(&cache_dir());
    for recorded in &original.datasets {
        let Some((_, host, _, _)) = datasets
            .iter()
            .find(|(source, ..)| *source == recorded.source)
        else {
            return Err(UserError::new(format!(
                "run {} used the dataset `{}`, which `mlpack.toml` no longer lists",
                original.id, recorded.source
            ))
            .into());
        };
        let now = cache.fingerprint(host)?;
        if now.sha256 != recorded.sha256 {
            return Err(UserError::new(format!(
                "the dataset `{}` changed since run {}: its fingerprint was {} and is now {} ({} files, {} bytes)",
                recorded.source, original.id, &recorded.sha256[..12], &now.sha256[..12], now.files, now.bytes
            ))
            .hint("restore the data the run used, or start a new run with `mlpack train`")
            .into());
        }
    }
    cache.save();
    crate::oci::Store::open_default()?
        .resolve(&original.image.digest)
        .with_context(|| format!("run {} used image {}", original.id, original.image.digest))?;
    start_run(
        directory,
        &loaded,
        &datasets,
        original.image.clone(),
        original.command.clone(),
        Some(original.id.clone()),
        printer,
    )
}

/// Fingerprint the data, run the job, and write its record.
fn start_run(
    project: &Path,
    loaded: &LoadedManifest,
    datasets: &[(String, PathBuf, String, bool)],
    image: ImageRecord,
    command: Vec<String>,
    reproduces: Option<crate::train::RunId>,
    printer: Printer,
) -> Result<ExitStatus> {
    let manifest = &loaded.manifest;
    let run_id = crate::train::RunId::generate();
    let outputs_root = project.join(&manifest.outputs.dir);
    let run_dir = outputs_root.join(run_id.as_str());
    let mut cache = FingerprintCache::open(&cache_dir());
    let mut dataset_records = Vec::new();
    for (source, host, target, read_only) in datasets {
        let fingerprint = cache.fingerprint(host)?;
        dataset_records.push(DatasetRecord {
            source: source.clone(),
            target: target.clone(),
            read_only: *read_only,
            sha256: fingerprint.sha256,
            files: fingerprint.files,
            bytes: fingerprint.bytes,
            links: fingerprint.links,
        });
    }
    cache.save();
    // After the fingerprints: a dataset refused leaves no empty run directory behind.
    fs_err::create_dir_all(&run_dir)?;

    let started = jiff::Timestamp::now();
    printer.status(&format!("Training run {run_id}: {}", command.join(" ")));
    let exit_code = run_container(
        loaded,
        &image,
        datasets,
        &run_dir,
        run_id.as_str(),
        &command,
    )?;
    let finished = jiff::Timestamp::now();

    let outputs = crate::train::read_outputs(&run_dir);
    let record = RunRecord {
        id: run_id.clone(),
        started: started.to_string(),
        finished: finished.to_string(),
        seconds: (finished - started).as_secs_f64(),
        exit_code,
        command,
        image,
        reproduces,
        lock_sha256: crate::sha256::file_sha256(&project.join(crate::lock::LOCK_FILE)).ok(),
        git: crate::build::git_state(project).map(|(commit, dirty)| GitRecord { commit, dirty }),
        datasets: dataset_records,
        outputs: outputs.hashes,
        outputs_skipped: outputs.skipped,
        host: HostFacts::collect(),
        metrics: outputs.metrics,
        metrics_skipped: outputs.metrics_skipped,
    };
    let mut json = serde_json::to_vec_pretty(&record)?;
    json.push(b'\n');
    let record_path = crate::train::write_replacing(&run_dir, crate::train::RUN_RECORD, &json)
        .with_context(|| format!("could not write the record of run {run_id}"))?;
    for (name, why) in &record.outputs_skipped {
        printer.status(&format!("warning: the output `{name}` is {why}"));
    }
    // Kept by `mlpack prune` for `reproduce` and `package`, after a newer build takes the name.
    crate::gc::RunRoot {
        run: run_id.clone(),
        image: record.image.digest.parse()?,
        project: fs_err::canonicalize(project)?,
        record: fs_err::canonicalize(&record_path)?,
    }
    .save(&crate::oci::Store::open_default()?)?;
    if printer.json {
        printer.json(&record)?;
    } else {
        printer.status(&format!(
            "Run {run_id} exited with {exit_code} after {:.1}s; record: {}",
            record.seconds,
            record_path.display()
        ));
    }
    Ok(ExitStatus::Code(exit_code))
}

/// Each dataset as `(manifest source, host path, container target, read-only)`, checked to
/// exist before anything is built.
fn check_datasets(
    project: &Path,
    loaded: &LoadedManifest,
) -> Result<Vec<(String, PathBuf, String, bool)>> {
    let mut datasets = Vec::new();
    for dataset in &loaded.manifest.datasets {
        let source = dataset.source.get_ref();
        let host = project.join(source);
        if !host.exists() {
            let location = loaded.location(&dataset.source);
            return Err(UserError::new(format!(
                "{location}: the dataset `{}` does not exist",
                host.display()
            ))
            .hint("create it, or fix `source` in `[[datasets]]`")
            .into());
        }
        datasets.push((
            source.display().to_string(),
            fs_err::canonicalize(&host)?,
            dataset.target.get_ref().clone(),
            dataset.read_only,
        ));
    }
    Ok(datasets)
}

/// Where the job's bytecode cache is mounted.
const PYCACHE_TARGET: &str = "/var/cache/mlpack/pycache";

/// Where `mlpack build` puts the project's code (its top layer).
const CODE_DIR: &str = "app";

/// Bytecode caches for a run, as `(host dir, container dir)`, in mount order: the
/// libraries' first, then the code's over `<prefix>/app` (see [`crate::train::pycache`]).
fn pycache_mounts(image: &ImageRecord) -> Result<[(PathBuf, String); 2]> {
    let (libraries, code) = crate::train::pycache::dirs(&cache_dir(), &image.digest, &image.layers);
    for dir in [&libraries, &code] {
        fs_err::create_dir_all(dir)?;
    }
    Ok([
        (libraries, PYCACHE_TARGET.to_string()),
        (code, format!("{PYCACHE_TARGET}/{CODE_DIR}")),
    ])
}

fn cache_dir() -> PathBuf {
    crate::dirs::cache_dir().unwrap_or_else(|| std::env::temp_dir().join("mlpack"))
}

/// `mlpack run --rm` the job in a child, teeing its output into `train.log`; its exit code.
fn run_container(
    loaded: &LoadedManifest,
    image: &ImageRecord,
    datasets: &[(String, PathBuf, String, bool)],
    run_dir: &Path,
    run_id: &str,
    command: &[String],
) -> Result<i32> {
    let manifest = &loaded.manifest;
    let mut args: Vec<String> = vec![
        "run".into(),
        "--rm".into(),
        "--name".into(),
        format!("train-{run_id}"),
    ];
    for (_, host, target, read_only) in datasets {
        let mode = if *read_only { "ro" } else { "rw" };
        args.extend(["-v".into(), format!("{}:{target}:{mode}", host.display())]);
    }
    args.extend([
        "-v".into(),
        format!(
            "{}:{}",
            fs_err::canonicalize(run_dir)?.display(),
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
    for (host, target) in pycache_mounts(image)? {
        args.extend(["-v".into(), format!("{}:{target}", host.display())]);
    }
    args.extend(["-e".into(), format!("PYTHONPYCACHEPREFIX={PYCACHE_TARGET}")]);
    args.push(image.digest.clone());
    args.extend(command.iter().cloned());

    let exe = std::env::current_exe().context("could not find the mlpack executable")?;
    let mut child = Command::new(exe)
        .args(&args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start `mlpack run`")?;
    // Ctrl-C reaches the child (the terminal signals the whole process group), which passes
    // it to the job; this process waits for the job to end and still writes the record.
    // SAFETY: ignoring a signal installs no handler.
    #[expect(unsafe_code, reason = "signal(2) is unsafe in nix")]
    let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) };
    let log = Arc::new(Mutex::new(fs_err::File::create(run_dir.join(TRAIN_LOG))?));
    let tees = [
        child.stdout.take().map(|out| tee(out, log.clone(), false)),
        child.stderr.take().map(|err| tee(err, log.clone(), true)),
    ];
    let status = child.wait()?;
    for tee in tees.into_iter().flatten() {
        let _ = tee.join();
    }
    Ok(status
        .code()
        .or_else(|| {
            std::os::unix::process::ExitStatusExt::signal(&status).map(|signal| 128 + signal)
        })
        .unwrap_or(1))
}

/// Copy `from` to the terminal's stdout or stderr and to the log.
fn tee(
    mut from: impl Read + Send + 'static,
    log: Arc<Mutex<fs_err::File>>,
    stderr: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 16 * 1024];
        while let Ok(read) = from.read(&mut buffer) {
            if read == 0 {
                break;
            }
            let bytes = &buffer[..read];
            if stderr {
                let _ = std::io::stderr().write_all(bytes);
            } else {
                let _ = std::io::stdout().write_all(bytes);
                let _ = std::io::stdout().flush();
            }
            if let Ok(mut log) = log.lock() {
                let _ = log.write_all(bytes);
            }
        }
    })
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

#[derive(Debug, clap::Args)]
pub(super) struct PackageArgs {
    /// The run whose outputs to package [default: the latest run that exited 0].
    id: Option<String>,
    /// The model image's name [default: `<image name>-model:<run id>`].
    #[arg(short, long, value_name = "NAME:TAG")]
    tag: Option<String>,
    /// The model image's command, split on whitespace [default: `[serve] command`].
    #[arg(long, value_name = "COMMAND")]
    cmd: Option<String>,
}

/// `mlpack package`: the run's training image plus its outputs, serving by default.
pub(super) fn package(
    args: &PackageArgs,
    directory: &Path,
    printer: Printer,
) -> Result<ExitStatus> {
    let loaded = Manifest::load(directory)?;
    let manifest = &loaded.manifest;
    let cmd = model_command(args, manifest)?;
    let outputs = directory.join(&manifest.outputs.dir);
    let record = match &args.id {
        Some(id) => super::runs::find_run(&outputs, id)?,
        None => crate::train::list_runs(&outputs)
            .into_iter()
            .rev()
            .map(|(_, record)| record)
            .find(|record| record.exit_code == 0)
            .ok_or_else(|| {
                UserError::new(format!("no successful run in `{}`", outputs.display()))
                    .hint("train one with `mlpack train`")
            })?,
    };
    let reference = match &args.tag {
        Some(tag) => crate::oci::ImageReference::parse_name(tag)?,
        None => crate::train::model_reference(&record)?,
    };
    let store = crate::oci::Store::open_default()?;
    let descriptor = crate::train::package(
        &store,
        &outputs.join(record.id.as_str()),
        &record,
        &manifest.outputs.target,
        cmd,
        &reference,
    )?;
    if printer.json {
        printer.json(&serde_json::json!({"reference": reference, "digest": descriptor.digest().to_string(), "run": record.id}))?;
    } else {
        printer.status(&format!(
            "Packaged run {} as `{reference}` ({})",
            record.id,
            descriptor.digest()
        ));
    }
    Ok(ExitStatus::Success)
}

/// `--cmd`, else `[serve]` (or `[predict]`). Without either the image would keep the training
/// image's command and retrain, failing for want of the data, so it is refused.
fn model_command(args: &PackageArgs, manifest: &Manifest) -> Result<Vec<String>> {
    let command = match &args.cmd {
        Some(line) => CommandLine::Line(line.clone()).args(),
        None => manifest
            .serve
            .as_ref()
            .or(manifest.predict.as_ref())
            .map(|section| section.command.args())
            .unwrap_or_default(),
    };
    if command.is_empty() {
        return Err(UserError::new(
            "no command for the model image: it would run the training command",
        )
        .hint(
            "add a `[serve]` section to mlpack.toml (`command = \"python3 predict.py\"`), \
             or pass `--cmd \"python3 predict.py\"`",
        )
        .into());
    }
    Ok(command)
}
