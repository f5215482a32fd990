//! The supervisor: the host-side process that starts a container's init in new namespaces,
//! hands it its uid map and cgroup, learns from it whether the command started, then relays
//! output to the terminal and the log, passes signals on, and records the exit. For
//! `mlpack run` it is `mlpack` itself; for `run -d` and `start` it is a forked, detached
//! copy that outlives the terminal.

use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, pipe2};

use super::container::{Container, Containers, Status};
use super::error::RuntimeError;
use super::init::{self, InitContext};
use super::launch::Launch;
use super::logs::LogWriter;
use super::network::{self, Listeners};
use super::process::{FORWARDED_SIGNALS, Forked, ProcessId, clone_process};
use super::relay::{AfterExit, Relay};
use super::stdio::HostEnds;
use crate::error::FromIo;

/// Whether the supervisor is attached to a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Relay output to this process's stdout/stderr (and stdin with `-i`).
    Foreground,
    /// Output goes only to the log.
    Detached,
}

/// A started container's init, and the descriptors the supervisor keeps.
struct Started {
    init: Pid,
    ends: HostEnds,
    /// Set when the command could not be executed (Docker's 126/127).
    exec_failure: Option<(i32, String)>,
}

/// Start `container` and supervise it to the end; its exit code.
pub fn run(
    containers: &Containers,
    container: &mut Container,
    attach: Attach,
) -> Result<i32, RuntimeError> {
    let signals = block_signals()?;
    let started = start(containers, container)?;
    if let Some((_, message)) = &started.exec_failure
        && attach == Attach::Foreground
    {
        let _ = writeln!(std::io::stderr(), "error: {message}");
    }
    supervise(containers, container, started, attach, &signals)
}

/// `run -d`: fork a detached supervisor, wait until the command has started (or failed to),
/// and return. The supervisor restarts the command as the container's restart policy says.
pub fn run_detached(
    containers: &Containers,
    container: &mut Container,
) -> Result<(), RuntimeError> {
    // A stop before this start is no reason not to restart after it.
    super::restart::take_stopped(&container.dir);
    let (read, write) =
        pipe2(OFlag::O_CLOEXEC).map_err(|error| RuntimeError::sys("create a pipe", error))?;
    // SAFETY: `mlpack` has no other threads here: container commands never start a runtime.
    #[expect(unsafe_code, reason = "fork(2)")]
    match unsafe { nix::unistd::fork() } {
        Err(error) => Err(RuntimeError::sys("fork the supervisor", error)),
        Ok(ForkResult::Child) => {
            drop(read);
            let mut write = std::fs::File::from(write);
            let _ = nix::unistd::setsid();
            let _ = redirect_stdio_to_null();
            let code = match block_signals().and_then(|signals| {
                let started = start(containers, container)?;
                let message = match &started.exec_failure {
                    Some((status, message)) => format!("exec\t{status}\t{message}\n"),
                    None => "ok\n".to_string(),
                };
                let _ = write.write_all(message.as_bytes());
                drop(write);
                let code = supervise(containers, container, started, Attach::Detached, &signals)?;
                restart_loop(containers, container, code, &signals)
            }) {
                Ok(code) => code,
                Err(error) => {
                    let _ = writeln!(std::io::stderr(), "{error}");
                    125
                }
            };
            super::process::exit_now(code.min(255))
        }
        Ok(ForkResult::Parent { .. }) => {
            drop(write);
            // One line, not to the end: init, cloned by the supervisor, holds a copy of the
            // pipe for as long as the container runs.
            let mut reply = String::new();
            let _ = std::io::BufRead::read_line(
                &mut std::io::BufReader::new(std::fs::File::from(read)),
                &mut reply,
            );
            container.reload()?;
            match reply.trim_end().split('\t').collect::<Vec<_>>().as_slice() {
                ["ok"] => Ok(()),
                ["exec", status, message] => Err(RuntimeError::Exec {
                    message: (*message).to_string(),
                    status: status.parse().unwrap_or(127),
                }),
                _ => Err(RuntimeError::Init {
                    message: container
                        .state
                        .error
                        .clone()
                        .unwrap_or_else(|| "the supervisor exited".to_string()),
                }),
            }
        }
    }
}

