//! Slurm: an sbatch script (`job.sbatch`) and a node script (`node.sh`) written into the run's
//! `cluster/` folder, submitted with `sbatch --parsable`, followed with `squeue` (then
//! `sacct`), cancelled with `scancel`. The batch script starts one `srun` task per node; each
//! runs `node.sh`, which checks the datasets, sets the rendezvous variables and runs the image
//! with `mlpack run`, its output in `rank-<node rank>.log` and its exit code in
//! `cluster/rank-<node rank>.exit`. A node without the `mlpack` executable or a dataset's path
//! fails its rank with a message in its log (127 and 125, as `mlpack run` uses them).
//!
//! Options: <https://slurm.schedmd.com/sbatch.html>; variables of a task:
//! <https://slurm.schedmd.com/srun.html#SECTION_OUTPUT-ENVIRONMENT-VARIABLES>.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::rendezvous::{BASE_PORT, PORT_RANGE};
use super::{ClusterError, ClusterJob, ENGINE_DIR, JobState};
use crate::error::IoError;

/// The batch script's name in the run's engine folder.
const BATCH_SCRIPT: &str = "job.sbatch";
/// The per-node script's name.
const NODE_SCRIPT: &str = "node.sh";

/// The exit status `node.sh` gives when mlpack could not start the job on a node (a dataset
/// missing there), as `mlpack run` does for its own failures.
const NODE_FAILURE: i32 = 125;

/// The Slurm adapter.
#[derive(Debug, Clone, Copy)]
pub struct Slurm;

/// What the nodes run the image with.
#[derive(Debug, Clone, Copy)]
pub struct SlurmNodes<'a> {
    /// The `mlpack` executable the nodes run.
    pub mlpack: &'a Path,
    /// The store (`MLPACK_HOME`) the nodes run the image from; `None`: each node's own.
    pub store: Option<&'a Path>,
    /// The image by digest on a registry, which each node pulls before running it; `None`:
    /// the image is in `store` already.
    pub pull: Option<&'a str>,
}

impl Slurm {
    /// Write `job.sbatch` and `node.sh` into `<run dir>/cluster/`; the batch script's path.
    pub fn write(job: &ClusterJob<'_>, nodes: &SlurmNodes<'_>) -> Result<PathBuf, ClusterError> {
        let dir = job.run_dir.join(ENGINE_DIR);
        fs_err::create_dir_all(&dir)
            .map_err(|source| IoError::new("create the run's cluster folder", &dir, source))?;
        let batch = dir.join(BATCH_SCRIPT);
        for (path, text) in [
            (&batch, batch_script(job)),
            (&dir.join(NODE_SCRIPT), node_script(job, nodes)),
        ] {
            fs_err::write(path, text)
                .map_err(|source| IoError::new("write the job script", path, source))?;
        }
        Ok(batch)
    }

    /// `sbatch --parsable SCRIPT`: the job's ID.
    pub fn submit(batch: &Path) -> Result<String, ClusterError> {
        let answer = run(
            Command::new("sbatch").arg("--parsable").arg(batch),
            "sbatch",
        )?;
        // `--parsable` prints `ID` or `ID;CLUSTER`.
        let id = answer.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(ClusterError::UnexpectedAnswer {
                command: "sbatch --parsable".to_string(),
                answer,
            });
        }
        Ok(id)
    }

    /// The job's state: `squeue` knows it while it is queued or running and for `MinJobAge`
    /// after (300 s by default); then only `sacct` does, where accounting is on.
    pub fn state(job_id: &str) -> Result<JobState, ClusterError> {
        if let Ok(answer) = run(
            Command::new("squeue").args([
                "--noheader",
                "--states=all",
                "--format=%T",
                "--jobs",
                job_id,
            ]),
            "squeue",
        ) && let Some(line) = answer.lines().find(|line| !line.trim().is_empty())
        {
            return Ok(JobState::from_slurm(line));
        }
        let answer = run(
            Command::new("sacct").args([
                "--noheader",
                "--allocations",
                "--parsable2",
                "--format=State",
                "--jobs",
                job_id,
            ]),
            "sacct",
        )
        .unwrap_or_default();
        Ok(answer
            .lines()
            .find(|line| !line.trim().is_empty())
            .map_or_else(
                || JobState::Other("unknown".to_string()),
                JobState::from_slurm,
            ))
    }

    /// `scancel ID`.
    pub fn cancel(job_id: &str) -> Result<(), ClusterError> {
        run(Command::new("scancel").arg(job_id), "scancel").map(drop)
    }

    /// Whether `node.sh` has recorded `rank`'s exit code: its part of the job is over.
    pub fn rank_exited(run_dir: &Path, rank: u32) -> bool {
        run_dir
            .join(ENGINE_DIR)
            .join(format!("rank-{rank}.exit"))
            .exists()
    }

    /// What `node.sh` recorded of `rank`: its node's name and its exit code.
    pub fn rank_result(run_dir: &Path, rank: u32) -> (Option<String>, Option<i32>) {
        let read = |suffix: &str| {
            fs_err::read_to_string(
                run_dir
                    .join(ENGINE_DIR)
                    .join(format!("rank-{rank}.{suffix}")),
            )
            .ok()
            .map(|text| text.trim().to_string())
        };
        (
            read("node"),
            read("exit").and_then(|code| code.parse().ok()),
        )
    }
}

