//! `mlpack train --on slurm` on a real two-node Slurm cluster on this machine (see
//! `common::slurm`): a real collective across the nodes (`jax.distributed` on CPU, gloo over
//! TCP), `runs`/`logs`/`cancel` on a running job, a failing rank, a dataset missing on the
//! nodes, data changed between submission and start (node 0's fingerprint check).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestContext;
use crate::common::slurm::{SlurmCluster, cluster};

/// `mlpack ARGS` with the shared download cache, online, and the cluster's `SLURM_CONF`.
fn mlpack(context: &TestContext, cluster: &SlurmCluster, args: &[&str]) -> Command {
    let mut command = context.mlpack(args);
    command
        .env_remove("MLPACK_OFFLINE")
        .env("SLURM_CONF", &cluster.conf);
    TestContext::shared_cache(&mut command);
    command
}

fn run(context: &TestContext, cluster: &SlurmCluster, args: &[&str]) -> (Output, String) {
    let output = mlpack(context, cluster, args).output().unwrap();
    let rendered = context.render(&output);
    (output, rendered)
}

fn spawn(context: &TestContext, cluster: &SlurmCluster, args: &[&str]) -> Child {
    mlpack(context, cluster, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The only run's directory and record.
fn the_run(context: &TestContext) -> (PathBuf, serde_json::Value) {
    let outputs = context.project.join("outputs");
    let [dir]: [PathBuf; 1] = fs_err::read_dir(&outputs)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let record = fs_err::read_to_string(dir.join("run.json")).unwrap();
    (dir, serde_json::from_str(&record).unwrap())
}

/// Wait until `done` holds, for at most `seconds`.
fn wait_for(seconds: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read(path: &Path) -> String {
    fs_err::read_to_string(path).unwrap_or_default()
}

#[test]
fn two_nodes_join_one_process_group_and_the_run_records_both() {
    let cluster = cluster();
    let context = TestContext::example("distributed-jax");
    let (output, rendered) = run(
        &context,
        cluster,
        &["train", "--on", "slurm", "--nodes", "2"],
    );
    assert!(output.status.success(), "{rendered}");
    // Rank 0's log reaches the terminal.
    assert!(
        rendered.contains("rank 0: local sum 201.0, all-reduce sum 423.0 (expected 423.0)"),
        "{rendered}"
    );
    let (dir, record) = the_run(&context);
    for (rank, local) in [(0, "201.0"), (1, "222.0")] {
        let log = read(&dir.join(format!("rank-{rank}.log")));
        assert!(
            log.contains(&format!("rank {rank} of 2: 2 processes")),
            "{log}"
        );
        assert!(
            log.contains(&format!(
                "rank {rank}: local sum {local}, all-reduce sum 423.0"
            )),
            "{log}"
        );
    }
    let cluster_record = &record["cluster"];
    assert_eq!(cluster_record["engine"], "slurm");
    assert_eq!(cluster_record["state"], "completed");
    assert_eq!(cluster_record["nodes"], 2);
    assert_eq!(cluster_record["gpus_per_node"], 0);
    assert_eq!(
        cluster_record["node_names"],
        serde_json::json!(["n1", "n2"])
    );
    assert_eq!(cluster_record["rank_exit_codes"], serde_json::json!([0, 0]));
    assert!(
        cluster_record["job_id"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(record["exit_code"], 0);
    // Rank 0's files are the outputs; the logs and the engine's files are not.
    assert_eq!(
        record["outputs"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["metrics.json"]
    );
    assert_eq!(record["metrics"]["world_size"], 2);
    let script = read(&dir.join("cluster/job.sbatch"));
    assert!(script.contains("#SBATCH --nodes=2"), "{script}");

    let id = record["id"].as_str().unwrap();
    let (_, logs) = run(&context, cluster, &["logs", id, "--rank", "1"]);
    assert!(
        logs.contains("rank 1: local sum 222.0, all-reduce sum 423.0"),
        "{logs}"
    );
    let (_, runs) = run(&context, cluster, &["runs"]);
    assert!(runs.contains("total=423.0 world_size=2"), "{runs}");
}

/// A project with no dependencies whose `train.py` is `script`, with a dataset.
fn ranks_project(script: &str, cluster_section: &str) -> TestContext {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"ranks\"\n[python]\nversion = \"3.11\"\n[hardware]\naccelerator = \"cpu\"\n\
             [train]\ncommand = [\"python3\", \"train.py\"]\n[[datasets]]\nsource = \"data\"\n\
             [cluster]\nengine = \"slurm\"\nnodes = 2\n{cluster_section}"
        ),
    );
    context.write("train.py", script);
    context.write("data/rows.txt", "1\n2\n");
    context
}

#[test]
fn a_failing_rank_fails_the_run_with_its_exit_code() {
    let cluster = cluster();
    let context = ranks_project(
        "import os, sys, time\nrank = int(os.environ['NODE_RANK'])\nprint('rank', rank, 'of', os.environ['WORLD_SIZE'], 'at', os.environ['MASTER_ADDR'] + ':' + os.environ['MASTER_PORT'], flush=True)\n\
         if rank == 1:\n    sys.exit(3)\ntime.sleep(120)\n",
        "",
    );
    let (output, rendered) = run(&context, cluster, &["train"]);
    assert_eq!(output.status.code(), Some(3), "{rendered}");
    let (dir, record) = the_run(&context);
    assert_eq!(record["exit_code"], 3, "{record}");
    assert_eq!(record["cluster"]["state"], "failed", "{record}");
    // Rank 0 waited and was ended by Slurm when rank 1 failed: no exit code of its own.
    assert_eq!(
        record["cluster"]["rank_exit_codes"],
        serde_json::json!([null, 3])
    );
    let log = read(&dir.join("rank-1.log"));
    assert!(log.contains("rank 1 of 2 at 127.0.0.1:"), "{log}");
}

#[test]
fn a_running_run_is_listed_followed_and_cancelled() {
    let cluster = cluster();
    let context = ranks_project(
        "import os, time\nprint('rank', os.environ['NODE_RANK'], 'started', flush=True)\ntime.sleep(300)\n",
        "",
    );
    let mut train = spawn(&context, cluster, &["train"]);
    wait_for(600, "both ranks to start", || {
        context.project.join("outputs").exists()
            && the_run_dir(&context).is_some_and(|dir| {
                (0..2).all(|rank| read(&dir.join(format!("rank-{rank}.log"))).contains("started"))
            })
    });
    let (_, record) = the_run(&context);
    let id = record["id"].as_str().unwrap().to_string();
    let (_, runs) = run(&context, cluster, &["runs"]);
    let line = runs.lines().find(|line| line.starts_with(&id)).unwrap();
    assert!(line.contains("running"), "{runs}");

    let follow = spawn(&context, cluster, &["logs", &id, "--rank", "1", "-f"]);
    let (output, rendered) = run(&context, cluster, &["cancel", &id]);
    assert!(output.status.success(), "{rendered}");
    let train = train_output(&mut train);
    assert_eq!(train.status.code(), Some(143), "{}", context.render(&train));
    let (_, record) = the_run(&context);
    assert_eq!(record["cluster"]["state"], "cancelled", "{record}");
    assert_eq!(record["exit_code"], 143);
    let followed = follow.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&followed.stdout).contains("rank 1 started"),
        "{}",
        context.render(&followed)
    );
}

fn the_run_dir(context: &TestContext) -> Option<PathBuf> {
    fs_err::read_dir(context.project.join("outputs"))
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .find(|dir| dir.join("run.json").exists())
}

fn train_output(train: &mut Child) -> Output {
    let status = train.wait().unwrap();
    let mut output = Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    if let Some(mut stdout) = train.stdout.take() {
        let _ = std::io::Read::read_to_end(&mut stdout, &mut output.stdout);
    }
    if let Some(mut stderr) = train.stderr.take() {
        let _ = std::io::Read::read_to_end(&mut stderr, &mut output.stderr);
    }
    output
}

#[test]
fn a_dataset_missing_on_the_nodes_fails_the_run_before_training() {
    let cluster = cluster();
    // The job starts 5 s after it is queued: long enough to take the data away.
    let context = ranks_project(
        "print('training', flush=True)\n",
        "sbatch-options = [\"--begin=now+5\"]\n",
    );
    let mut train = spawn(&context, cluster, &["train"]);
    wait_for(600, "the job to be submitted", || {
        the_run_dir(&context).is_some()
    });
    fs_err::remove_dir_all(context.project.join("data")).unwrap();
    let output = train_output(&mut train);
    assert_eq!(
        output.status.code(),
        Some(125),
        "{}",
        context.render(&output)
    );
    let (dir, record) = the_run(&context);
    // The first rank to fail ends the step: the other may be killed before it records 125.
    let codes = record["cluster"]["rank_exit_codes"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        codes.iter().all(|code| code.is_null() || *code == 125),
        "{codes:?}"
    );
    let failed = codes.iter().position(|code| *code == 125).unwrap();
    let log = read(&dir.join(format!("rank-{failed}.log")));
    assert!(log.contains("does not exist on node"), "{log}");
    assert!(log.contains(&format!("(rank {failed})")), "{log}");
    for rank in 0..2 {
        let log = read(&dir.join(format!("rank-{rank}.log")));
        assert!(!log.contains("training"), "{log}");
    }
}

#[test]
fn a_run_whose_train_was_killed_is_finished_by_runs() {
    let cluster = cluster();
    let context = ranks_project(
        "import os, time\ntime.sleep(3)\nprint('rank', os.environ['NODE_RANK'], 'done', flush=True)\n",
        "",
    );
    let mut train = spawn(&context, cluster, &["train"]);
    wait_for(600, "the job to be submitted", || {
        the_run_dir(&context).is_some()
    });
    train.kill().unwrap();
    train.wait().unwrap();
    let (dir, record) = the_run(&context);
    assert_eq!(record["cluster"]["state"], "pending", "{record}");
    let id = record["id"].as_str().unwrap().to_string();
    wait_for(600, "both ranks to finish", || {
        (0..2).all(|rank| dir.join(format!("cluster/rank-{rank}.exit")).exists())
    });
    // `mlpack runs` asks Slurm; once the job has ended, it finishes the record.
    wait_for(120, "the job to end", || {
        let (_, runs) = run(&context, cluster, &["runs"]);
        let line = runs
            .lines()
            .find(|line| line.starts_with(&id))
            .unwrap_or("");
        !line.contains("pending") && !line.contains("running")
    });
    let (_, record) = the_run(&context);
    assert_eq!(record["cluster"]["state"], "completed", "{record}");
    assert_eq!(record["exit_code"], 0, "{record}");
    assert_eq!(
        record["cluster"]["rank_exit_codes"],
        serde_json::json!([0, 0])
    );
    assert_eq!(
        record["cluster"]["node_names"],
        serde_json::json!(["n1", "n2"])
    );
    assert!(!record["finished"].as_str().unwrap().is_empty(), "{record}");
    let (_, logs) = run(&context, cluster, &["logs", &id, "--rank", "1"]);
    assert!(logs.contains("rank 1 done"), "{logs}");
}

#[test]
fn data_changed_after_submission_stops_node_0_before_training() {
    let cluster = cluster();
    // The job starts 5 s after it is queued: long enough to change the data.
    let context = ranks_project(
        "print('training', flush=True)\n",
        "sbatch-options = [\"--begin=now+5\"]\n",
    );
    let mut train = spawn(&context, cluster, &["train"]);
    wait_for(600, "the job to be submitted", || {
        the_run_dir(&context).is_some()
    });
    fs_err::write(context.project.join("data/rows.txt"), "1\n2\n3\n").unwrap();
    let output = train_output(&mut train);
    assert_eq!(
        output.status.code(),
        Some(125),
        "{}",
        context.render(&output)
    );
    let (dir, record) = the_run(&context);
    assert_eq!(record["exit_code"], 125, "{record}");
    assert_eq!(record["cluster"]["rank_exit_codes"][0], 125, "{record}");
    let log = read(&dir.join("rank-0.log"));
    let id = record["id"].as_str().unwrap();
    assert!(
        log.contains(&format!(
            "/data` changed since run {id}: its fingerprint was"
        )),
        "{log}"
    );
    assert!(log.contains("hint: restore the data the run used"), "{log}");
    assert!(!log.contains("training"), "{log}");
}

#[test]
fn node_0_checks_the_data_with_the_file_hashes_the_submission_recorded() {
    let cluster = cluster();
    // The nodes get a cache of their own, empty, as on a cluster whose nodes share no home.
    let context = ranks_project(
        "print('training', flush=True)\n",
        "sbatch-options = [\"--export=ALL,XDG_CACHE_HOME=NODE_CACHE\"]\n",
    );
    let node_cache = context.temp.path().join("node-cache");
    let manifest = context
        .read("mlpack.toml")
        .replace("NODE_CACHE", &node_cache.display().to_string());
    context.write("mlpack.toml", &manifest);
    let (output, rendered) = run(&context, cluster, &["train"]);
    assert!(output.status.success(), "{rendered}");
    let (dir, _) = the_run(&context);
    assert!(read(&dir.join("rank-0.log")).contains("training"));
    // The run's hashes of its data files, which node 0 checked with, and not its own cache.
    let hashes: serde_json::Value =
        serde_json::from_str(&read(&dir.join("cluster/fingerprints.json"))).unwrap();
    let files: Vec<&String> = hashes.as_object().unwrap().keys().collect();
    assert!(
        matches!(files[..], [file] if file.ends_with("/data/rows.txt")),
        "{files:?}"
    );
    let node = read(&dir.join("cluster/node.sh"));
    assert!(node.contains("--cache \"$run/cluster\""), "{node}");
    assert!(
        !node_cache.join("mlpack/fingerprints.json").exists(),
        "node 0 used a cache of its own"
    );
}

#[cfg(feature = "test-registry")]
#[test]
fn with_a_registry_each_node_pulls_the_image_by_digest() {
    let cluster = cluster();
    let context = ranks_project(
        "import os\nprint('rank', os.environ['NODE_RANK'], 'ran', flush=True)\n",
        "registry = \"REGISTRY/team\"\nstore = \"../node-store\"\n",
    );
    let registry = crate::common::registry::TestRegistry::start(context.temp.path());
    let manifest = context
        .read("mlpack.toml")
        .replace("REGISTRY", &registry.host);
    context.write("mlpack.toml", &manifest);
    let (output, rendered) = run(&context, cluster, &["train"]);
    assert!(output.status.success(), "{rendered}");
    let (dir, record) = the_run(&context);
    let digest = record["image"]["digest"].as_str().unwrap();
    let reference = format!("{}/team/ranks@{digest}", registry.host);
    assert!(
        rendered.contains(&format!("Pushed `{reference}`")),
        "{rendered}"
    );
    let node = read(&dir.join("cluster/node.sh"));
    assert!(node.contains(&format!("pull {reference} ||")), "{node}");
    for rank in 0..2 {
        let log = read(&dir.join(format!("rank-{rank}.log")));
        assert!(log.contains(&format!("rank {rank} ran")), "{log}");
    }
    // The nodes' store got the image from the registry: nothing was copied into it here.
    let mut images = mlpack(&context, cluster, &["images"]);
    images.env("MLPACK_HOME", context.temp.path().join("node-store"));
    let images = images.output().unwrap();
    let listed = String::from_utf8_lossy(&images.stdout);
    assert!(
        listed.contains(&format!("{}/team/ranks", registry.host)),
        "{}",
        context.render(&images)
    );
}

#[test]
fn dry_run_writes_the_job_without_submitting_it() {
    let cluster = cluster();
    let context = ranks_project("print('x')\n", "partition = \"debug\"\n");
    let (output, rendered) = run(
        &context,
        cluster,
        &[
            "train",
            "--dry-run",
            "--nodes",
            "2",
            "--time",
            "0:10:00",
            "--queue",
            "debug",
        ],
    );
    assert!(output.status.success(), "{rendered}");
    assert!(rendered.contains("not submitted: --dry-run"), "{rendered}");
    let outputs = context.project.join("outputs");
    let [dir]: [PathBuf; 1] = fs_err::read_dir(&outputs)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    assert!(!dir.join("run.json").exists());
    let script = read(&dir.join("cluster/job.sbatch"));
    for line in [
        "#SBATCH --nodes=2",
        "#SBATCH --time=0:10:00",
        "#SBATCH --partition=debug",
    ] {
        assert!(script.contains(line), "{script}");
    }
    let node = read(&dir.join("cluster/node.sh"));
    assert!(
        node.contains("export MASTER_ADDR=$SLURM_LAUNCH_NODE_IPADDR"),
        "{node}"
    );
}
