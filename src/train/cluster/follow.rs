//! Following a submitted cluster run to its end: rank 0's log while the engine says the job
//! runs, then the record finished with each rank's node, exit code and log (`wait`); the same
//! finish for a run whose `train` was killed (`settle`); `cancel` and `logs`.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    ClusterEvent, ClusterRunError, KUBECTL, POLL, SLURM_ENDING, SLURM_STATE, Submitted,
    write_record,
};
use crate::cluster::{
    ClusterError, ClusterRecord, Engine, JobState, Kubernetes, Slurm, WorkloadKind,
};
use crate::error::IoError;
use crate::train::{Finished, RunRecord};

/// Follow rank 0's log until the job leaves the queue, then finish the record: each rank's
/// node and exit code, rank 0's outputs, the run's exit code.
pub fn wait(
    submitted: Submitted,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<Finished, ClusterRunError> {
    let Submitted {
        mut record,
        run_dir,
    } = submitted;
    let Some(cluster) = record.cluster.clone() else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    let mut log = RankLog::live(&cluster, &run_dir, 0);
    let last = follow(&cluster, &run_dir, &mut log, Reported::States, report)?;
    let record_path = finish(&mut record, &run_dir, last)?;
    Ok(Finished {
        record,
        record_path,
    })
}

/// Whether [`follow`] reports the job's states as they change, or only the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    States,
    LogOnly,
}

