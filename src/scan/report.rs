//! What a scan found, grouped by distribution, in the shape `--json` prints.

use std::fmt;

use pep508_rs::PackageName;
use serde::Serialize;

use super::mapping::Reason;
use super::python::{Guard, Lazy};
use crate::python::PythonVersion;

/// A place in the project: `path:line`, or `path[cell N]:line` in a notebook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// Relative to the project root, with `/` separators.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<u32>,
    pub line: u32,
}

impl Location {
    /// `line 3`, or `cell 2, line 3`: the place within its file.
    pub fn place(&self) -> String {
        match self.cell {
            Some(cell) => format!("cell {cell}, line {}", self.line),
            None => format!("line {}", self.line),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell {
            Some(cell) => write!(f, "{}[cell {cell}]:{}", self.path, self.line),
            None => write!(f, "{}:{}", self.path, self.line),
        }
    }
}

/// One piece of evidence that the project needs something.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    pub location: Location,
    /// The import as written (`from sklearn.datasets import load_iris`), or the requirement
    /// of a `pip install` line.
    pub statement: Statement,
    /// Why it is optional; `None` for a required use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// Set when the use runs only when a function is called or a branch taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lazy: Option<Lazy>,
}

impl Evidence {
    /// `required`, `required, lazy: inside a function`, or `optional: …`.
    pub fn kind(&self) -> String {
        match (self.guard, self.lazy) {
            (Some(guard), _) => format!("optional: {}", guard.describe()),
            (None, Some(lazy)) => format!("required, {}", lazy.describe()),
            (None, None) => "required".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Statement {
    Import(String),
    PipInstall(String),
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Import(statement) => f.write_str(statement),
            Self::PipInstall(requirement) => write!(f, "pip install {requirement}"),
        }
    }
}

/// A distribution the project needs, and everything that says so.
#[derive(Debug, Clone, Serialize)]
pub struct DistributionUse {
    pub name: PackageName,
    /// Needed unconditionally by at least one use; otherwise only optional uses exist.
    pub required: bool,
    /// The import names (mapping keys) that it provides here.
    pub imports: Vec<String>,
    pub evidence: Vec<Evidence>,
    /// Present when other distributions could provide the same import.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
}

/// A choice among several distributions that install the same import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub import: String,
    pub reason: Reason,
    pub alternatives: Vec<PackageName>,
}

/// An import that is neither the project's, nor stdlib, nor in any mapping.
#[derive(Debug, Clone, Serialize)]
pub struct UnresolvedImport {
    /// The top-level name.
    pub name: String,
    pub required: bool,
    pub evidence: Vec<Evidence>,
    /// Whether PyPI has a project of exactly this name; `None` when not checked (offline).
    pub on_pypi: Option<bool>,
}

/// A file that could not be scanned completely, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanWarning {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ScanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Everything `mlpack scan` found.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub python: PythonVersion,
    pub files_scanned: usize,
    pub distributions: Vec<DistributionUse>,
    pub unresolved: Vec<UnresolvedImport>,
    /// Top-level modules the project provides itself.
    pub local_modules: Vec<String>,
    /// Standard-library modules imported.
    pub stdlib_modules: Vec<String>,
    /// Modules only a hosted notebook provides (`google.colab`): nothing to install.
    pub notebook_host_modules: Vec<String>,
    /// `[python] exclude-imports` entries that left something out.
    pub excluded: Vec<String>,
    pub warnings: Vec<ScanWarning>,
}

impl ScanReport {
    /// Every use of `name`, matched as a distribution or as an import name.
    pub fn why(&self, name: &str) -> Vec<&Evidence> {
        let distribution = name.parse::<PackageName>().ok();
        let top_level_matches =
            |module: &str| module == name || module.starts_with(&format!("{name}."));
        let mut found: Vec<&Evidence> = self
            .distributions
            .iter()
            .filter(|used| {
                Some(&used.name) == distribution.as_ref()
                    || used.imports.iter().any(|import| top_level_matches(import))
            })
            .flat_map(|used| &used.evidence)
            .chain(
                self.unresolved
                    .iter()
                    .filter(|unresolved| unresolved.name == name)
                    .flat_map(|unresolved| &unresolved.evidence),
            )
            .collect();
        found.sort();
        found.dedup();
        found
    }
}
