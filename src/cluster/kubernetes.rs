//! Kubernetes: the job as typed objects (`k8s-openapi` for the built-in kinds, [`crd`] for
//! JobSet and Kubeflow Trainer's TrainJob) written as one YAML file, `cluster/job.yaml` in the
//! run's folder, applied with `kubectl apply` and followed with `kubectl get`/`logs`.
//!
//! Three kinds ([`WorkloadKind`]), one pod template: an Indexed Job with a headless Service
//! (no add-on needed; pod `<job>-<rank>.<service>` answers DNS, so `<job>-0.<service>` is the
//! rendezvous host), a JobSet (one replicated job of one Indexed Job, DNS hostnames on), or a
//! TrainJob that names a training runtime and patches its pods. Every rank reads its node rank
//! from its pod's completion index (the Job controller's `batch.kubernetes.io/job-completion-index`
//! annotation, also `JOB_COMPLETION_INDEX`). Jobs: <https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode>;
//! pod DNS: <https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-hostname-and-subdomain-field>.

mod crd;
mod kubectl;
mod objects;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use self::kubectl::Reachability;
use super::{ClusterError, ClusterJob, ENGINE_DIR, JobState};
use crate::error::IoError;
use crate::oci::registry::Credentials;

/// The YAML file's name in the run's engine folder.
const JOB_FILE: &str = "job.yaml";

/// The label every object and pod of a run carries: the run's ID.
const RUN_LABEL: &str = "mlpack.dev/run";

/// Which workload the job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// An Indexed Job and a headless Service: any cluster, no add-on.
    #[default]
    Job,
    /// A JobSet (`jobset.x-k8s.io/v1alpha2`): needs the JobSet controller.
    #[value(name = "jobset")]
    JobSet,
    /// A Kubeflow Trainer TrainJob (`trainer.kubeflow.org/v1alpha1`) on a training runtime.
    #[value(name = "trainjob")]
    TrainJob,
}

impl WorkloadKind {
    /// The resource `kubectl get` and `delete` name it by.
    fn resource(self) -> &'static str {
        match self {
            Self::Job => "jobs.batch",
            Self::JobSet => "jobsets.jobset.x-k8s.io",
            Self::TrainJob => "trainjobs.trainer.kubeflow.org",
        }
    }

    /// The label selecting the workload's pods, which the controllers set.
    fn pod_selector(self, name: &str) -> String {
        match self {
            Self::Job => format!("batch.kubernetes.io/job-name={name}"),
            // A TrainJob's JobSet has the TrainJob's name.
            Self::JobSet | Self::TrainJob => format!("jobset.sigs.k8s.io/jobset-name={name}"),
        }
    }
}

/// Where a dataset comes from on the cluster's nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetVolume {
    /// A PersistentVolumeClaim, optionally one folder of it.
    Claim {
        name: String,
        sub_path: Option<String>,
    },
    /// A path on every node.
    HostPath(String),
}

/// The secret the pods pull the image with.
#[derive(Debug, Clone)]
pub enum PullSecret {
    /// None: the registry is public, or the nodes have credentials of their own.
    None,
    /// A secret that already exists in the namespace.
    Existing(String),
    /// A `kubernetes.io/dockerconfigjson` secret written with the job, from the credentials
    /// saved for the registry (`mlpack login`, `docker login`).
    Generated {
        registry: String,
        credentials: Credentials,
    },
}

/// What a Kubernetes job needs beyond the [`ClusterJob`].
#[derive(Debug, Clone)]
pub struct KubernetesJob<'a> {
    pub kind: WorkloadKind,
    /// The image by digest on the registry the nodes pull from (`registry/repo@sha256:…`).
    pub image: &'a str,
    pub namespace: Option<&'a str>,
    pub service_account: Option<&'a str>,
    /// Kueue's local queue: the workload's `kueue.x-k8s.io/queue-name` label.
    pub queue: Option<&'a str>,
    pub pull_secret: PullSecret,
    /// The volume of each of the job's datasets, in the same order.
    pub datasets: &'a [DatasetVolume],
    /// A PersistentVolumeClaim that receives the outputs (in a folder named after the run);
    /// without one they stay in the pods' `emptyDir`.
    pub outputs_claim: Option<&'a str>,
    /// The TrainJob's runtime (a ClusterTrainingRuntime).
    pub runtime: &'a str,
}

impl KubernetesJob<'_> {
    /// The workload's name (also its Service's and its JobSet's): `mlpack-<run id>`, a DNS
    /// label that starts with a letter, as TrainJob requires.
    fn name(job: &ClusterJob<'_>) -> String {
        format!(
            "mlpack-{}",
            job.run_id.to_ascii_lowercase().replace(['_', '.'], "-")
        )
    }
}

/// The Kubernetes adapter.
#[derive(Debug, Clone, Copy)]
pub struct Kubernetes;

impl Kubernetes {
    /// The job's objects as YAML documents.
    pub fn yaml(job: &ClusterJob<'_>, kube: &KubernetesJob<'_>) -> Result<String, ClusterError> {
        objects::yaml(job, kube)
    }

    /// Write `cluster/job.yaml` into the run's folder (readable by its owner only: it may hold
    /// registry credentials); its path and the workload's name.
    pub fn write(
        job: &ClusterJob<'_>,
        kube: &KubernetesJob<'_>,
    ) -> Result<(PathBuf, String), ClusterError> {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        use std::io::Write as _;
        let dir = job.run_dir.join(ENGINE_DIR);
        fs_err::create_dir_all(&dir)
            .map_err(|source| IoError::new("create the run's cluster folder", &dir, source))?;
        let path = dir.join(JOB_FILE);
        let yaml = Self::yaml(job, kube)?;
        fs_err::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| file.write_all(yaml.as_bytes()))
            .map_err(|source| IoError::new("write the job file", &path, source))?;
        Ok((path, KubernetesJob::name(job)))
    }

    /// Whether `kubectl` has a current context whose API server answers.
    pub fn reachability() -> Reachability {
        kubectl::reachability()
    }

    /// `kubectl apply -f FILE`.
    pub fn submit(file: &Path) -> Result<(), ClusterError> {
        kubectl::apply(file)
    }

    /// The workload's state from its conditions, else from its pods.
    pub fn state(
        kind: WorkloadKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<JobState, ClusterError> {
        kubectl::state(kind, namespace, name)
    }

    /// Delete the run's objects (their pods with them).
    pub fn cancel(
        kind: WorkloadKind,
        namespace: Option<&str>,
        run_id: &str,
    ) -> Result<(), ClusterError> {
        kubectl::delete(kind, namespace, run_id)
    }

    /// Each rank's node and exit code, from the pods.
    pub fn rank_results(
        kind: WorkloadKind,
        namespace: Option<&str>,
        name: &str,
        nodes: u32,
    ) -> Vec<(Option<String>, Option<i32>)> {
        kubectl::rank_results(kind, namespace, name, nodes)
    }

    /// Rank `rank`'s log so far (empty while its pod has not started).
    pub fn log(kind: WorkloadKind, namespace: Option<&str>, name: &str, rank: u32) -> Vec<u8> {
        kubectl::log(kind, namespace, name, rank)
    }
}

#[cfg(test)]
mod tests;
