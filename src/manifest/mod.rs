//! `mlpack.toml`: the project's manifest, its defaults and its validation.
//!
//! Every section is optional. Problems are reported all at once, each as `file:line:column`
//! with a hint where one helps: unknown keys (with the nearest known key), values of the wrong
//! type, requirements that are not PEP 508, dataset paths that do not exist, and values past
//! the limits `values` sets (NUL bytes, lengths, container paths, image names).

mod build;
mod schema;
mod typed;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub use self::build::{BuildSection, BuildStep, RunValue, StepNetwork};
use crate::byte_size::ByteSize;
use crate::error::Diagnostic;
use crate::python::PythonVersion;
use crate::source::{LineIndex, excerpt};

/// The manifest's file name in a project directory.
pub const MANIFEST_FILE: &str = "mlpack.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Manifest {
    pub project: ProjectSection,
    pub python: PythonSection,
    pub base: BaseSection,
    pub hardware: HardwareSection,
    pub train: TrainSection,
    /// The model image's default command (`mlpack package`); `[predict]` is its other name.
    pub serve: Option<ServeSection>,
    pub predict: Option<ServeSection>,
    pub datasets: Vec<Dataset>,
    pub outputs: OutputsSection,
    pub image: ImageSection,
    /// Where `mlpack train --on ENGINE` sends the job, and its defaults.
    pub cluster: ClusterSection,
    /// Debian packages by name and commands run while the image is built.
    pub build: BuildSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct ProjectSection {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct PythonSection {
    /// The interpreter's version; by default the one the base image ships.
    pub version: Option<PythonVersion>,
    /// Explicit PEP 508 requirements; they win over what the scan infers.
    pub requirements: Vec<Spanned<String>>,
    /// PEP 508 constraints: they limit a package's versions only if something needs it.
    pub constraints: Vec<Spanned<String>>,
    /// Extra indexes, each serving only the packages bound to it.
    pub indexes: Vec<ExtraIndex>,
    pub requirements_file: Option<Spanned<PathBuf>>,
    pub index_url: Option<String>,
    /// Import name → distribution, overriding the scan's mapping (`cv2 = "opencv-python"`).
    pub imports: BTreeMap<String, Spanned<String>>,
    /// Refuse sdists: lock only versions with a wheel for the target.
    pub no_build: bool,
    /// Imports (and distributions) the scan leaves out: code that training never runs,
    /// like an ONNX export helper (`exclude-imports = ["onnx"]`).
    pub exclude_imports: Vec<Spanned<String>>,
    /// The architectures `mlpack.lock` holds resolutions for (`["x86_64", "aarch64"]`), so a
    /// build for any of them reads the lock without rewriting it; by default, this machine's.
    pub platforms: Vec<crate::arch::Arch>,
}

/// An extra package index and the packages that come only from it (no dependency confusion:
/// a bound package never falls back to the default index).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExtraIndex {
    pub url: String,
    pub packages: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct BaseSection {
    pub image: String,
    pub packages: Vec<String>,
    pub mirror: Option<String>,
    /// Where pinned `.deb`s the mirror dropped are fetched from (Debian's snapshot archive).
    pub snapshot: Option<String>,
}

impl BaseSection {
    /// Whether the base is an image from a registry, used as it is, rather than a Debian base
    /// mlpack builds (`debian:bookworm`, `debian:12`, `debian:trixie`, `debian:13`).
    pub fn is_registry_image(&self) -> bool {
        base_python(&self.image).is_none()
    }
}

impl Default for BaseSection {
    fn default() -> Self {
        Self {
            image: "debian:bookworm".to_string(),
            packages: Vec::new(),
            mirror: None,
            snapshot: None,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Accelerator {
    #[default]
    Cpu,
    Cuda,
    Auto,
}

impl Accelerator {
    /// As `mlpack.toml` and `mlpack.lock` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Auto => "auto",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct HardwareSection {
    pub accelerator: Accelerator,
    pub cuda: Option<Spanned<String>>,
    pub driver_min: Option<Spanned<String>>,
}

/// A command as a shell-free argument list; a single string is split on whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Line(String),
    Args(Vec<String>),
}

impl CommandLine {
    pub fn args(&self) -> Vec<String> {
        match self {
            Self::Line(line) => line.split_whitespace().map(str::to_string).collect(),
            Self::Args(args) => args.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct TrainSection {
    pub command: CommandLine,
    pub workdir: String,
    pub env: BTreeMap<String, String>,
    pub shm_size: Option<Spanned<String>>,
    /// Services of the compose file that run beside the job (`train::sidecars`).
    pub services: Vec<String>,
    /// The compose file, relative to the project; else `compose.yaml` and its other names.
    pub compose_file: Option<PathBuf>,
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            command: CommandLine::Args(vec!["python3".to_string(), "train.py".to_string()]),
            workdir: "/app".to_string(),
            env: BTreeMap::new(),
            shm_size: None,
            services: Vec::new(),
            compose_file: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServeSection {
    pub command: CommandLine,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Dataset {
    /// A host directory or file, relative to the project.
    pub source: Spanned<PathBuf>,
    /// Where the container sees it.
    #[serde(default = "default_dataset_target")]
    pub target: Spanned<String>,
    #[serde(default = "default_true")]
    pub read_only: bool,
}

fn default_dataset_target() -> Spanned<String> {
    Spanned::new(0..0, "/data".to_string())
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct OutputsSection {
    pub dir: PathBuf,
    pub target: String,
}

impl Default for OutputsSection {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("outputs"),
            target: "/outputs".to_string(),
        }
    }
}

/// `[cluster]`: the engine, the job's defaults (each overridden by its `mlpack train` flag) and
/// how the nodes reach the image.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct ClusterSection {
    /// The engine `--on` defaults to; without it, `mlpack train` runs on this machine.
    pub engine: Option<crate::cluster::Engine>,
    pub nodes: Option<u32>,
    pub gpus_per_node: Option<u32>,
    pub cpus_per_node: Option<u32>,
    /// Memory per node, as the engine writes it (`64G`).
    pub memory: Option<String>,
    /// The job's time limit, as the engine writes it (`2:00:00`).
    pub time: Option<String>,
    /// The Slurm partition.
    pub partition: Option<String>,
    pub account: Option<String>,
    /// The store the nodes run the image from, on a filesystem they share [default: this
    /// machine's store]; mlpack copies the image into it.
    pub store: Option<Spanned<PathBuf>>,
    /// A registry the nodes pull from: not implemented yet, refused when set.
    pub registry: Option<Spanned<String>>,
    /// The `mlpack` executable on the nodes [default: this one, on a shared filesystem].
    pub mlpack: Option<PathBuf>,
    /// More `sbatch` options, passed as written (`["--qos=high", "--constraint=a100"]`).
    pub sbatch_options: Vec<String>,
}

/// How image layers are compressed (`[image] compression`, `mlpack build --compression`):
/// `zstd` (the default) or `gzip`.
pub use crate::compression::Compression;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct ImageSection {
    pub name: Option<String>,
    pub tag: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub compression: Compression,
    /// Ports the image documents as served (`ExposedPorts`): `8080` or `"53/udp"`.
    pub expose: Vec<Spanned<PortValue>>,
    /// The user the image's processes run as (`User`): `"1000:1000"`, or a name the base has.
    pub user: Option<Spanned<String>>,
    /// Replaces the base's `Entrypoint`; `[]` clears it.
    pub entrypoint: Option<CommandLine>,
    /// Added to the image's environment, after mlpack's own (`PATH`, `LANG`, …).
    pub env: BTreeMap<String, String>,
}

/// A port as written in `[image] expose`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PortValue {
    Number(i64),
    Text(String),
}

impl PortValue {
    /// `8080/tcp`, as the image config keys `ExposedPorts`; `None` when it is not a port.
    pub fn normalized(&self) -> Option<String> {
        let (port, protocol) = match self {
            Self::Number(port) => (port.to_string(), "tcp"),
            Self::Text(text) => match text.split_once('/') {
                Some((port, protocol)) => (port.to_string(), protocol),
                None => (text.clone(), "tcp"),
            },
        };
        let port: u16 = port.parse().ok().filter(|port| *port > 0)?;
        matches!(protocol, "tcp" | "udp" | "sctp").then(|| format!("{port}/{protocol}"))
    }
}

/// A manifest with where it came from.
#[derive(Debug)]
pub struct LoadedManifest {
    pub manifest: Manifest,
    /// The file's text, for turning spans into line numbers; empty without a file.
    pub text: String,
    /// `None` when the project has no `mlpack.toml` and defaults apply.
    pub path: Option<PathBuf>,
}

impl LoadedManifest {
    /// `mlpack.toml:LINE` for a value read from the file.
    pub fn location<T>(&self, value: &Spanned<T>) -> String {
        let line = LineIndex::new(&self.text)
            .position(&self.text, value.span().start)
            .line;
        let file = self
            .path
            .as_deref()
            .and_then(Path::file_name)
            .map_or_else(|| MANIFEST_FILE.into(), |name| name.to_string_lossy());
        format!("{file}:{line}")
    }
}

impl Manifest {
    /// `[image] expose`, as `8080/tcp`; values that are not ports are refused when read.
    pub fn exposed_ports(&self) -> Vec<String> {
        self.image
            .expose
            .iter()
            .filter_map(|port| port.get_ref().normalized())
            .collect()
    }

    /// `[python] exclude-imports`, as the scan takes it.
    pub fn excluded_imports(&self) -> Vec<String> {
        self.python
            .exclude_imports
            .iter()
            .map(|name| name.get_ref().clone())
            .collect()
    }

    /// The interpreter the image will run: the manifest's, else the one the base ships (for a
    /// registry image, only its inspection knows: until then, the default).
    pub fn python_version(&self) -> PythonVersion {
        self.python
            .version
            .unwrap_or_else(|| base_python(&self.base.image).unwrap_or(PythonVersion::DEFAULT))
    }

    /// Read `mlpack.toml` from `project`, or the defaults when there is none.
    pub fn load(project: &Path) -> Result<LoadedManifest, ManifestError> {
        let path = project_path(project, Path::new(MANIFEST_FILE));
        let text = match fs_err::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LoadedManifest {
                    manifest: Self::default(),
                    text: String::new(),
                    path: None,
                });
            }
            Err(error) => return Err(ManifestError::Read(error)),
        };
        let manifest = Self::parse(&text, &path, project)?;
        Ok(LoadedManifest {
            manifest,
            text,
            path: Some(path),
        })
    }

    /// Parse and validate manifest text; `project` anchors relative paths.
    pub fn parse(text: &str, path: &Path, project: &Path) -> Result<Self, ManifestError> {
        let source = Source {
            text,
            lines: LineIndex::new(text),
        };
        let invalid = |mut problems: Vec<Problem>| {
            problems.sort_by_key(|problem| (problem.line, problem.column));
            ManifestError::Invalid {
                path: path.to_path_buf(),
                problems,
            }
        };
        let document = toml_edit::Document::parse(text).map_err(|error| {
            let offset = error.span().map_or(0, |span| span.start);
            let message = error.message().trim().to_string();
            invalid(vec![source.problem(offset, message, None)])
        })?;
        // Unknown keys are ignored by serde, so values are still checked after finding them.
        let mut problems = schema::unknown_keys(document.as_table(), &source);
        values::check_document(document.as_table(), &source, &mut problems);
        let Some(manifest) = typed::deserialize(text, document.as_table(), &source, &mut problems)
        else {
            return Err(invalid(problems));
        };
        manifest.validate(project, &source, &mut problems);
        values::check_manifest(&manifest, document.as_table(), &source, &mut problems);
        if problems.is_empty() {
            Ok(manifest)
        } else {
            Err(invalid(problems))
        }
    }

    fn validate(&self, project: &Path, source: &Source<'_>, problems: &mut Vec<Problem>) {
        for requirement in self
            .python
            .requirements
            .iter()
            .chain(&self.python.constraints)
        {
            let base = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
            if let Err(error) =
                pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::parse(requirement.get_ref(), base)
            {
                problems.push(source.spanned_problem(
                    requirement,
                    format!("`{}` is not a valid requirement: {}", excerpt(requirement.get_ref()), first_line(&error.to_string())),
                    Some("write a PEP 508 requirement, like `scikit-learn>=1.3` or `torch==2.5.*`".to_string()),
                ));
            }
        }
        if let Some(file) = &self.python.requirements_file {
            check_exists(project, file, "requirements file", source, problems);
        }
        let bound = self.python.indexes.iter().flat_map(|index| &index.packages);
        for distribution in self.python.imports.values().chain(bound) {
            if pep508_rs::PackageName::from_str(distribution.get_ref()).is_err() {
                problems.push(source.spanned_problem(
                    distribution,
                    format!(
                        "`{}` is not a valid distribution name",
                        excerpt(distribution.get_ref())
                    ),
                    Some("name the PyPI project, like `opencv-python-headless`".to_string()),
                ));
            }
        }
        for excluded in &self.python.exclude_imports {
            let name = excluded.get_ref();
            let valid = !name.is_empty()
                && name.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-'))
                });
            if !valid {
                problems.push(
                    source.spanned_problem(
                        excluded,
                        format!("`{}` is not an import or distribution name", excerpt(name)),
                        Some(
                            "write a module like `onnx` or `tensorflow.lite`, or a PyPI name"
                                .to_string(),
                        ),
                    ),
                );
            }
        }
        self.validate_image(source, problems);
        build::validate(&self.build, project, source, problems);
        if let Some(cuda) = &self.hardware.cuda
            && !is_dotted_numbers(cuda.get_ref(), 2)
        {
            problems.push(source.spanned_problem(
                cuda,
                format!("`{}` is not a CUDA version", excerpt(cuda.get_ref())),
                Some("write `MAJOR.MINOR`, like `12.8`".to_string()),
            ));
        }
        if let Some(cuda) = &self.hardware.cuda
            && is_dotted_numbers(cuda.get_ref(), 2)
            && self.hardware.accelerator == Accelerator::Cpu
        {
            problems.push(source.spanned_problem(
                cuda,
                format!(
                    "`cuda = \"{}\"` asks for CUDA, but `accelerator` is `cpu` (the default)",
                    cuda.get_ref()
                ),
                Some("add `accelerator = \"cuda\"` (or `\"auto\"`) to `[hardware]`".to_string()),
            ));
        }
        if let Some(driver) = &self.hardware.driver_min
            && !is_dotted_numbers(driver.get_ref(), 2)
            && !is_dotted_numbers(driver.get_ref(), 3)
        {
            problems.push(source.spanned_problem(
                driver,
                format!(
                    "`{}` is not an NVIDIA driver version",
                    excerpt(driver.get_ref())
                ),
                Some("write it as `nvidia-smi` shows it, like `535.104.05`".to_string()),
            ));
        }
        if let Some(size) = &self.train.shm_size
            && let Err(error) = size.get_ref().parse::<ByteSize>()
        {
            problems.push(source.spanned_problem(size, error.to_string(), None));
        }
        for dataset in &self.datasets {
            check_exists(project, &dataset.source, "dataset", source, problems);
        }
    }
}

