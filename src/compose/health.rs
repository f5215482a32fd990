//! Healthchecks: `test` run in the service's container by `mlpack exec` (a child process,
//! because joining a container's namespaces cannot be undone) every `interval`, failing after
//! `timeout`; the container is healthy at the first success and unhealthy after `retries`
//! failures in a row, not counting those within `start_period`. `compose up` runs them while
//! a dependent waits for `condition: service_healthy`, probing at once and then every
//! `start_interval` within the start period, every `interval` after it; nothing probes
//! once `up` has returned.
//!
//! Spec: <https://github.com/compose-spec/compose-spec/blob/main/05-services.md#healthcheck>;
//! defaults and durations as Docker's (`30s`, `30s`, `3`, `0s`, `5s`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use super::error::ComposeError;
use crate::runtime::{Containers, Status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// The command to run in the container (`CMD-SHELL` as `/bin/sh -c`).
    pub test: Vec<String>,
    #[serde(serialize_with = "as_text")]
    pub interval: Duration,
    #[serde(serialize_with = "as_text")]
    pub timeout: Duration,
    pub retries: u32,
    #[serde(serialize_with = "as_text")]
    pub start_period: Duration,
    #[serde(serialize_with = "as_text")]
    pub start_interval: Duration,
}

impl Healthcheck {
    /// Docker's defaults for what the file leaves out.
    pub(super) fn new(test: Vec<String>) -> Self {
        Self {
            test,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
        }
    }
}

fn as_text<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*duration))
}

/// `1m30s`, `500ms`: Go's `time.ParseDuration`, as Compose reads durations (a sequence of
/// decimal numbers, each with a unit `ns`, `us`, `ms`, `s`, `m` or `h`).
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("`{text}` is not a duration (like `10s`, `1m30s` or `500ms`)");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| invalid())?;
        let unit_end = rest[number_end..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .map_or(rest.len(), |end| number_end + end);
        let seconds = match &rest[number_end..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

fn format_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// Probe `container` until it is healthy; an error when it is unhealthy or exits first.
pub(super) fn wait_healthy(
    containers: &Containers,
    container: &str,
    service: &str,
    check: &Healthcheck,
) -> Result<(), ComposeError> {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        let current = containers.find(container)?;
        if current.status() != Status::Running {
            return Err(ComposeError::Exited {
                service: service.to_string(),
                code: current.state.exit_code,
            });
        }
        let probed = Instant::now();
        let (healthy, output) = probe(containers.store().root(), container, check)?;
        if healthy {
            return Ok(());
        }
        let starting = started.elapsed() < check.start_period;
        if !starting {
            failures += 1;
        }
        if failures >= check.retries.max(1) {
            return Err(ComposeError::Unhealthy {
                service: service.to_string(),
                output: output.trim().to_string(),
            });
        }
        let every = if starting {
            check.start_interval
        } else {
            check.interval
        };
        std::thread::sleep(every.saturating_sub(probed.elapsed()));
    }
}

/// Run the test once: whether it exited 0 within the timeout, and what it printed.
fn probe(
    store: &Path,
    container: &str,
    check: &Healthcheck,
) -> Result<(bool, String), ComposeError> {
    let exe = std::env::current_exe().map_err(ComposeError::CurrentExe)?;
    let mut child = Command::new(exe)
        .arg("exec")
        .arg(container)
        .args(&check.test)
        .env(crate::oci::MLPACK_HOME, store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ComposeError::CurrentExe)?;
    let deadline = Instant::now() + check.timeout;
    loop {
        if let Some(status) = child.try_wait().map_err(ComposeError::CurrentExe)? {
            let output = child.wait_with_output().map_err(ComposeError::CurrentExe)?;
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            return Ok((status.success(), text));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok((
                false,
                format!("timed out after {}", format_duration(check.timeout)),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        insta::assert_snapshot!(parse_duration("10").unwrap_err(), @"`10` is not a duration (like `10s`, `1m30s` or `500ms`)");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
