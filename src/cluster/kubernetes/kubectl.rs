//! `kubectl` with the user's kubeconfig and current context: whether a cluster answers, `apply`,
//! the workload's state, its pods' ranks, nodes and exit codes, their logs, `delete`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{RUN_LABEL, WorkloadKind};
use crate::cluster::{ClusterError, JobState};

/// The pod label the Job controller gives each pod of an Indexed Job: its index, the rank.
const INDEX_LABEL: &str = "batch.kubernetes.io/job-completion-index";
/// How long the reachability probe waits for the API server.
const PROBE_TIMEOUT: &str = "--request-timeout=5s";

/// Whether mlpack can apply the job, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachability {
    Reachable,
    NoKubectl,
    NoContext,
    /// The current context's API server did not answer; what kubectl said.
    NoAnswer(String),
}

impl Reachability {
    /// Why the job was written and not applied, for the user.
    pub fn reason(&self) -> String {
        match self {
            Self::Reachable => "a cluster answers".to_string(),
            Self::NoKubectl => "`kubectl` is not on PATH".to_string(),
            Self::NoContext => "kubectl has no current context".to_string(),
            Self::NoAnswer(error) => format!("the cluster did not answer: {error}"),
        }
    }
}

pub(super) fn reachability() -> Reachability {
    match kubectl(&["config", "current-context"]) {
        Err(ClusterError::MissingCommand { .. }) => return Reachability::NoKubectl,
        Err(_) => return Reachability::NoContext,
        Ok(context) if context.trim().is_empty() => return Reachability::NoContext,
        Ok(_) => {}
    }
    match kubectl(&["get", "--raw=/readyz", PROBE_TIMEOUT]) {
        Ok(_) => Reachability::Reachable,
        Err(ClusterError::CommandFailed { stderr, .. }) => Reachability::NoAnswer(stderr),
        Err(error) => Reachability::NoAnswer(error.to_string()),
    }
}

pub(super) fn apply(file: &Path) -> Result<(), ClusterError> {
    let file = file.display().to_string();
    kubectl(&["apply", "-f", &file]).map(drop)
}

/// The workload's conditions decide a finished job; before that, a running pod makes it
/// running. A workload that is gone was deleted: `mlpack cancel`, or by hand.
pub(super) fn state(
    kind: WorkloadKind,
    namespace: Option<&str>,
    name: &str,
) -> Result<JobState, ClusterError> {
    let object = match kubectl(&with_namespace(
        &["get", kind.resource(), name, "-o", "json"],
        namespace,
    )) {
        Ok(json) => parse(&json)?,
        Err(ClusterError::CommandFailed { stderr, .. }) if stderr.contains("NotFound") => {
            return Ok(JobState::Cancelled);
        }
        Err(error) => return Err(error),
    };
    if let Some(state) = condition_state(&object) {
        return Ok(state);
    }
    let pods = pods(kind, namespace, name)?;
    let running = pods
        .iter()
        .any(|pod| pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running"));
    Ok(if running {
        JobState::Running
    } else {
        JobState::Pending
    })
}

/// A true `Complete`/`Completed`, `Failed` or `Suspended` condition (Job, JobSet and TrainJob
/// name them alike).
pub(super) fn condition_state(object: &Value) -> Option<JobState> {
    let conditions = object.pointer("/status/conditions")?.as_array()?;
    conditions
        .iter()
        .filter(|condition| condition.get("status").and_then(Value::as_str) == Some("True"))
        .find_map(|condition| match condition.get("type")?.as_str()? {
            "Complete" | "Completed" => Some(JobState::Completed),
            "Failed" => Some(JobState::Failed),
            "Suspended" => Some(JobState::Pending),
            _ => None,
        })
}

/// The run's objects and their pods, deleted in the background.
pub(super) fn delete(
    kind: WorkloadKind,
    namespace: Option<&str>,
    run_id: &str,
) -> Result<(), ClusterError> {
    let resources = format!("{},services,secrets", kind.resource());
    let selector = format!("{RUN_LABEL}={run_id}");
    kubectl(&with_namespace(
        &["delete", &resources, "-l", &selector, "--wait=false"],
        namespace,
    ))
    .map(drop)
}

/// By rank: the node its pod ran on and its container's exit code.
pub(super) fn rank_results(
    kind: WorkloadKind,
    namespace: Option<&str>,
    name: &str,
    nodes: u32,
) -> Vec<(Option<String>, Option<i32>)> {
    let pods = pods(kind, namespace, name).unwrap_or_default();
    (0..nodes)
        .map(|rank| {
            let Some(pod) = pods.iter().find(|pod| pod_rank(pod) == Some(rank)) else {
                return (None, None);
            };
            let node = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .map(str::to_string);
            let code = pod
                .pointer("/status/containerStatuses/0/state/terminated/exitCode")
                .and_then(Value::as_i64)
                .and_then(|code| i32::try_from(code).ok());
            (node, code)
        })
        .collect()
}

/// Rank `rank`'s log: empty while its pod has not started.
pub(super) fn log(kind: WorkloadKind, namespace: Option<&str>, name: &str, rank: u32) -> Vec<u8> {
    let selector = format!("{},{INDEX_LABEL}={rank}", kind.pod_selector(name));
    kubectl(&with_namespace(
        &["logs", "-l", &selector, "--tail=-1"],
        namespace,
    ))
    .map(String::into_bytes)
    .unwrap_or_default()
}

fn pods(
    kind: WorkloadKind,
    namespace: Option<&str>,
    name: &str,
) -> Result<Vec<Value>, ClusterError> {
    let selector = kind.pod_selector(name);
    let list = parse(&kubectl(&with_namespace(
        &["get", "pods", "-l", &selector, "-o", "json"],
        namespace,
    ))?)?;
    Ok(list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

pub(super) fn pod_rank(pod: &Value) -> Option<u32> {
    pod.pointer("/metadata/labels")?
        .get(INDEX_LABEL)?
        .as_str()?
        .parse()
        .ok()
}

fn with_namespace<'a>(args: &[&'a str], namespace: Option<&'a str>) -> Vec<&'a str> {
    let mut args = args.to_vec();
    if let Some(namespace) = namespace {
        args.extend(["--namespace", namespace]);
    }
    args
}

fn parse(json: &str) -> Result<Value, ClusterError> {
    serde_json::from_str(json).map_err(|_| ClusterError::UnexpectedAnswer {
        command: "kubectl get -o json".to_string(),
        answer: json.chars().take(200).collect(),
    })
}

/// Run kubectl; its stdout, or why it failed.
fn kubectl(args: &[&str]) -> Result<String, ClusterError> {
    super::super::run_engine(Command::new("kubectl").args(args), "kubectl", "Kubernetes")
}