impl Manifest {
    fn validate_image(&self, source: &Source<'_>, problems: &mut Vec<Problem>) {
        for port in &self.image.expose {
            if port.get_ref().normalized().is_none() {
                let written = match port.get_ref() {
                    PortValue::Number(number) => number.to_string(),
                    PortValue::Text(text) => text.clone(),
                };
                problems.push(source.spanned_problem(
                    port,
                    format!("`{}` is not a port", excerpt(&written)),
                    Some("write a port from 1 to 65535, optionally with `/tcp`, `/udp` or `/sctp`: `8080` or `\"53/udp\"`".to_string()),
                ));
            }
        }
        if let Some(user) = &self.image.user
            && !is_user_spec(user.get_ref())
        {
            problems.push(
                source.spanned_problem(
                    user,
                    format!("`{}` is not a user", excerpt(user.get_ref())),
                    Some(
                        "write `USER`, `USER:GROUP`, `UID` or `UID:GID`, like `1000:1000` or `app`"
                            .to_string(),
                    ),
                ),
            );
        }
    }
}

/// `user`, `user:group`, `uid` or `uid:gid`, as Docker's `USER` takes it.
fn is_user_spec(text: &str) -> bool {
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'))
    };
    match text.split_once(':') {
        Some((user, group)) => valid(user) && valid(group),
        None => valid(text),
    }
}

