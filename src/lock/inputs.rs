//! What a lock is computed from: the root requirements with their origins, constraints, the
//! target and indexes, and the hash over all of it that says whether a lock is stale.
//!
//! Where requirements come from, in order of precedence (explicit always wins):
//! 1. `[python] requirements` in `mlpack.toml`;
//! 2. the file `[python] requirements-file` names: a `requirements.txt` (`-c FILE` adds
//!    constraints, `-r FILE` includes) or a `pyproject.toml`'s `[project.dependencies]`;
//! 3. what `mlpack scan` found the code needs (required uses only). An inferred distribution
//!    is dropped when an explicit requirement names it, or names another distribution that
//!    installs the same import (`opencv-python` listed + `import cv2` adds no headless build).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use pubgrub::Ranges;

use crate::error::{FromIo, IoError};
use crate::manifest::LoadedManifest;
use crate::pypi::IndexMap;
use crate::resolve::{RootRequirement, Target};
use crate::scan::ScanReport;

/// Everything the resolver is asked, gathered from the project.
#[derive(Debug, Clone)]
pub struct LockInputs {
    pub roots: Vec<RootRequirement>,
    pub constraints: Vec<Requirement>,
    /// Imports nobody could map, left out of the lock.
    pub unresolved: Vec<String>,
    /// Imports mapped by verifying them on the index (see [`super::Inputs::verified_imports`]).
    pub verified: BTreeMap<String, PackageName>,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{location}: `{text}` is not a requirement mlpack can lock: {message}")]
    Invalid {
        location: String,
        text: String,
        message: String,
    },
}

impl LockInputs {
    pub fn gather(
        project: &Path,
        loaded: &LoadedManifest,
        scan: &ScanReport,
    ) -> Result<Self, InputError> {
        let python = &loaded.manifest.python;
        let mut roots = Vec::new();
        let mut constraints = Vec::new();
        for requirement in &python.requirements {
            let location = loaded.location(requirement);
            roots.push(root(
                requirement.get_ref(),
                format!("`{}` at {location}", requirement.get_ref()),
                &location,
                project,
            )?);
        }
        for constraint in &python.constraints {
            constraints.push(parse(
                constraint.get_ref(),
                &loaded.location(constraint),
                project,
            )?);
        }
        if let Some(file) = &python.requirements_file {
            let path = project.join(file.get_ref());
            read_requirements_file(&path, &mut roots, &mut constraints, project)?;
        }
        let explicit: Vec<PackageName> = roots
            .iter()
            .map(|root| root.requirement.name.clone())
            .collect();
        for used in scan.distributions.iter().filter(|used| used.required) {
            let alternatives = used.choice.iter().flat_map(|choice| &choice.alternatives);
            let covered = std::iter::once(&used.name)
                .chain(alternatives)
                .any(|name| explicit.contains(name));
            if covered {
                continue;
            }
            let evidence = &used.evidence[0];
            let origin = match &evidence.statement {
                crate::scan::Statement::Import(_) => format!(
                    "the import of `{}` at {}",
                    used.imports
                        .first()
                        .map_or(used.name.as_ref(), String::as_str),
                    evidence.location
                ),
                crate::scan::Statement::PipInstall(requirement) => {
                    format!("`pip install {requirement}` at {}", evidence.location)
                }
            };
            roots.push(RootRequirement {
                requirement: Requirement::from_str(used.name.as_ref()).map_err(|error| {
                    InputError::Invalid {
                        location: evidence.location.to_string(),
                        text: used.name.to_string(),
                        message: error.message.to_string(),
                    }
                })?,
                origin,
            });
        }
        let unresolved = scan
            .unresolved
            .iter()
            .filter(|unresolved| unresolved.required)
            .map(|unresolved| unresolved.name.clone())
            .collect();
        Ok(Self {
            roots,
            constraints,
            unresolved,
            verified: BTreeMap::new(),
        })
    }

    /// Constraints as ranges per package, for the resolver.
    pub fn constraint_ranges(&self) -> HashMap<PackageName, Ranges<Version>> {
        let mut ranges: HashMap<PackageName, Ranges<Version>> = HashMap::new();
        for constraint in &self.constraints {
            if let Some(pep508_rs::VersionOrUrl::VersionSpecifier(specifiers)) =
                &constraint.version_or_url
            {
                let range = Ranges::from(specifiers.clone());
                let entry = ranges
                    .entry(constraint.name.clone())
                    .or_insert_with(Ranges::full);
                *entry = entry.intersection(&range);
            }
        }
        ranges
    }

