//! The container's init: the process `clone` put in the new namespaces. It builds the root
//! file system, `pivot_root`s into it, starts the command as its child and stays PID 1 to
//! reap zombies and pass signals on, as tini does. Steps run top to bottom in kernel order
//! (see each step for why); a failure is sent to the supervisor as text, because after
//! `pivot_root` nothing else can report it.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use super::mounts::MountPlan;
use super::process::exit_code;
use super::stdio::ContainerStdio;
use super::user::ContainerUser;
use super::workload::{self, Workload};

/// An overlay of unpacked layers.
#[derive(Debug, Clone)]
pub(crate) struct Overlay {
    /// Holds the layer directories; lower dirs are given relative to it so that many layers
    /// fit in the one page of mount options.
    pub layers_root: PathBuf,
    /// Directory names under `layers_root`, top layer first (overlayfs order).
    pub lower: Vec<String>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub target: PathBuf,
    /// Rootless: overlay keeps its whiteout and opaque marks in `user.*` xattrs.
    pub userxattr: bool,
    /// A container removed when it exits (`--rm`, run as root): its upper dir is never read
    /// after a crash, so overlay's `volatile` skips the sync of the whole upper file system
    /// that unmounting an overlay otherwise does when the container's mount namespace goes (a
    /// second or more after a build has written GBs; see
    /// <https://docs.kernel.org/filesystems/overlayfs.html>, "Volatile mount").
    pub volatile: bool,
}

impl Overlay {
    pub(crate) fn options(&self) -> String {
        format!(
            "lowerdir={},upperdir={},workdir={}{}{}",
            self.lower.join(":"),
            self.upper.display(),
            self.work.display(),
            if self.userxattr { ",userxattr" } else { "" },
            if self.volatile { ",volatile" } else { "" }
        )
    }
}

/// Everything init needs, prepared by the supervisor before `clone`.
pub(crate) struct InitContext<'a> {
    pub overlay: Overlay,
    pub plan: MountPlan,
    /// Named volumes' data directories on the host and their mount points: each empty one
    /// gets the image's content there first.
    pub copy_up: &'a [(PathBuf, String)],
    pub hostname: &'a str,
    pub new_network: bool,
    pub user: Option<&'a str>,
    pub capabilities: &'a [caps::Capability],
    pub seccomp: &'a [seccompiler::BpfProgram],
    pub command: &'a [String],
    pub env: &'a [String],
    pub workdir: &'a str,
    /// Closed by the supervisor once uid maps and cgroups are in place.
    pub go: OwnedFd,
    /// Lines to the supervisor: `created\tPATH`, `error\tTEXT`, `exec\tSTATUS\tTEXT`.
    pub report: OwnedFd,
    pub stdio: ContainerStdio,
}

/// Run init; never returns.
pub(crate) fn run(context: InitContext<'_>) -> ! {
    let Ok(report) = context.report.try_clone() else {
        super::process::exit_now(125)
    };
    let mut report = std::fs::File::from(report);
    let code = match start(context) {
        Ok(command) => {
            // The supervisor reads until every copy of the report pipe is closed.
            drop(report);
            reap(command)
        }
        Err(message) => {
            let _ = writeln!(report, "error\t{}", message.replace('\n', " "));
            125
        }
    };
    super::process::exit_now(code)
}

/// Build the container and start the command; its PID in the container. Each step needs
/// the ones before it:
///
/// 1. The supervisor writes the uid map and moves this process into the container's cgroup
///    (device allow-list, limits) before anything else runs, so that every mount and open
///    below happens under them; runc's init also waits for its cgroup.
/// 2. Mounts turn private before the first new one, so none propagates to the host.
/// 3. Bind sources are cloned (`open_tree`) while the host's tree is still reachable, and
///    named volumes' directories opened for the copy-up.
/// 4. The overlay, then `/proc` and `/sys` under it, before `pivot_root`: the kernel mounts
///    them in a user namespace only while full ones are visible (`mount_too_revealing`).
/// 5. `pivot_root`, then empty named volumes get the image's content at their mount point,
///    read in the container's own root so that the image's symlinks cannot lead to the
///    host's files. Then the rest of the plan: `/dev`, its nodes and file systems, binds,
///    the masked and read-only paths last, so no later mount uncovers them.
/// 6. Hostname and loopback, while this process still has every capability.
/// 7. The user and working directory, looked up in the image's own `/etc`.
/// 8. The command, forked, so that init stays PID 1 to reap and pass signals on. The
///    command then drops capabilities, sets `no_new_privs` and installs the seccomp filter
///    just before `execve` ([`workload::exec`]).
fn start(context: InitContext<'_>) -> Result<Pid, String> {
    wait_for_supervisor(context.go)?;
    make_mounts_private()?;
    let sources = context.plan.open_sources()?;
    let volumes = open_volumes(context.copy_up)?;
    mount_overlay(&context.overlay)?;
    context
        .plan
        .apply_early(&context.overlay.target, &sources)?;
    pivot_root(&context.overlay.target)?;
    for (volume, target) in &volumes {
        let data = PathBuf::from(format!("/proc/self/fd/{}", volume.as_raw_fd()));
        super::volume::copy_up(Path::new(target), &data)?;
    }
    drop(volumes);
    let mut created = context.plan.apply(&sources)?;
    drop(sources);
    nix::unistd::sethostname(context.hostname)
        .map_err(|error| format!("set the hostname: {error}"))?;
    if context.new_network {
        super::network::loopback_up()?;
    }
    let user = ContainerUser::resolve(context.user, Path::new("/etc"))
        .map_err(|error| error.to_string())?;
    if !Path::new(context.workdir).exists() {
        created.extend(create_workdir(context.workdir, &user)?);
    }
    let mut report = std::fs::File::from(context.report);
    for path in &created {
        let _ = writeln!(report, "created\t{path}");
    }
    let stdio = context.stdio.open()?;
    // Block every signal before the fork so none arrives between it and `sigwait`; the
    // command unblocks them before `execve`.
    SigSet::all()
        .thread_block()
        .map_err(|error| format!("block signals: {error}"))?;
    // Docker sets HOME from the user's passwd entry when neither image nor flags do.
    let mut env = context.env.to_vec();
    if super::config::env_value(&env, "HOME").is_none() {
        env.push(format!("HOME={}", user.home));
    }
    let workload = Workload {
        command: context.command,
        env: &env,
        workdir: context.workdir,
        user: &user,
        capabilities: context.capabilities,
        seccomp: context.seccomp,
    };
    // SAFETY: init is single-threaded (cloned from a single-threaded supervisor).
    #[expect(unsafe_code, reason = "fork(2)")]
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let failure = workload::exec(&workload, stdio);
            let _ = writeln!(report, "exec\t{}\t{}", failure.status, failure.message);
            super::process::exit_now(failure.status)
        }
        Ok(ForkResult::Parent { child }) => Ok(child),
        Err(error) => Err(format!("start the command: {error}")),
    }
}

