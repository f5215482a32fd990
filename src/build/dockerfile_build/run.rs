//! `RUN`: a command in mlpack's runtime over the stage's layers, its changes one layer
//! (through [`Builder::run_for_layer`], the path `[build] run` steps take), keyed by the
//! stage's cache key and the command with what it sees.
//!
//! As `BuildKit`: the image's `Env`, `WorkingDir` and `User` apply; `ARG`s reach it as
//! environment variables; `--mount=type=cache,target=DIR[,id=ID]` binds a directory kept
//! between builds (one per id, the target by default); `--network=default|host|none`
//! (default is the host's network, as `docker build --network host`).

use crate::dockerfile::{CommandLine, Flag, Instruction, Located, RunInstruction};

use super::super::BuildError;
use super::super::steps::ContainerCommand;
use super::error::located;
use super::state::StageState;
use super::{DockerfileBuildError, Executor};

/// What `RUN`'s flags ask for.
struct RunFlags {
    network: &'static str,
    /// `(id, target)` of each cache mount.
    caches: Vec<(String, String)>,
}

impl Executor<'_, '_> {
    pub(super) fn run(
        &mut self,
        state: &mut StageState,
        instruction: &Located<Instruction>,
        run: &RunInstruction,
    ) -> Result<(), BuildError> {
        let flags = self.run_flags(state, instruction, &run.flags)?;
        let argv = match (&run.heredoc, &run.command) {
            (Some(script), _) if script.starts_with("#!") => {
                return Err(self.unsupported(instruction, "a `RUN` heredoc with a `#!` line"));
            }
            (Some(script), _) => shell_argv(&state.config.shell, script),
            (None, CommandLine::Exec(args)) => args.clone(),
            (None, CommandLine::Shell(text)) => shell_argv(&state.config.shell, text),
        };
        let env = state.run_args();
        let mut parts = vec!["run".to_string()];
        parts.extend(argv.iter().map(|arg| format!("arg {arg}")));
        parts.extend(env.iter().map(|entry| format!("env {entry}")));
        parts.push(format!("network {}", flags.network));
        parts.extend(
            flags
                .caches
                .iter()
                .map(|(id, target)| format!("cache {id} {target}")),
        );
        state.advance(&parts);
        // The predefined proxy args reach `RUN` without an `ARG`, and, as in Docker, stay out
        // of the cache key.
        let mut env = env;
        env.extend(
            self.request
                .build_args
                .iter()
                .filter(|(name, _)| {
                    super::PROXY_ARGS.contains(&name.as_str()) && !state.args.contains_key(*name)
                })
                .map(|(name, value)| format!("{name}={value}")),
        );
        let key = state.key.clone();
        let description = format!("{}: {}", self.location(instruction), instruction.source);
        let below: Vec<_> = state
            .layers
            .iter()
            .map(|(_, layer)| layer.clone())
            .collect();
        let workdir = if state.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            state.config.working_dir.clone()
        };
        let user = state.config.user.clone();
        let mut mounts = Vec::new();
        // A relative target is under the working directory, as in `BuildKit`.
        let caches: Vec<(String, String)> = flags
            .caches
            .iter()
            .map(|(id, target)| (id.clone(), in_workdir(&workdir, target)))
            .collect();
        for (id, target) in &caches {
            let dir = self.builder.build_cache_dir(id)?;
            mounts.push(format!("{}:{target}", dir.display()));
        }
        let command = ContainerCommand {
            key: &key,
            layers: below,
            arch: crate::arch::Arch::host(),
            image_env: state.config.env.clone(),
            env,
            workdir: &workdir,
            user: (!user.is_empty()).then_some(user.as_str()),
            network: flags.network,
            mounts,
            argv: argv.clone(),
            keep_owners: true,
            kept_mount_points: caches.iter().map(|(_, target)| target.clone()).collect(),
        };
        let builder = self.builder;
        let location = self.location(instruction);
        let store_lock = &mut *self.store_lock;
        let layer = builder.cached_or_made(&key, description.clone(), || {
            builder
                .run_for_layer(&command, &description, store_lock)?
                .map_err(|failed| {
                    BuildError::from(DockerfileBuildError::Run {
                        location: location.clone(),
                        instruction: instruction.source.clone(),
                        status: failed.status,
                        tail: failed.tail,
                        log: failed.log,
                    })
                })
        })?;
        state.add_layer(format!("RUN {} # buildkit", argv.join(" ")), layer);
        Ok(())
    }

    fn run_flags(
        &self,
        state: &StageState,
        instruction: &Located<Instruction>,
        flags: &[Flag],
    ) -> Result<RunFlags, BuildError> {
        let mut parsed = RunFlags {
            network: "host",
            caches: Vec::new(),
        };
        for flag in flags {
            let value = flag.value.as_deref().unwrap_or_default();
            match flag.name.as_str() {
                "network" => {
                    parsed.network = match value {
                        "default" | "host" => "host",
                        "none" => "none",
                        other => {
                            return Err(self.at(
                                instruction,
                                format!(
                                    "`--network={other}`: expected `default`, `host` or `none`"
                                ),
                            ));
                        }
                    };
                }
                "mount" => {
                    let value = state
                        .expand(self.file.escape, value)
                        .map_err(|error| self.at(instruction, error.to_string()))?;
                    parsed.caches.push(self.cache_mount(instruction, &value)?);
                }
                "security" => {
                    return Err(self.unsupported(instruction, "`RUN --security`"));
                }
                other => {
                    return Err(self.at(instruction, format!("unknown flag `--{other}`")));
                }
            }
        }
        Ok(parsed)
    }

    /// `type=cache,target=DIR[,id=ID][,sharing=...]` as `(id, target)`.
    fn cache_mount(
        &self,
        instruction: &Located<Instruction>,
        spec: &str,
    ) -> Result<(String, String), BuildError> {
        let mut kind = "bind";
        let mut target = None;
        let mut id = None;
        for field in spec.split(',') {
            let (name, value) = field.split_once('=').unwrap_or((field, ""));
            match name {
                "type" => kind = value,
                "target" | "dst" | "destination" => target = Some(value.to_string()),
                "id" => id = Some(value.to_string()),
                "sharing" | "mode" | "uid" | "gid" | "ro" | "readonly" | "rw" => {}
                other => {
                    return Err(
                        self.at(instruction, format!("`--mount`: unknown option `{other}`"))
                    );
                }
            }
        }
        if kind != "cache" {
            return Err(self.unsupported(instruction, &format!("`RUN --mount=type={kind}`")));
        }
        let target = target.ok_or_else(|| {
            self.at(
                instruction,
                "`--mount=type=cache` needs `target=`".to_string(),
            )
        })?;
        Ok((id.unwrap_or_else(|| target.clone()), target))
    }

    /// `Dockerfile:7`.
    pub(super) fn location<T>(&self, line: &Located<T>) -> String {
        format!("{}:{}", self.name, line.line)
    }

    pub(super) fn unsupported(&self, instruction: &Located<Instruction>, what: &str) -> BuildError {
        located(
            &self.name,
            instruction,
            format!("{what} is not supported by mlpack"),
            vec!["`mlpack build -f` supports `RUN --mount=type=cache`, `--network`, and the instructions the README lists".to_string()],
        )
        .into()
    }
}

/// `target` made absolute against `workdir`.
fn in_workdir(workdir: &str, target: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{target}", workdir.trim_end_matches('/'))
    }
}

/// `SHELL` plus the command.
fn shell_argv(shell: &[String], command: &str) -> Vec<String> {
    let mut argv = shell.to_vec();
    argv.push(command.to_string());
    argv
}
