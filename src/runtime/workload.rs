//! The last steps before the user's command runs, shared by `run` (a child of the container's
//! init) and `exec` (a process that joined the container's namespaces): session and stdio,
//! working directory, user, capabilities, `no_new_privs`, closing inherited descriptors, the
//! seccomp filter and `execve`. The order is runc's (`libcontainer/init_linux.go`): the
//! bounding set is reduced while `CAP_SETPCAP` is still held, the user is changed before the
//! capability sets are settled, `no_new_privs` comes next (the kernel takes a filter from a
//! process without `CAP_SYS_ADMIN` only under it), and the filter last, so that the profile
//! judges the command's calls and none of the setup's.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability, CapsHashSet};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
use nix::unistd::{Gid, Uid};

use super::config::{DEFAULT_PATH, env_value};
use super::user::ContainerUser;

/// Where the command's stdin, stdout and stderr come from.
pub(crate) enum Stdio {
    /// A terminal: the pty's slave becomes stdio and the controlling terminal.
    Tty(OwnedFd),
    /// Pipes (or `/dev/null` for stdin).
    Fds {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

/// What to execute and as whom.
pub(crate) struct Workload<'a> {
    pub command: &'a [String],
    pub env: &'a [String],
    pub workdir: &'a str,
    pub user: &'a ContainerUser,
    /// The bounding set, and the effective and permitted sets of a root user.
    pub capabilities: &'a [Capability],
    /// Seccomp filters, installed last.
    pub seccomp: &'a [seccompiler::BpfProgram],
}

/// Why the command did not start, with Docker's exit status for it.
pub(crate) struct ExecFailure {
    pub status: i32,
    pub message: String,
}

/// Set up and `execve`; returns only on failure.
pub(crate) fn exec(workload: &Workload<'_>, stdio: Stdio) -> ExecFailure {
    let fail = |message: String| ExecFailure {
        status: 126,
        message,
    };
    if let Err(message) = reset_signals() {
        return fail(message);
    }
    if let Err(error) = nix::unistd::setsid() {
        return fail(format!("setsid: {error}"));
    }
    if let Err(message) = set_stdio(stdio) {
        return fail(message);
    }
    if let Err(error) = std::env::set_current_dir(workload.workdir) {
        return fail(format!(
            "the working directory `{}`: {error}",
            workload.workdir
        ));
    }
    if let Err(message) = drop_privileges(workload.user, workload.capabilities) {
        return fail(message);
    }
    let program = match find_program(workload.command, workload.env) {
        Ok(program) => program,
        Err(failure) => return failure,
    };
    close_inherited_fds();
    let Ok(args) = c_strings(workload.command) else {
        return fail("the command contains a NUL byte".to_string());
    };
    let Ok(env) = c_strings(workload.env) else {
        return fail("the environment contains a NUL byte".to_string());
    };
    // Last: from here on the profile decides, and Docker's lets `execve` through.
    if let Err(message) = super::seccomp::install(workload.seccomp) {
        return fail(message);
    }
    let error = nix::unistd::execve(&program, &args, &env)
        .err()
        .unwrap_or(nix::Error::UnknownErrno);
    ExecFailure {
        status: if error == nix::Error::ENOENT {
            127
        } else {
            126
        },
        message: format!("exec `{}`: {error}", workload.command.join(" ")),
    }
}

/// Undo what the runtime's processes changed: the blocked mask (init waits on signals) and
/// Rust's ignored SIGPIPE, both of which `execve` would pass on.
fn reset_signals() -> Result<(), String> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|error| format!("reset the signal mask: {error}"))?;
    // SAFETY: restoring the default disposition installs no handler.
    #[expect(unsafe_code, reason = "signal(2) is unsafe in nix")]
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }
        .map(|_| ())
        .map_err(|error| format!("reset SIGPIPE: {error}"))
}

fn set_stdio(stdio: Stdio) -> Result<(), String> {
    match stdio {
        Stdio::Tty(slave) => {
            // SAFETY: TIOCSCTTY takes an int argument; 0 means do not steal the terminal.
            #[expect(unsafe_code, reason = "TIOCSCTTY has no wrapper")]
            let result =
                unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&slave), libc::TIOCSCTTY, 0) };
            if result != 0 {
                return Err(format!(
                    "make the terminal controlling: {}",
                    nix::Error::last()
                ));
            }
            dup_stdio(&slave, &slave, &slave)
        }
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => dup_stdio(&stdin, &stdout, &stderr),
    }
}

