//! `mlpack scan`: settings from flags and `mlpack.toml`, the scan, the index check of
//! unresolved imports (`scan::verify`), and the three output forms (table, requirements, JSON).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Context as _, Result};
use pep508_rs::PackageName;

use super::{ExitStatus, Printer, UserError};
use crate::context::Context;
use crate::manifest::Manifest;
use crate::project::Project;
use crate::pypi::IndexClient;
use crate::python::PythonVersion;
use crate::scan::{self, ScanOptions, ScanReport};

#[derive(Debug, clap::Args)]
pub(super) struct ScanArgs {
    /// The project to scan [default: the `-C` directory].
    dir: Option<PathBuf>,
    /// Output form: a table, or one distribution per line for a requirements file.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// List every `file:line` that pulled in NAME (a distribution or an import name).
    #[arg(long, value_name = "NAME")]
    why: Option<String>,
    /// The target Python version [default: `[python] version`, else the base image's].
    #[arg(long, value_name = "VERSION")]
    python: Option<PythonVersion>,
    /// Do not ask the package index whether unresolved imports exist there.
    #[arg(long, env = "MLPACK_OFFLINE", value_parser = clap::builder::BoolishValueParser::new())]
    offline: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Requirements,
}

pub(super) fn run(
    args: &ScanArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let project = Project::load(args.dir.as_deref().unwrap_or(directory))?;
    let manifest = project.manifest();
    let options = ScanOptions {
        python: args.python.unwrap_or_else(|| manifest.python_version()),
        pins: pins(manifest)?,
        skip_dirs: vec![manifest.outputs.dir.clone()],
        exclude: manifest.excluded_imports(),
    };
    let mut report = scan::scan(&project.dir, &options)?;
    if !report.unresolved.is_empty() {
        let index_url = IndexClient::index_url(manifest.python.index_url.as_deref());
        verify_on_index(&mut report, index_url, args.offline, context, printer);
    }
    for warning in &report.warnings {
        printer.status(&format!("warning: {warning}"));
    }
    if let Some(name) = &args.why {
        return why(&report, name, printer);
    }
    if printer.json {
        printer.json(&report)?;
    } else {
        let text = match args.format {
            Format::Table => report.table_text(),
            Format::Requirements => report.requirements_text(),
        };
        printer.result(&text)?;
    }
    Ok(ExitStatus::Success)
}

fn pins(manifest: &Manifest) -> Result<BTreeMap<String, PackageName>> {
    manifest
        .python
        .imports
        .iter()
        .map(|(import, distribution)| {
            let name = PackageName::from_str(distribution.get_ref())
                .with_context(|| format!("`[python.imports] {import}`"))?;
            Ok((import.clone(), name))
        })
        .collect()
}

/// Verify unresolved imports against the index; a failure only warns.
fn verify_on_index(
    report: &mut ScanReport,
    url: String,
    offline: bool,
    context: &Context,
    printer: Printer,
) {
    let warnings = match context.network() {
        Ok(network) => {
            scan::verify_on_index(report, url, offline, network, scan::Scope::Scan).warnings
        }
        Err(error) => vec![format!("could not check the index: {error}")],
    };
    for warning in warnings {
        printer.status(&format!("warning: {warning}"));
    }
}

fn why(report: &ScanReport, name: &str, printer: Printer) -> Result<ExitStatus> {
    let uses = report.why(name);
    if uses.is_empty() {
        return Err(
            UserError::new(format!("nothing in the project pulls in `{name}`"))
                .hint("`mlpack scan` lists every distribution and import it found")
                .into(),
        );
    }
    if printer.json {
        printer.json(&uses)?;
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    for used in uses {
        let _ = writeln!(
            text,
            "{}\t{}\t({})",
            used.location,
            used.statement,
            used.kind()
        );
    }
    printer.result(&text)?;
    Ok(ExitStatus::Success)
}
