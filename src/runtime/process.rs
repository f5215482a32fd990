//! Processes as the runtime sees them: creating a child in new namespaces, telling a live
//! process from a recycled PID, and turning wait statuses into exit codes the way a shell
//! does (`128 + signal`).

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::error::RuntimeError;

/// A process pinned by its start time and the boot it ran in, so a PID reused after the
/// process died (or after a reboot) is not mistaken for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot.
    pub start_time: u64,
    pub boot_id: String,
}

impl ProcessId {
    pub fn of(pid: i32) -> Option<Self> {
        Some(Self {
            pid,
            start_time: start_time(pid)?,
            boot_id: boot_id()?,
        })
    }

    pub fn is_alive(&self) -> bool {
        boot_id().as_deref() == Some(self.boot_id.as_str())
            && start_time(self.pid) == Some(self.start_time)
    }

    pub fn as_pid(&self) -> Pid {
        Pid::from_raw(self.pid)
    }
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields start after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let state = rest.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> Option<String> {
    fs_err::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
}

/// What `fork` returned in each process.
pub(crate) enum Forked {
    Parent(Pid),
    Child,
}

/// `clone(2)` like `fork`, with namespace flags: the child runs on a copy of the caller's
/// stack. nix's `clone` wants a separate stack for a callback; this keeps the child's code
/// ordinary straight-line Rust.
///
/// The caller must have no other threads: the child gets a copy of only the calling thread,
/// and locks other threads held (the allocator's among them) would stay locked in it.
pub(crate) fn clone_process(flags: CloneFlags) -> Result<Forked, RuntimeError> {
    let flags = u64::try_from(flags.bits()).unwrap_or_default() | libc::SIGCHLD as u64;
    // SAFETY: with a null stack pointer clone(2) behaves as fork(2) plus the namespace flags;
    // the argument order for the remaining zero pointers does not matter.
    #[expect(
        unsafe_code,
        reason = "clone(2) with namespace flags has no safe wrapper"
    )]
    let result = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    match result {
        -1 => Err(RuntimeError::sys(
            "create the container's process (clone)",
            nix::Error::last(),
        )),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(
            i32::try_from(pid).unwrap_or(-1),
        ))),
    }
}

/// End a forked process at once: no atexit handlers or buffered output of the parent's
/// copy, which the parent will flush itself.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process; nothing runs after it.
    #[expect(unsafe_code, reason = "_exit(2) is unsafe in libc")]
    unsafe {
        libc::_exit(code)
    }
}

/// The exit code a shell would report for `status`.
pub(crate) fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(128 + signal as i32),
        _ => None,
    }
}

/// The signals `mlpack run` passes on to the container, as `docker run --sig-proxy` does.
pub(crate) const FORWARDED_SIGNALS: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_dead_pid_is_not() {
        let me = ProcessId::of(std::process::id().cast_signed()).unwrap();
        assert!(me.is_alive());
        let recycled = ProcessId {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!recycled.is_alive());
        let rebooted = ProcessId {
            boot_id: "other".to_string(),
            ..me
        };
        assert!(!rebooted.is_alive());
    }

    #[test]
    fn exit_codes() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
    }
}