    /// The root requirements as the lock lists them: `requirement  # origin`.
    /// The project directories that root requirements name (`mylib @ ./libs/mylib`).
    pub fn local_directories(&self) -> Vec<(PackageName, PathBuf)> {
        self.roots
            .iter()
            .filter_map(|root| match &root.requirement.version_or_url {
                Some(pep508_rs::VersionOrUrl::Url(url)) => {
                    let path = url.to_url().to_file_path().ok()?;
                    path.is_dir().then(|| (root.requirement.name.clone(), path))
                }
                _ => None,
            })
            .collect()
    }

    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .roots
            .iter()
            .map(|root| format!("{}  # {}", portable(&root.requirement), root.origin))
            .collect();
        lines.extend(
            self.constraints
                .iter()
                .map(|constraint| format!("{constraint}  # constraint")),
        );
        lines
    }

    /// sha256 over what decides the resolution: the requirements and constraints (not where
    /// they were found: moving an import to another line does not make the lock stale), the
    /// target, the indexes, and the resolver settings.
    /// A lock of several platforms has one target line each; a lock of one hashes as it
    /// always did.
    pub fn hash(
        &self,
        targets: &[&Target],
        indexes: &IndexMap,
        settings: &[(&str, String)],
    ) -> String {
        let mut lines: Vec<String> = self
            .roots
            .iter()
            .map(|root| format!("requirement {}", portable(&root.requirement)))
            .collect();
        lines.extend(
            self.constraints
                .iter()
                .map(|constraint| format!("constraint {constraint}")),
        );
        lines.sort();
        lines.dedup();
        lines.extend(targets.iter().map(|target| {
            format!(
                "target {} {} {} {} {}.{}",
                target.python,
                target.python_full,
                target.implementation,
                target.arch,
                target.glibc.0,
                target.glibc.1
            )
        }));
        lines.push(format!("index {}", indexes.default));
        let bound: BTreeMap<_, _> = indexes.bound.iter().collect();
        lines.extend(
            bound
                .iter()
                .map(|(name, url)| format!("bound {name} {url}")),
        );
        lines.extend(
            settings
                .iter()
                .map(|(key, value)| format!("setting {key} {value}")),
        );
        crate::sha256::sha256_hex(lines.join("\n").as_bytes())
    }
}

/// A requirement; a relative path in a direct reference (`mylib @ ./libs/mylib`) is relative
/// to the project directory.
fn parse(text: &str, location: &str, project: &Path) -> Result<Requirement, InputError> {
    let base = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
    Requirement::parse(text, base).map_err(|error| InputError::Invalid {
        location: location.to_string(),
        text: text.to_string(),
        message: error.message.to_string(),
    })
}

/// The requirement as the user wrote its URL: a path relative to the project stays relative,
/// so the lock and its inputs' hash are the same on every machine.
pub(crate) fn portable(requirement: &Requirement) -> String {
    let text = requirement.to_string();
    match &requirement.version_or_url {
        Some(pep508_rs::VersionOrUrl::Url(url)) => match url.given() {
            Some(given) => text.replacen(&url.to_string(), given, 1),
            None => text,
        },
        _ => text,
    }
}

fn root(
    text: &str,
    origin: String,
    location: &str,
    project: &Path,
) -> Result<RootRequirement, InputError> {
    Ok(RootRequirement {
        requirement: parse(text, location, project)?,
        origin,
    })
}

/// `requirements.txt` lines (with `-r` includes and `-c` constraints), or a `pyproject.toml`'s
/// `[project.dependencies]`.
fn read_requirements_file(
    path: &Path,
    roots: &mut Vec<RootRequirement>,
    constraints: &mut Vec<Requirement>,
    project: &Path,
) -> Result<(), InputError> {
    let text =
        fs_err::read_to_string(path).map_err(|source| InputError::io("read", path, source))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("toml"))
    {
        return read_pyproject(path, &name, &text, roots, project);
    }
    let base = path.parent().unwrap_or(Path::new("."));
    for (index, line) in text.lines().enumerate() {
        let location = format!("{name}:{}", index + 1);
        let line = line.split(" #").next().unwrap_or(line).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(include) = line
            .strip_prefix("-r ")
            .or_else(|| line.strip_prefix("--requirement "))
        {
            read_requirements_file(&base.join(include.trim()), roots, constraints, project)?;
        } else if let Some(file) = line
            .strip_prefix("-c ")
            .or_else(|| line.strip_prefix("--constraint "))
        {
            let mut ignored = Vec::new();
            read_requirements_file(&base.join(file.trim()), &mut ignored, constraints, project)?;
            constraints.extend(ignored.into_iter().map(|root| root.requirement));
        } else if line.starts_with('-') {
            return Err(InputError::Invalid {
                location,
                text: line.to_string(),
                message: "pip options are not supported in a requirements file mlpack locks; set indexes in mlpack.toml".to_string(),
            });
        } else {
            roots.push(root(
                line,
                format!("`{line}` at {location}"),
                &location,
                project,
            )?);
        }
    }
    Ok(())
}

fn read_pyproject(
    path: &Path,
    name: &str,
    text: &str,
    roots: &mut Vec<RootRequirement>,
    project: &Path,
) -> Result<(), InputError> {
    let invalid = |message: String| InputError::Invalid {
        location: name.to_string(),
        text: path.display().to_string(),
        message,
    };
    let document: toml::Table =
        toml::from_str(text).map_err(|error| invalid(error.message().to_string()))?;
    let dependencies = document
        .get("project")
        .and_then(|project| project.get("dependencies"))
        .and_then(toml::Value::as_array)
        .ok_or_else(|| invalid("it has no `[project] dependencies` list".to_string()))?;
    for dependency in dependencies {
        let text = dependency
            .as_str()
            .ok_or_else(|| invalid("`[project] dependencies` must be strings".to_string()))?;
        let location = format!("{name} [project.dependencies]");
        roots.push(root(
            text,
            format!("`{text}` in {location}"),
            &location,
            project,
        )?);
    }
    Ok(())
}