/// Run a Slurm command; its stdout, or why it failed.
fn run(command: &mut Command, name: &'static str) -> Result<String, ClusterError> {
    super::run_engine(command, name, "Slurm")
}

/// `job.sbatch`: the allocation (one task per node), a port for the job, one `srun` step.
fn batch_script(job: &ClusterJob<'_>) -> String {
    let resources = job.resources;
    let dir = job.run_dir.join(ENGINE_DIR);
    let mut script = format!(
        "#!/bin/bash\n\
         # mlpack run {run}: written by `mlpack train --on slurm`, submitted with `sbatch`.\n\
         # One task per node runs node.sh, which runs the image with mlpack's runtime.\n\
         #SBATCH --job-name=mlpack-{run}\n\
         #SBATCH --nodes={nodes}\n\
         #SBATCH --ntasks-per-node=1\n",
        run = job.run_id,
        nodes = resources.nodes,
    );
    let mut directive = |option: &str, value: Option<String>| {
        if let Some(value) = value {
            let _ = writeln!(script, "#SBATCH --{option}={value}");
        }
    };
    directive(
        "gpus-per-node",
        (resources.gpus_per_node > 0).then(|| resources.gpus_per_node.to_string()),
    );
    directive(
        "cpus-per-task",
        resources.cpus_per_node.map(|cpus| cpus.to_string()),
    );
    directive("mem", resources.memory.clone());
    directive("time", resources.time.clone());
    directive("partition", resources.queue.clone());
    directive("account", resources.account.clone());
    directive("output", Some(format!("{}/job-%j.out", dir.display())));
    for option in &resources.extra {
        let _ = writeln!(script, "#SBATCH {option}");
    }
    let _ = write!(
        script,
        "set -u\n\
         # One port per job, so that jobs sharing a node do not collide.\n\
         export MASTER_PORT=$(({BASE_PORT} + SLURM_JOB_ID % {PORT_RANGE}))\n\
         # A failing rank ends the step: the others would wait for it in their collectives.\n\
         exec srun --ntasks-per-node=1 --kill-on-bad-exit=1 /bin/bash {}\n",
        quote(&dir.join(NODE_SCRIPT).display().to_string())
    );
    script
}

