//! The project's logs: each line of each container's log with its service's name, as
//! `compose logs` prints them, following new lines until every container has stopped.

use std::time::Duration;

use super::error::ComposeError;
use super::project::{ComposeProject, SERVICE_LABEL};
use crate::runtime::{Container, Containers, LogEntry, LogReader};

/// The last `lines` lines `container` wrote, stdout and stderr together.
pub(super) fn tail(container: &Container, lines: usize) -> String {
    let entries = LogReader::open(&container.log_path())
        .and_then(|mut reader| reader.read_new())
        .unwrap_or_default();
    let skip = entries.len().saturating_sub(lines);
    entries[skip..]
        .iter()
        .map(|entry| entry.log.as_str())
        .collect()
}

/// Hand each log line of the project's containers (of `services`, all when empty) to
/// `sink` with its service's name; with `follow`, keep on until all have stopped.
pub fn logs(
    project: &ComposeProject,
    containers: &Containers,
    services: &[String],
    follow: bool,
    sink: &mut dyn FnMut(&str, &LogEntry),
) -> Result<(), ComposeError> {
    let mut followed: Vec<(Container, LogReader)> = Vec::new();
    for container in super::down::project_containers(project, containers)? {
        let service = container
            .config
            .labels
            .get(SERVICE_LABEL)
            .cloned()
            .unwrap_or_default();
        if !services.is_empty() && !services.contains(&service) {
            continue;
        }
        let reader = LogReader::open(&container.log_path())
            .map_err(|source| crate::error::IoError::new("read", container.log_path(), source))?;
        followed.push((container, reader));
    }
    loop {
        let mut any_running = false;
        for (container, reader) in &mut followed {
            let running = container.is_running();
            let service = container
                .config
                .labels
                .get(SERVICE_LABEL)
                .map_or("", String::as_str);
            let entries = reader.read_new().map_err(|source| {
                crate::error::IoError::new("read", container.log_path(), source)
            })?;
            for entry in &entries {
                sink(service, entry);
            }
            if running {
                any_running = true;
                let _ = container.reload();
            }
        }
        if !follow || !any_running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
