//! A training run on a cluster: the same record as a local run, with the job handed to the
//! engine. `train` builds the image and pushes it to `[cluster] registry` if one is named;
//! `submit` fingerprints the data, makes the image reachable (else a shared store), writes
//! the engine's files into `outputs/<run-id>/cluster/`, submits them and writes a first
//! `run.json` (state `pending`); `wait` follows rank 0's log until the engine says the job
//! ended, then finishes the record with every rank's node, exit code and log, and rank 0's
//! outputs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    DatasetRecord, FingerprintCache, FingerprintError, Finished, GitRecord, HostFacts, ImageRecord,
    RunRecord, TrainError, TrainEvent, TrainReporter,
};
use crate::build::BuildOptions;
use crate::cluster::{
    ClusterError, ClusterJob, ClusterRecord, DatasetVolume, Engine, JobState, Kubernetes,
    KubernetesJob, Mount, PullSecret, Reachability, Resources, Slurm, SlurmNodes, WorkloadKind,
};
use crate::context::Context;
use crate::error::{Diagnostic, IoError};
use crate::gc::GcError;
use crate::manifest::ClusterSection;
use crate::network::StartError;
use crate::oci::registry::{self, CredentialStore, RegistryError};
use crate::oci::{ImageReference, OciError, Store};
use crate::project::Project;

mod follow;
pub use self::follow::{cancel, logs, settle, wait};

/// How often the followed rank's log file is read while `train` or `logs -f` waits: its
/// first line is what users wait for, and a read of a log that has not grown is one `open`.
const POLL: Duration = Duration::from_millis(25);
/// How often the engine is asked for the job's state while it runs (`squeue` is a request to
/// the controller), and how often a pod's log is fetched (`kubectl` asks the API server).
const SLURM_STATE: Duration = Duration::from_millis(500);
const KUBECTL: Duration = Duration::from_secs(2);
/// Slurm, once the followed rank has written its exit code: the job is ending, and its state
/// is asked this often so that `train` writes the record soon after it has.
const SLURM_ENDING: Duration = Duration::from_millis(100);

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
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Network(#[from] StartError),
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
            Self::Registry(error) => error.is_user_error(),
            Self::NotClusterRun { .. } | Self::NoSuchRank { .. } => true,
            Self::Gc(_) | Self::Io(_) | Self::Network(_) | Self::Record { .. } => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::Cluster(error) => error.hints(),
            Self::Registry(error) => error.hints(),
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
    /// The Kubernetes workload (`--kind`, `[cluster.kubernetes] kind`).
    pub kind: WorkloadKind,
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
    let cluster = &project.manifest().cluster;
    // Checked before the build and the push: Kubernetes needs a registry and a volume for
    // every dataset.
    let volumes = match target.engine {
        Engine::Slurm => Vec::new(),
        Engine::Kubernetes if cluster.registry.is_none() => {
            return Err(ClusterRunError::from(ClusterError::NoRegistry).into());
        }
        Engine::Kubernetes => datasets
            .iter()
            .map(|dataset| dataset_volume(cluster, &dataset.source))
            .collect::<Result<_, _>>()
            .map_err(ClusterRunError::from)?,
    };
    let built = crate::build::build_project(context, project, options, reporter)?;
    reporter.train_event(TrainEvent::Built(&built));
    let mut command = project.manifest().train.command.args();
    command.extend(extra.iter().cloned());
    let image = ImageRecord::of(&built);
    let registry_image = match &cluster.registry {
        None => None,
        Some(registry) => {
            let pinned = publish(context, &image, registry.get_ref(), target.dry_run)?;
            if !target.dry_run {
                report(ClusterEvent::Pushed { reference: &pinned });
            }
            Some(pinned)
        }
    };
    let request = ClusterRequest {
        engine: target.engine,
        resources: target.resources,
        kind: target.kind,
        project: &project.dir,
        manifest: project.manifest(),
        image,
        registry_image,
        volumes,
        command,
        datasets,
        dry_run: target.dry_run,
    };
    let Some(submitted) = submit(&request, report)? else {
        return Ok(None);
    };
    Ok(Some(wait(submitted, report)?))
}

