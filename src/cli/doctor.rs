//! `mlpack doctor [--repair]`: run the host and store checks and show them, one line each
//! with a hint under each warning or failure; `--json` prints `{"checks": [...], "ok": …}`.

use std::fmt::Write as _;

use crate::error::Result;

use super::{ExitStatus, Printer};
use crate::doctor::{self, Check, Options, Report, Status};

#[derive(Debug, clap::Args)]
pub(super) struct DoctorArgs {
    /// Delete corrupt blobs from the store (holding its lock, so builds wait), and name the
    /// images to pull or build again.
    #[arg(long)]
    repair: bool,
}

pub(super) fn run(args: &DoctorArgs, printer: Printer) -> Result<ExitStatus> {
    if !printer.json {
        printer.status("Checking this host and the store (every blob is re-hashed)…");
    }
    let report = doctor::run_checks(Options {
        repair: args.repair,
    });
    if printer.json {
        printer.json(&report)?;
    } else {
        printer.result(&render(&report, printer.verbose))?;
    }
    Ok(if report.ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// One line per check, then its details (for an `ok` check only with `--verbose`) and hint,
/// indented; a closing count.
fn render(report: &Report, verbose: bool) -> String {
    let mut text = String::new();
    for check in &report.checks {
        let _ = writeln!(
            text,
            "{} {:<16} {}",
            mark(check.status),
            check.name,
            check.summary
        );
        if verbose || check.status != Status::Ok {
            for detail in &check.details {
                let _ = writeln!(text, "    {detail}");
            }
        }
        if let Some(hint) = &check.hint {
            let _ = writeln!(text, "    hint: {hint}");
        }
    }
    let _ = writeln!(text, "\n{}", tally(&report.checks));
    text
}

/// `✓`, `!` or `✗`: the status without colour.
fn mark(status: Status) -> char {
    match status {
        Status::Ok => '✓',
        Status::Warn => '!',
        Status::Fail => '✗',
    }
}

fn tally(checks: &[Check]) -> String {
    let count = |status| checks.iter().filter(|check| check.status == status).count();
    let (warnings, failures) = (count(Status::Warn), count(Status::Fail));
    let warned = match warnings {
        0 => String::new(),
        1 => ", 1 warning".to_string(),
        n => format!(", {n} warnings"),
    };
    match failures {
        0 => format!("No problems found{warned}"),
        1 => format!("1 check failed{warned}"),
        n => format!("{n} checks failed{warned}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, status: Status, hint: Option<&str>) -> Check {
        Check {
            name,
            status,
            summary: format!("{name} summary"),
            hint: hint.map(str::to_string),
            details: vec![format!("{name} detail")],
        }
    }

    #[test]
    fn renders_marks_details_and_hints() {
        let report = Report {
            checks: vec![
                check("kernel", Status::Ok, None),
                check("shm", Status::Warn, Some("grow it")),
                check("store", Status::Fail, Some("repair it")),
            ],
            ok: false,
        };
        insta::assert_snapshot!(render(&report, false), @r"
        ✓ kernel           kernel summary
        ! shm              shm summary
            shm detail
            hint: grow it
        ✗ store            store summary
            store detail
            hint: repair it

        1 check failed, 1 warning
        ");
        assert!(render(&report, true).contains("    kernel detail\n"));
    }
}
