//! `mlpack stop`, `kill` and `rm`: signals go to the container's init, which passes them
//! to the command; after the grace period init itself gets SIGKILL, and the kernel then
//! kills everything in the container's PID namespace. The supervisor records the exit.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};

use super::container::{Container, Containers, Status};
use super::error::RuntimeError;

/// How often to look whether the container has gone.
const POLL: Duration = Duration::from_millis(10);

/// SIGTERM, then SIGKILL after `grace`; returns once the exit is recorded. A container that
/// is not running is left as it is, as `docker stop` does.
pub fn stop(container: &mut Container, grace: Duration) -> Result<(), RuntimeError> {
    // Marked even when not running: its supervisor may be waiting to restart it.
    super::restart::mark_stopped(&container.dir);
    if !container.is_running() {
        return Ok(());
    }
    signal(container, Signal::SIGTERM)?;
    if !wait_for_exit(container, grace)? {
        signal(container, Signal::SIGKILL)?;
        wait_for_exit(container, Duration::from_secs(10))?;
    }
    Ok(())
}

/// Send `signal` to the container's init. One that ends it (`TERM`, `INT`, `KILL`) also
/// tells its supervisor not to restart it.
pub fn signal(container: &Container, signal: Signal) -> Result<(), RuntimeError> {
    if matches!(signal, Signal::SIGTERM | Signal::SIGINT | Signal::SIGKILL) {
        super::restart::mark_stopped(&container.dir);
    }
    let Some(init) = container.state.init.as_ref().filter(|init| init.is_alive()) else {
        return Ok(());
    };
    match kill(init.as_pid(), signal) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(error) => Err(RuntimeError::sys(
            format!("send {signal} to container {}", container.config.name),
            error,
        )),
    }
}

/// Wait until the supervisor has recorded the exit (or is gone); false on timeout.
fn wait_for_exit(container: &mut Container, timeout: Duration) -> Result<bool, RuntimeError> {
    let deadline = Instant::now() + timeout;
    loop {
        container.reload()?;
        if container.status() != Status::Running {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}

/// `rm`: delete a stopped container; with `force`, kill a running one first.
pub fn remove(
    containers: &Containers,
    container: &mut Container,
    force: bool,
) -> Result<(), RuntimeError> {
    super::restart::mark_stopped(&container.dir);
    if container.is_running() {
        if !force {
            return Err(RuntimeError::WrongStatus {
                name: container.config.name.clone(),
                status: "running".to_string(),
                action: "rm",
                wanted: "stopped",
            });
        }
        signal(container, Signal::SIGKILL)?;
        wait_for_exit(container, Duration::from_secs(10))?;
    }
    if let Some(cgroup) = &container.state.cgroup {
        let _ = cgroup.remove();
    }
    containers.remove(container)
}