/// Start the command again while the restart policy asks for it and the user has not
/// stopped the container; the last exit code.
fn restart_loop(
    containers: &Containers,
    container: &mut Container,
    mut code: i32,
    signals: &SignalFd,
) -> Result<i32, RuntimeError> {
    let policy = container.config.restart;
    let mut restarts = 0;
    while policy.should_restart(code, restarts)
        && !super::restart::take_stopped(&container.dir)
        && container.dir.is_dir()
    {
        std::thread::sleep(super::restart::RestartPolicy::delay(restarts));
        if super::restart::take_stopped(&container.dir) {
            break;
        }
        restarts += 1;
        let started = start(containers, container)?;
        code = supervise(containers, container, started, Attach::Detached, signals)?;
    }
    Ok(code)
}

fn redirect_stdio_to_null() -> std::io::Result<()> {
    let null = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)
        .and_then(|()| nix::unistd::dup2_stdout(&null))
        .and_then(|()| nix::unistd::dup2_stderr(&null))
        .map_err(std::io::Error::from)
}

/// Block the signals the relay loop reads from a signalfd; the container's init inherits
/// the mask, so nothing reaches it before it is ready to pass signals on.
fn block_signals() -> Result<SignalFd, RuntimeError> {
    let mut set = SigSet::empty();
    for signal in FORWARDED_SIGNALS
        .into_iter()
        .chain([Signal::SIGCHLD, Signal::SIGWINCH])
    {
        set.add(signal);
    }
    // A parent such as `mlpack train` may have left a signal ignored, and an ignored signal
    // is dropped before a signalfd could see it.
    for signal in FORWARDED_SIGNALS {
        // SAFETY: restoring the default disposition installs no handler.
        #[expect(unsafe_code, reason = "signal(2) is unsafe in nix")]
        let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) };
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|error| RuntimeError::sys("block signals", error))?;
    SignalFd::with_flags(&set, nix::sys::signalfd::SfdFlags::SFD_CLOEXEC)
        .map_err(|error| RuntimeError::sys("create a signalfd", error))
}

/// Prepare, clone init, hand it its uid map, cgroup and network interfaces, and read its
/// report.
fn start(containers: &Containers, container: &mut Container) -> Result<Started, RuntimeError> {
    let launch = Launch::prepare(containers, container)?;
    // Bound first: a taken port fails the start before anything exists.
    let listeners = Listeners::bind(&container.config.ports)?;
    let pipe =
        || pipe2(OFlag::O_CLOEXEC).map_err(|error| RuntimeError::sys("create a pipe", error));
    let (go_read, go_write) = pipe()?;
    let (report_read, report_write) = pipe()?;
    let (child_stdio, parent_stdio) =
        super::stdio::pair(container.config.tty, container.config.interactive)?;
    let cgroup = launch.create_cgroup()?;

    let pid = match clone_process(launch.clone_flags())? {
        Forked::Child => {
            drop((go_write, report_read, parent_stdio));
            init::run(InitContext {
                overlay: launch.overlay.clone(),
                plan: launch.plan.clone(),
                copy_up: &launch.copy_up,
                hostname: &container.config.hostname,
                new_network: launch.new_network,
                user: container.config.user.as_deref(),
                capabilities: &launch.capabilities,
                seccomp: &launch.seccomp,
                command: &container.config.command,
                env: &launch.env,
                workdir: &container.config.workdir,
                go: go_read,
                report: report_write,
                stdio: child_stdio,
            })
        }
        Forked::Parent(pid) => pid,
    };
    drop((go_read, report_write, child_stdio));

    // Interfaces are plugged in before init goes on, so the command finds them up.
    let handoff = launch
        .write_id_maps(pid)
        .and_then(|()| {
            cgroup.as_ref().map_or(Ok(()), |cgroup| {
                cgroup.add_process(pid.as_raw()).map_err(RuntimeError::from)
            })
        })
        .and_then(|()| {
            Ok(network::plug_all(
                containers.store(),
                container.id().as_str(),
                pid,
            )?)
        })
        .and_then(|()| Ok(listeners.serve(pid)?));
    if handoff.is_ok() {
        let _ = std::fs::File::from(go_write).write_all(b"1");
    } else {
        drop(go_write);
    }
    let report = read_report(report_read);
    let failure = match (handoff, &report.error) {
        (Err(error), _) => Some(error),
        (Ok(()), Some(message)) => Some(RuntimeError::Init {
            message: message.clone(),
        }),
        (Ok(()), None) => None,
    };
    if let Some(error) = failure {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        network::unplug_all(containers.store(), container.id().as_str());
        if let Some(cgroup) = &cgroup {
            let _ = cgroup.remove();
        }
        container.state.status = Status::Exited;
        container.state.error = Some(error.to_string());
        container.state.finished_at = Some(jiff::Timestamp::now().to_string());
        container.save_state()?;
        if container.config.auto_remove {
            containers.remove(container)?;
        }
        return Err(error);
    }

    let ends = parent_stdio.into_ends()?;
    container.state = super::container::State {
        status: Status::Running,
        init: ProcessId::of(pid.as_raw()),
        supervisor: ProcessId::of(std::process::id().cast_signed()),
        exit_code: None,
        started_at: Some(jiff::Timestamp::now().to_string()),
        finished_at: None,
        error: None,
        cgroup,
        created_paths: merge_created(&container.state.created_paths, report.created),
    };
    container.save_state()?;
    Ok(Started {
        init: pid,
        ends,
        exec_failure: report.exec_failure,
    })
}

