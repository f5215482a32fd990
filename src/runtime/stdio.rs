//! The command's standard streams, for `run` and `exec` alike: pipes, or a terminal made
//! inside the container. Never a host descriptor: a process in the container that held the
//! caller's terminal or file could keep it after `mlpack` returns and read what the user
//! types next, so the host's side stays with `mlpack`, which relays (as Docker does).

use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::unistd::pipe2;

use super::error::RuntimeError;
use super::logs::Stream;
use super::tty;
use super::workload::Stdio;
use crate::error::FromIo;

/// The container's ends, as the process that becomes the command receives them.
pub(crate) enum ContainerStdio {
    /// Open a terminal inside the container and send its master over this socket.
    Tty(OwnedFd),
    Pipes {
        /// `None`: the container's `/dev/null`.
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

/// `mlpack`'s ends.
pub(crate) enum HostStdio {
    Tty(OwnedFd),
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

/// What `mlpack` relays: the outputs, where input goes, and the terminal's master.
pub(crate) struct HostEnds {
    pub outputs: Vec<(OwnedFd, Stream)>,
    pub stdin: Option<OwnedFd>,
    pub tty: Option<OwnedFd>,
}

/// Both ends for a command with a terminal (`-t`) or pipes; stdin is a pipe only with `-i`.
pub(crate) fn pair(
    tty: bool,
    interactive: bool,
) -> Result<(ContainerStdio, HostStdio), RuntimeError> {
    if tty {
        let (host, container) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|error| RuntimeError::sys("create a socket pair", error))?;
        return Ok((ContainerStdio::Tty(container), HostStdio::Tty(host)));
    }
    // CLOEXEC on the container's side too: the command gets them dup2ed onto 0-2.
    let pipe =
        || pipe2(OFlag::O_CLOEXEC).map_err(|error| RuntimeError::sys("create a pipe", error));
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (container_stdin, host_stdin) = if interactive {
        let (read, write) = pipe()?;
        (Some(read), Some(write))
    } else {
        (None, None)
    };
    Ok((
        ContainerStdio::Pipes {
            stdin: container_stdin,
            stdout: stdout_write,
            stderr: stderr_write,
        },
        HostStdio::Pipes {
            stdin: host_stdin,
            stdout: stdout_read,
            stderr: stderr_read,
        },
    ))
}

impl ContainerStdio {
    /// Inside the container: the terminal's slave, or the pipes (and `/dev/null`).
    pub(crate) fn open(self) -> Result<Stdio, String> {
        match self {
            Self::Tty(socket) => tty::open_in_container(&socket).map(Stdio::Tty),
            Self::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                let input = match stdin {
                    Some(pipe) => pipe,
                    None => fs_err::File::open("/dev/null")
                        .map(OwnedFd::from)
                        .map_err(|error| format!("open /dev/null: {error}"))?,
                };
                Ok(Stdio::Fds {
                    stdin: input,
                    stdout,
                    stderr,
                })
            }
        }
    }
}

impl HostStdio {
    /// The ends to relay; with a terminal, once the container has sent its master.
    pub(crate) fn into_ends(self) -> Result<HostEnds, RuntimeError> {
        match self {
            Self::Tty(socket) => {
                let master = tty::receive_master(&socket).map_err(|error| {
                    RuntimeError::sys("receive the container's terminal", error)
                })?;
                let output = master
                    .try_clone()
                    .map_err(|error| RuntimeError::io("duplicate", "the terminal", error))?;
                Ok(HostEnds {
                    outputs: vec![(output, Stream::Stdout)],
                    stdin: None,
                    tty: Some(master),
                })
            }
            Self::Pipes {
                stdin,
                stdout,
                stderr,
            } => Ok(HostEnds {
                outputs: vec![(stdout, Stream::Stdout), (stderr, Stream::Stderr)],
                stdin,
                tty: None,
            }),
        }
    }
}
