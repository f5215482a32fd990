//! The scan report as text: the table and the requirements-file form `mlpack scan` prints.

use std::fmt::Write as _;

use super::{Evidence, Reason, ScanReport};

fn kind(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

impl ScanReport {
    /// `mlpack scan`'s table: one row per distribution and unresolved import, then what
    /// each mark means and a count.
    pub fn table_text(&self) -> String {
        let report = self;
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
}

/// `train.py:3`, or `train.py:3 (+2 more)`.
fn places(evidence: &[Evidence]) -> String {
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

impl ScanReport {
    /// `mlpack scan --format requirements`: the required distributions, then the optional
    /// and unresolved ones as comments.
    pub fn requirements_text(&self) -> String {
        let report = self;
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
}
