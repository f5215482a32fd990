//! The job's objects, typed: one pod template for every kind, wrapped in an Indexed Job and a
//! headless Service, a JobSet, or a TrainJob; the registry secret beside them.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, HostPathVolumeSource,
    LocalObjectReference, ObjectFieldSelector, PersistentVolumeClaimVolumeSource, PodSpec,
    PodTemplateSpec, ResourceRequirements, Secret, Service, ServicePort, ServiceSpec, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::crd;
use super::{DatasetVolume, KubernetesJob, PullSecret, RUN_LABEL, WorkloadKind};
use crate::cluster::rendezvous::BASE_PORT;
use crate::cluster::{ClusterError, ClusterJob};

/// The training container's name: Kubeflow's runtimes call their trainer container `node`,
/// and a TrainJob can only patch containers by their runtime's names.
pub(super) const CONTAINER: &str = "node";
/// The replicated job of a JobSet (and of Kubeflow's runtimes) that runs the nodes.
pub(super) const REPLICATED_JOB: &str = "node";
/// Kueue's label naming the LocalQueue a workload is admitted through.
const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
/// The annotation the Job controller gives each pod of an Indexed Job: its index.
const COMPLETION_INDEX: &str = "metadata.annotations['batch.kubernetes.io/job-completion-index']";
const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Every object of the job, as YAML documents.
pub(super) fn yaml(job: &ClusterJob<'_>, kube: &KubernetesJob<'_>) -> Result<String, ClusterError> {
    let name = KubernetesJob::name(job);
    let mut documents = vec![format!(
        "# mlpack run {}: written by `mlpack train --on kubernetes`; `kubectl apply -f` this file\n",
        job.run_id
    )];
    let mut push = |value: Result<String, serde_norway::Error>| {
        value
            .map(|text| documents.push(text))
            .map_err(|error| ClusterError::Serialize(error.to_string()))
    };
    if let Some(secret) = secret(job, kube, &name) {
        push(serde_norway::to_string(&secret))?;
    }
    match kube.kind {
        WorkloadKind::Job => {
            push(serde_norway::to_string(&service(job, kube, &name)))?;
            push(serde_norway::to_string(&indexed_job(job, kube, &name)?))?;
        }
        WorkloadKind::JobSet => push(serde_norway::to_string(&job_set(job, kube, &name)?))?,
        WorkloadKind::TrainJob => push(serde_norway::to_string(&train_job(job, kube, &name)?))?,
    }
    Ok(documents.join("---\n"))
}

fn metadata(job: &ClusterJob<'_>, kube: &KubernetesJob<'_>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: kube.namespace.map(str::to_string),
        labels: Some(BTreeMap::from([(
            RUN_LABEL.to_string(),
            job.run_id.to_string(),
        )])),
        ..ObjectMeta::default()
    }
}

/// The workload's metadata: the run's label, and Kueue's queue when one is named.
fn workload_metadata(job: &ClusterJob<'_>, kube: &KubernetesJob<'_>, name: &str) -> ObjectMeta {
    let mut metadata = metadata(job, kube, name);
    if let (Some(queue), Some(labels)) = (kube.queue, metadata.labels.as_mut()) {
        labels.insert(QUEUE_LABEL.to_string(), queue.to_string());
    }
    metadata
}