/// The volumes' data directories, held open across `pivot_root` (`O_PATH`: no access is
/// checked until the copy-up goes through `/proc/self/fd`).
fn open_volumes(copy_up: &[(PathBuf, String)]) -> Result<Vec<(OwnedFd, &str)>, String> {
    copy_up
        .iter()
        .map(|(data, target)| {
            nix::fcntl::open(
                data,
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map(|fd| (fd, target.as_str()))
            .map_err(|error| format!("open the volume `{}`: {error}", data.display()))
        })
        .collect()
}

/// Wait for the supervisor's go byte: our uid map and cgroup are then set. Without a
/// supervisor nobody would record the exit or drain the output, so init dies with it.
fn wait_for_supervisor(go: OwnedFd) -> Result<(), String> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|error| format!("set the parent-death signal: {error}"))?;
    let mut buffer = [0_u8; 1];
    match std::fs::File::from(go).read(&mut buffer) {
        Ok(1) => Ok(()),
        Ok(_) => super::process::exit_now(125),
        Err(error) => Err(format!("wait for the supervisor: {error}")),
    }
}

/// Nothing mounted from here on may propagate back to the host.
fn make_mounts_private() -> Result<(), String> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|error| format!("make mounts private: {error}"))
}

fn mount_overlay(overlay: &Overlay) -> Result<(), String> {
    // Lower dirs are relative to the working directory at mount time.
    std::env::set_current_dir(&overlay.layers_root)
        .map_err(|error| format!("enter `{}`: {error}", overlay.layers_root.display()))?;
    let mount_with = |options: &str| {
        mount(
            Some("overlay"),
            &overlay.target,
            Some("overlay"),
            MsFlags::empty(),
            Some(options),
        )
    };
    let mounted = match mount_with(&overlay.options()) {
        // Kernels before 5.10 know no `volatile`: the container then pays for the sync.
        Err(nix::Error::EINVAL) if overlay.volatile => {
            let durable = Overlay {
                volatile: false,
                ..overlay.clone()
            };
            mount_with(&durable.options())
        }
        mounted => mounted,
    };
    mounted.map_err(|error| {
        format!(
            "mount the image's overlay at `{}`: {error}",
            overlay.target.display()
        )
    })
}

/// `pivot_root(".", ".")` and detach the old root, as runc does: no directory for the old
/// root is needed inside the image.
fn pivot_root(new_root: &Path) -> Result<(), String> {
    let fail = |what: &str, error: nix::Error| format!("{what}: {error}");
    std::env::set_current_dir(new_root).map_err(|error| format!("enter the root: {error}"))?;
    nix::unistd::pivot_root(".", ".").map_err(|error| fail("pivot_root", error))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|error| fail("detach the host's root", error))?;
    std::env::set_current_dir("/").map_err(|error| format!("enter the new root: {error}"))
}

/// Docker creates a missing working directory, owned by the command's user.
fn create_workdir(workdir: &str, user: &ContainerUser) -> Result<Vec<String>, String> {
    let relative = workdir.trim_start_matches('/');
    let top = relative.split('/').next().unwrap_or_default();
    let topmost_missing = !Path::new("/").join(top).exists();
    fs_err::create_dir_all(workdir)
        .map_err(|error| format!("create the working directory: {error}"))?;
    let _ = nix::unistd::chown(
        workdir,
        Some(nix::unistd::Uid::from_raw(user.uid)),
        Some(nix::unistd::Gid::from_raw(user.gid)),
    );
    Ok(if topmost_missing && !top.is_empty() {
        vec![top.to_string()]
    } else {
        Vec::new()
    })
}

/// PID 1's loop: pass signals to the command, reap every child, and exit with the command's
/// status. The kernel then kills whatever else is left in the namespace.
fn reap(command: Pid) -> i32 {
    let signals = SigSet::all();
    loop {
        let Ok(signal) = signals.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = kill(command, signal);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) if status.pid() == Some(command) => {
                    return exit_code(status).unwrap_or(1);
                }
                Ok(_) => {}
            }
        }
    }
}
