//! What the pipeline shows on stderr while it works: locking's messages, a spinner naming the
//! build's step, one byte bar (with its rate) per batch of downloads and per layer written,
//! and one per blob pulled or pushed. Bars and spinner are drawn only on a terminal; without
//! one (CI logs), each download batch and layer gets one line with its size and time instead.
//! Neither with `-q` or `--json`.

use std::io::{IsTerminal as _, Write as _};
use std::sync::{Mutex, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{ExitStatus, Printer};
use crate::build::{BuildReporter, Step, StepEvent, StepKind};
use crate::byte_size::human_size;
use crate::cluster::Engine;
use crate::lock::{LockEvent, LockReporter};
use crate::oci::registry::TransferProgress;
use crate::train::cluster::ClusterEvent;
use crate::train::{Finished, Stream, TrainEvent, TrainReporter};

/// The reporter of `lock`, `build` and `train`.
pub(super) struct PipelineProgress {
    printer: Printer,
    bars: Bars,
    spinner: OnceLock<ProgressBar>,
    /// `mlpack lock` lists what changed in the lock; commands that lock on the way do not.
    show_changes: bool,
    /// Whether stderr is a terminal (bars) or not (a line per step).
    terminal: bool,
}

impl PipelineProgress {
    pub(super) fn new(printer: Printer, show_changes: bool) -> Self {
        Self {
            printer,
            bars: Bars::new(printer),
            spinner: OnceLock::new(),
            show_changes,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Clear the spinner and the bars, before the result is printed.
    pub(super) fn finish(&self) {
        if let Some(spinner) = self.spinner.get() {
            spinner.finish_and_clear();
        }
        self.bars.clear();
    }
}

impl LockReporter for PipelineProgress {
    fn event(&self, event: LockEvent<'_>) {
        let printer = self.printer;
        match event {
            LockEvent::Unresolved(name) => printer.status(&format!("warning: the import `{name}` maps to no distribution and is not locked (see `mlpack scan`)")),
            LockEvent::VerifyFailed(why) => printer.status(&format!("warning: {why}")),
            LockEvent::PinnedBase(pinned) => {
                self.bars.clear();
                printer.status(&format!(
                    "Pinned the base image `{}` to {} (Python {} at `{}`, glibc {})",
                    pinned.image, pinned.digest, pinned.python_version, pinned.python, pinned.glibc
                ));
            }
            LockEvent::Resolved {
                plan,
                lock,
                seconds,
            } => {
                printer.status(&format!(
                    "Resolved {} packages for {} in {seconds:.2}s",
                    lock.packages.len(),
                    plan.describe_targets()
                ));
                if self.show_changes {
                    for change in crate::lock::changes(plan.existing.as_ref(), lock) {
                        printer.status(&format!(" {change}"));
                    }
                }
                if let Some(summary) = crate::lock::hardware_summary(&plan.hardware, lock) {
                    printer.status(&summary);
                }
            }
        }
    }
}

impl BuildReporter for PipelineProgress {
    fn phase(&self, layer: &str, phase: &str) {
        let spinner = self.spinner.get_or_init(|| {
            if self.printer.quiet || self.printer.json {
                ProgressBar::hidden()
            } else {
                // In the bars' group, so that the two never draw over each other.
                let bar = self.bars.multi.add(ProgressBar::new_spinner());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bar
            }
        });
        let layer: String = layer.chars().take(60).collect();
        spinner.set_message(format!("{phase}: {layer}"));
    }

    fn step(&self, event: StepEvent<'_>) {
        if self.printer.quiet || self.printer.json {
            return;
        }
        match event {
            StepEvent::Started { step, total } if self.terminal => {
                self.bars.start_step(step, total);
            }
            StepEvent::Advanced { step, bytes } if self.terminal => {
                self.bars.advance(&step_key(step), bytes);
            }
            StepEvent::Finished { step, .. } if self.terminal => {
                TransferProgress::finish(&self.bars, &step_key(step));
            }
            StepEvent::Finished {
                step,
                bytes,
                compressed,
                seconds,
            } if step.count > 0 => {
                self.printer
                    .status(&step_line(step, bytes, compressed, seconds));
            }
            _ => {}
        }
    }
}

/// What names a step's bar among the others.
fn step_key(step: Step<'_>) -> String {
    format!("{:?} {}", step.kind, step.name)
}

/// `Fetched 10 wheels for python packages (98.4 MB) in 3.20s`, `Wrote layer python packages
/// (250.9 MB, compressed 61.0 MB) in 4.10s`: a finished step, for logs without a terminal.
fn step_line(step: Step<'_>, bytes: u64, compressed: Option<u64>, seconds: f64) -> String {
    let size = human_size(bytes);
    let count = step.count;
    let plural = if count == 1 { "" } else { "s" };
    match step.kind {
        StepKind::Layer => {
            let compressed = compressed
                .map(|compressed| format!(", compressed {}", human_size(compressed)))
                .unwrap_or_default();
            format!(
                "Wrote layer {} ({size}{compressed}) in {seconds:.2}s",
                step.name
            )
        }
        StepKind::Wheels => format!(
            "Fetched {count} wheel{plural} for {} ({size}) in {seconds:.2}s",
            step.name
        ),
        StepKind::Debs => format!(
            "Fetched {count} Debian package{plural} for {} ({size}) in {seconds:.2}s",
            step.name
        ),
        StepKind::Sdist => format!(
            "Fetched the sdist of `{}` ({size}) in {seconds:.2}s",
            step.name
        ),
    }
}

impl TransferProgress for PipelineProgress {
    fn start(&self, digest: &str, size: u64) {
        self.bars.start(digest, size);
    }

    fn advance(&self, digest: &str, bytes: u64) {
        self.bars.advance(digest, bytes);
    }

    fn finish(&self, digest: &str) {
        TransferProgress::finish(&self.bars, digest);
    }
}

/// One progress bar per blob.
pub(super) struct Bars {
    multi: MultiProgress,
    bars: Mutex<Vec<(String, ProgressBar)>>,
}

impl Bars {
    pub(super) fn new(printer: Printer) -> Self {
        let target = if printer.quiet || printer.json {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(Vec::new()),
        }
    }

    fn with_bar(&self, digest: &str, action: impl FnOnce(&ProgressBar)) {
        if let Ok(bars) = self.bars.lock()
            && let Some((_, bar)) = bars.iter().find(|(name, _)| name == digest)
        {
            action(bar);
        }
    }

    pub(super) fn clear(&self) {
        let _ = self.multi.clear();
    }

    /// A byte bar with its rate for `step`: against its total when known, else a count.
    fn start_step(&self, step: Step<'_>, total: Option<u64>) {
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::new(total),
                "{msg:32} [{bar:24}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} {eta}",
            ),
            None => (
                ProgressBar::no_length(),
                "{msg:32} {bytes:>10} {binary_bytes_per_sec:>12}",
            ),
        };
        let bar = self.multi.add(bar);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let verb = if step.kind == StepKind::Layer {
            "writing"
        } else {
            "fetching"
        };
        let message: String = format!("{verb} {}", step.name).chars().take(32).collect();
        bar.set_message(message);
        if let Ok(mut bars) = self.bars.lock() {
            bars.push((step_key(step), bar));
        }
    }
}

impl TransferProgress for Bars {
    fn start(&self, digest: &str, size: u64) {
        let bar = self.multi.add(ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template("{msg:14} [{bar:30}] {bytes:>10}/{total_bytes:10}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let short = digest.trim_start_matches("sha256:");
        bar.set_message(short[..12.min(short.len())].to_string());
        if let Ok(mut bars) = self.bars.lock() {
            bars.push((digest.to_string(), bar));
        }
    }

    fn advance(&self, digest: &str, bytes: u64) {
        self.with_bar(digest, |bar| bar.inc(bytes));
    }

    fn finish(&self, digest: &str) {
        self.with_bar(digest, ProgressBar::finish_and_clear);
    }
}

impl TrainReporter for PipelineProgress {
    fn train_event(&self, event: TrainEvent<'_>) {
        match event {
            TrainEvent::Built(report) => {
                self.finish();
                self.printer.status(&format!(
                    "Built `{}` ({}) in {:.2}s",
                    report.reference, report.manifest_digest, report.seconds
                ));
            }
            TrainEvent::Started { run_id, command } => self
                .printer
                .status(&format!("Training run {run_id}: {}", command.join(" "))),
            // The job's own output, as it wrote it: never quieted.
            TrainEvent::Output {
                stream: Stream::Stdout,
                bytes,
            } => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(bytes);
                let _ = stdout.flush();
            }
            TrainEvent::Output {
                stream: Stream::Stderr,
                bytes,
            } => {
                let _ = std::io::stderr().lock().write_all(bytes);
            }
        }
    }
}

/// A finished run's skipped outputs, then its record (`--json`) or a line naming it; the
/// job's exit code is `mlpack train`'s.
pub(super) fn report_finished(
    finished: &Finished,
    printer: Printer,
) -> crate::error::Result<ExitStatus> {
    let record = &finished.record;
    for (name, why) in &record.outputs_skipped {
        printer.status(&format!("warning: the output `{name}` is {why}"));
    }
    if printer.json {
        printer.json(record)?;
    } else {
        printer.status(&format!(
            "Run {} exited with {} after {:.1}s; record: {}",
            record.id,
            record.exit_code,
            record.seconds,
            finished.record_path.display()
        ));
    }
    Ok(ExitStatus::Code(record.exit_code))
}

/// A cluster run's events as lines; rank 0's output as it came.
pub(super) fn report_cluster_event(event: &ClusterEvent<'_>, printer: Printer) {
    match event {
        ClusterEvent::Pushed { reference } => printer.status(&format!("Pushed `{reference}`")),
        ClusterEvent::Written {
            run_id,
            script,
            reason,
        } => printer.status(&format!(
            "Wrote the job of run {run_id} to `{}` (not submitted: {reason})",
            script.display()
        )),
        ClusterEvent::Submitted {
            engine,
            run_id,
            job_id,
            script,
        } => printer.status(&format!(
            "Submitted run {run_id} as {} job {job_id} (`{}`)",
            match engine {
                Engine::Slurm => "Slurm",
                Engine::Kubernetes => "Kubernetes",
            },
            script.display()
        )),
        ClusterEvent::State(state) => printer.status(&format!("Job {}", state.as_str())),
        ClusterEvent::Output(bytes) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(bytes);
            let _ = stdout.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use indicatif::TermLike;

    use super::*;

    /// A terminal that keeps what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, line: &str) -> std::io::Result<()> {
            self.write_str(&format!("{line}\n"))
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(text);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn on_a_terminal_a_step_is_a_byte_bar_with_its_rate() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let progress = PipelineProgress {
            printer: Printer {
                json: false,
                quiet: false,
                verbose: false,
            },
            bars: Bars {
                multi: MultiProgress::with_draw_target(target),
                bars: Mutex::default(),
            },
            spinner: OnceLock::new(),
            show_changes: false,
            terminal: true,
        };
        let step = Step {
            kind: StepKind::Wheels,
            name: "python packages",
            count: 2,
        };
        progress.step(StepEvent::Started {
            step,
            total: Some(2_097_152),
        });
        progress.step(StepEvent::Advanced {
            step,
            bytes: 1_048_576,
        });
        let drawn = screen.0.lock().unwrap().clone();
        let last = drawn.lines().last().unwrap_or_default().to_string();
        assert!(
            last.starts_with("fetching python packages")
                && last.contains("1.00 MiB/2.00 MiB")
                && last.contains("/s"),
            "{drawn}"
        );
        let layer = Step {
            kind: StepKind::Layer,
            name: "project code at /app",
            count: 1,
        };
        progress.step(StepEvent::Started {
            step: layer,
            total: None,
        });
        progress.step(StepEvent::Advanced {
            step: layer,
            bytes: 3_145_728,
        });
        let drawn = screen.0.lock().unwrap().clone();
        assert!(
            drawn.contains("writing project code at /app") && drawn.contains("3.00 MiB"),
            "{drawn}"
        );
    }

    #[test]
    fn a_finished_step_is_one_line_with_its_size_and_time() {
        let step = |kind, name, count| Step { kind, name, count };
        insta::assert_snapshot!(
            step_line(step(StepKind::Wheels, "python packages", 10), 98_400_000, None, 3.2),
            @"Fetched 10 wheels for python packages (98.4 MB) in 3.20s"
        );
        insta::assert_snapshot!(
            step_line(step(StepKind::Layer, "python packages", 1), 250_900_000, Some(61_000_000), 4.1),
            @"Wrote layer python packages (250.9 MB, compressed 61.0 MB) in 4.10s"
        );
        insta::assert_snapshot!(
            step_line(step(StepKind::Debs, "base debian:bookworm", 1), 999, None, 0.25),
            @"Fetched 1 Debian package for base debian:bookworm (999 B) in 0.25s"
        );
        insta::assert_snapshot!(
            step_line(step(StepKind::Sdist, "fvcore", 1), 51_200, None, 0.5),
            @"Fetched the sdist of `fvcore` (51.2 kB) in 0.50s"
        );
    }
}
