//! What the pipeline shows on stderr while it works: locking's messages, a spinner naming the
//! build's step, and one bar per blob pulled or pushed. Bars and spinner are drawn only on a
//! terminal, and never with `-q` or `--json`.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{ExitStatus, Printer};
use crate::build::BuildReporter;
use crate::lock::{LockEvent, LockReporter};
use crate::oci::registry::TransferProgress;
use crate::train::{Finished, Stream, TrainEvent, TrainReporter};

/// The reporter of `lock`, `build` and `train`.
pub(super) struct PipelineProgress {
    printer: Printer,
    bars: Bars,
    spinner: OnceLock<ProgressBar>,
    /// `mlpack lock` lists what changed in the lock; commands that lock on the way do not.
    show_changes: bool,
}

impl PipelineProgress {
    pub(super) fn new(printer: Printer, show_changes: bool) -> Self {
        Self {
            printer,
            bars: Bars::new(printer),
            spinner: OnceLock::new(),
            show_changes,
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
                    plan.target.describe()
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
                let bar = ProgressBar::new_spinner();
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bar
            }
        });
        let layer: String = layer.chars().take(60).collect();
        spinner.set_message(format!("{phase}: {layer}"));
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