/// Push the image to `registry` (`host[:port][/namespace]`) under its name and tag, unless
/// `dry_run`; the reference the nodes pull, by digest: `registry/name@sha256:…`. The push is
/// `mlpack push`'s: blobs the registry has are not sent again.
fn publish(
    context: &Context,
    image: &ImageRecord,
    registry: &str,
    dry_run: bool,
) -> Result<String, ClusterRunError> {
    let local = ImageReference::parse_name(&image.reference).map_err(OciError::from)?;
    let target = registry::remote_reference(&format!(
        "{}/{}:{}",
        registry.trim_end_matches('/'),
        local.repository_name(),
        local.tag().unwrap_or("latest")
    ))?;
    let pinned = format!("{}@{}", target.name(), image.digest);
    if dry_run {
        return Ok(pinned);
    }
    let store = context.store()?;
    let resolved = store.resolve(&image.digest)?;
    let client = registry::client_for(target.registry())?;
    context.network()?.block_on(registry::push(
        &client,
        store,
        &resolved,
        &target,
        &registry::NoProgress,
    ))?;
    Ok(pinned)
}

/// `mlpack fingerprint --expect SHA256 --run RUN [--cache DIR] PATH`, node 0's check before
/// a cluster job trains: the data at `path` is what the submission fingerprinted, else
/// [`TrainError::ChangedDataset`]. The file hashes come from the cache in `cache` (the run's,
/// which the submission wrote), else mlpack's own. The fingerprint, as computed now.
pub fn check_fingerprint(
    path: &Path,
    expected: Option<(&str, &str)>,
    cache: Option<&Path>,
) -> Result<super::Fingerprint, TrainError> {
    let mut cache = match cache {
        Some(dir) => FingerprintCache::open(dir),
        None => FingerprintCache::open(&crate::dirs::cache_dir()?),
    };
    let now = cache.fingerprint(path)?;
    cache.save();
    if let Some((sha256, run)) = expected
        && now.sha256 != sha256
    {
        let short = |sha256: &str| sha256.get(..12).unwrap_or(sha256).to_string();
        return Err(TrainError::ChangedDataset {
            dataset: path.display().to_string(),
            run: run.to_string(),
            was: short(sha256),
            now: short(&now.sha256),
            files: now.files,
            bytes: now.bytes,
        });
    }
    Ok(now)
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
    pub kind: WorkloadKind,
    pub project: &'a Path,
    pub manifest: &'a crate::manifest::Manifest,
    pub image: ImageRecord,
    /// The image by digest on `[cluster] registry`, pushed there; the nodes pull it.
    pub registry_image: Option<String>,
    /// Kubernetes: each dataset's volume, in the order of `datasets`.
    pub volumes: Vec<DatasetVolume>,
    pub command: Vec<String>,
    pub datasets: Vec<ClusterDataset>,
    /// Write the engine's files and stop.
    pub dry_run: bool,
}

