//! `[build] run`: commands run while the image is built, each in mlpack's own runtime over
//! the layers below it, each one's file-system changes (the container's overlay upper dir,
//! deletions as OCI whiteouts) one reproducible layer, as a Dockerfile's `RUN` makes it.
//!
//! 1. Order: the steps run after the Debian and Python packages and before the project's
//!    code, in the order written; `after-code = true` steps run on top of the code.
//! 2. What a step sees: the layers below it, plus a context layer that holds its workdir and
//!    the project files its `inputs` name (copied, at the same path under the workdir; the
//!    context layer is in the step's container only, never in the image). A step that runs
//!    before the code and declares no inputs sees no project file at all, so a code edit
//!    never re-runs it.
//! 3. The cache key: the `diff_id`s of the layers below (for an `after-code` step, the code
//!    layer among them), the command, `env`, `workdir`, `network` and the content of the
//!    inputs. An unchanged step reuses its layer and does not run.
//! 4. How it runs: `/bin/sh -c COMMAND` as root, with the image's environment plus the
//!    step's `env`, the host network (as `docker build`'s `RUN`, with the host's DNS and CA
//!    bundle) unless `network = "none"`, and each `cache` directory bind-mounted from
//!    `$XDG_CACHE_HOME/mlpack/build-cache-v1/` (kept between builds, never in a layer).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::{Diagnostic, FromIo};
use crate::manifest::BuildStep;
use crate::oci::{Layer, StoreLock};
use crate::runtime::{self, Containers};

use super::container::{ContainerConfig, mlpack_run};
use super::{BuildError, BuildRequest, Builder, StagedLayer, cache};

/// Under the cache directory: each step's output, kept for the error that names it.
pub const STEP_LOGS_DIR: &str = "build-step-logs";

/// Under the cache directory: the directories of steps' `cache` mounts, one per target.
pub const CACHE_MOUNTS_DIR: &str = "build-cache-v1";

/// A step that failed: which one, how, and its output's last lines.
#[derive(Debug, thiserror::Error)]
#[error(
    "mlpack.toml [build] run[{index}]: {command}: {status}; the output's last lines:\n{tail}\n\nthe whole output: `{}`",
    log.display()
)]
pub struct StepFailure {
    /// Its place in `[build] run`, from 0.
    pub index: usize,
    pub command: String,
    pub status: String,
    pub tail: String,
    pub log: PathBuf,
}

impl Diagnostic for StepFailure {
    fn hints(&self) -> Vec<String> {
        vec![
            "a step runs `/bin/sh -c` as root over the image built so far; it sees project files only through its `inputs` (or with `after-code = true`)".to_string(),
        ]
    }

    fn is_user_error(&self) -> bool {
        true
    }
}

/// What a build's steps share: the image's environment and the target architecture.
pub(super) struct StepSettings<'a> {
    pub(super) env: &'a [String],
    pub(super) arch: crate::arch::Arch,
}

/// One file, directory or link of a step's inputs, relative to the project.
enum InputEntry {
    Dir(PathBuf),
    File(PathBuf),
    Link(PathBuf, PathBuf),
}

/// A command to run in a build container over `layers`, its changes to become one layer
/// (a `[build] run` step, a Dockerfile's `RUN`).
pub(super) struct ContainerCommand<'a> {
    /// Names the container, its temporary image and its log.
    pub(super) key: &'a str,
    pub(super) layers: Vec<Layer>,
    pub(super) arch: crate::arch::Arch,
    /// The image's environment.
    pub(super) image_env: Vec<String>,
    /// `NAME=value` set for this command only.
    pub(super) env: Vec<String>,
    pub(super) workdir: &'a str,
    pub(super) user: Option<&'a str>,
    /// `host` or `none`.
    pub(super) network: &'a str,
    /// `HOST:CONTAINER` binds.
    pub(super) mounts: Vec<String>,
    pub(super) argv: Vec<String>,
    /// Keep the owners and modes of what it wrote (see `LayerWriter::write_keeping_owners`).
    pub(super) keep_owners: bool,
    /// Mount targets (absolute) whose mount points, when the runtime had to create them,
    /// stay in the layer as empty directories, as `BuildKit` leaves a cache mount's target;
    /// every other mount point the runtime created is left out.
    pub(super) kept_mount_points: Vec<String>,
}

