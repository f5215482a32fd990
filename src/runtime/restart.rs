//! Restart policies (`--restart`, compose's `restart:`): what a detached container's
//! supervisor does when the command exits. A stop or kill by the user (`stop`, `kill`, `rm
//! -f`) leaves a mark in the container's directory that ends the loop, as Docker's "manually
//! stopped" flag does. With no daemon to restart containers after a reboot, `always` and
//! `unless-stopped` behave alike.
//!
//! Docker's policies: <https://docs.docker.com/engine/containers/start-containers-automatically/>.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::RuntimeError;

/// The mark `stop`, `kill` and `rm -f` leave so that the supervisor does not restart.
const STOPPED_MARK: &str = "stopped-by-user";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never (the default).
    #[default]
    No,
    /// After a non-zero exit, at most `max_retries` times when given.
    OnFailure {
        max_retries: Option<u32>,
    },
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// Whether to start the command again after it exited with `code`, `restarts` restarts
    /// so far.
    pub(crate) fn should_restart(self, code: i32, restarts: u32) -> bool {
        match self {
            Self::No => false,
            Self::OnFailure { max_retries } => {
                code != 0 && max_retries.is_none_or(|max| restarts < max)
            }
            Self::Always | Self::UnlessStopped => true,
        }
    }

    /// Docker's back-off: 100 ms, doubled each time, at most a minute.
    pub(crate) fn delay(restarts: u32) -> Duration {
        Duration::from_millis(100u64.saturating_mul(1 << restarts.min(10)))
            .min(Duration::from_mins(1))
    }
}

impl FromStr for RestartPolicy {
    type Err = RuntimeError;

    /// `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            RuntimeError::invalid(
                "restart policy",
                spec,
                "use `no`, `on-failure`, `on-failure:N`, `always` or `unless-stopped`",
            )
        };
        match spec.split_once(':') {
            None => match spec {
                "no" => Ok(Self::No),
                "on-failure" => Ok(Self::OnFailure { max_retries: None }),
                "always" => Ok(Self::Always),
                "unless-stopped" => Ok(Self::UnlessStopped),
                _ => Err(invalid()),
            },
            Some(("on-failure", count)) => Ok(Self::OnFailure {
                max_retries: Some(count.parse().map_err(|_| invalid())?),
            }),
            Some(_) => Err(invalid()),
        }
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::No => f.write_str("no"),
            Self::OnFailure { max_retries: None } => f.write_str("on-failure"),
            Self::OnFailure {
                max_retries: Some(max),
            } => write!(f, "on-failure:{max}"),
            Self::Always => f.write_str("always"),
            Self::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

/// Mark the container in `dir` as stopped by the user.
pub(crate) fn mark_stopped(dir: &Path) {
    // Best effort: a container without the mark is at worst restarted once more.
    let _ = fs_err::write(dir.join(STOPPED_MARK), "");
}

/// Whether the user stopped it; the mark is cleared with it, for the next start.
pub(crate) fn take_stopped(dir: &Path) -> bool {
    fs_err::remove_file(dir.join(STOPPED_MARK)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let on_failure: RestartPolicy = "on-failure:2".parse().unwrap();
        assert!(on_failure.should_restart(1, 1));
        assert!(!on_failure.should_restart(1, 2));
        assert!(!on_failure.should_restart(0, 0));
        assert!(!RestartPolicy::No.should_restart(1, 0));
        assert!(RestartPolicy::Always.should_restart(0, 100));
        assert_eq!(on_failure.to_string(), "on-failure:2");
        insta::assert_snapshot!("sometimes".parse::<RestartPolicy>().unwrap_err(), @"invalid restart policy `sometimes`: use `no`, `on-failure`, `on-failure:N`, `always` or `unless-stopped`");
    }
}
