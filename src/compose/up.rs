//! `compose up` and `compose run`: the project's networks and volumes first, then each
//! service in dependency order, each waiting for its dependencies' conditions, created and
//! started detached (its supervisor restarts it as `restart:` says). A running container
//! whose service is unchanged is left running; a changed or stopped one is made again. A
//! dependency that exits, fails or turns unhealthy stops `up`, and its log is reported.
//!
//! Builds run in a child `mlpack compose build`, so that this process, which forks the
//! containers' supervisors, never had the build's threads.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use super::error::ComposeError;
use super::events::ComposeEvent;
use super::health::wait_healthy;
use super::project::{ComposeProject, Condition, Service};
use crate::runtime::network::{self, Attachment, NetworkError, NetworkRequest};
use crate::runtime::volume::{self, VolumeError};
use crate::runtime::{self, Container, Containers, RunRequest, Status};

/// The label holding a digest of the service's definition, to see whether it changed.
const CONFIG_HASH_LABEL: &str = "com.docker.compose.config-hash";
/// The label set on `compose run`'s one-off containers.
const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

/// What `up` was asked.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// These services and their dependencies; all when empty.
    pub services: Vec<String>,
    /// Build images even when they exist.
    pub build: bool,
    /// Return only once every service with a healthcheck is healthy (`up --wait`).
    pub wait: bool,
}

