//! `mlpack scan`: settings from flags and `mlpack.toml`, the scan, the index check of
//! unresolved imports (`scan::verify`), and the three output forms (table, requirements, JSON).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Context, Result};
use pep508_rs::PackageName;

use super::{ExitStatus, Printer, UserError};
use crate::manifest::Manifest;
use crate::pypi::IndexClient;
use crate::python::PythonVersion;
use crate::scan::{self, Reason, ScanOptions, ScanReport};

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

pub(super) fn run(args: &ScanArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let project = args.dir.clone().unwrap_or_else(|| directory.to_path_buf());
    let loaded = Manifest::load(&project)?;
    let manifest = loaded.manifest;
    let options = ScanOptions {
        python: args.python.unwrap_or_else(|| manifest.python_version()),
        pins: pins(&manifest)?,
        skip_dirs: vec![manifest.outputs.dir.clone()],
        exclude: manifest.excluded_imports(),
    };
    let mut report = scan::scan(&project, &options)?;
    if !report.unresolved.is_empty() {
        let index_url = IndexClient::index_url(manifest.python.index_url.as_deref());
        verify_on_index(&mut report, index_url, args.offline, printer);
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
            Format::Table => render_table(&report),
            Format::Requirements => render_requirements(&report),
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

/// Verify unresolved imports against the index (or, offline, the cached verdicts), so that
/// an import the index's wheels provide is taken and nobody installs a look-alike.
fn verify_on_index(report: &mut ScanReport, url: String, offline: bool, printer: Printer) {
    let cache = scan::VerdictCache::new(crate::dirs::cache_dir(), offline);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let (runtime, client) = match (runtime, IndexClient::builder().offline(offline).build()) {
        (Ok(runtime), Ok(client)) => (runtime, client),
        (Err(error), _) => {
            return printer.status(&format!("warning: could not check the index: {error}"));
        }
        (_, Err(error)) => {
            return printer.status(&format!("warning: could not check the index: {error}"));
        }
    };
    let index = scan::IndexWheels {
        runtime: &runtime,
        client: &client,
        url,
    };
    for warning in scan::verify_unresolved(report, &index, &cache) {
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

fn kind(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

fn render_table(report: &ScanReport) -> String {
    let mut rows = vec![[
        "IMPORT".to_string(),
        "DISTRIBUTION".to_string(),
        "KIND".to_string(),
        "WHERE".to_string(),
    ]];
    for used in &report.distributions {
        let imports = if used.imports.is_empty() {
            "-".to_string()
        } else {
            used.imports.join(", ")
        };
        let marker = match &used.choice {
            Some(choice) if choice.reason == Reason::SameName => " ~",
            Some(_) => " *",
            None => "",
        };
        rows.push([
            imports,
            format!("{}{marker}", used.name),
            kind(used.required).to_string(),
            places(&used.evidence),
        ]);
    }
    for unresolved in &report.unresolved {
        rows.push([
            unresolved.name.clone(),
            "? unresolved".to_string(),
            kind(unresolved.required).to_string(),
            places(&unresolved.evidence),
        ]);
    }
    let mut text = table(&rows);
    let same_name: Vec<String> = report
        .distributions
        .iter()
        .filter(|used| {
            used.choice
                .as_ref()
                .is_some_and(|choice| choice.reason == Reason::SameName)
        })
        .map(|used| format!("`{}`", used.name))
        .collect();
    if !same_name.is_empty() {
        let _ = write!(
            text,
            "\n~ mapped by name to the popular PyPI project of the same name (no wheel's file list confirmed it): {}\n",
            same_name.join(", ")
        );
    }
    for used in &report.distributions {
        let Some(choice) = used
            .choice
            .as_ref()
            .filter(|choice| choice.reason != Reason::SameName)
        else {
            continue;
        };
        let _ = write!(
            text,
            "\n* `{}` → `{}`: {}",
            choice.import,
            used.name,
            choice.reason.describe()
        );
        if !choice.alternatives.is_empty() {
            let alternatives: Vec<String> = choice
                .alternatives
                .iter()
                .map(|name| format!("`{name}`"))
                .collect();
            let _ = write!(text, "; also provided by {}", alternatives.join(", "));
        }
        text.push('\n');
    }
    for unresolved in &report.unresolved {
        let verdict = match unresolved.on_pypi {
            Some(true) => format!(
                "a PyPI project named `{}` exists, but its newest wheel does not provide this import (or it has no wheel): check before you add it",
                unresolved.name
            ),
            Some(false) => format!("no PyPI project is named `{}`", unresolved.name),
            None => "not checked against PyPI (offline)".to_string(),
        };
        let _ = write!(
            text,
            "\n? `{}` is in no mapping: {verdict}\n  hint: if you know its distribution, pin it in mlpack.toml: `[python.imports] {} = \"DISTRIBUTION\"`\n",
            unresolved.name, unresolved.name
        );
    }
    let _ = write!(
        text,
        "\n{} files scanned for Python {}: {} distributions ({} required), {} unresolved, {} local modules, {} stdlib modules\n",
        report.files_scanned,
        report.python,
        report.distributions.len(),
        report
            .distributions
            .iter()
            .filter(|used| used.required)
            .count(),
        report.unresolved.len(),
        report.local_modules.len(),
        report.stdlib_modules.len(),
    );
    if !report.notebook_host_modules.is_empty() {
        let _ = writeln!(
            text,
            "left out, only a hosted notebook provides them (Colab, Kaggle): {}",
            report.notebook_host_modules.join(", ")
        );
    }
    if !report.excluded.is_empty() {
        let _ = writeln!(
            text,
            "left out by `[python] exclude-imports`: {}",
            report.excluded.join(", ")
        );
    }
    text
}

/// `train.py:3`, or `train.py:3 (+2 more)`.
fn places(evidence: &[scan::Evidence]) -> String {
    match evidence {
        [] => "-".to_string(),
        [only] => only.location.to_string(),
        [first, rest @ ..] => format!("{} (+{} more)", first.location, rest.len()),
    }
}

fn table(rows: &[[String; 4]]) -> String {
    let mut widths = [0; 4];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(text, "{}", line.join("  ").trim_end());
    }
    text
}

fn render_requirements(report: &ScanReport) -> String {
    let mut text = format!(
        "# generated by `mlpack scan` for Python {}; versions are pinned by `mlpack lock`\n",
        report.python
    );
    for used in report.distributions.iter().filter(|used| used.required) {
        let _ = writeln!(text, "{}", used.name);
    }
    for used in report.distributions.iter().filter(|used| !used.required) {
        let guard = used
            .evidence
            .iter()
            .find_map(|e| e.guard)
            .map_or("", |g| g.describe());
        let _ = writeln!(
            text,
            "# {}  (optional: {guard}, {})",
            used.name, used.evidence[0].location
        );
    }
    for unresolved in &report.unresolved {
        let _ = writeln!(
            text,
            "# unresolved import `{}` ({})",
            unresolved.name,
            places(&unresolved.evidence)
        );
    }
    text
}
