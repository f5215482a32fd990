//! `mlpack scan`: which PyPI distributions a project's code needs, from its imports.
//!
//! Python files and notebooks are parsed with a real parser; each import is classified as the
//! project's own, standard library (for the target Python), a distribution (with the choice
//! shown when several could provide it), or unresolved. Versions are not guessed here:
//! pinning is the resolver's job.

mod declared;
mod hidden;
mod mapping;
mod notebook;
mod pip_command;
mod project;
mod python;
mod render;
mod report;
mod stdlib;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep508_rs::PackageName;
use rayon::prelude::*;

use self::declared::Declarations;
use self::mapping::ImportMap;
pub use self::mapping::Reason;
pub(crate) use self::mapping::similar_project;
use self::project::{Local, ProjectFiles};
pub use self::python::{Guard, Lazy};
use self::python::{PipArgument, PipInstall, find_imports};
pub use self::report::{
    Choice, DistributionUse, Evidence, Location, ScanReport, ScanWarning, Statement,
    UnresolvedImport,
};
pub use self::verify::{
    IndexWheels, Scope, VerdictCache, Verified, WheelIndex, verify_on_index, verify_unresolved,
};
use crate::error::Diagnostic;
use crate::python::PythonVersion;
use crate::source::LineIndex;

/// What the scan needs besides the project directory.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub python: PythonVersion,
    /// The project's own import → distribution pins (`[python.imports]`).
    pub pins: BTreeMap<String, PackageName>,
    /// Project-relative directories not to scan (the outputs directory).
    pub skip_dirs: Vec<PathBuf>,
    /// Imports (dotted prefixes) and distributions to leave out (`[python] exclude-imports`).
    pub exclude: Vec<String>,
}

/// Modules that only a hosted notebook provides: `google.colab` is Colab's own (PyPI's
/// `google-colab` is not it), the `kaggle_*` helpers are Kaggle's kernels' own.
const NOTEBOOK_HOST_MODULES: &[&str] = &[
    "google.colab",
    "kaggle_secrets",
    "kaggle_datasets",
    "kaggle_web_client",
];

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("project directory `{}` does not exist", .0.display())]
    MissingProject(PathBuf),
    #[error("could not list the files of `{}`", path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: ignore::Error,
    },
}

/// The project directory is the user's to fix.
impl Diagnostic for ScanError {
    fn is_user_error(&self) -> bool {
        true
    }
}

/// Scan the project at `root`.
pub fn scan(root: &Path, options: &ScanOptions) -> Result<ScanReport, ScanError> {
    if !root.is_dir() {
        return Err(ScanError::MissingProject(root.to_path_buf()));
    }
    let files =
        ProjectFiles::discover(root, &options.skip_dirs).map_err(|source| ScanError::Walk {
            path: root.to_path_buf(),
            source,
        })?;
    let mut scanned: Vec<FileScan> = files
        .sources
        .par_iter()
        .map(|path| scan_file(root, path))
        .collect();
    let files_scanned = scanned.len();
    scanned.extend(files.unreadable.iter().map(|(path, message)| FileScan {
        warnings: vec![ScanWarning {
            path: relative_path(root, path),
            message: message.clone(),
        }],
        ..FileScan::default()
    }));
    let requirement_files: Vec<String> = scanned
        .iter()
        .flat_map(|scan| scan.requirement_files.iter().cloned())
        .collect();
    let declarations = Declarations::read(root, &requirement_files);
    let mut classifier = Classifier::new(&files, options, &scanned);
    classifier.apply(&declarations);
    Ok(classifier.report(files_scanned))
}

/// The uses found in one file.
#[derive(Default)]
struct FileScan {
    dir: PathBuf,
    imports: Vec<(String, Evidence)>,
    pip_installs: Vec<(PackageName, Evidence)>,
    /// Requirements files its `pip install -r` lines name, project-relative.
    requirement_files: Vec<String>,
    warnings: Vec<ScanWarning>,
}

