//! A training run's sidecars: services of the project's compose file (`TensorBoard` reading the
//! run's outputs, an `MLflow` server) that `mlpack train` starts before the job and removes
//! when it ends, as `[train] services` names them.
//!
//! They run as the compose project `<name>-train`, through a child `mlpack compose`: like the
//! job itself, containers are started from a process that never had the build's threads.
//! The child gets `MLPACK_RUN_ID` and `MLPACK_RUN_DIR` (the run's outputs directory on the
//! host), which the compose file can use (`${MLPACK_RUN_DIR}:/logs:ro`). The names and the
//! file are checked before anything is built.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::TrainError;
use crate::compose::ComposeProject;
use crate::project::Project;

/// The variables the compose file gets: the run's id and its outputs directory on the host.
const RUN_ID: &str = "MLPACK_RUN_ID";
const RUN_DIR: &str = "MLPACK_RUN_DIR";

/// The services to start, checked against the compose file.
#[derive(Debug)]
pub(crate) struct SidecarPlan {
    /// This `mlpack`, which runs the child `mlpack compose`.
    exe: PathBuf,
    file: PathBuf,
    project_name: String,
    services: Vec<String>,
}

impl SidecarPlan {
    /// `None` when `[train] services` is empty.
    pub(crate) fn check(project: &Project) -> Result<Option<Self>, TrainError> {
        let train = &project.manifest().train;
        if train.services.is_empty() {
            return Ok(None);
        }
        let project_name = format!("{}-train", project.name());
        let outputs = std::path::absolute(project.outputs_dir()).unwrap_or(project.outputs_dir());
        let run_variables = [
            (RUN_ID, "check".to_string()),
            (RUN_DIR, outputs.join("check").display().to_string()),
        ];
        let compose = ComposeProject::load_with(
            &project.dir,
            train.compose_file.as_deref(),
            Some(&project_name),
            &run_variables,
        )
        .map_err(|source| TrainError::Sidecars(Box::new(source)))?;
        compose
            .selected(&train.services)
            .map_err(|source| TrainError::Sidecars(Box::new(source)))?;
        Ok(Some(Self {
            exe: std::env::current_exe().map_err(TrainError::CurrentExe)?,
            file: compose.file.clone(),
            project_name,
            services: train.services.clone(),
        }))
    }

    /// Start the services (and their dependencies), waiting until those with a healthcheck
    /// are healthy. Their output goes to this process's stderr.
    pub(crate) fn start(&self, run_id: &str, run_dir: &Path) -> Result<Sidecars<'_>, TrainError> {
        let mut up = self.compose(run_id, run_dir);
        up.args(["up", "-d", "--wait"]).args(&self.services);
        let sidecars = Sidecars {
            plan: self,
            run_id: run_id.to_string(),
            run_dir: run_dir.to_path_buf(),
        };
        let status = up.status().map_err(TrainError::Spawn)?;
        if !status.success() {
            // `sidecars` is dropped here: what did start is removed.
            return Err(TrainError::SidecarsFailed {
                services: self.services.join(", "),
                project: self.project_name.clone(),
            });
        }
        Ok(sidecars)
    }

    fn compose(&self, run_id: &str, run_dir: &Path) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .arg("compose")
            .arg("-f")
            .arg(&self.file)
            .args(["-p", &self.project_name])
            .env(RUN_ID, run_id)
            .env(
                RUN_DIR,
                std::path::absolute(run_dir).unwrap_or_else(|_| run_dir.to_path_buf()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        command
    }
}

/// Running sidecars: removed (containers and the project network; named volumes are kept,
/// as `compose down` keeps them) when dropped, however the job ended.
#[derive(Debug)]
pub(crate) struct Sidecars<'a> {
    plan: &'a SidecarPlan,
    run_id: String,
    run_dir: PathBuf,
}

impl Drop for Sidecars<'_> {
    fn drop(&mut self) {
        let mut down = self.plan.compose(&self.run_id, &self.run_dir);
        // Nothing to report to: the run's result is what matters, and `compose down` says
        // itself what it could not remove.
        let _ = down.arg("down").status();
    }
}
