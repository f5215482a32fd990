//! `mlpack init`: a commented `mlpack.toml` chosen from what the scan finds, and a
//! `.mlpackignore`. Never overwrites without `force`; the rendered manifest is validated
//! before it is written, and written atomically. Requirements the project already declares
//! (a `requirements.txt`, a `pyproject.toml`'s dependencies, a conda `environment.yml`'s
//! `pip:` section) are picked up, since mlpack reads no file the manifest does not name.

use std::path::{Path, PathBuf};

use crate::atomic_file::{self, Durability};
use crate::error::Diagnostic;
use crate::manifest::{MANIFEST_FILE, Manifest, ManifestError, project_path};
use crate::python::PythonVersion;
use crate::scan::{self, ScanError, ScanOptions, ScanReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Template {
    Sklearn,
    Pytorch,
    Tensorflow,
    Jax,
    Generic,
}

impl Template {
    fn text(self) -> &'static str {
        match self {
            Self::Sklearn => include_str!("../templates/sklearn.toml"),
            Self::Pytorch => include_str!("../templates/pytorch.toml"),
            Self::Tensorflow => include_str!("../templates/tensorflow.toml"),
            Self::Jax => include_str!("../templates/jax.toml"),
            Self::Generic => include_str!("../templates/generic.toml"),
        }
    }

    /// The template for the heaviest framework the project imports.
    fn for_report(report: &ScanReport) -> Self {
        let uses = |names: &[&str]| {
            report
                .distributions
                .iter()
                .any(|used| names.contains(&used.name.as_ref()))
        };
        if uses(&["torch", "lightning", "pytorch-lightning"]) {
            Self::Pytorch
        } else if uses(&["tensorflow", "tensorflow-cpu", "keras", "tf-keras"]) {
            Self::Tensorflow
        } else if uses(&["jax", "jaxlib", "flax"]) {
            Self::Jax
        } else if uses(&["scikit-learn", "xgboost", "lightgbm", "catboost"]) {
            Self::Sklearn
        } else {
            Self::Generic
        }
    }
}

const IGNORE_FILE: &str = ".mlpackignore";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("`{}` already exists", path.display())]
    Exists { path: PathBuf },
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("the rendered template is invalid; this is a bug in mlpack")]
    Invalid(#[source] ManifestError),
    /// Writing a file failed; `fs-err` puts the path in the message.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Diagnostic for InitError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Exists { .. } => vec!["pass `--force` to overwrite it".to_string()],
            // The manifest's own hints, though a template that does not parse is mlpack's bug.
            Self::Invalid(error) => error.hints(),
            _ => Vec::new(),
        }
    }

    fn is_user_error(&self) -> bool {
        match self {
            Self::Exists { .. } => true,
            Self::Scan(error) => error.is_user_error(),
            Self::Invalid(error) => error.is_user_error(),
            Self::Io(_) => false,
        }
    }
}

/// What [`init`] wrote.
#[derive(Debug)]
pub struct Initialized {
    pub manifest_path: PathBuf,
    pub template: Template,
    /// `None` when a `.mlpackignore` was there and kept.
    pub ignore_path: Option<PathBuf>,
    /// What was picked up from the project's own files, one sentence each.
    pub picked_up: Vec<String>,
}

/// Write `project`'s `mlpack.toml` from `template` (default: the one for the heaviest
/// framework the code imports) and its `.mlpackignore` (kept when there, unless `force`).
pub fn init(
    project: &Path,
    template: Option<Template>,
    force: bool,
) -> Result<Initialized, InitError> {
    let manifest_path = project_path(project, Path::new(MANIFEST_FILE));
    if manifest_path.exists() && !force {
        return Err(InitError::Exists {
            path: manifest_path,
        });
    }
    let options = ScanOptions {
        python: PythonVersion::DEFAULT,
        pins: std::collections::BTreeMap::new(),
        skip_dirs: vec![PathBuf::from("outputs")],
        exclude: Vec::new(),
    };
    let report = scan::scan(project, &options)?;
    let template = template.unwrap_or_else(|| Template::for_report(&report));
    let existing = Existing::find(project);
    let text = render(template, project, &report, &existing);
    Manifest::parse(&text, &manifest_path, project).map_err(InitError::Invalid)?;
    atomic_file::write(&manifest_path, text.as_bytes(), Durability::Synced)?;
    let ignore_path = project_path(project, Path::new(IGNORE_FILE));
    let wrote_ignore = force || !ignore_path.exists();
    if wrote_ignore {
        atomic_file::write(
            &ignore_path,
            include_str!("../templates/mlpackignore").as_bytes(),
            Durability::Synced,
        )?;
    }
    Ok(Initialized {
        manifest_path,
        template,
        ignore_path: wrote_ignore.then_some(ignore_path),
        picked_up: existing.messages(),
    })
}