fn scan_file(root: &Path, path: &Path) -> FileScan {
    let relative = relative_path(root, path);
    let mut scan = FileScan {
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ..FileScan::default()
    };
    let warn = |message: String| ScanWarning {
        path: relative.clone(),
        message,
    };
    let bytes = match fs_err::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            scan.warnings.push(warn(format!(
                "skipped: could not read it: {}",
                error.kind()
            )));
            return scan;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            scan.warnings.push(warn(format!(
                "skipped: not UTF-8 (invalid byte at offset {offset})"
            )));
            return scan;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if path
        .extension()
        .is_some_and(|extension| extension == "ipynb")
    {
        match notebook::code_cells(text) {
            Ok(cells) => {
                for cell in cells {
                    scan.add_source(root, &relative, &cell.source, Some(cell.number));
                }
            }
            Err(message) => scan.warnings.push(warn(format!("skipped: {message}"))),
        }
    } else {
        scan.add_source(root, &relative, text, None);
    }
    if is_test_or_build_file(&relative) {
        for evidence in scan
            .imports
            .iter_mut()
            .map(|(_, evidence)| evidence)
            .chain(scan.pip_installs.iter_mut().map(|(_, evidence)| evidence))
        {
            evidence.guard = evidence.guard.or(Some(Guard::TestOrBuild));
        }
    }
    scan
}

/// Whether the project-relative `path` only tests or builds the project: a file under a
/// `tests/` directory, pytest's `conftest.py`, or a `setup.py`. Their imports (pytest,
/// setuptools) are optional. A `test.py` or `test_model.py` elsewhere is often the project's
/// evaluation script, so names alone do not count.
fn is_test_or_build_file(path: &str) -> bool {
    let mut components = path.split('/').rev();
    let file = components.next().unwrap_or_default();
    file == "conftest.py" || file == "setup.py" || components.any(|dir| dir == "tests")
}

impl FileScan {
    fn add_source(&mut self, root: &Path, relative: &str, text: &str, cell: Option<u32>) {
        let found = find_imports(text, cell.is_some());
        let lines = LineIndex::new(text);
        let location = |offset: ruff_text_size::TextSize| Location {
            path: relative.to_string(),
            cell,
            line: lines.position(text, offset.to_usize()).line,
        };
        if let Some((offset, message)) = found.syntax_error {
            let place = location(offset).place();
            self.warnings.push(ScanWarning {
                path: relative.to_string(),
                message: format!(
                    "syntax error at {place}: {message}; imports before it were still read"
                ),
            });
        }
        for import in found.imports {
            let evidence = Evidence {
                location: location(import.offset),
                statement: Statement::Import(import.statement),
                guard: import.guard,
                lazy: import.lazy,
            };
            self.imports.push((import.module, evidence));
        }
        for install in found.pip_installs {
            let at = location(install.offset);
            self.add_pip_argument(root, relative, &install, &at);
        }
    }

    fn add_pip_argument(
        &mut self,
        root: &Path,
        relative: &str,
        install: &PipInstall,
        at: &Location,
    ) {
        let evidence = |requirement: &str| Evidence {
            location: at.clone(),
            statement: Statement::PipInstall(requirement.to_string()),
            guard: install.guard,
            lazy: install.lazy,
        };
        let warn = |message: String| ScanWarning {
            path: relative.to_string(),
            message: format!("{}: {message}", at.place()),
        };
        match &install.argument {
            PipArgument::Requirement(requirement) => {
                match pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(requirement) {
                    Ok(parsed) => self.pip_installs.push((parsed.name, evidence(requirement))),
                    Err(_) => self.warnings.push(warn(format!(
                        "`pip install {requirement}` names no requirement mlpack can read; ignored"
                    ))),
                }
            }
            PipArgument::File(file) => match read_requirements_file(root, &self.dir, file) {
                Ok(requirements) => {
                    self.requirement_files
                        .push(relative_path(root, &self.dir.join(file)));
                    for (name, requirement) in requirements {
                        self.pip_installs.push((name, evidence(&requirement)));
                    }
                }
                Err(message) => self.warnings.push(warn(message)),
            },
            PipArgument::Interpolated(word) => self.warnings.push(warn(format!(
                "`pip install … {word}` is filled in when the notebook runs; left out (add it to `[python] requirements` if the image needs it)"
            ))),
        }
    }
}

