//! `mlpack compose`: several containers from a compose file (`compose.yaml`,
//! `docker-compose.yml`), run by mlpack's own runtime. The file is read as the Compose
//! specification says, for the keys mlpack supports (`file`, with variables from `.env` and
//! the environment: `interpolate`), and any other key is an error at its line; `project`
//! checks it as a whole and names everything; `up` creates networks, volumes and containers
//! in dependency order, waiting on conditions and healthchecks (`health`); `down` removes
//! them all; `build` builds the services that are mlpack projects.
//!
//! Spec: <https://github.com/compose-spec/compose-spec/blob/main/spec.md>.

mod build;
mod down;
mod error;
mod events;
mod file;
mod health;
mod interpolate;
mod logs;
mod project;
mod pull;
mod shell_words;
mod up;

pub use self::build::build_services;
pub use self::down::{down, project_containers, start, stop};
pub use self::error::ComposeError;
pub use self::events::ComposeEvent;
pub use self::health::Healthcheck;
pub use self::logs::logs;
pub use self::project::{
    ComposeProject, Condition, FILE_NAMES, PROJECT_LABEL, SERVICE_LABEL, Service,
};
pub use self::pull::pull_services;
pub use self::up::{UpOptions, run_one_off, up};