fn render(template: Template, project: &Path, report: &ScanReport, existing: &Existing) -> String {
    let name = crate::project::name(project, &Manifest::default());
    let (command, mut requirements) = train_command(project);
    requirements.extend(
        existing
            .pip
            .iter()
            .flat_map(|pip| &pip.requirements)
            .cloned(),
    );
    let requirements: Vec<String> = requirements
        .iter()
        .map(|requirement| toml_edit::Value::from(requirement.as_str()).to_string())
        .collect();
    let requirements_file = match existing.requirements_file {
        Some(file) => format!("requirements-file = \"{file}\"\n"),
        None => "# Or name a `requirements.txt` or a `pyproject.toml` (its [project.dependencies]):\n# requirements-file = \"requirements.txt\"\n".to_string(),
    };
    let datasets = if project.join("data").exists() {
        "# Mounted read-only into the container for every run.\n[[datasets]]\nsource = \"data\"\ntarget = \"/data\"\nread-only = true\n"
    } else {
        "# Datasets are mounted read-only into the container:\n# [[datasets]]\n# source = \"data\"\n# target = \"/data\"\n"
    };
    template
        .text()
        .replace("{{name}}", &name)
        .replace("{{python}}", &report.python.to_string())
        .replace("{{command}}", &command)
        .replace("{{requirements}}", &requirements.join(", "))
        .replace("{{requirements-file}}", &requirements_file)
        .replace("{{datasets}}", datasets)
}

/// The training command as TOML, and the requirements it needs beyond the code's imports.
fn train_command(project: &Path) -> (String, Vec<String>) {
    let script = ["train.py", "main.py"]
        .into_iter()
        .find(|script| project.join(script).is_file());
    if let Some(script) = script {
        return (format!("[\"python3\", \"{script}\"]"), Vec::new());
    }
    let notebook = fs_err::read_dir(project).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                Path::new(name)
                    .extension()
                    .is_some_and(|extension| extension.eq_ignore_ascii_case("ipynb"))
            })
            .min()
    });
    match notebook {
        Some(notebook) => (
            format!(
                "[\"jupyter\", \"nbconvert\", \"--to\", \"notebook\", \"--execute\", \"{notebook}\", \"--output-dir\", \"/outputs\"]"
            ),
            vec!["nbconvert".to_string(), "ipykernel".to_string()],
        ),
        None => ("[\"python3\", \"train.py\"]".to_string(), Vec::new()),
    }
}

/// The requirements a project already declares outside `mlpack.toml`.
#[derive(Debug, Default)]
struct Existing {
    /// `requirements.txt`, else a `pyproject.toml` with `[project.dependencies]`.
    requirements_file: Option<&'static str>,
    /// The `pip:` section of a conda environment file.
    pip: Option<CondaPip>,
}

#[derive(Debug)]
struct CondaPip {
    file: &'static str,
    /// The entries that are PEP 508 requirements, copied into `[python] requirements`.
    requirements: Vec<String>,
    /// The rest (pip options such as `-r`, bare paths), which the manifest cannot hold.
    skipped: Vec<String>,
}

impl Existing {
    fn find(project: &Path) -> Self {
        let requirements_file = if project.join("requirements.txt").is_file() {
            Some("requirements.txt")
        } else if has_dependencies(&project.join("pyproject.toml")) {
            Some("pyproject.toml")
        } else {
            None
        };
        let pip = ["environment.yml", "environment.yaml"]
            .into_iter()
            .find(|file| project.join(file).is_file())
            .and_then(|file| conda_pip(project, file));
        Self {
            requirements_file,
            pip,
        }
    }

    /// What was picked up, one sentence each, for the user.
    fn messages(&self) -> Vec<String> {
        let mut messages = Vec::new();
        if let Some(file) = self.requirements_file {
            messages.push(format!(
                "Picked up `{file}` as `[python] requirements-file`"
            ));
        }
        if let Some(pip) = &self.pip {
            messages.push(format!(
                "Copied {} requirement(s) from the `pip:` section of `{}` into `[python] requirements`",
                pip.requirements.len(),
                pip.file
            ));
            for entry in &pip.skipped {
                messages.push(format!(
                    "warning: left out `{entry}` from `{}`: not a PEP 508 requirement",
                    pip.file
                ));
            }
        }
        messages
    }
}

/// Whether `path` is a `pyproject.toml` that lists `[project] dependencies`.
fn has_dependencies(path: &Path) -> bool {
    let Ok(text) = fs_err::read_to_string(path) else {
        return false;
    };
    let Ok(document) = text.parse::<toml::Table>() else {
        return false;
    };
    document
        .get("project")
        .and_then(|project| project.get("dependencies"))
        .and_then(toml::Value::as_array)
        .is_some_and(|dependencies| !dependencies.is_empty())
}

/// The `pip:` section of the conda environment file `file`; `None` when there is none or
/// the file is not YAML.
fn conda_pip(project: &Path, file: &'static str) -> Option<CondaPip> {
    let text = fs_err::read_to_string(project.join(file)).ok()?;
    let document: serde_norway::Value = serde_norway::from_str(&text).ok()?;
    let pip = document
        .get("dependencies")?
        .as_sequence()?
        .iter()
        .find_map(|dependency| dependency.get("pip"))?
        .as_sequence()?;
    let base = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
    let (requirements, skipped) = pip
        .iter()
        .filter_map(serde_norway::Value::as_str)
        .map(|entry| entry.trim().to_string())
        .partition(|entry| {
            pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::parse(entry, &base).is_ok()
        });
    Some(CondaPip {
        file,
        requirements,
        skipped,
    })
}
