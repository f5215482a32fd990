//! `mlpack build -f Dockerfile`: a Dockerfile built without a daemon, to the image `docker
//! build` gives (`BuildKit`'s semantics, <https://docs.docker.com/reference/dockerfile/>).
//!
//! 1. The stages the target needs are built, on demand (a `FROM` or `COPY --from` of a
//!    stage builds it first), as `BuildKit` does; the others are skipped.
//! 2. `FROM`: a stage, `scratch`, an image in the store by that name, else pulled.
//! 3. Each instruction advances the stage's cache key (its parent's key, the instruction
//!    expanded, and for `COPY`/`ADD` the content of what it copies); a `RUN`, `COPY`, `ADD`
//!    or `WORKDIR` layer is reused from the layer cache under that key, so an unchanged
//!    Dockerfile runs nothing. `--no-cache` salts every key.
//! 4. `RUN` runs in mlpack's runtime exactly as `[build] run` steps do (see [`super::steps`]).
//! 5. The image: the layers, the config as the instructions left it (the base's first), and
//!    one history entry per instruction (`empty_layer` for config-only ones).

mod context;
mod copy;
mod error;
mod healthcheck;
mod lower;
mod run;
mod state;

pub use self::error::DockerfileBuildError;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::compression::Compression;
use crate::dockerfile::{ArgDecl, CommandLine, Dockerfile, Instruction, Located, Stage};
use crate::oci::{self, ImageReference, ImageSpec, ResolvedImage, Store, StoreLock};

use self::context::BuildContext;
use self::error::{at, located};
use self::state::{ImageConfig, StageState};
use super::{BuildError, BuildReport, BuildReporter, Builder, cache, image_base};
use crate::error::FromIo;

/// What to build from a Dockerfile.
pub struct DockerfileBuildRequest<'a> {
    pub dockerfile: &'a Path,
    /// The build context (the directory `COPY` reads).
    pub context: &'a Path,
    /// `--target`: the stage to build, else the last.
    pub target: Option<&'a str>,
    /// `--build-arg NAME=VALUE`.
    pub build_args: &'a BTreeMap<String, String>,
    pub reference: &'a ImageReference,
    pub no_cache: bool,
    pub compression: Compression,
    pub reporter: &'a dyn BuildReporter,
}

/// A Dockerfile build's outcome: the build report and notes for the user.
#[derive(Debug, Clone, Serialize)]
pub struct DockerfileReport {
    #[serde(flatten)]
    pub report: BuildReport,
    /// `# syntax=` ignored, build args no `ARG` declared, ...
    pub notes: Vec<String>,
}

