//! `mlpack build`: lock if needed, then build the image into the store and tag it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

use super::lock::{ResolverArgs, ensure_locked};
use super::{ExitStatus, Printer};
use crate::build::{self, BuildReporter, BuildRequest};
use crate::manifest::Manifest;
use crate::oci::Store;

#[derive(Debug, clap::Args)]
pub(super) struct BuildArgs {
    /// The project [default: the `-C` directory].
    pub(super) dir: Option<PathBuf>,
    /// The image's name and tag [default: `[image] name`/`tag`, else the project's name and `latest`].
    #[arg(short, long, value_name = "NAME:TAG")]
    tag: Option<String>,
    /// How layers are compressed.
    #[arg(long, value_enum)]
    compression: Option<crate::manifest::Compression>,
    /// Fail instead of writing `mlpack.lock` when it is missing or stale (for CI).
    #[arg(long)]
    pub(super) locked: bool,
    /// Lock if needed and show the Python layers the image would get, without fetching or
    /// writing anything else.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    resolver: ResolverArgs,
}

pub(super) fn run(args: &BuildArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let project = args.project(directory);
    let loaded = Manifest::load(&project)?;
    if args.dry_run {
        return dry_run(args, &project, &loaded, printer);
    }
    let report = build_image(args, &project, &loaded, printer)?;
    if printer.json {
        printer.json(&report)?;
    } else {
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
        printer.status(&format!(
            "Built `{}` ({}) in {:.2}s",
            report.reference, report.manifest_digest, report.seconds
        ));
    }
    Ok(ExitStatus::Success)
}

fn dry_run(
    args: &BuildArgs,
    project: &Path,
    loaded: &crate::manifest::LoadedManifest,
    printer: Printer,
) -> Result<ExitStatus> {
    build::check_base(&loaded.manifest)?;
    let lock = ensure_locked(project, loaded, &args.resolver, args.locked, printer)?;
    let layers = build::planned_layers(&lock);
    if printer.json {
        printer.json(&serde_json::json!({ "layers": layers }))?;
        return Ok(ExitStatus::Success);
    }
    for layer in &layers {
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
fn system_libraries(report: &build::BuildReport) -> Vec<String> {
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

impl BuildArgs {
    pub(super) fn project(&self, directory: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| directory.to_path_buf())
    }
}

/// Lock if needed, then build the project's image into the store and tag it.
pub(super) fn build_image(
    args: &BuildArgs,
    project: &Path,
    loaded: &crate::manifest::LoadedManifest,
    printer: Printer,
) -> Result<build::BuildReport> {
    let project = project.to_path_buf();
    build::check_base(&loaded.manifest)?;
    let mut lock = ensure_locked(&project, loaded, &args.resolver, args.locked, printer)?;
    let manifest = &loaded.manifest;
    let project_name = project_name(&project, manifest);
    let reference = args.tag.clone().unwrap_or_else(|| {
        let name = manifest
            .image
            .name
            .clone()
            .unwrap_or_else(|| project_name.clone());
        format!(
            "{name}:{}",
            manifest.image.tag.as_deref().unwrap_or("latest")
        )
    });
    let reference: crate::oci::ImageReference = reference.parse()?;
    let compression =
        build::layer_compression(args.compression.unwrap_or(manifest.image.compression));
    let store = Store::open_default()?;
    let progress = Progress::new(printer);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let lock_path = crate::manifest::project_path(&project, Path::new(crate::lock::LOCK_FILE));
    let request = BuildRequest {
        project: &project,
        manifest,
        project_name: &project_name,
        lock_path: &lock_path,
        reference: &reference,
        compression,
        offline: args.resolver.offline,
        locked: args.locked,
        reporter: &progress,
    };
    let report = build::build(&runtime, &store, &request, &mut lock);
    progress.bar.finish_and_clear();
    // The async runtime's threads must be gone before a container is started from this
    // process's children (`train`).
    runtime.shutdown_background();
    Ok(report?)
}

/// The project's name: `[project] name`, else its directory's, made a valid image name (the
/// manifest checks a `[project] name`; a directory name like `_scratch` or `My..Data` is
/// reduced to its letters and digits joined by `-`).
pub(super) fn project_name(project: &Path, manifest: &Manifest) -> String {
    if let Some(name) = &manifest.project.name {
        return name.clone();
    }
    let absolute = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
    let name: String = absolute
        .file_name()
        .map(|name| name.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if crate::oci::ImageReference::parse_name(&name).is_ok() && name.len() <= 128 {
        return name;
    }
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let name: String = words.join("-").chars().take(128).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "project".to_string()
    } else {
        name.to_string()
    }
}

pub(super) use crate::byte_size::human_size;

/// A spinner on stderr naming the layer and what it is doing; hidden when stderr is not a
/// terminal (CI logs) or with `-q`/`--json`.
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(printer: Printer) -> Self {
        let bar = if printer.quiet || printer.json {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        };
        Self { bar }
    }
}

impl BuildReporter for Progress {
    fn phase(&self, layer: &str, phase: &str) {
        let layer: String = layer.chars().take(60).collect();
        self.bar.set_message(format!("{phase}: {layer}"));
    }
}