/// Report what `log` gains until the engine says the job has ended (asked every
/// [`SLURM_STATE`] or [`KUBECTL`], and every [`SLURM_ENDING`] once the followed rank has
/// written its exit code); the job's last state.
fn follow(
    cluster: &ClusterRecord,
    run_dir: &Path,
    log: &mut RankLog,
    reported: Reported,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<JobState, ClusterError> {
    let mut asked = Cadence::new(match cluster.engine {
        Engine::Slurm => SLURM_STATE,
        Engine::Kubernetes => KUBECTL,
    });
    let mut ending = false;
    let mut last = JobState::Pending;
    loop {
        log.emit(report);
        if !ending
            && let RankLog::File { rank, .. } = log
            && Slurm::rank_exited(run_dir, *rank)
        {
            ending = true;
            asked.quicken(SLURM_ENDING);
        }
        if asked.due() {
            let state = engine_state(cluster)?;
            if reported == Reported::States && state != last {
                report(ClusterEvent::State(&state));
            }
            last = state;
            if !last.is_active() {
                break;
            }
        }
        std::thread::sleep(POLL);
    }
    log.flush(report);
    Ok(last)
}

/// Something done at most once a period: due at once, then a period after each time.
#[derive(Debug)]
struct Cadence {
    period: Duration,
    next: Instant,
}

impl Cadence {
    fn new(period: Duration) -> Self {
        Self {
            period,
            next: Instant::now(),
        }
    }

    /// Whether it is due now; if so, the next time is a period from now.
    fn due(&mut self) -> bool {
        let now = Instant::now();
        if now < self.next {
            return false;
        }
        self.next = now + self.period;
        true
    }

    /// Done just now, out of turn: the next time is a period from now.
    fn restart(&mut self) {
        self.next = Instant::now() + self.period;
    }

    /// A shorter period from now on, the next time brought forward to at most one of it.
    fn quicken(&mut self, period: Duration) {
        self.period = self.period.min(period);
        self.next = self.next.min(Instant::now() + self.period);
    }
}

/// The job's state, as its engine reports it now.
fn engine_state(cluster: &ClusterRecord) -> Result<JobState, ClusterError> {
    match cluster.engine {
        Engine::Slurm => Slurm::state(&cluster.job_id),
        Engine::Kubernetes => Kubernetes::state(
            cluster.kind.unwrap_or_default(),
            cluster.namespace.as_deref(),
            &cluster.job_id,
        ),
    }
}

/// A rank's node and exit code, as far as known.
type RankResult = (Option<String>, Option<i32>);

/// Each rank's node and exit code. On Kubernetes the pods' logs are saved as `rank-K.log`
/// too, so they outlive the pods.
fn rank_results(
    cluster: &ClusterRecord,
    run_dir: &Path,
) -> Result<Vec<RankResult>, ClusterRunError> {
    match cluster.engine {
        Engine::Slurm => Ok((0..cluster.nodes)
            .map(|rank| Slurm::rank_result(run_dir, rank))
            .collect()),
        Engine::Kubernetes => {
            let (kind, namespace) = (
                cluster.kind.unwrap_or_default(),
                cluster.namespace.as_deref(),
            );
            for rank in 0..cluster.nodes {
                let path = crate::cluster::rank_log(run_dir, rank);
                let log = Kubernetes::log(kind, namespace, &cluster.job_id, rank);
                fs_err::write(&path, log).map_err(|source| IoError::new("write", &path, source))?;
            }
            Ok(Kubernetes::rank_results(
                kind,
                namespace,
                &cluster.job_id,
                cluster.nodes,
            ))
        }
    }
}

/// The record of an ended job: ranks, outputs (not the logs or the engine's files), exit code.
/// Returns where it was written.
fn finish(
    record: &mut RunRecord,
    run_dir: &Path,
    state: JobState,
) -> Result<PathBuf, ClusterRunError> {
    let Some(cluster) = record.cluster.as_mut() else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    let (names, codes) = rank_results(cluster, run_dir)?.into_iter().unzip();
    cluster.node_names = names;
    cluster.rank_exit_codes = codes;
    cluster.state = state;
    record.exit_code = cluster.exit_code();
    let finished = jiff::Timestamp::now();
    record.seconds = record
        .started
        .parse::<jiff::Timestamp>()
        .map_or(0.0, |started| (finished - started).as_secs_f64());
    record.finished = finished.to_string();
    let mut outputs = crate::train::read_outputs(run_dir);
    outputs
        .hashes
        .retain(|name, _| !crate::cluster::is_engine_file(name));
    outputs
        .skipped
        .retain(|name, _| !crate::cluster::is_engine_file(name));
    record.outputs = outputs.hashes;
    record.outputs_skipped = outputs.skipped;
    record.metrics = outputs.metrics;
    record.metrics_skipped = outputs.metrics_skipped;
    write_record(run_dir, record)
}

/// A cluster run whose record still says it is queued or running, brought up to date from its
/// engine: while the job runs, its state (in memory only); once it has ended, its record
/// finished and written as `train` would have, for a `train` killed while it waited. A state
/// the engine cannot tell (`unknown`: no `squeue` here, or a job it has forgotten) changes
/// nothing. Local and finished runs are left as they are.
pub fn settle(record: &mut RunRecord, run_dir: &Path) -> Result<(), ClusterRunError> {
    let Some(cluster) = record
        .cluster
        .as_mut()
        .filter(|cluster| cluster.state.is_active())
    else {
        return Ok(());
    };
    let state = engine_state(cluster)?;
    if state.is_active() {
        cluster.state = state;
    } else if state != JobState::Other("unknown".to_string()) {
        finish(record, run_dir, state)?;
    }
    Ok(())
}

/// `mlpack cancel RUN`: ask the engine to end the job; `train`, if it waits, records the end.
pub fn cancel(record: &RunRecord) -> Result<String, ClusterRunError> {
    let Some(cluster) = &record.cluster else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    match cluster.engine {
        Engine::Slurm => Slurm::cancel(&cluster.job_id)?,
        Engine::Kubernetes => Kubernetes::cancel(
            cluster.kind.unwrap_or_default(),
            cluster.namespace.as_deref(),
            record.id.as_str(),
        )?,
    }
    Ok(cluster.job_id.clone())
}

/// `mlpack logs RUN [--rank K] [-f]`: the rank's log so far, then, with `follow`, what it
/// gains until the job ends.
pub fn logs(
    record: &RunRecord,
    run_dir: &Path,
    rank: u32,
    follow: bool,
    report: &mut dyn FnMut(ClusterEvent<'_>),
) -> Result<(), ClusterRunError> {
    let Some(cluster) = &record.cluster else {
        return Err(ClusterRunError::NotClusterRun {
            run: record.id.to_string(),
        });
    };
    if rank >= cluster.nodes {
        return Err(ClusterRunError::NoSuchRank {
            run: record.id.to_string(),
            rank,
            nodes: cluster.nodes,
        });
    }
    let mut log = if cluster.state.is_active() {
        RankLog::live(cluster, run_dir, rank)
    } else {
        RankLog::file(run_dir, rank)
    };
    log.flush(report);
    if follow && cluster.state.is_active() {
        self::follow(cluster, run_dir, &mut log, Reported::LogOnly, report)?;
    }
    Ok(())
}

/// A rank's log while its job runs: the file its node writes (Slurm), or its pod's log
/// (Kubernetes), each read from where the last read stopped.
enum RankLog {
    File {
        rank: u32,
        follower: LogFollower,
    },
    Pod {
        kind: WorkloadKind,
        namespace: Option<String>,
        name: String,
        rank: u32,
        seen: usize,
        fetched: Cadence,
    },
}

impl RankLog {
    fn live(cluster: &ClusterRecord, run_dir: &Path, rank: u32) -> Self {
        match cluster.engine {
            Engine::Slurm => Self::file(run_dir, rank),
            Engine::Kubernetes => Self::Pod {
                kind: cluster.kind.unwrap_or_default(),
                namespace: cluster.namespace.clone(),
                name: cluster.job_id.clone(),
                rank,
                seen: 0,
                fetched: Cadence::new(KUBECTL),
            },
        }
    }

    /// The log file `rank-K.log` the rank's node writes (Slurm), or wrote (any finished run).
    fn file(run_dir: &Path, rank: u32) -> Self {
        Self::File {
            rank,
            follower: LogFollower::new(crate::cluster::rank_log(run_dir, rank)),
        }
    }

    /// Report what the log gained; a pod's log is fetched every [`KUBECTL`] only.
    fn emit(&mut self, report: &mut dyn FnMut(ClusterEvent<'_>)) {
        match self {
            Self::File { follower, .. } => follower.emit(report),
            Self::Pod { fetched, .. } => {
                if fetched.due() {
                    self.fetch(report);
                }
            }
        }
    }

    /// Report what the log gained, a pod's fetched now whenever it was last (the first and
    /// the last read).
    fn flush(&mut self, report: &mut dyn FnMut(ClusterEvent<'_>)) {
        match self {
            Self::File { follower, .. } => follower.emit(report),
            Self::Pod { fetched, .. } => {
                fetched.restart();
                self.fetch(report);
            }
        }
    }

    fn fetch(&mut self, report: &mut dyn FnMut(ClusterEvent<'_>)) {
        let Self::Pod {
            kind,
            namespace,
            name,
            rank,
            seen,
            ..
        } = self
        else {
            return;
        };
        let log = Kubernetes::log(*kind, namespace.as_deref(), name, *rank);
        // `kubectl logs` gives the whole log each time: report only its new end.
        if let Some(new) = log.get(*seen..)
            && !new.is_empty()
        {
            report(ClusterEvent::Output(new));
            *seen = log.len();
        }
    }
}

/// A log file read from where the last read stopped; a file not there yet reads as empty.
struct LogFollower {
    path: PathBuf,
    offset: u64,
}

impl LogFollower {
    fn new(path: PathBuf) -> Self {
        Self { path, offset: 0 }
    }

    fn emit(&mut self, report: &mut dyn FnMut(ClusterEvent<'_>)) {
        let Ok(mut file) = fs_err::File::open(&self.path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        if let Ok(read) = file.read_to_end(&mut bytes)
            && read > 0
        {
            self.offset += read as u64;
            report(ClusterEvent::Output(&bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cadence_is_due_at_once_then_a_period_later_unless_quickened() {
        let hour = Duration::from_hours(1);
        let mut cadence = Cadence::new(hour);
        assert!(cadence.due(), "due at once");
        assert!(!cadence.due(), "then an hour later");
        cadence.quicken(Duration::from_hours(2));
        assert!(!cadence.due(), "a longer period changes nothing");
        cadence.quicken(Duration::ZERO);
        assert!(
            cadence.due(),
            "a shorter period brings the next time forward"
        );
        cadence.restart();
        assert!(cadence.due(), "the period is the shorter one from then on");
    }
}
