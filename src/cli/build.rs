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

/// `mlpack build -f Dockerfile`.
mod dockerfile_build {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::super::args::BuildArgs;
    use super::super::progress::PipelineProgress;
    use super::super::{ExitStatus, Printer};
    use crate::build::{self, DockerfileBuildRequest};
    use crate::context::Context;
    use crate::error::Result;

    pub(super) fn run(
        args: &BuildArgs,
        file: &Path,
        dir: &Path,
        context: &Context,
        printer: Printer,
    ) -> Result<ExitStatus> {
        let build_args = build_args(&args.args);
        let reference = match args.tag() {
            Some(tag) => tag.to_string(),
            None => default_name(dir),
        };
        let reference = reference.parse().map_err(crate::oci::OciError::from)?;
        let progress = PipelineProgress::new(printer, false);
        let request = DockerfileBuildRequest {
            dockerfile: file,
            context: dir,
            target: args.target.as_deref(),
            build_args: &build_args,
            reference: &reference,
            no_cache: args.no_cache,
            compression: args.compression().unwrap_or_default(),
            reporter: &progress,
        };
        let report = build::build_dockerfile(context.network()?, context.store()?, &request);
        progress.finish();
        let report = report?;
        if printer.json {
            printer.json(&report)?;
            return Ok(ExitStatus::Success);
        }
        for note in &report.notes {
            printer.status(&format!("note: {note}"));
        }
        super::print_layers(&report.report, printer);
        printer.status(&super::built(&report.report));
        Ok(ExitStatus::Success)
    }

    /// `--build-arg NAME=VALUE`, or `NAME` for the environment's value (skipped if unset),
    /// as Docker takes them.
    fn build_args(args: &[String]) -> BTreeMap<String, String> {
        args.iter()
            .filter_map(|arg| match arg.split_once('=') {
                Some((name, value)) => Some((name.to_string(), value.to_string())),
                None => std::env::var(arg).ok().map(|value| (arg.clone(), value)),
            })
            .collect()
    }

    /// The context directory's name, `latest`: the image needs a name in the store.
    fn default_name(dir: &Path) -> String {
        let name = std::path::absolute(dir)
            .ok()
            .and_then(|dir| {
                dir.file_name()
                    .map(|name| name.to_string_lossy().to_ascii_lowercase())
            })
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "image".to_string());
        let name: String = name
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || "._-".contains(ch) {
                    ch
                } else {
                    '-'
                }
            })
            .collect();
        format!("{}:latest", name.trim_matches(['.', '_', '-']))
    }
}

pub(super) fn run(
    args: &BuildArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let dir = args.project_dir(directory);
    let has_manifest = dir.join(crate::manifest::MANIFEST_FILE).is_file();
    let dockerfile = dir.join("Dockerfile");
    if let Some(file) = &args.file {
        return dockerfile_build::run(args, file, dir, context, printer);
    }
    if !has_manifest && dockerfile.is_file() {
        printer.status(&format!(
            "note: no `mlpack.toml` in `{}`: building its `Dockerfile`",
            dir.display()
        ));
        return dockerfile_build::run(args, &dockerfile, dir, context, printer);
    }
    if dockerfile.is_file() {
        printer.status(
            "note: building from `mlpack.toml`; the `Dockerfile` beside it is not used (build it with `mlpack build -f Dockerfile`)",
        );
    }
    let project = Project::load(dir)?;
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
    print_layers(&report, printer);
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

/// One line per layer: digest, size, how long (or `cached`), description.
fn print_layers(report: &BuildReport, printer: Printer) {
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