/// The headless Service that gives each pod of the Indexed Job a DNS name
/// (`<job>-<index>.<service>`), published before the pods are ready so rank 0 is found
/// while the others start.
fn service(job: &ClusterJob<'_>, kube: &KubernetesJob<'_>, name: &str) -> Service {
    Service {
        metadata: metadata(job, kube, name),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            publish_not_ready_addresses: Some(true),
            selector: Some(BTreeMap::from([(
                RUN_LABEL.to_string(),
                job.run_id.to_string(),
            )])),
            ports: Some(vec![ServicePort {
                name: Some("rendezvous".to_string()),
                port: i32::try_from(BASE_PORT).unwrap_or(29500),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn indexed_job(
    job: &ClusterJob<'_>,
    kube: &KubernetesJob<'_>,
    name: &str,
) -> Result<Job, ClusterError> {
    let mut template = pod_template(job, kube, &format!("{name}-0.{name}"))?;
    if let Some(spec) = template.spec.as_mut() {
        spec.subdomain = Some(name.to_string());
    }
    Ok(Job {
        metadata: workload_metadata(job, kube, name),
        spec: Some(job_spec(job, template)?),
        ..Job::default()
    })
}

/// An Indexed Job of one pod per node that fails as soon as one pod fails: the other ranks
/// would wait for it in their collectives (Slurm's `--kill-on-bad-exit`).
fn job_spec(job: &ClusterJob<'_>, template: PodTemplateSpec) -> Result<JobSpec, ClusterError> {
    let nodes = i32::try_from(job.resources.nodes).map_err(|_| ClusterError::NoNodes)?;
    Ok(JobSpec {
        completion_mode: Some("Indexed".to_string()),
        completions: Some(nodes),
        parallelism: Some(nodes),
        backoff_limit: Some(0),
        active_deadline_seconds: deadline(job)?,
        template,
        ..JobSpec::default()
    })
}

fn job_set(
    job: &ClusterJob<'_>,
    kube: &KubernetesJob<'_>,
    name: &str,
) -> Result<crd::JobSet, ClusterError> {
    // JobSet names pods `<jobset>-<replicated job>-<job index>-<pod index>` under the subdomain
    // `<jobset>`.
    let template = pod_template(job, kube, &format!("{name}-{REPLICATED_JOB}-0-0.{name}"))?;
    Ok(crd::JobSet {
        api_version: crd::JOBSET_API_VERSION.to_string(),
        kind: "JobSet".to_string(),
        metadata: workload_metadata(job, kube, name),
        spec: crd::JobSetSpec {
            replicated_jobs: vec![crd::ReplicatedJob {
                name: REPLICATED_JOB.to_string(),
                replicas: 1,
                template: JobTemplateSpec {
                    metadata: None,
                    spec: Some(job_spec(job, template)?),
                },
            }],
            network: Some(crd::Network {
                enable_dns_hostnames: Some(true),
                publish_not_ready_addresses: Some(true),
                subdomain: None,
            }),
            success_policy: Some(crd::SuccessPolicy {
                operator: "All".to_string(),
                target_replicated_jobs: Vec::new(),
            }),
            failure_policy: Some(crd::FailurePolicy { max_restarts: 0 }),
        },
    })
}

fn train_job(
    job: &ClusterJob<'_>,
    kube: &KubernetesJob<'_>,
    name: &str,
) -> Result<crd::TrainJob, ClusterError> {
    let pod = pod_template(job, kube, &format!("{name}-{REPLICATED_JOB}-0-0.{name}"))?;
    let spec = pod.spec.unwrap_or_default();
    let container = spec.containers.into_iter().next().unwrap_or_default();
    // The runtime's torch plugin sets the `PET_*` variables itself and refuses them here.
    let env = container
        .env
        .unwrap_or_default()
        .into_iter()
        .filter(|var| !var.name.starts_with("PET_"))
        .collect();
    let patch = crd::PodSpecPatch {
        service_account_name: spec.service_account_name,
        volumes: spec.volumes.unwrap_or_default(),
        containers: vec![crd::ContainerPatch {
            name: CONTAINER.to_string(),
            volume_mounts: container.volume_mounts.unwrap_or_default(),
        }],
        image_pull_secrets: spec.image_pull_secrets.unwrap_or_default(),
    };
    Ok(crd::TrainJob {
        api_version: crd::TRAINER_API_VERSION.to_string(),
        kind: "TrainJob".to_string(),
        metadata: workload_metadata(job, kube, name),
        spec: crd::TrainJobSpec {
            runtime_ref: crd::RuntimeRef {
                name: kube.runtime.to_string(),
                api_group: Some("trainer.kubeflow.org".to_string()),
                kind: Some("ClusterTrainingRuntime".to_string()),
            },
            trainer: crd::Trainer {
                image: container.image,
                // The runtime's command (`torchrun …`) is replaced by the project's.
                command: job.command.to_vec(),
                env,
                num_nodes: Some(
                    i32::try_from(job.resources.nodes).map_err(|_| ClusterError::NoNodes)?,
                ),
                resources_per_node: container.resources,
                num_proc_per_node: i32::try_from(job.resources.processes_per_node()).ok(),
            },
            runtime_patches: vec![crd::RuntimePatch::pod(
                crd::MANAGER,
                REPLICATED_JOB,
                pod.metadata,
                patch,
            )],
            active_deadline_seconds: deadline(job)?,
        },
    })
}

/// The pod every node runs: the image by digest, the project's command, the rendezvous
/// variables, the GPUs, `/dev/shm`, the datasets read-only and the outputs.
fn pod_template(
    job: &ClusterJob<'_>,
    kube: &KubernetesJob<'_>,
    master: &str,
) -> Result<PodTemplateSpec, ClusterError> {
    let (volumes, mounts) = volumes(job, kube)?;
    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(kube.image.to_string()),
        // `args`, not `command`: the image's entrypoint stays, as under `mlpack run`.
        args: Some(job.command.to_vec()),
        working_dir: Some(job.workdir.to_string()),
        env: Some(env(job, master)),
        resources: resources(job),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let image_pull_secrets = match &kube.pull_secret {
        PullSecret::None => None,
        PullSecret::Existing(secret) => Some(secret.clone()),
        PullSecret::Generated { .. } => Some(secret_name(&KubernetesJob::name(job))),
    };
    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(BTreeMap::from([(
                RUN_LABEL.to_string(),
                job.run_id.to_string(),
            )])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some("Never".to_string()),
            service_account_name: kube.service_account.map(str::to_string),
            image_pull_secrets: image_pull_secrets.map(|name| vec![LocalObjectReference { name }]),
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
    })
}

/// The rendezvous variables (see `cluster::rendezvous`), then `[train] env`.
fn env(job: &ClusterJob<'_>, master: &str) -> Vec<EnvVar> {
    let nodes = job.resources.nodes;
    let processes = job.resources.processes_per_node();
    let value = |name: &str, value: String| EnvVar {
        name: name.to_string(),
        value: Some(value),
        value_from: None,
    };
    let rank = |name: &str| EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: COMPLETION_INDEX.to_string(),
            }),
            ..EnvVarSource::default()
        }),
    };
    let mut vars = vec![
        value("MASTER_ADDR", master.to_string()),
        value("MASTER_PORT", BASE_PORT.to_string()),
        value("NNODES", nodes.to_string()),
        rank("NODE_RANK"),
        value("NPROC_PER_NODE", processes.to_string()),
        value("WORLD_SIZE", (nodes * processes).to_string()),
        value("PET_NNODES", nodes.to_string()),
        rank("PET_NODE_RANK"),
        value("PET_NPROC_PER_NODE", processes.to_string()),
        value("PET_MASTER_ADDR", master.to_string()),
        value("PET_MASTER_PORT", BASE_PORT.to_string()),
    ];
    vars.extend(job.env.iter().map(|(name, text)| value(name, text.clone())));
    vars
}

