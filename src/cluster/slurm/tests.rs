use std::collections::BTreeMap;
use std::path::Path;

use super::{SlurmNodes, batch_script, node_script, quote};
use crate::cluster::{ClusterJob, JobState, Mount, Resources};

fn nodes() -> SlurmNodes<'static> {
    SlurmNodes {
        mlpack: Path::new("/shared/bin/mlpack"),
        store: Some(Path::new("/shared/mlpack store")),
        pull: None,
    }
}

static FINGERPRINTS: std::sync::LazyLock<[String; 1]> =
    std::sync::LazyLock::new(|| ["5f0c".repeat(16)]);

fn job_with<'a>(
    resources: &'a Resources,
    datasets: &'a [Mount],
    env: &'a BTreeMap<String, String>,
    command: &'a [String],
) -> ClusterJob<'a> {
    ClusterJob {
        run_id: "20261205-070000-abcd",
        run_dir: Path::new("/shared/project/outputs/20261205-070000-abcd"),
        image: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        command,
        resources,
        datasets,
        fingerprints: &FINGERPRINTS[..datasets.len()],
        outputs_target: "/outputs",
        workdir: "/app",
        env,
        shm_size: Some("1g"),
    }
}

#[test]
fn scripts_of_a_two_node_gpu_job() {
    let resources = Resources {
        nodes: 2,
        gpus_per_node: 4,
        cpus_per_node: Some(32),
        memory: Some("256G".to_string()),
        time: Some("2:00:00".to_string()),
        queue: Some("gpu".to_string()),
        account: Some("ml".to_string()),
        extra: vec!["--qos=high".to_string()],
    };
    let datasets = [Mount {
        host: "/shared/data/imagenet".into(),
        target: "/data".to_string(),
        read_only: true,
    }];
    let env = BTreeMap::from([("SEED".to_string(), "1 2".to_string())]);
    let command = [
        "torchrun".to_string(),
        "train.py".to_string(),
        "--lr=it's".to_string(),
    ];
    let job = job_with(&resources, &datasets, &env, &command);
    insta::assert_snapshot!("batch_script", batch_script(&job));
    insta::assert_snapshot!("node_script", node_script(&job, &nodes()));
}

#[test]
fn a_cpu_job_asks_for_nothing_it_was_not_given() {
    let resources = Resources {
        nodes: 1,
        ..Resources::default()
    };
    let script = batch_script(&job_with(&resources, &[], &BTreeMap::new(), &[]));
    for option in [
        "gpus-per-node",
        "cpus-per-task",
        "mem",
        "time",
        "partition",
        "account",
    ] {
        assert!(!script.contains(&format!("--{option}=")), "{script}");
    }
    assert!(
        node_script(&job_with(&resources, &[], &BTreeMap::new(), &[]), &nodes())
            .contains("NPROC_PER_NODE=1")
    );
}

#[test]
fn quoting() {
    assert_eq!(quote("/a/b-c_d.e"), "/a/b-c_d.e");
    assert_eq!(quote("a b"), "'a b'");
    assert_eq!(quote("it's"), "'it'\\''s'");
    assert_eq!(quote("$HOME"), "'$HOME'");
    assert_eq!(quote(""), "''");
}

#[test]
fn states() {
    assert_eq!(JobState::from_slurm("PENDING\n"), JobState::Pending);
    assert_eq!(JobState::from_slurm("COMPLETING"), JobState::Running);
    assert_eq!(JobState::from_slurm("CANCELLED by 0"), JobState::Cancelled);
    assert_eq!(
        JobState::from_slurm("TIMEOUT"),
        JobState::Other("timeout".to_string())
    );
    assert!(!JobState::from_slurm("FAILED").is_active());
}
