//! The bytes a build moves, step by step: each batch of downloads (wheels, `.deb`s, sdists)
//! and each layer written is a [`Step`], told to the [`BuildReporter`] as it starts, as its
//! bytes come, and when it ends with its size and time. The CLI draws them as byte bars on a
//! terminal and prints one line per step elsewhere (CI logs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::BuildReporter;

/// What a step moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Wheels, from the index or the cache.
    Wheels,
    /// Debian packages, from the mirror or the cache.
    Debs,
    /// An sdist, from the index or the cache.
    Sdist,
    /// A layer, written as a compressed tar into the store.
    Layer,
}

/// One counted step of a build: `count` files (or one layer) for what `name` says (`python
/// packages`, `base debian:bookworm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step<'a> {
    pub kind: StepKind,
    pub name: &'a str,
    pub count: usize,
}

/// What a build tells of a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepEvent<'a> {
    /// The step began; `total` is its size when known beforehand (the lock's file sizes).
    Started { step: Step<'a>, total: Option<u64> },
    /// `bytes` more are done.
    Advanced { step: Step<'a>, bytes: u64 },
    /// The step is done: `bytes` in all (a layer's uncompressed tar), `compressed` for a
    /// layer, after `seconds`.
    Finished {
        step: Step<'a>,
        bytes: u64,
        compressed: Option<u64>,
        seconds: f64,
    },
}

/// A step under way: counts its bytes and tells the reporter.
pub(super) struct Tally<'a> {
    reporter: &'a dyn BuildReporter,
    step: Step<'a>,
    started: Instant,
    bytes: AtomicU64,
}

impl<'a> Tally<'a> {
    pub(super) fn start(
        reporter: &'a dyn BuildReporter,
        step: Step<'a>,
        total: Option<u64>,
    ) -> Self {
        reporter.step(StepEvent::Started { step, total });
        Self {
            reporter,
            step,
            started: Instant::now(),
            bytes: AtomicU64::new(0),
        }
    }

    /// Count `bytes` more (a file fetched, a chunk of a layer's tar written).
    pub(super) fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.reporter.step(StepEvent::Advanced {
            step: self.step,
            bytes,
        });
    }

    /// The step is done; `compressed` is a layer's blob size.
    pub(super) fn finish(self, compressed: Option<u64>) {
        self.reporter.step(StepEvent::Finished {
            step: self.step,
            bytes: self.bytes.load(Ordering::Relaxed),
            compressed,
            seconds: self.started.elapsed().as_secs_f64(),
        });
    }
}

/// A file's size for a download step: the lock's, else the file's on disk (a local direct
/// reference has no size in the lock).
pub(super) fn file_size(locked: Option<u64>, path: &std::path::Path) -> u64 {
    locked.unwrap_or_else(|| fs_err::metadata(path).map_or(0, |metadata| metadata.len()))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Keeps each event as text.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl BuildReporter for Recorder {
        fn phase(&self, _layer: &str, _phase: &str) {}

        fn step(&self, event: StepEvent<'_>) {
            let text = match event {
                StepEvent::Started { step, total } => format!("start {} {total:?}", step.name),
                StepEvent::Advanced { bytes, .. } => format!("+{bytes}"),
                StepEvent::Finished {
                    step,
                    bytes,
                    compressed,
                    ..
                } => format!("done {} {bytes} {compressed:?}", step.count),
            };
            self.0.lock().unwrap().push(text);
        }
    }

    #[test]
    fn a_step_counts_every_file_it_was_told_of() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("mylib-1.0.tar.gz");
        fs_err::write(&local, [0u8; 700]).unwrap();
        let recorder = Recorder::default();
        let step = Step {
            kind: StepKind::Wheels,
            name: "python packages",
            count: 3,
        };
        let tally = Tally::start(&recorder, step, Some(3000));
        tally.advance(file_size(Some(1000), &local));
        tally.advance(file_size(Some(2000), &local));
        tally.advance(file_size(None, &local));
        tally.finish(None);
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "start python packages Some(3000)",
                "+1000",
                "+2000",
                "+700",
                "done 3 3700 None"
            ]
        );
    }
}