/// GPUs as `nvidia.com/gpu` limits (the device plugin's resource; it needs no request), CPUs
/// and memory as requests and limits alike.
fn resources(job: &ClusterJob<'_>) -> Option<ResourceRequirements> {
    let mut amounts = BTreeMap::new();
    if let Some(cpus) = job.resources.cpus_per_node {
        amounts.insert("cpu".to_string(), Quantity(cpus.to_string()));
    }
    if let Some(memory) = &job.resources.memory {
        amounts.insert("memory".to_string(), Quantity(quantity(memory)));
    }
    let requests = amounts.clone();
    if job.resources.gpus_per_node > 0 {
        amounts.insert(
            GPU_RESOURCE.to_string(),
            Quantity(job.resources.gpus_per_node.to_string()),
        );
    }
    (!amounts.is_empty()).then(|| ResourceRequirements {
        limits: Some(amounts),
        requests: (!requests.is_empty()).then_some(requests),
        claims: None,
    })
}

/// `/dev/shm` (a memory `emptyDir`: a container's own is 64 MiB, too small for data loader
/// workers), the datasets (read-only unless the manifest says otherwise), the outputs.
fn volumes(
    job: &ClusterJob<'_>,
    kube: &KubernetesJob<'_>,
) -> Result<(Vec<Volume>, Vec<VolumeMount>), ClusterError> {
    let mount = |name: &str, path: &str, read_only: bool, sub_path: Option<String>| VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        sub_path,
        ..VolumeMount::default()
    };
    let mut volumes = vec![Volume {
        name: "dshm".to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".to_string()),
            size_limit: job.shm_size.map(|size| Quantity(quantity(size))),
        }),
        ..Volume::default()
    }];
    let mut mounts = vec![mount("dshm", "/dev/shm", false, None)];
    for (index, dataset) in job.datasets.iter().enumerate() {
        let Some(source) = kube.datasets.get(index) else {
            return Err(ClusterError::NoVolume {
                dataset: dataset.host.display().to_string(),
            });
        };
        let name = format!("dataset-{index}");
        let mut volume = Volume {
            name: name.clone(),
            ..Volume::default()
        };
        let sub_path = match source {
            DatasetVolume::Claim { name, sub_path } => {
                volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                    claim_name: name.clone(),
                    read_only: dataset.read_only.then_some(true),
                });
                sub_path.clone()
            }
            DatasetVolume::HostPath(path) => {
                volume.host_path = Some(HostPathVolumeSource {
                    path: path.clone(),
                    type_: Some("Directory".to_string()).filter(|_| dataset.host.is_dir()),
                });
                None
            }
        };
        volumes.push(volume);
        mounts.push(mount(&name, &dataset.target, dataset.read_only, sub_path));
    }
    volumes.push(Volume {
        name: "outputs".to_string(),
        persistent_volume_claim: kube.outputs_claim.map(|claim| {
            PersistentVolumeClaimVolumeSource {
                claim_name: claim.to_string(),
                read_only: None,
            }
        }),
        empty_dir: kube
            .outputs_claim
            .is_none()
            .then(EmptyDirVolumeSource::default),
        ..Volume::default()
    });
    mounts.push(mount(
        "outputs",
        job.outputs_target,
        false,
        kube.outputs_claim.map(|_| job.run_id.to_string()),
    ));
    Ok((volumes, mounts))
}

