//! `mlpack exec`: run another command in a running container. This process joins the
//! container's cgroup and namespaces (user first, so the others are entered with its
//! privileges; mount last, because it changes what `/proc/<pid>` paths mean), then forks:
//! only children enter a joined PID namespace. The child becomes the command as `run`'s
//! does; this process relays and returns its exit status.

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::Mode;
use nix::unistd::ForkResult;

use super::config::{env_value, merge_env};
use super::container::Container;
use super::error::RuntimeError;
use super::process::FORWARDED_SIGNALS;
use super::relay::{AfterExit, Relay};
use super::stdio::ContainerStdio;
use super::supervisor::Attach;
use super::user::ContainerUser;
use super::workload::{self, Workload};

/// What `mlpack exec` was asked.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub interactive: bool,
}

/// The namespaces joined, in order.
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Run `request` in `container`; the command's exit status.
pub fn exec(container: &Container, request: &ExecRequest) -> Result<i32, RuntimeError> {
    let init = match (&container.state.init, container.is_running()) {
        (Some(init), true) if init.is_alive() => init.pid,
        _ => {
            return Err(RuntimeError::WrongStatus {
                name: container.config.name.clone(),
                status: container.status().to_string(),
                action: "exec",
                wanted: "running",
            });
        }
    };
    let namespaces = open_namespaces(init)?;
    if let Some(cgroup) = &container.state.cgroup {
        cgroup.add_process(std::process::id().cast_signed())?;
    }
    for (name, flag, fd) in &namespaces {
        setns(fd, *flag).map_err(|error| {
            RuntimeError::sys(format!("join the container's {name} namespace"), error)
        })?;
    }
    drop(namespaces);

    let mut blocked = SigSet::empty();
    for signal in FORWARDED_SIGNALS
        .into_iter()
        .chain([Signal::SIGCHLD, Signal::SIGWINCH])
    {
        blocked.add(signal);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None)
        .map_err(|error| RuntimeError::sys("block signals", error))?;
    let signals = SignalFd::with_flags(&blocked, SfdFlags::SFD_CLOEXEC)
        .map_err(|error| RuntimeError::sys("create a signalfd", error))?;
    let (container_stdio, host_stdio) = super::stdio::pair(request.tty, request.interactive)?;

    // SAFETY: `mlpack exec` never starts other threads.
    #[expect(unsafe_code, reason = "fork(2)")]
    let child = match unsafe { nix::unistd::fork() } {
        Err(error) => return Err(RuntimeError::sys("start the command", error)),
        Ok(ForkResult::Child) => {
            drop(host_stdio);
            run_command(container, request, container_stdio)
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(container_stdio);
    let ends = host_stdio.into_ends()?;
    // A pty moves written bytes to its master asynchronously, so after the command's exit
    // only the end of the terminal says everything was read; a pipe holds them at once.
    let after_exit = if request.tty {
        AfterExit::ReadToEnd
    } else {
        AfterExit::ReadWhatIsThere
    };
    let mut relay = Relay::new(ends, request.interactive, Attach::Foreground, after_exit);
    relay.run(&signals, child, None);
    Ok(relay.exit.unwrap_or(1))
}

fn open_namespaces(init: i32) -> Result<Vec<(&'static str, CloneFlags, OwnedFd)>, RuntimeError> {
    let mut opened = Vec::new();
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{init}/ns/{name}");
        // Joining the namespace one is already in fails (EINVAL for user): skip it.
        let own = fs_err::read_link(format!("/proc/self/ns/{name}")).ok();
        if fs_err::read_link(&path).ok() == own {
            continue;
        }
        let fd = open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|error| RuntimeError::sys(format!("open `{path}`"), error))?;
        opened.push((name, flag, fd));
    }
    Ok(opened)
}

/// In the child: resolve the user and environment inside the container, then exec.
fn run_command(container: &Container, request: &ExecRequest, stdio: ContainerStdio) -> ! {
    let config = &container.config;
    let fail = |status: i32, message: &str| -> ! {
        let _ = writeln!(std::io::stderr(), "error: {message}");
        super::process::exit_now(status)
    };
    let user_spec = request.user.as_deref().or(config.user.as_deref());
    let user = ContainerUser::resolve(user_spec, Path::new("/etc"))
        .unwrap_or_else(|error| fail(126, &error.to_string()));
    let mut env = config.env.clone();
    merge_env(&mut env, [format!("HOSTNAME={}", config.hostname)]);
    if env_value(&env, "HOME").is_none() {
        env.push(format!("HOME={}", user.home));
    }
    if request.tty && env_value(&env, "TERM").is_none() {
        env.push("TERM=xterm".to_string());
    }
    merge_env(&mut env, request.env.iter().cloned());
    let stdio = stdio.open().unwrap_or_else(|message| fail(126, &message));
    let workdir = request.workdir.as_deref().unwrap_or(&config.workdir);
    let capabilities = super::capabilities::for_network(config.network);
    let seccomp = config
        .seccomp
        .compile(&capabilities)
        .unwrap_or_else(|error| fail(126, &error.to_string()));
    let failure = workload::exec(
        &Workload {
            command: &request.command,
            env: &env,
            workdir,
            user: &user,
            capabilities: &capabilities,
            seccomp: &seccomp,
        },
        stdio,
    );
    fail(failure.status, &failure.message)
}