/// `node.sh`: one node's part of the job.
fn node_script(job: &ClusterJob<'_>, nodes: &SlurmNodes<'_>) -> String {
    let run_dir = quote(&job.run_dir.display().to_string());
    let mut script = format!(
        "#!/bin/bash\n\
         # One node's part of mlpack run {run} (see job.sbatch): check the datasets, set the\n\
         # rendezvous variables, run the image with mlpack's runtime. Output: rank-N.log;\n\
         # exit code: cluster/rank-N.exit.\n\
         set -u\n\
         run={run_dir}\n\
         rank=$SLURM_NODEID\n\
         exec >\"$run/rank-$rank.log\" 2>&1\n\
         printf '%s\\n' \"${{SLURMD_NODENAME:-$(hostname)}}\" >\"$run/{ENGINE_DIR}/rank-$rank.node\"\n\
         finish() {{ printf '%s\\n' \"$1\" >\"$run/{ENGINE_DIR}/rank-$rank.exit\"; exit \"$1\"; }}\n\
         {store}\
         # Node 0 runs the batch script, so the address srun was started from is node 0's.\n\
         export MASTER_ADDR=$SLURM_LAUNCH_NODE_IPADDR\n\
         export NNODES=$SLURM_JOB_NUM_NODES NODE_RANK=$rank NPROC_PER_NODE={nproc}\n\
         export WORLD_SIZE=$((NNODES * NPROC_PER_NODE))\n\
         export PET_NNODES=$NNODES PET_NODE_RANK=$NODE_RANK PET_NPROC_PER_NODE=$NPROC_PER_NODE\n\
         export PET_MASTER_ADDR=$MASTER_ADDR PET_MASTER_PORT=$MASTER_PORT\n",
        run = job.run_id,
        store = nodes.store.map_or_else(String::new, |store| format!(
            "export MLPACK_HOME={}\n",
            quote(&store.display().to_string())
        )),
        nproc = job.resources.processes_per_node(),
    );
    let mlpack = quote(&nodes.mlpack.display().to_string());
    let _ = write!(
        script,
        "if [ ! -x {mlpack} ]; then\n  \
           printf 'mlpack: `%s` is not on node %s (rank %s): put it on a filesystem the nodes share\\n' {mlpack} \"$(hostname)\" \"$rank\"\n  \
           finish 127\n\
         fi\n"
    );
    for dataset in job.datasets {
        let host = quote(&dataset.host.display().to_string());
        let _ = write!(
            script,
            "if [ ! -e {host} ]; then\n  \
               printf 'mlpack: the dataset `%s` does not exist on node %s (rank %s)\\n' {host} \"$(hostname)\" \"$rank\"\n  \
               finish {NODE_FAILURE}\n\
             fi\n"
        );
    }
    for (dataset, sha256) in job.datasets.iter().zip(job.fingerprints) {
        let host = quote(&dataset.host.display().to_string());
        let _ = write!(
            script,
            "# Node 0 checks that the data is what `mlpack train` fingerprinted at submission,\n\
             # with the file hashes it recorded: files whose size, mtime and inode agree are not read.\n\
             if [ \"$rank\" = 0 ]; then\n  \
               {mlpack} fingerprint --run {run} --expect {sha256} --cache \"$run/{ENGINE_DIR}\" {host} >/dev/null || finish {NODE_FAILURE}\n\
             fi\n",
            run = job.run_id,
        );
    }
    if let Some(reference) = nodes.pull {
        let _ = write!(
            script,
            "# Each node pulls the image by digest (blobs its store has are not fetched again).\n\
             {mlpack} pull {} || finish {NODE_FAILURE}\n",
            quote(reference)
        );
    }
    let _ = write!(
        script,
        "# Rank 0's files are the run's outputs; the other ranks' are kept apart.\n\
         outputs=$run\n\
         if [ \"$rank\" != 0 ]; then outputs=$run/{ENGINE_DIR}/rank-$rank; mkdir -p \"$outputs\"; fi\n\
         gpus=()\n\
         if [ -n \"${{CUDA_VISIBLE_DEVICES:-}}\" ]; then gpus=(--gpus \"device=$CUDA_VISIBLE_DEVICES\"); fi\n\
         {}\n\
         finish $?\n",
        run_command(job, &mlpack)
    );
    script
}

/// `mlpack run` of the image, quoted for the shell; `$outputs` and `$rank` stay variables.
fn run_command(job: &ClusterJob<'_>, mlpack: &str) -> String {
    let mut words = vec![
        mlpack.to_string(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        format!("train-{}-\"$rank\"", job.run_id),
    ];
    for dataset in job.datasets {
        let mode = if dataset.read_only { "ro" } else { "rw" };
        let spec = format!("{}:{}:{mode}", dataset.host.display(), dataset.target);
        words.extend(["-v".into(), quote(&spec)]);
    }
    words.extend([
        "-v".into(),
        format!("\"$outputs\":{}", quote(job.outputs_target)),
        "-w".into(),
        quote(job.workdir),
    ]);
    for (name, value) in job.env {
        words.extend(["-e".into(), quote(&format!("{name}={value}"))]);
    }
    for name in super::rendezvous::names() {
        words.extend(["-e".into(), name.to_string()]);
    }
    if let Some(size) = job.shm_size {
        words.extend(["--shm-size".into(), quote(size)]);
    }
    let mut line = words.join(" ");
    // The GPUs go before the image: `mlpack run`'s options end there.
    line.push_str(" \"${gpus[@]}\" ");
    line.push_str(&quote(job.image));
    for arg in job.command {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

/// `text` as one shell word: as is when it has only safe characters, else single-quoted.
fn quote(text: &str) -> String {
    let safe = |byte: u8| byte.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&byte);
    if !text.is_empty() && text.bytes().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests;