fn secret_name(name: &str) -> String {
    format!("{name}-registry")
}

/// The registry secret, when mlpack writes one: Docker's `config.json` format, which the
/// kubelet reads (<https://kubernetes.io/docs/concepts/configuration/secret/#docker-config-secrets>).
fn secret(job: &ClusterJob<'_>, kube: &KubernetesJob<'_>, name: &str) -> Option<Secret> {
    let PullSecret::Generated {
        registry,
        credentials,
    } = &kube.pull_secret
    else {
        return None;
    };
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credentials.username, credentials.password));
    let config = serde_json::json!({
        "auths": { registry: {
            "username": credentials.username,
            "password": credentials.password,
            "auth": auth,
        }}
    });
    Some(Secret {
        metadata: metadata(job, kube, &secret_name(name)),
        type_: Some("kubernetes.io/dockerconfigjson".to_string()),
        data: Some(BTreeMap::from([(
            ".dockerconfigjson".to_string(),
            ByteString(config.to_string().into_bytes()),
        )])),
        ..Secret::default()
    })
}

/// A size as Slurm and Docker write it (`64G`, `1g`: binary units) as a Kubernetes quantity
/// (`64Gi`); anything else as written.
pub(super) fn quantity(text: &str) -> String {
    let text = text.trim();
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let binary = match unit {
        "k" | "K" => "Ki",
        "m" | "M" => "Mi",
        "g" | "G" => "Gi",
        "t" | "T" => "Ti",
        _ => return text.to_string(),
    };
    if !number.is_empty() && number.bytes().all(|byte| byte.is_ascii_digit()) {
        format!("{number}{binary}")
    } else {
        text.to_string()
    }
}

/// The time limit as the Job's `activeDeadlineSeconds`, read as Slurm's `--time`: `M`, `M:S`,
/// `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
fn deadline(job: &ClusterJob<'_>) -> Result<Option<i64>, ClusterError> {
    let Some(time) = &job.resources.time else {
        return Ok(None);
    };
    slurm_seconds(time)
        .map(Some)
        .ok_or_else(|| ClusterError::InvalidTime { time: time.clone() })
}

pub(super) fn slurm_seconds(time: &str) -> Option<i64> {
    let number = |text: &str| -> Option<i64> {
        (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let (days, clock) = match time.split_once('-') {
        Some((days, clock)) => (Some(number(days)?), clock),
        None => (None, time),
    };
    let parts: Vec<i64> = clock.split(':').map(number).collect::<Option<_>>()?;
    let seconds = match (days, parts.as_slice()) {
        (None, [minutes]) => minutes * 60,
        (None, [minutes, seconds]) => minutes * 60 + seconds,
        (_, [hours, minutes, seconds]) => hours * 3600 + minutes * 60 + seconds,
        (Some(_), [hours]) => hours * 3600,
        (Some(_), [hours, minutes]) => hours * 3600 + minutes * 60,
        _ => return None,
    };
    let total = days.unwrap_or(0) * 86_400 + seconds;
    (total > 0).then_some(total)
}