/// The requirements of a file a notebook's `pip install -r FILE` names, read relative to the
/// notebook when the file is in the project (what is outside it is not the project's input).
fn read_requirements_file(
    root: &Path,
    dir: &Path,
    file: &str,
) -> Result<Vec<(PackageName, String)>, String> {
    let not_read =
        |why: &str| format!("`pip install -r {file}`: {why}; its requirements were not read");
    let path = dir.join(file);
    let inside = std::path::absolute(&path)
        .ok()
        .zip(std::path::absolute(root).ok())
        .and_then(|(path, root)| {
            fs_err::canonicalize(path)
                .ok()
                .zip(fs_err::canonicalize(root).ok())
        })
        .is_some_and(|(path, root)| path.starts_with(root));
    if !inside {
        return Err(not_read("the file is not in the project"));
    }
    let text =
        fs_err::read_to_string(&path).map_err(|error| not_read(&error.kind().to_string()))?;
    let requirements = text
        .lines()
        .map(|line| line.split(" #").next().unwrap_or(line).trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('-'))
        .filter_map(|line| {
            let parsed = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(line).ok()?;
            Some((parsed.name, line.to_string()))
        })
        .collect();
    Ok(requirements)
}

/// Sorts every use into local, stdlib, a distribution, or unresolved.
struct Classifier<'a> {
    files: &'a ProjectFiles,
    python: PythonVersion,
    map: ImportMap<'a>,
    distributions: BTreeMap<PackageName, DistributionUse>,
    unresolved: BTreeMap<String, UnresolvedImport>,
    local: BTreeSet<String>,
    stdlib: BTreeSet<String>,
    notebook_host: BTreeSet<String>,
    exclude: &'a [String],
    excluded: BTreeSet<String>,
    warnings: Vec<ScanWarning>,
}

impl<'a> Classifier<'a> {
    fn new(files: &'a ProjectFiles, options: &'a ScanOptions, scanned: &[FileScan]) -> Self {
        let installed: HashSet<PackageName> = scanned
            .iter()
            .flat_map(|scan| scan.pip_installs.iter().map(|(name, _)| name.clone()))
            .collect();
        let mut classifier = Self {
            files,
            python: options.python,
            map: ImportMap::new(&options.pins, installed),
            distributions: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            local: BTreeSet::new(),
            stdlib: BTreeSet::new(),
            notebook_host: BTreeSet::new(),
            exclude: &options.exclude,
            excluded: BTreeSet::new(),
            warnings: Vec::new(),
        };
        for scan in scanned {
            classifier.add(scan);
        }
        classifier
    }

    fn add(&mut self, scan: &FileScan) {
        for (name, evidence) in &scan.pip_installs {
            if let Some(excluded) = self.excluded_by(name.as_ref()) {
                self.excluded.insert(excluded);
                continue;
            }
            self.distribution(name).evidence.push(evidence.clone());
        }
        for (module, evidence) in &scan.imports {
            self.add_import(module, evidence, &scan.dir);
        }
        self.warnings.extend(scan.warnings.iter().cloned());
    }

    /// Whether `module` is the project's own. A namespace package of the project that the import
    /// does not reach into yields to a distribution a wheel's file list or mlpack's curated
    /// map names for the import (a guess from a project's name alone is not enough).
    fn is_local(&self, module: &str, dir: &Path) -> bool {
        match self.files.is_local(module, dir) {
            Local::Yes => true,
            Local::No => false,
            Local::NamespaceOnly => self
                .map
                .resolve(module)
                .is_none_or(|resolution| resolution.reason == Reason::SameName),
        }
    }

    fn add_import(&mut self, module: &str, evidence: &Evidence, dir: &Path) {
        let top_level = module.split('.').next().unwrap_or(module);
        if let Some(host) = matching_prefix(module, NOTEBOOK_HOST_MODULES) {
            self.notebook_host.insert(host.to_string());
        } else if let Some(excluded) = self.excluded_by(module) {
            self.excluded.insert(excluded);
        } else if self.is_local(module, dir) {
            self.local.insert(top_level.to_string());
        } else if stdlib::is_stdlib(top_level, self.python) {
            self.stdlib.insert(top_level.to_string());
        } else if let Some(resolution) = self.map.resolve(module) {
            let used = self.distribution(&resolution.distribution);
            used.evidence.push(evidence.clone());
            if !used.imports.contains(&resolution.key) {
                used.imports.push(resolution.key.clone());
            }
            if !resolution.alternatives.is_empty()
                || matches!(resolution.reason, Reason::Pinned | Reason::SameName)
            {
                used.choice.get_or_insert(Choice {
                    import: resolution.key,
                    reason: resolution.reason,
                    alternatives: resolution.alternatives,
                });
            }
        } else {
            self.unresolved
                .entry(top_level.to_string())
                .or_insert_with(|| UnresolvedImport {
                    name: top_level.to_string(),
                    required: false,
                    evidence: Vec::new(),
                    on_pypi: None,
                })
                .evidence
                .push(evidence.clone());
        }
    }

