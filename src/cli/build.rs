//! `mlpack build`: `build::build_project` (lock if needed, then build and tag), and what it
//! built.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Result;

use super::args::BuildArgs;
use super::progress::PipelineProgress;
use super::{ExitStatus, Printer};
use crate::build::{self, BuildReport, PlannedLayer};
use crate::byte_size::human_size;
use crate::context::Context;
use crate::project::Project;

pub(super) fn run(
    args: &BuildArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let project = Project::load(args.project_dir(directory))?;
    let progress = PipelineProgress::new(printer, false);
    if args.dry_run {
        let planned = build::plan_project(context, &project, &args.options(), &progress);
        progress.finish();
        return dry_run(&planned?, printer);
    }
    let report = build::build_project(context, &project, &args.options(), &progress);
    progress.finish();
    let report = report?;
    if printer.json {
        printer.json(&report)?;
        return Ok(ExitStatus::Success);
    }
    for layer in &report.layers {
        let how = if layer.reused {
            "cached".to_string()
        } else {
            format!("{:.2}s", layer.seconds)
        };
        printer.status(&format!(
            "  {}  {:>9}  {how:>7}  {}",
            &layer.digest[7..19],
            human_size(layer.size),
            layer.description
        ));
    }
    for sdist in &report.sdists {
        let how = sdist.seconds.map_or_else(
            || "cached".to_string(),
            |seconds| format!("built in {seconds:.2}s"),
        );
        printer.status(&format!(
            "Sdist `{}`: `{}` ({how})",
            sdist.package, sdist.wheel
        ));
    }
    for line in system_libraries(&report) {
        printer.status(&line);
    }
    printer.status(&built(&report));
    Ok(ExitStatus::Success)
}

/// `Built `NAME:TAG` (DIGEST) in 1.23s`.
fn built(report: &BuildReport) -> String {
    format!(
        "Built `{}` ({}) in {:.2}s",
        report.reference, report.manifest_digest, report.seconds
    )
}

fn dry_run(layers: &[PlannedLayer], printer: Printer) -> Result<ExitStatus> {
    if printer.json {
        printer.json(&serde_json::json!({ "layers": layers }))?;
        return Ok(ExitStatus::Success);
    }
    for layer in layers {
        let line = if layer.packages.is_empty() {
            format!("{:>9}  {}\n", "?", layer.description)
        } else {
            format!(
                "{:>9}  {}: {}\n",
                human_size(layer.download_bytes),
                layer.description,
                layer.packages.join(", ")
            )
        };
        printer.result(&line)?;
    }
    Ok(ExitStatus::Success)
}

/// What the system-libraries layer added and why, one Debian package per entry
/// (`libgl1 (opencv-python needs libGL.so.1)`), and what the host driver is left to provide.
fn system_libraries(report: &BuildReport) -> Vec<String> {
    let how = if report.pinned_system_libraries {
        "pinned into `mlpack.lock`"
    } else {
        "from `mlpack.lock`"
    };
    let mut lines = Vec::new();
    let mut packages: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for library in &report.system_libraries {
        packages
            .entry(&library.package)
            .or_default()
            .entry(&library.wheel)
            .or_default()
            .push(&library.soname);
    }
    if packages.is_empty() {
        if report.pinned_system_libraries {
            lines.push(format!("System libraries: none needed ({how})"));
        }
    } else {
        let added: Vec<String> = packages
            .iter()
            .map(|(package, wheels)| {
                let why: Vec<String> = wheels
                    .iter()
                    .map(|(wheel, sonames)| format!("{wheel} needs {}", sonames.join(", ")))
                    .collect();
                format!("{package} ({})", why.join("; "))
            })
            .collect();
        lines.push(format!("System libraries ({how}): {}", added.join(", ")));
    }
    if !report.host_driver_libraries.is_empty() {
        let driver: Vec<String> = report
            .host_driver_libraries
            .iter()
            .map(|library| format!("{} ({})", library.soname, library.wheel))
            .collect();
        lines.push(format!(
            "Provided by the host's NVIDIA driver with `--gpus`: {}",
            driver.join(", ")
        ));
    }
    lines
}