impl ContainerCommand<'_> {
    /// Of the mount points the runtime created (relative, the topmost one of each), those
    /// to leave out of the layer: all but the ones leading to a kept mount point.
    fn left_out(&self, created: &[String]) -> Vec<String> {
        created
            .iter()
            .filter(|path| {
                !self.kept_mount_points.iter().any(|target| {
                    let target = target.trim_start_matches('/');
                    target == path.as_str() || target.starts_with(&format!("{path}/"))
                })
            })
            .cloned()
            .collect()
    }
}

/// How a command in a build container failed.
pub(super) struct ContainerFailure {
    pub(super) status: String,
    pub(super) tail: String,
    pub(super) log: PathBuf,
}

/// A step's container after it exited.
struct StepRun {
    name: String,
    status: std::process::ExitStatus,
    log: PathBuf,
}

/// A step's inputs as found in the project, and the hash of what they hold.
struct Inputs {
    entries: Vec<InputEntry>,
    sha256: String,
}

impl Inputs {
    /// Walk each input (a file or a whole directory, links as links), in name order.
    fn walk(project: &Path, inputs: &[String]) -> Result<Self, BuildError> {
        let mut entries = Vec::new();
        let mut parts = Vec::new();
        for input in inputs {
            let walk = ignore::WalkBuilder::new(project.join(input))
                .standard_filters(false)
                .sort_by_file_name(std::ffi::OsStr::cmp)
                .build();
            for entry in walk {
                let entry = entry.map_err(|error| BuildError::Walk {
                    path: project.join(input),
                    message: error.to_string(),
                })?;
                let relative = entry
                    .path()
                    .strip_prefix(project)
                    .unwrap_or(entry.path())
                    .to_path_buf();
                let kind = entry.file_type();
                let io = |source| BuildError::io("read", entry.path(), source);
                if kind.is_some_and(|kind| kind.is_dir()) {
                    parts.push(format!("dir {}", relative.display()));
                    entries.push(InputEntry::Dir(relative));
                } else if kind.is_some_and(|kind| kind.is_symlink()) {
                    let target = fs_err::read_link(entry.path()).map_err(io)?;
                    parts.push(format!("link {} {}", relative.display(), target.display()));
                    entries.push(InputEntry::Link(relative, target));
                } else if kind.is_some_and(|kind| kind.is_file()) {
                    let sha256 = crate::sha256::file_sha256(entry.path()).map_err(io)?;
                    let mode = entry.metadata().map_or(0, |metadata| {
                        std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111
                    });
                    parts.push(format!("file {} {mode:o} {sha256}", relative.display()));
                    entries.push(InputEntry::File(relative));
                }
            }
        }
        Ok(Self {
            entries,
            sha256: cache::key("mlpack-step-inputs-v1", &parts),
        })
    }

    /// Copy the inputs into `root` (the workdir inside a staging tree).
    fn stage(&self, project: &Path, root: &Path) -> Result<(), BuildError> {
        fs_err::create_dir_all(root).map_err(|source| BuildError::io("write", root, source))?;
        for entry in &self.entries {
            let (InputEntry::Dir(relative)
            | InputEntry::File(relative)
            | InputEntry::Link(relative, _)) = entry;
            let destination = root.join(relative);
            let io = |source| BuildError::io("write", &destination, source);
            if let Some(parent) = destination.parent() {
                fs_err::create_dir_all(parent).map_err(io)?;
            }
            match entry {
                InputEntry::Dir(_) => fs_err::create_dir_all(&destination).map_err(io)?,
                InputEntry::File(relative) => {
                    fs_err::copy(project.join(relative), &destination).map_err(io)?;
                }
                InputEntry::Link(_, target) => {
                    fs_err::os::unix::fs::symlink(target, &destination).map_err(io)?;
                }
            }
        }
        Ok(())
    }
}

