//! What `compose` commands report as they go, for the CLI to word.

use super::project::Condition;

#[derive(Debug, Clone, Copy)]
pub enum ComposeEvent<'a> {
    Building {
        services: &'a [&'a str],
    },
    Pulling {
        services: &'a [&'a str],
    },
    NetworkCreated {
        name: &'a str,
    },
    VolumeCreated {
        name: &'a str,
    },
    Created {
        container: &'a str,
    },
    Started {
        container: &'a str,
    },
    /// Left running: unchanged since `up` started it.
    Running {
        container: &'a str,
    },
    Waiting {
        service: &'a str,
        condition: Condition,
    },
    Ready {
        service: &'a str,
        condition: Condition,
    },
    /// The last lines a failed service wrote.
    Logs {
        service: &'a str,
        text: &'a str,
    },
    Stopped {
        container: &'a str,
    },
    Removed {
        container: &'a str,
    },
    NetworkRemoved {
        name: &'a str,
    },
    VolumeRemoved {
        name: &'a str,
    },
}