/// The `ARG`s Docker predefines: usable without an `ARG` line, never in the image.
const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Build the Dockerfile's target stage into `store` and tag it.
pub fn build_dockerfile(
    network: &crate::network::Network,
    store: &Store,
    request: &DockerfileBuildRequest<'_>,
) -> Result<DockerfileReport, BuildError> {
    let started = Instant::now();
    let name = file_name(request.dockerfile);
    let text = fs_err::read_to_string(request.dockerfile)
        .map_err(|source| BuildError::io("read", request.dockerfile, source))?;
    let file = Dockerfile::parse(&name, &text).map_err(DockerfileBuildError::Parse)?;
    let mut notes = Vec::new();
    if let Some(syntax) = &file.syntax {
        notes.push(format!(
            "`# syntax={syntax}` is ignored: mlpack reads the Dockerfile itself"
        ));
    }
    let target = match request.target {
        Some(target) => {
            file.stage_index(target)
                .ok_or_else(|| DockerfileBuildError::UnknownTarget {
                    target: target.to_string(),
                    stages: file
                        .stages
                        .iter()
                        .filter_map(|stage| stage.name.clone())
                        .collect(),
                })?
        }
        None => file.stages.len() - 1,
    };
    let mut store_lock = Some(store.lock()?);
    let builder = Builder::new(
        network,
        store,
        request.compression,
        false,
        request.context,
        request.reporter,
    )?;
    let mut executor = Executor {
        builder: &builder,
        network,
        file: &file,
        name: name.clone(),
        request,
        global_args: global_args(&file, &name, request.build_args)?,
        stages: (0..file.stages.len()).map(|_| None).collect(),
        context: BuildContext::open(request.context, &builder.cache_dir)?,
        used_args: Vec::new(),
        store_lock: &mut store_lock,
    };
    let built = executor.build_stage(target);
    executor.context.save();
    built?;
    // A global `ARG` is there for `FROM` lines: declaring it consumes its build arg.
    let mut used_args = std::mem::take(&mut executor.used_args);
    used_args.extend(
        file.global_args
            .iter()
            .flat_map(|arg| arg.value.iter().map(|decl| decl.name.clone())),
    );
    let state = executor.stages[target]
        .take()
        .ok_or_else(|| DockerfileBuildError::Cycle {
            stage: target.to_string(),
        })?;
    notes.extend(unused_args(request.build_args, &used_args));
    let descriptor = write_image(store, &state)?;
    store.tag(request.reference, &descriptor)?;
    drop(store_lock);
    Ok(DockerfileReport {
        report: BuildReport {
            reference: request.reference.clone(),
            manifest_digest: descriptor.digest().to_string(),
            layers: state.layers.into_iter().map(|(built, _)| built).collect(),
            seconds: started.elapsed().as_secs_f64(),
            pinned_base: false,
            pinned_system_libraries: false,
            pinned_system_packages: false,
            system_libraries: Vec::new(),
            host_driver_libraries: Vec::new(),
            sdists: Vec::new(),
        },
        notes,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || "Dockerfile".to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// The global `ARG`s' values: `--build-arg`, else the default (expanded with the ones
/// before it).
fn global_args(
    file: &Dockerfile,
    name: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DockerfileBuildError> {
    let mut values = BTreeMap::new();
    for arg in &file.global_args {
        for decl in &arg.value {
            let value = arg_value(decl, build_args, &values, file.escape)
                .map_err(|error| at(name, arg, error.to_string()))?;
            if let Some(value) = value {
                values.insert(decl.name.clone(), value);
            }
        }
    }
    Ok(values)
}

/// An `ARG`'s value: `--build-arg`, else its default expanded with `known`.
fn arg_value(
    decl: &ArgDecl,
    build_args: &BTreeMap<String, String>,
    known: &BTreeMap<String, String>,
    escape: char,
) -> Result<Option<String>, crate::dockerfile::WordError> {
    if let Some(value) = build_args.get(&decl.name) {
        return Ok(Some(value.clone()));
    }
    let Some(default) = &decl.default else {
        return Ok(None);
    };
    let lookup = |name: &str| known.get(name).cloned();
    crate::dockerfile::Lexer::new(escape, &lookup)
        .word(default)
        .map(Some)
}

/// `--build-arg`s no `ARG` of the built stages declared (Docker warns the same way).
fn unused_args(build_args: &BTreeMap<String, String>, used: &[String]) -> Vec<String> {
    let unused: Vec<&str> = build_args
        .keys()
        .filter(|name| !used.contains(name) && !PROXY_ARGS.contains(&name.as_str()))
        .map(String::as_str)
        .collect();
    if unused.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "the build args {} were not consumed by any `ARG` of the built stages",
        unused
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )]
}

/// One build's progress through the Dockerfile.
struct Executor<'b, 'a> {
    builder: &'b Builder<'a>,
    network: &'a crate::network::Network,
    file: &'b Dockerfile,
    /// The Dockerfile's name, for messages.
    name: String,
    request: &'b DockerfileBuildRequest<'b>,
    global_args: BTreeMap<String, String>,
    /// Built stages, by index.
    stages: Vec<Option<StageState>>,
    context: BuildContext,
    /// `ARG`s declared in the stages built.
    used_args: Vec<String>,
    store_lock: &'b mut Option<StoreLock>,
}

impl Executor<'_, '_> {
    /// Build stage `index` (and the stages it needs) unless built.
    fn build_stage(&mut self, index: usize) -> Result<(), BuildError> {
        if self.stages[index].is_some() {
            return Ok(());
        }
        let stage = &self.file.stages[index];
        let mut built = self.from(index, stage)?;
        for instruction in &stage.instructions {
            self.instruction(&mut built, instruction)?;
        }
        self.stages[index] = Some(built);
        Ok(())
    }

    /// The state `FROM` starts a stage with.
    fn from(&mut self, index: usize, stage: &Stage) -> Result<StageState, BuildError> {
        let lookup = |name: &str| self.global_args.get(name).cloned();
        let image = crate::dockerfile::Lexer::new(self.file.escape, &lookup)
            .word(&stage.base.value)
            .map_err(|error| self.at(&stage.base, error.to_string()))?;
        if let Some(platform) = &stage.platform {
            self.check_platform(&stage.base, platform)?;
        }
        if let Some(from) = self.file.stage_index(&image).filter(|from| *from < index) {
            self.build_stage(from)?;
            let mut inherited = self.stages[from].as_ref().map(clone_state).ok_or_else(|| {
                DockerfileBuildError::Cycle {
                    stage: image.clone(),
                }
            })?;
            inherited.args.clear();
            inherited.config.cmd_set = false;
            inherited.advance(&[format!("from stage {from}")]);
            return Ok(inherited);
        }
        let base = if image == "scratch" {
            None
        } else {
            Some(self.base_image(&stage.base, &image)?)
        };
        let mut layers = Vec::new();
        let mut history = Vec::new();
        let mut key = "scratch".to_string();
        if let Some(base) = &base {
            let started = Instant::now();
            for (position, layer) in image_base::layers(base)?.into_iter().enumerate() {
                let description = format!(
                    "FROM {image} ({}/{})",
                    position + 1,
                    base.manifest.layers().len()
                );
                layers.push((super::built(description, &layer, true, started), layer));
            }
            history = image_base::history(base, &image);
            key = base.manifest_digest()?.to_string();
        }
        let salt = if self.request.no_cache {
            format!("no-cache {}", std::process::id())
        } else {
            String::new()
        };
        Ok(StageState {
            layers,
            history,
            config: ImageConfig::inherit(base.as_ref()),
            args: BTreeMap::new(),
            key: cache::key("mlpack-dockerfile-from-v1", &[key, salt]),
            base,
        })
    }

    /// `FROM --platform=`: only the host's platform can be built.
    fn check_platform(&self, at_line: &Located<String>, platform: &str) -> Result<(), BuildError> {
        let lookup = |name: &str| match name {
            "BUILDPLATFORM" | "TARGETPLATFORM" => Some(host_platform()),
            _ => self.global_args.get(name).cloned(),
        };
        let platform = crate::dockerfile::Lexer::new(self.file.escape, &lookup)
            .word(platform)
            .map_err(|error| self.at(at_line, error.to_string()))?;
        if platform == host_platform() {
            return Ok(());
        }
        Err(located(
            &self.name,
            at_line,
            format!(
                "`--platform={platform}`: mlpack builds only for this machine's platform, `{}`",
                host_platform()
            ),
            vec!["remove `--platform`, or build on a machine of that platform".to_string()],
        )
        .into())
    }

    /// A base image: from the store by name, else pulled.
    fn base_image(
        &self,
        at_line: &Located<String>,
        image: &str,
    ) -> Result<ResolvedImage, BuildError> {
        let store = self.builder.store;
        if let Ok(found) = store.resolve(image) {
            return Ok(found);
        }
        let source = crate::oci::registry::remote_reference(image)
            .map_err(|error| self.at(at_line, error.to_string()))?;
        let local_name = source.store_name();
        if let Ok(found) = store.resolve(&local_name.to_string()) {
            return Ok(found);
        }
        self.builder
            .reporter
            .phase(&format!("FROM {image}"), "pulling");
        let client = crate::oci::registry::client_for(source.registry())?;
        let arch = crate::arch::Arch::host();
        let report = super::fetch::pull(
            self.network,
            &client,
            store,
            &source,
            ("linux", arch.oci()),
            &local_name,
            &crate::oci::registry::NoProgress,
        )?;
        Ok(store.resolve(report.manifest_digest.as_str())?)
    }

    fn at(&self, line: &Located<impl Sized>, message: String) -> BuildError {
        at(&self.name, line, message).into()
    }

    /// Apply one instruction to `state`.
    fn instruction(
        &mut self,
        state: &mut StageState,
        instruction: &Located<Instruction>,
    ) -> Result<(), BuildError> {
        let escape = self.file.escape;
        let expand = |state: &StageState, text: &str| {
            state
                .expand(escape, text)
                .map_err(|error| self.at(instruction, error.to_string()))
        };
        match &instruction.value {
            Instruction::Arg(decls) => self.arg(state, instruction, decls)?,
            Instruction::Env(pairs) => {
                for (name, value) in pairs {
                    let name = expand(state, name)?;
                    let value = expand(state, value)?;
                    state.config.set_env(&name, &value);
                }
                config_step(state, instruction);
            }
            Instruction::Label(pairs) => {
                for (name, value) in pairs {
                    let name = expand(state, name)?;
                    let value = expand(state, value)?;
                    state.config.labels.insert(name, value);
                }
                config_step(state, instruction);
            }
            Instruction::Maintainer(name) => {
                state
                    .config
                    .labels
                    .insert("maintainer".to_string(), name.clone());
                config_step(state, instruction);
            }
            Instruction::Workdir(dir) => {
                let dir = expand(state, dir)?;
                self.workdir(state, instruction, &dir)?;
            }
            Instruction::User(user) => {
                state.config.user = expand(state, user)?;
                config_step(state, instruction);
            }
            Instruction::Cmd(command) => {
                state.config.cmd = command_args(command, &state.config.shell);
                state.config.cmd_set = true;
                config_step(state, instruction);
            }
            Instruction::Entrypoint(command) => {
                state.config.entrypoint = command_args(command, &state.config.shell);
                // Docker's rule: a new entrypoint drops the CMD the base set (not one this
                // stage set).
                if !state.config.cmd_set {
                    state.config.cmd.clear();
                }
                config_step(state, instruction);
            }
            Instruction::Shell(shell) => {
                state.config.shell.clone_from(shell);
                config_step(state, instruction);
            }
            Instruction::Expose(ports) => {
                for port in ports {
                    for port in state
                        .expand_words(escape, port)
                        .map_err(|error| self.at(instruction, error.to_string()))?
                    {
                        let port = if port.contains('/') {
                            port
                        } else {
                            format!("{port}/tcp")
                        };
                        if !state.config.exposed_ports.contains(&port) {
                            state.config.exposed_ports.push(port);
                        }
                    }
                }
                config_step(state, instruction);
            }
            Instruction::Volume(paths) => {
                for path in paths {
                    let path = expand(state, path)?;
                    if !state.config.volumes.contains(&path) {
                        state.config.volumes.push(path);
                    }
                }
                config_step(state, instruction);
            }
            Instruction::Stopsignal(signal) => {
                state.config.stop_signal = expand(state, signal)?;
                config_step(state, instruction);
            }
            Instruction::Healthcheck(check) => {
                state.config.healthcheck = Some(
                    healthcheck::config(check).map_err(|message| self.at(instruction, message))?,
                );
                config_step(state, instruction);
            }
            Instruction::Onbuild => {
                return Err(located(
                    &self.name,
                    instruction,
                    "ONBUILD is not supported".to_string(),
                    vec![
                        "run the instructions in the Dockerfile that uses this image instead"
                            .to_string(),
                    ],
                )
                .into());
            }
            Instruction::Run(run) => self.run(state, instruction, run)?,
            Instruction::Copy(copy) => self.copy(state, instruction, copy)?,
        }
        Ok(())
    }

    fn arg(
        &mut self,
        state: &mut StageState,
        instruction: &Located<Instruction>,
        decls: &[ArgDecl],
    ) -> Result<(), BuildError> {
        for decl in decls {
            let mut known = self.global_args.clone();
            known.extend(state.args.clone());
            let value =
                match arg_value(decl, self.request.build_args, &state.args, self.file.escape)
                    .map_err(|error| self.at(instruction, error.to_string()))?
                {
                    Some(value) => Some(value),
                    // `ARG NAME` in a stage takes the global `ARG`'s value.
                    None => known.get(&decl.name).cloned(),
                };
            self.used_args.push(decl.name.clone());
            if let Some(value) = value {
                state.args.insert(decl.name.clone(), value.clone());
                state.advance(&[format!("arg {}={value}", decl.name)]);
            }
        }
        state.note(instruction.source.clone());
        Ok(())
    }
}

/// A config-only instruction: the key advances, the history grows.
fn config_step(state: &mut StageState, instruction: &Located<Instruction>) {
    state.advance(&[format!("{:?}", instruction.value)]);
    state.note(instruction.source.clone());
}

/// `linux/amd64` for this machine.
fn host_platform() -> String {
    format!("linux/{}", crate::arch::Arch::host().oci())
}

/// A command as the config stores it: exec form as is, shell form through the `SHELL`.
fn command_args(command: &CommandLine, shell: &[String]) -> Vec<String> {
    match command {
        CommandLine::Exec(args) => args.clone(),
        CommandLine::Shell(text) => {
            let mut args = shell.to_vec();
            args.push(text.clone());
            args
        }
    }
}

fn clone_state(state: &StageState) -> StageState {
    StageState {
        layers: state.layers.clone(),
        history: state.history.clone(),
        config: state.config.clone(),
        args: state.args.clone(),
        key: state.key.clone(),
        base: state.base.clone(),
    }
}

/// Write the stage's image: its layers and config.
fn write_image(store: &Store, state: &StageState) -> Result<oci::Descriptor, BuildError> {
    let config = &state.config;
    let spec = ImageSpec {
        history: state.history.clone(),
        env: config.env.clone(),
        working_dir: config.working_dir.clone(),
        cmd: config.cmd.clone(),
        entrypoint: config.entrypoint.clone(),
        user: config.user.clone(),
        exposed_ports: config.exposed_ports.clone(),
        volumes: config.volumes.clone(),
        stop_signal: config.stop_signal.clone(),
        labels: config.labels.clone(),
        ..ImageSpec::new(
            state
                .layers
                .iter()
                .map(|(_, layer)| layer.clone())
                .collect(),
            crate::arch::Arch::host().oci(),
            super::config::created(None, None)?,
        )
    };
    let mut extra = serde_json::Map::new();
    if let Some(check) = &config.healthcheck {
        extra.insert("Healthcheck".to_string(), check.clone());
    }
    Ok(oci::write_image_with(store, &spec, &extra)?)
}