impl Builder<'_> {
    /// Run the steps that go after the code (`after_code`) or before it, each on top of
    /// `layers`, adding its layer there. `store_lock` is released while a container runs
    /// (`mlpack run` takes the store's lock itself) and held again afterwards.
    pub(super) fn build_steps(
        &self,
        request: &BuildRequest<'_>,
        settings: &StepSettings<'_>,
        after_code: bool,
        layers: &mut Vec<StagedLayer>,
        store_lock: &mut Option<StoreLock>,
    ) -> Result<(), BuildError> {
        let steps = request.manifest.build.steps();
        for (index, step) in steps.iter().enumerate() {
            if step.after_code != after_code {
                continue;
            }
            let layer = self.build_step(request, settings, index, step, layers, store_lock)?;
            layers.push(layer);
        }
        Ok(())
    }

    fn build_step(
        &self,
        request: &BuildRequest<'_>,
        settings: &StepSettings<'_>,
        index: usize,
        step: &BuildStep,
        below: &[StagedLayer],
        store_lock: &mut Option<StoreLock>,
    ) -> Result<StagedLayer, BuildError> {
        let workdir = step
            .workdir
            .clone()
            .unwrap_or_else(|| request.manifest.train.workdir.clone());
        let inputs = Inputs::walk(request.project, &step.inputs)?;
        let mut parts: Vec<String> = below
            .iter()
            .map(|(_, layer)| format!("layer {}", layer.diff_id.digest()))
            .collect();
        parts.push(format!("command {}", step.command));
        parts.extend(
            step.env
                .iter()
                .map(|(name, value)| format!("env {name}={value}")),
        );
        parts.push(format!("workdir {workdir}"));
        parts.push(format!("network {}", step.network.as_str()));
        parts.push(format!("inputs {}", inputs.sha256));
        let key = cache::key("mlpack-build-step-v1", &parts);
        let description = format!("build step run[{index}]: {}", step.command);
        self.cached_or_made(&key, description.clone(), || {
            let context = self.step_context(request.project, &workdir, &inputs)?;
            let mut layers: Vec<Layer> = below.iter().map(|(_, layer)| layer.clone()).collect();
            layers.push(context);
            let mut env = vec!["PYTHONDONTWRITEBYTECODE=1".to_string()];
            env.extend(
                step.env
                    .iter()
                    .map(|(name, value)| format!("{name}={value}")),
            );
            let mut mounts = Vec::new();
            for target in &step.cache {
                let dir = self.build_cache_dir(target)?;
                mounts.push(format!("{}:{target}", dir.display()));
            }
            let command = ContainerCommand {
                key: &key,
                layers,
                arch: settings.arch,
                image_env: settings.env.to_vec(),
                env,
                workdir: &workdir,
                user: None,
                network: step.network.as_str(),
                mounts,
                argv: vec![
                    "/bin/sh".to_string(),
                    "-c".to_string(),
                    step.command.clone(),
                ],
                keep_owners: false,
                kept_mount_points: Vec::new(),
            };
            self.run_for_layer(&command, &description, store_lock)?
                .map_err(|failed| {
                    BuildError::Step(Box::new(StepFailure {
                        index,
                        command: step.command.clone(),
                        status: failed.status,
                        tail: failed.tail,
                        log: failed.log,
                    }))
                })
        })
    }

    /// Run `command` in a container of its layers and make its changes a layer; `Ok(Err)`
    /// when the command failed. `store_lock` is released while the container runs.
    pub(super) fn run_for_layer(
        &self,
        command: &ContainerCommand<'_>,
        description: &str,
        store_lock: &mut Option<StoreLock>,
    ) -> Result<Result<Layer, ContainerFailure>, BuildError> {
        let config = ContainerConfig {
            purpose: "step",
            key: command.key,
            env: command.image_env.clone(),
            working_dir: command.workdir,
        };
        let image = self.container_image(command.layers.clone(), command.arch, &config)?;
        self.reporter.phase(description, "running");
        drop(store_lock.take());
        let ran = self.run_step(command, &image);
        *store_lock = Some(self.store.lock()?);
        let layer = ran.and_then(|ran| self.step_layer(command, &ran));
        self.store.untag(&image)?;
        layer
    }

    /// The layer that gives a step its workdir and inputs (see the module's rule 2).
    fn step_context(
        &self,
        project: &Path,
        workdir: &str,
        inputs: &Inputs,
    ) -> Result<Layer, BuildError> {
        let key = cache::key(
            "mlpack-step-context-v1",
            &[workdir.to_string(), inputs.sha256.clone()],
        );
        let (_, layer) = self.cached_layer(&key, "build step context".to_string(), |dir| {
            inputs.stage(project, &dir.join(workdir.trim_start_matches('/')))
        })?;
        Ok(layer)
    }

    /// Run a command in a container of `image`, its output in a log; the container is kept
    /// for [`Builder::step_layer`].
    fn run_step(&self, run: &ContainerCommand<'_>, image: &str) -> Result<StepRun, BuildError> {
        let logs = self.cache_dir.join(STEP_LOGS_DIR);
        fs_err::create_dir_all(&logs).map_err(|source| BuildError::io("write", &logs, source))?;
        let log = logs.join(format!("{}.log", &run.key[..16]));
        let log_file =
            fs_err::File::create(&log).map_err(|source| BuildError::io("write", &log, source))?;
        let log_copy = log_file
            .try_clone()
            .map_err(|source| BuildError::io("write", &log, source))?;
        let name = format!("mlpack-step-{}-{}", &run.key[..12], std::process::id());
        let mut command = mlpack_run(self.store)?;
        command
            .args(["--name", &name, "--network", run.network])
            .args(["-w", run.workdir]);
        if let Some(user) = run.user {
            command.args(["-u", user]);
        }
        for variable in &run.env {
            command.arg("-e").arg(variable);
        }
        for mount in &run.mounts {
            command.arg("-v").arg(mount);
        }
        let status = command
            .arg(image)
            .args(&run.argv)
            .stdin(Stdio::null())
            .stdout(log_file.into_parts().0)
            .stderr(log_copy.into_parts().0)
            .status()
            .map_err(|source| BuildError::io("run", &log, source))?;
        Ok(StepRun { name, status, log })
    }

    /// The finished command's changes as a layer (or its failure), its container removed
    /// whatever happened.
    fn step_layer(
        &self,
        run: &ContainerCommand<'_>,
        ran: &StepRun,
    ) -> Result<Result<Layer, ContainerFailure>, BuildError> {
        let containers = Containers::open(self.store)?;
        let found = containers.find(&ran.name);
        let layer = match &found {
            Ok(container) if ran.status.success() => {
                let upper = container.upper_dir();
                let exclude = &run.left_out(&container.state.created_paths);
                Ok(if run.keep_owners {
                    self.writer
                        .write_keeping_owners(self.store, &upper, true, exclude)?
                } else {
                    self.writer
                        .write_overlay_upper(self.store, &upper, exclude)?
                })
            }
            _ => Err(ContainerFailure {
                status: ran.status.code().map_or_else(
                    || "a signal".to_string(),
                    |code| format!("exit status {code}"),
                ),
                tail: super::sdist::log_tail(&ran.log),
                log: ran.log.clone(),
            }),
        };
        if let Ok(mut container) = found {
            runtime::remove(&containers, &mut container, true)?;
        }
        Ok(layer)
    }

    /// The host directory a step's `cache` target is kept in: one per target path, shared by
    /// every build on this machine, as `BuildKit`'s cache mounts are by default.
    pub(super) fn build_cache_dir(&self, target: &str) -> Result<PathBuf, BuildError> {
        let dir = self
            .cache_dir
            .join(CACHE_MOUNTS_DIR)
            .join(&cache::key("mlpack-build-cache-v1", &[target.to_string()])[..32]);
        fs_err::create_dir_all(&dir).map_err(|source| BuildError::io("write", &dir, source))?;
        Ok(dir)
    }
}
