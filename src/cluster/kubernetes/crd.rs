//! The two custom resources mlpack writes, as far as it fills them in, with the field names
//! and nesting of their published Go types: JobSet `jobset.x-k8s.io/v1alpha2`
//! (kubernetes-sigs/jobset, `api/jobset/v1alpha2/jobset_types.go`) and Kubeflow Trainer's
//! TrainJob `trainer.kubeflow.org/v1alpha1` (kubeflow/trainer,
//! `pkg/apis/trainer/v1alpha1/trainjob_types.go`). Unknown fields are refused when read back,
//! so the tests catch a misspelt one. The built-in parts are `k8s-openapi`'s types.

use k8s_openapi::api::batch::v1::JobTemplateSpec;
use k8s_openapi::api::core::v1::{
    EnvVar, LocalObjectReference, ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

pub(super) const JOBSET_API_VERSION: &str = "jobset.x-k8s.io/v1alpha2";
pub(super) const TRAINER_API_VERSION: &str = "trainer.kubeflow.org/v1alpha1";
/// Who owns mlpack's runtime patch of a TrainJob (`runtimePatches[].manager`).
pub(super) const MANAGER: &str = "mlpack.dev/mlpack";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct JobSet {
    pub(super) api_version: String,
    pub(super) kind: String,
    pub(super) metadata: ObjectMeta,
    pub(super) spec: JobSetSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct JobSetSpec {
    pub(super) replicated_jobs: Vec<ReplicatedJob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) network: Option<Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) success_policy: Option<SuccessPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) failure_policy: Option<FailurePolicy>,
}

/// `replicas` Jobs made from `template`, named `<jobset>-<name>-<index>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ReplicatedJob {
    pub(super) name: String,
    pub(super) replicas: i32,
    pub(super) template: JobTemplateSpec,
}

/// With `enableDNSHostnames`, pods answer at `<jobset>-<job>-<index>-<pod index>.<subdomain>`;
/// the subdomain defaults to the JobSet's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Network {
    #[serde(
        rename = "enableDNSHostnames",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) enable_dns_hostnames: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) subdomain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) publish_not_ready_addresses: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SuccessPolicy {
    /// `All` or `Any` of the targeted replicated jobs.
    pub(super) operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) target_replicated_jobs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct FailurePolicy {
    pub(super) max_restarts: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TrainJob {
    pub(super) api_version: String,
    pub(super) kind: String,
    pub(super) metadata: ObjectMeta,
    pub(super) spec: TrainJobSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TrainJobSpec {
    pub(super) runtime_ref: RuntimeRef,
    pub(super) trainer: Trainer,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) runtime_patches: Vec<RuntimePatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) active_deadline_seconds: Option<i64>,
}

/// The training runtime the TrainJob runs on (a `ClusterTrainingRuntime` by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RuntimeRef {
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) api_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Trainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) image: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) num_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) resources_per_node: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) num_proc_per_node: Option<i32>,
}

/// A patch of the runtime's JobSet template: what a TrainJob cannot say in `trainer`
/// (volumes, mounts, service account, pull secrets, pod labels).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RuntimePatch {
    pub(super) manager: String,
    pub(super) training_runtime_spec: TrainingRuntimeSpecPatch,
}

impl RuntimePatch {
    /// A patch of the pods of the replicated job `job`.
    pub(super) fn pod(
        manager: &str,
        job: &str,
        metadata: Option<ObjectMeta>,
        spec: PodSpecPatch,
    ) -> Self {
        Self {
            manager: manager.to_string(),
            training_runtime_spec: TrainingRuntimeSpecPatch {
                template: JobSetTemplatePatch {
                    spec: JobSetSpecPatch {
                        replicated_jobs: vec![ReplicatedJobPatch {
                            name: job.to_string(),
                            template: JobTemplatePatch {
                                spec: JobSpecPatch {
                                    template: PodTemplatePatch {
                                        metadata,
                                        spec: Some(spec),
                                    },
                                },
                            },
                        }],
                    },
                },
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TrainingRuntimeSpecPatch {
    pub(super) template: JobSetTemplatePatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct JobSetTemplatePatch {
    pub(super) spec: JobSetSpecPatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct JobSetSpecPatch {
    pub(super) replicated_jobs: Vec<ReplicatedJobPatch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ReplicatedJobPatch {
    pub(super) name: String,
    pub(super) template: JobTemplatePatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct JobTemplatePatch {
    pub(super) spec: JobSpecPatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct JobSpecPatch {
    pub(super) template: PodTemplatePatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PodTemplatePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) metadata: Option<ObjectMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) spec: Option<PodSpecPatch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PodSpecPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) containers: Vec<ContainerPatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) image_pull_secrets: Vec<LocalObjectReference>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ContainerPatch {
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) volume_mounts: Vec<VolumeMount>,
}