/// Start the project's services; their containers, in start order.
pub fn up(
    project: &ComposeProject,
    containers: &Containers,
    options: &UpOptions,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<Vec<Container>, ComposeError> {
    let services = project.selected(&options.services)?;
    build_missing(project, containers, &services, options.build, events)?;
    pull_missing(project, containers, &services, events)?;
    ensure_networks(project, containers, &services, events)?;
    ensure_volumes(project, containers, &services, events)?;
    let mut satisfied = BTreeSet::new();
    let mut started = Vec::new();
    for service in services {
        wait_for_dependencies(project, containers, service, &mut satisfied, events)?;
        started.push(start_service(project, containers, service, events)?);
    }
    if options.wait {
        wait_all_healthy(
            project,
            containers,
            &options.services,
            &mut satisfied,
            events,
        )?;
    }
    Ok(started)
}

/// `up --wait`: every selected service with a healthcheck healthy.
fn wait_all_healthy(
    project: &ComposeProject,
    containers: &Containers,
    services: &[String],
    satisfied: &mut BTreeSet<(String, Condition)>,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    let condition = Condition::ServiceHealthy;
    for service in project.selected(services)? {
        let Some(check) = &service.healthcheck else {
            continue;
        };
        if !satisfied.insert((service.name.clone(), condition)) {
            continue;
        }
        events(ComposeEvent::Waiting {
            service: &service.name,
            condition,
        });
        if let Err(error) = wait_healthy(containers, &service.container_name, &service.name, check)
        {
            report_logs(containers, service, events);
            return Err(error);
        }
        events(ComposeEvent::Ready {
            service: &service.name,
            condition,
        });
    }
    Ok(())
}

/// `compose run SERVICE COMMAND`: its dependencies up, then a one-off container of the
/// service with `command` (the service's own when empty), attached; its exit status.
pub fn run_one_off(
    project: &ComposeProject,
    containers: &Containers,
    service: &str,
    command: Vec<String>,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<i32, ComposeError> {
    let service = project.service(service)?;
    let dependencies: Vec<String> = service.depends_on.keys().cloned().collect();
    if !dependencies.is_empty() {
        up(
            project,
            containers,
            &UpOptions {
                services: dependencies,
                ..UpOptions::default()
            },
            events,
        )?;
    }
    let single = [service];
    build_missing(project, containers, &single, false, events)?;
    ensure_networks(project, containers, &single, events)?;
    ensure_volumes(project, containers, &single, events)?;
    let mut satisfied = BTreeSet::new();
    wait_for_dependencies(project, containers, service, &mut satisfied, events)?;
    let suffix = &crate::runtime::ContainerId::generate()?.to_string()[..6];
    let mut request = run_request(project, service);
    request.name = Some(format!("{}-{}-run-{suffix}", project.name, service.name));
    request
        .labels
        .insert(ONEOFF_LABEL.to_string(), "True".to_string());
    request.ports.clear();
    request.restart = runtime::RestartPolicy::No;
    request.auto_remove = true;
    request.interactive = true;
    if !command.is_empty() {
        request.command = command;
        if request.entrypoint.as_deref() == Some("") {
            request.entrypoint = None;
        }
    }
    let mut container = runtime::create(containers, request)?;
    Ok(runtime::run(
        containers,
        &mut container,
        runtime::Attach::Foreground,
    )?)
}

/// Build the images of services with `build` that have none yet (all of them with `always`).
/// Pull the images the store lacks of the services that build none, as Compose's default
/// `pull_policy: missing` does: in a child `mlpack compose pull`, like the builds.
fn pull_missing(
    project: &ComposeProject,
    containers: &Containers,
    services: &[&Service],
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    let store = containers.store();
    let wanted: Vec<&str> = services
        .iter()
        .filter(|service| super::pull::pulls(service) && store.resolve(&service.image).is_err())
        .map(|service| service.name.as_str())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    events(ComposeEvent::Pulling { services: &wanted });
    let status = child_compose(project, store, "pull", &wanted)?;
    if status.success() {
        Ok(())
    } else {
        Err(ComposeError::PullFailed {
            services: quoted(&wanted),
        })
    }
}

/// `mlpack compose -f FILE -p NAME COMMAND SERVICES…` in a child process on the same store.
fn child_compose(
    project: &ComposeProject,
    store: &crate::oci::Store,
    command: &str,
    services: &[&str],
) -> Result<std::process::ExitStatus, ComposeError> {
    let exe = std::env::current_exe().map_err(ComposeError::CurrentExe)?;
    Command::new(exe)
        .arg("compose")
        .arg("-f")
        .arg(&project.file)
        .args(["-p", &project.name, command])
        .args(services)
        .env(crate::oci::MLPACK_HOME, store.root())
        .status()
        .map_err(ComposeError::CurrentExe)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn build_missing(
    project: &ComposeProject,
    containers: &Containers,
    services: &[&Service],
    always: bool,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    let store = containers.store();
    let wanted: Vec<&str> = services
        .iter()
        .filter(|service| {
            service.build.is_some() && (always || store.resolve(&service.image).is_err())
        })
        .map(|service| service.name.as_str())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    events(ComposeEvent::Building { services: &wanted });
    let status = child_compose(project, store, "build", &wanted)?;
    if status.success() {
        Ok(())
    } else {
        Err(ComposeError::BuildFailed {
            services: quoted(&wanted),
        })
    }
}

/// The project networks the services join, created when missing.
fn ensure_networks(
    project: &ComposeProject,
    containers: &Containers,
    services: &[&Service],
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    let keys: BTreeSet<&String> = services.iter().flat_map(|s| s.networks.keys()).collect();
    for key in keys {
        let wanted = &project.networks[key];
        match network::find_network(containers.store(), &wanted.name) {
            Ok(found) if found.name == wanted.name => continue,
            Ok(_) | Err(NetworkError::NotFound { .. }) if !wanted.external => {}
            Ok(_) | Err(NetworkError::NotFound { .. }) => {
                return Err(NetworkError::NotFound {
                    name: wanted.name.clone(),
                }
                .into());
            }
            Err(error) => return Err(error.into()),
        }
        network::create_network(
            containers.store(),
            &NetworkRequest {
                name: wanted.name.clone(),
                subnet: None,
                egress: wanted.egress,
            },
        )?;
        events(ComposeEvent::NetworkCreated { name: &wanted.name });
    }
    Ok(())
}

/// The project volumes the services mount, created when missing (external ones must exist).
fn ensure_volumes(
    project: &ComposeProject,
    containers: &Containers,
    services: &[&Service],
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    let names: BTreeSet<&str> = services
        .iter()
        .flat_map(|service| &service.volumes)
        .filter_map(|mount| mount.volume.as_deref())
        .collect();
    for declared in project.volumes.values() {
        if !names.contains(declared.name.as_str()) {
            continue;
        }
        match volume::find_volume(containers.store(), &declared.name) {
            Ok(_) => continue,
            Err(VolumeError::NotFound { .. }) if !declared.external => {}
            Err(error) => return Err(error.into()),
        }
        let mut labels = declared.labels.clone();
        labels.insert(
            super::project::PROJECT_LABEL.to_string(),
            project.name.clone(),
        );
        volume::create_volume(containers.store(), &declared.name, &labels)?;
        events(ComposeEvent::VolumeCreated {
            name: &declared.name,
        });
    }
    Ok(())
}

/// Wait until each dependency of `service` meets its condition (each once per `up`).
fn wait_for_dependencies(
    project: &ComposeProject,
    containers: &Containers,
    service: &Service,
    satisfied: &mut BTreeSet<(String, Condition)>,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    for (name, condition) in &service.depends_on {
        if *condition == Condition::ServiceStarted || !satisfied.insert((name.clone(), *condition))
        {
            continue;
        }
        let dependency = project.service(name)?;
        events(ComposeEvent::Waiting {
            service: name,
            condition: *condition,
        });
        let result = match condition {
            Condition::ServiceHealthy => match &dependency.healthcheck {
                Some(check) => wait_healthy(containers, &dependency.container_name, name, check),
                None => Err(ComposeError::Invalid {
                    file: project.file.clone(),
                    message: format!(
                        "service `{}` waits for `{name}` to be healthy, which has no healthcheck",
                        service.name
                    ),
                }),
            },
            Condition::ServiceCompletedSuccessfully => {
                wait_completed(containers, &dependency.container_name, name)
            }
            Condition::ServiceStarted => Ok(()),
        };
        if let Err(error) = result {
            report_logs(containers, dependency, events);
            return Err(error);
        }
        events(ComposeEvent::Ready {
            service: name,
            condition: *condition,
        });
    }
    Ok(())
}

fn wait_completed(
    containers: &Containers,
    container: &str,
    service: &str,
) -> Result<(), ComposeError> {
    loop {
        let current = containers.find(container)?;
        if current.status() == Status::Exited {
            return match current.state.exit_code {
                Some(0) => Ok(()),
                code => Err(ComposeError::Failed {
                    service: service.to_string(),
                    code: code.unwrap_or(-1),
                }),
            };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last lines a failed service wrote, as an event.
fn report_logs(
    containers: &Containers,
    service: &Service,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) {
    if let Ok(container) = containers.find(&service.container_name) {
        events(ComposeEvent::Logs {
            service: &service.name,
            text: &super::logs::tail(&container, 50),
        });
    }
}

/// Create and start the service's container, or leave an unchanged running one.
fn start_service(
    project: &ComposeProject,
    containers: &Containers,
    service: &Service,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<Container, ComposeError> {
    let request = run_request(project, service);
    if let Ok(mut existing) = containers.find(&service.container_name) {
        let unchanged =
            existing.config.labels.get(CONFIG_HASH_LABEL) == request.labels.get(CONFIG_HASH_LABEL);
        if unchanged && existing.is_running() {
            events(ComposeEvent::Running {
                container: &service.container_name,
            });
            return Ok(existing);
        }
        runtime::remove(containers, &mut existing, true)?;
    }
    for mount in service
        .volumes
        .iter()
        .filter(|mount| mount.volume.is_none())
    {
        // Compose makes a missing bind source (`create_host_path`, on by default).
        fs_err::create_dir_all(&mount.source)
            .map_err(|source| crate::error::IoError::new("create", &mount.source, source))?;
    }
    let mut container = runtime::create(containers, request)?;
    events(ComposeEvent::Created {
        container: &service.container_name,
    });
    if let Err(error) = runtime::run_detached(containers, &mut container) {
        report_logs(containers, service, events);
        return Err(error.into());
    }
    events(ComposeEvent::Started {
        container: &service.container_name,
    });
    Ok(container)
}

/// The service as `mlpack run` flags.
fn run_request(project: &ComposeProject, service: &Service) -> RunRequest {
    let (entrypoint, command) = match (&service.entrypoint, &service.command) {
        (None, command) => (None, command.clone().unwrap_or_default()),
        (Some(entrypoint), command) => match entrypoint.split_first() {
            None => (Some(String::new()), command.clone().unwrap_or_default()),
            Some((program, arguments)) => (
                Some(program.clone()),
                arguments
                    .iter()
                    .chain(command.iter().flatten())
                    .cloned()
                    .collect(),
            ),
        },
    };
    let networks = service
        .networks
        .iter()
        .map(|(key, options)| Attachment {
            network: project.networks[key].name.clone(),
            aliases: std::iter::once(service.name.clone())
                .chain(options.aliases.iter().cloned())
                .collect(),
            ip: options.ipv4_address,
        })
        .collect();
    let mut labels: BTreeMap<String, String> = service.labels.clone();
    let definition = serde_json::to_vec(service).unwrap_or_default();
    labels.insert(
        CONFIG_HASH_LABEL.to_string(),
        crate::sha256::sha256_hex(&definition),
    );
    RunRequest {
        image: service.image.clone(),
        command,
        entrypoint,
        name: Some(service.container_name.clone()),
        env: service.environment.clone(),
        workdir: service.working_dir.clone(),
        user: service.user.clone(),
        mounts: service.volumes.clone(),
        network: service.network_mode,
        networks,
        ports: service.ports.clone(),
        hostname: service.hostname.clone(),
        shm_size: service.shm_size,
        restart: service.restart,
        labels,
        gpus: service.gpus.clone(),
        ..RunRequest::default()
    }
}
