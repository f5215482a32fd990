//! `compose down`, `ps`, `stop`, `start` and `restart`: the project's containers are those
//! labelled with its name (one-off `run` containers and services since removed from the
//! file included). `down` stops and removes them, then the project's networks, and with
//! `volumes` its named volumes, so nothing of the project is left: no container, veth,
//! bridge, nftables rule, address record or volume.

use std::time::Duration;

use super::error::ComposeError;
use super::events::ComposeEvent;
use super::project::{ComposeProject, PROJECT_LABEL, SERVICE_LABEL};
use crate::runtime::network::{self, NetworkError};
use crate::runtime::volume::{self, VolumeError};
use crate::runtime::{self, Container, Containers};

/// Docker's grace period before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The project's containers, by service name then container name.
pub fn project_containers(
    project: &ComposeProject,
    containers: &Containers,
) -> Result<Vec<Container>, ComposeError> {
    let mut found: Vec<Container> = containers
        .list()?
        .into_iter()
        .filter(|container| container.config.labels.get(PROJECT_LABEL) == Some(&project.name))
        .collect();
    found.sort_by(|a, b| {
        (a.config.labels.get(SERVICE_LABEL), &a.config.name)
            .cmp(&(b.config.labels.get(SERVICE_LABEL), &b.config.name))
    });
    Ok(found)
}

/// The containers of `services` (all when empty).
fn selected(
    project: &ComposeProject,
    containers: &Containers,
    services: &[String],
) -> Result<Vec<Container>, ComposeError> {
    for name in services {
        project.service(name)?;
    }
    Ok(project_containers(project, containers)?
        .into_iter()
        .filter(|container| {
            services.is_empty()
                || container
                    .config
                    .labels
                    .get(SERVICE_LABEL)
                    .is_some_and(|service| services.contains(service))
        })
        .collect())
}

/// Stop and remove the project's containers, its networks and, with `volumes`, its volumes.
pub fn down(
    project: &ComposeProject,
    containers: &Containers,
    volumes: bool,
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    // Dependents first, as Compose stops them.
    for mut container in project_containers(project, containers)?.into_iter().rev() {
        runtime::stop(&mut container, STOP_GRACE)?;
        events(ComposeEvent::Stopped {
            container: &container.config.name,
        });
        runtime::remove(containers, &mut container, true)?;
        events(ComposeEvent::Removed {
            container: &container.config.name,
        });
    }
    for wanted in project
        .networks
        .values()
        .filter(|network| !network.external)
    {
        match network::remove_network(containers.store(), &wanted.name) {
            Ok(_) => events(ComposeEvent::NetworkRemoved { name: &wanted.name }),
            Err(NetworkError::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    if volumes {
        for declared in project.volumes.values().filter(|volume| !volume.external) {
            match volume::remove_volume(containers, &declared.name) {
                Ok(()) => events(ComposeEvent::VolumeRemoved {
                    name: &declared.name,
                }),
                Err(VolumeError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}

/// Stop the containers of `services` (all when empty), dependents first.
pub fn stop(
    project: &ComposeProject,
    containers: &Containers,
    services: &[String],
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    for mut container in selected(project, containers, services)?.into_iter().rev() {
        runtime::stop(&mut container, STOP_GRACE)?;
        events(ComposeEvent::Stopped {
            container: &container.config.name,
        });
    }
    Ok(())
}

/// Start the stopped containers of `services` (all when empty) again, as they were.
pub fn start(
    project: &ComposeProject,
    containers: &Containers,
    services: &[String],
    events: &mut dyn FnMut(ComposeEvent<'_>),
) -> Result<(), ComposeError> {
    let order: Vec<&str> = project
        .start_order()
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    let mut stopped: Vec<Container> = selected(project, containers, services)?
        .into_iter()
        .filter(|container| !container.is_running())
        .collect();
    stopped.sort_by_key(|container| {
        let service = container.config.labels.get(SERVICE_LABEL);
        order
            .iter()
            .position(|name| Some(&(*name).to_string()) == service)
    });
    for mut container in stopped {
        runtime::run_detached(containers, &mut container)?;
        events(ComposeEvent::Started {
            container: &container.config.name,
        });
    }
    Ok(())
}