fn merge_created(old: &[String], new: Vec<String>) -> Vec<String> {
    let mut all = old.to_vec();
    for path in new {
        if !all.contains(&path) {
            all.push(path);
        }
    }
    all
}

/// What init said before the command started.
#[derive(Default)]
struct Report {
    created: Vec<String>,
    error: Option<String>,
    exec_failure: Option<(i32, String)>,
}

/// Read init's report to the end: the end comes when the command's `execve` closes the
/// last copy of the pipe (or init exits).
fn read_report(pipe: OwnedFd) -> Report {
    let mut text = String::new();
    let _ = std::fs::File::from(pipe).read_to_string(&mut text);
    let mut report = Report::default();
    for line in text.lines() {
        match line.split('\t').collect::<Vec<_>>().as_slice() {
            ["created", path] => report.created.push((*path).to_string()),
            ["error", message] => report.error = Some((*message).to_string()),
            ["exec", status, message] => {
                report.exec_failure = Some((status.parse().unwrap_or(127), (*message).to_string()));
            }
            _ => {}
        }
    }
    // Init that died without a word (killed early) is no start error: the relay loop then
    // reaps it and records how it ended.
    report
}

/// Relay until init exits and its output is drained; record the exit; return its code.
fn supervise(
    containers: &Containers,
    container: &mut Container,
    started: Started,
    attach: Attach,
    signals: &SignalFd,
) -> Result<i32, RuntimeError> {
    let mut log = LogWriter::open(&container.log_path())
        .map_err(|source| RuntimeError::io("open the log", container.log_path(), source))?;
    let forward_stdin = attach == Attach::Foreground && container.config.interactive;
    let mut relay = Relay::new(started.ends, forward_stdin, attach, AfterExit::ReadToEnd);
    relay.run(signals, started.init, Some(&mut log));
    let _ = log.finish();
    let code = relay.exit.unwrap_or(1);

    container.reload()?;
    if let Some(cgroup) = &container.state.cgroup {
        let _ = cgroup.remove();
    }
    network::unplug_all(containers.store(), container.id().as_str());
    container.state.status = Status::Exited;
    container.state.exit_code = Some(code);
    container.state.finished_at = Some(jiff::Timestamp::now().to_string());
    container.save_state()?;
    if container.config.auto_remove {
        containers.remove(container)?;
    }
    Ok(code)
}