/// What a cluster run tells its user as it goes.
#[derive(Debug)]
pub enum ClusterEvent<'a> {
    /// The image is on the registry the nodes pull from.
    Pushed {
        reference: &'a str,
    },
    /// The job files are written and nothing was submitted: `--dry-run`, or no cluster
    /// answers (`reason`).
    Written {
        run_id: &'a str,
        script: &'a Path,
        reason: String,
    },
    Submitted {
        engine: Engine,
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

/// Fingerprint, share the image, write the job files and submit them (unless `dry_run`, or,
/// on Kubernetes, no cluster answers).
pub fn submit(
    request: &ClusterRequest<'_>,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<Option<Submitted>, ClusterRunError> {
    if request.resources.nodes == 0 {
        return Err(ClusterError::NoNodes.into());
    }
    let local = Store::open_default()?;
    let slurm_nodes = match request.engine {
        Engine::Slurm => Some(slurm_nodes(request, &local)?),
        Engine::Kubernetes => None,
    };
    let (datasets, hashes) = fingerprint(&request.datasets)?;
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
    let fingerprints: Vec<String> = datasets
        .iter()
        .map(|dataset| dataset.sha256.clone())
        .collect();
    let train = &request.manifest.train;
    let job = ClusterJob {
        run_id: run_id.as_str(),
        run_dir: &run_dir,
        image: &request.image.digest,
        command: &request.command,
        resources: &request.resources,
        datasets: &mounts,
        fingerprints: &fingerprints,
        outputs_target: &request.manifest.outputs.target,
        workdir: &train.workdir,
        env: &train.env,
        shm_size: train.shm_size.as_ref().map(|size| size.get_ref().as_str()),
    };
    let written = match &slurm_nodes {
        Some((mlpack, store)) => {
            // Node 0 checks the datasets with these hashes (see `Slurm`'s node script).
            let roots: Vec<&Path> = mounts.iter().map(|mount| mount.host.as_path()).collect();
            hashes
                .subset(&roots, &run_dir.join(crate::cluster::ENGINE_DIR))
                .save();
            let nodes = SlurmNodes {
                mlpack,
                store: store.as_deref(),
                pull: request.registry_image.as_deref(),
            };
            Written::Slurm(Slurm::write(&job, &nodes)?)
        }
        None => write_kubernetes(request, &job)?,
    };
    let not_submitted = if request.dry_run {
        Some("--dry-run".to_string())
    } else if let Written::Kubernetes { .. } = written
        && let reachability = Kubernetes::reachability()
        && reachability != Reachability::Reachable
    {
        Some(reachability.reason())
    } else {
        None
    };
    if let Some(reason) = not_submitted {
        report(ClusterEvent::Written {
            run_id: run_id.as_str(),
            script: written.path(),
            reason,
        });
        return Ok(None);
    }
    let job_id = match &written {
        Written::Slurm(script) => Slurm::submit(script)?,
        Written::Kubernetes { file, name, .. } => {
            Kubernetes::submit(file)?;
            name.clone()
        }
    };
    report(ClusterEvent::Submitted {
        engine: request.engine,
        run_id: run_id.as_str(),
        job_id: &job_id,
        script: written.path(),
    });
    let (kind, namespace) = match written {
        Written::Slurm(_) => (None, None),
        Written::Kubernetes { namespace, .. } => (Some(request.kind), namespace),
    };
    let record = pending_record(request, run_id, datasets, job_id, kind, namespace);
    let record_path = write_record(&run_dir, &record)?;
    // Kept by `mlpack prune` while the nodes may still start it, and after for `reproduce`.
    crate::gc::RunRoot {
        run: record.id.clone(),
        image: record.image.digest.parse()?,
        project: fs_err::canonicalize(request.project)
            .map_err(|source| IoError::new("open", request.project, source))?,
        record: record_path,
    }
    .save(&local)?;
    Ok(Some(Submitted { record, run_dir }))
}

/// The engine's files of a run, written.
enum Written {
    Slurm(PathBuf),
    Kubernetes {
        file: PathBuf,
        name: String,
        namespace: Option<String>,
    },
}

impl Written {
    fn path(&self) -> &Path {
        match self {
            Self::Slurm(path) | Self::Kubernetes { file: path, .. } => path,
        }
    }
}

/// Slurm: the `mlpack` the nodes run (checked to exist) and the store they run the image from:
/// with a registry, `[cluster] store` or each node's own, which pulls it; else a shared store
/// (`[cluster] store`, the image copied there, or this machine's).
fn slurm_nodes(
    request: &ClusterRequest<'_>,
    local: &Store,
) -> Result<(PathBuf, Option<PathBuf>), ClusterRunError> {
    let cluster = &request.manifest.cluster;
    let mlpack = match &cluster.mlpack {
        Some(path) => request.project.join(path),
        None => std::env::current_exe()
            .map_err(|source| IoError::new("find", "the mlpack executable", source))?,
    };
    if !mlpack.is_file() {
        return Err(ClusterError::MissingExecutable { path: mlpack }.into());
    }
    let store = match (&cluster.store, &request.registry_image) {
        (Some(path), Some(_)) => Some(absolute_dir(&request.project.join(path.get_ref()))?),
        (None, Some(_)) => None,
        (Some(path), None) => Some(crate::cluster::share_image(
            local,
            &request.project.join(path.get_ref()),
            &request.image.digest,
            &request.image.reference,
        )?),
        (None, None) => Some(local.root().to_path_buf()),
    };
    Ok((mlpack, store))
}

/// `path`, created if missing, as an absolute path the nodes can use from any directory.
fn absolute_dir(path: &Path) -> Result<PathBuf, IoError> {
    fs_err::create_dir_all(path).map_err(|source| IoError::new("create", path, source))?;
    fs_err::canonicalize(path).map_err(|source| IoError::new("open", path, source))
}

/// Kubernetes: `cluster/job.yaml`, from `[cluster.kubernetes]`.
fn write_kubernetes(
    request: &ClusterRequest<'_>,
    job: &ClusterJob<'_>,
) -> Result<Written, ClusterRunError> {
    let section = &request.manifest.cluster.kubernetes;
    let Some(image) = &request.registry_image else {
        return Err(ClusterError::NoRegistry.into());
    };
    let pull_secret = if let Some(secret) = &section.image_pull_secret {
        PullSecret::Existing(secret.clone())
    } else {
        let registry = registry::remote_reference(image)?.registry().to_string();
        match CredentialStore::open()?.get(&registry)? {
            Some(credentials) => PullSecret::Generated {
                registry,
                credentials,
            },
            None => PullSecret::None,
        }
    };
    let kube = KubernetesJob {
        kind: request.kind,
        image,
        namespace: section.namespace.as_deref(),
        service_account: section.service_account.as_deref(),
        queue: request.resources.queue.as_deref(),
        pull_secret,
        datasets: &request.volumes,
        outputs_claim: section.outputs_claim.as_deref(),
        runtime: section.runtime.as_deref().unwrap_or("torch-distributed"),
    };
    let (file, name) = Kubernetes::write(job, &kube)?;
    Ok(Written::Kubernetes {
        file,
        name,
        namespace: section.namespace.clone(),
    })
}

/// The volume `[cluster.kubernetes.datasets]` names for the dataset `source`.
fn dataset_volume(cluster: &ClusterSection, source: &str) -> Result<DatasetVolume, ClusterError> {
    let entry = cluster.kubernetes.datasets.get(source).or_else(|| {
        cluster
            .kubernetes
            .datasets
            .get(source.trim_end_matches('/'))
    });
    match entry {
        Some(entry) => match (&entry.claim, &entry.host_path) {
            (Some(claim), _) => Ok(DatasetVolume::Claim {
                name: claim.clone(),
                sub_path: entry.sub_path.clone(),
            }),
            (None, Some(path)) => Ok(DatasetVolume::HostPath(path.clone())),
            (None, None) => Err(ClusterError::NoVolume {
                dataset: source.to_string(),
            }),
        },
        None => Err(ClusterError::NoVolume {
            dataset: source.to_string(),
        }),
    }
}

/// The first `run.json` of a submitted run: state `pending`, no end yet.
fn pending_record(
    request: &ClusterRequest<'_>,
    id: super::RunId,
    datasets: Vec<DatasetRecord>,
    job_id: String,
    kind: Option<WorkloadKind>,
    namespace: Option<String>,
) -> RunRecord {
    RunRecord {
        id,
        started: jiff::Timestamp::now().to_string(),
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
            kind,
            namespace,
        }),
    }
}

/// The datasets' records, and the cache that holds their files' hashes.
fn fingerprint(
    datasets: &[ClusterDataset],
) -> Result<(Vec<DatasetRecord>, FingerprintCache), ClusterRunError> {
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
    Ok((records, cache))
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