    /// The `exclude-imports` entry that leaves out `name` (a module or a distribution).
    fn excluded_by(&self, name: &str) -> Option<String> {
        let normalize = |name: &str| name.to_ascii_lowercase().replace(['-', '.'], "_");
        self.exclude
            .iter()
            .find(|entry| {
                matching_prefix(name, &[entry.as_str()]).is_some()
                    || normalize(entry) == normalize(name)
            })
            .cloned()
    }

    fn distribution(&mut self, name: &PackageName) -> &mut DistributionUse {
        self.distributions
            .entry(name.clone())
            .or_insert_with(|| DistributionUse {
                name: name.clone(),
                required: false,
                imports: Vec::new(),
                evidence: Vec::new(),
                choice: None,
            })
    }

    /// Imports of what the project declares optional become optional, as its own users
    /// install it (`pip install -r requirements.txt` leaves it out), and so do the undeclared
    /// lazy imports of the files they are in (see [`declared`]). An unconditional notebook
    /// `pip install` keeps a distribution required. An unresolved import is matched by its
    /// own name (verification may later find it on the index).
    fn apply(&mut self, declarations: &Declarations) {
        let unresolved_names: Vec<Option<PackageName>> = self
            .unresolved
            .values()
            .map(|unresolved| PackageName::from_str(&unresolved.name).ok())
            .collect();
        let mut uses: Vec<(Option<&PackageName>, &mut Vec<Evidence>)> = self
            .distributions
            .values_mut()
            .map(|used| (Some(&used.name), &mut used.evidence))
            .chain(
                unresolved_names
                    .iter()
                    .zip(self.unresolved.values_mut())
                    .map(|(name, unresolved)| (name.as_ref(), &mut unresolved.evidence)),
            )
            .collect();
        let mut optional_files = BTreeSet::new();
        for (name, evidence) in &mut uses {
            if name.is_some_and(|name| declarations.optional(name).is_some()) {
                for evidence in evidence.iter_mut().filter(|e| e.guard.is_none()) {
                    if evidence.lazy.is_some() || matches!(evidence.statement, Statement::Import(_))
                    {
                        evidence.guard = Some(Guard::DeclaredOptional);
                        optional_files.insert(evidence.location.path.clone());
                    }
                }
            }
        }
        for (name, evidence) in uses {
            if name.is_some_and(|name| declarations.mentions(name)) {
                continue;
            }
            for evidence in lazy_uses(evidence) {
                if optional_files.contains(&evidence.location.path) {
                    evidence.guard = Some(Guard::BesideDeclaredOptional);
                }
            }
        }
    }

    fn report(self, files_scanned: usize) -> ScanReport {
        let is_required = |evidence: &[Evidence]| evidence.iter().any(|e| e.guard.is_none());
        let distributions = self
            .distributions
            .into_values()
            .map(|mut used| {
                used.evidence.sort();
                used.imports.sort();
                used.required = is_required(&used.evidence);
                used
            })
            .collect();
        let unresolved = self
            .unresolved
            .into_values()
            .map(|mut unresolved| {
                unresolved.evidence.sort();
                unresolved.required = is_required(&unresolved.evidence);
                unresolved
            })
            .collect();
        let mut warnings = self.warnings;
        warnings.sort_by(|a, b| a.path.cmp(&b.path));
        ScanReport {
            python: self.python,
            files_scanned,
            distributions,
            unresolved,
            local_modules: self.local.into_iter().collect(),
            stdlib_modules: self.stdlib.into_iter().collect(),
            notebook_host_modules: self.notebook_host.into_iter().collect(),
            excluded: self.excluded.into_iter().collect(),
            warnings,
        }
    }
}

/// The unguarded lazy uses among `evidence`: imports, and `pip install` lines in a branch.
fn lazy_uses(evidence: &mut [Evidence]) -> impl Iterator<Item = &mut Evidence> {
    evidence
        .iter_mut()
        .filter(|evidence| evidence.guard.is_none() && evidence.lazy.is_some())
}

/// The entry of `prefixes` that `module` is, or is inside (`google.colab.drive`).
fn matching_prefix<'p>(module: &str, prefixes: &[&'p str]) -> Option<&'p str> {
    prefixes.iter().copied().find(|prefix| {
        module
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests;