/// The Python that a known base image ships.
pub fn base_python(image: &str) -> Option<PythonVersion> {
    match image {
        "debian:bookworm" | "debian:12" => Some(PythonVersion::new(3, 11)),
        "debian:trixie" | "debian:13" => Some(PythonVersion::new(3, 13)),
        _ => None,
    }
}

fn check_exists(
    project: &Path,
    path: &Spanned<PathBuf>,
    what: &str,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) {
    let full = project.join(path.get_ref());
    if !full.exists() {
        let absolute = std::path::absolute(&full).unwrap_or(full);
        problems.push(source.spanned_problem(
            path,
            format!(
                "{what} `{}` does not exist (looked for `{}`)",
                path.get_ref().display(),
                absolute.display()
            ),
            Some("paths in mlpack.toml are relative to the project directory".to_string()),
        ));
    }
}

/// `file` in `project`, without a leading `./` when the project is the current directory.
pub fn project_path(project: &Path, file: &Path) -> PathBuf {
    if project == Path::new(".") {
        file.to_path_buf()
    } else {
        project.join(file)
    }
}

fn is_dotted_numbers(text: &str, parts: usize) -> bool {
    let pieces: Vec<&str> = text.split('.').collect();
    pieces.len() == parts
        && pieces
            .iter()
            .all(|piece| !piece.is_empty() && piece.bytes().all(|b| b.is_ascii_digit()))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// The manifest's text, for turning byte offsets into positions.
struct Source<'a> {
    text: &'a str,
    lines: LineIndex,
}

impl Source<'_> {
    fn problem(&self, offset: usize, message: String, hint: Option<String>) -> Problem {
        let position = self.lines.position(self.text, offset);
        Problem {
            line: position.line,
            column: position.column,
            message,
            hint,
        }
    }

    fn spanned_problem<T>(
        &self,
        value: &Spanned<T>,
        message: String,
        hint: Option<String>,
    ) -> Problem {
        self.problem(value.span().start, message, hint)
    }
}

/// One thing wrong in the manifest, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("could not read the manifest")]
    Read(#[source] std::io::Error),
    #[error("{}", InvalidDisplay { path, problems })]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// Every manifest problem is the user's to fix; each carries its own hint in the message.
impl Diagnostic for ManifestError {
    fn is_user_error(&self) -> bool {
        true
    }
}

struct InvalidDisplay<'a> {
    path: &'a Path,
    problems: &'a [Problem],
}

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "`{}` has {count} {noun}", self.path.display())?;
        for problem in self.problems {
            write!(
                f,
                "\n  {}:{}:{}: {}",
                self.path.display(),
                problem.line,
                problem.column,
                problem.message
            )?;
            if let Some(hint) = &problem.hint {
                write!(f, "\n    hint: {hint}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