fn dup_stdio(stdin: &impl AsFd, stdout: &impl AsFd, stderr: &impl AsFd) -> Result<(), String> {
    nix::unistd::dup2_stdin(stdin)
        .and_then(|()| nix::unistd::dup2_stdout(stdout))
        .and_then(|()| nix::unistd::dup2_stderr(stderr))
        .map_err(|error| format!("set up stdio: {error}"))
}

fn drop_privileges(user: &ContainerUser, capabilities: &[Capability]) -> Result<(), String> {
    let keep: CapsHashSet = capabilities.iter().copied().collect();
    let last_cap = fs_err::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse::<u8>().ok())
        .unwrap_or(40);
    for cap in caps::all() {
        if !keep.contains(&cap) && cap.index() <= last_cap {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|error| format!("drop {cap} from the bounding set: {error}"))?;
        }
    }
    let groups: Vec<Gid> = user
        .additional_gids
        .iter()
        .copied()
        .map(Gid::from_raw)
        .collect();
    // A user namespace with `setgroups` denied (rootless) refuses this; keep the groups then.
    if let Err(error) = nix::unistd::setgroups(&groups)
        && error != nix::Error::EPERM
    {
        return Err(format!("set supplementary groups: {error}"));
    }
    let (uid, gid) = (Uid::from_raw(user.uid), Gid::from_raw(user.gid));
    nix::unistd::setresgid(gid, gid, gid).map_err(|error| {
        format!(
            "switch to group {}: {error} (a rootless container has only uid/gid 0)",
            user.gid
        )
    })?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|error| {
        format!(
            "switch to user {}: {error} (a rootless container has only uid/gid 0)",
            user.uid
        )
    })?;
    if user.uid == 0 {
        for set in [CapSet::Effective, CapSet::Permitted] {
            caps::set(None, set, &keep).map_err(|error| format!("set capabilities: {error}"))?;
        }
    }
    caps::clear(None, CapSet::Inheritable)
        .map_err(|error| format!("clear capabilities: {error}"))?;
    nix::sys::prctl::set_no_new_privs().map_err(|error| format!("set no_new_privs: {error}"))
}

/// The executable for `command[0]`: a path as given, or the first match in the container's
/// `PATH`, as `execvp` would find it.
fn find_program(command: &[String], env: &[String]) -> Result<CString, ExecFailure> {
    let not_found = |message: String| ExecFailure {
        status: 127,
        message,
    };
    let Some(name) = command.first() else {
        return Err(not_found(
            "no command: the image has none and none was given".to_string(),
        ));
    };
    let candidate = if name.contains('/') {
        Some(PathBuf::from(name))
    } else {
        env_value(env, "PATH")
            .unwrap_or(DEFAULT_PATH)
            .split(':')
            .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
            .find(|path| is_executable(path))
    };
    match candidate {
        Some(path) if path.exists() => CString::new(path.as_os_str().as_bytes())
            .map_err(|_| not_found(format!("`{name}` contains a NUL byte"))),
        _ if name.contains('/') => Err(not_found(format!(
            "exec `{name}`: no such file or directory"
        ))),
        _ => Err(not_found(format!(
            "exec `{name}`: executable file not found in $PATH"
        ))),
    }
}

fn is_executable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
        && path.metadata().is_ok_and(|metadata| metadata.is_file())
}

/// Mark every descriptor above stderr close-on-exec, so the command inherits only its stdio.
fn close_inherited_fds() {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets flags on descriptors.
    #[expect(unsafe_code, reason = "close_range(2) has no wrapper in nix")]
    let result = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3_u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if result != 0
        && let Ok(entries) = fs_err::read_dir("/proc/self/fd")
    {
        // Kernels before 5.11: set the flag one descriptor at a time.
        for fd in entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .filter(|fd| *fd > 2)
        {
            // SAFETY: F_SETFD on a possibly closed descriptor fails harmlessly.
            #[expect(unsafe_code, reason = "fcntl on a raw descriptor number")]
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
}

fn c_strings(items: &[String]) -> Result<Vec<CString>, std::ffi::NulError> {
    items
        .iter()
        .map(|item| CString::new(item.as_bytes()))
        .collect()
}
