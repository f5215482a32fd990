//! Moving bytes and signals between the host and a running container: its output to the
//! terminal and the log, the terminal's input to it, forwarded signals to its init, window
//! size changes to its terminal, and the exit status when init is reaped. One `poll` loop on
//! one thread: the container's process tree must not share a process with other threads.

use std::io::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::logs::{LogWriter, Stream};
use super::process::exit_code;
use super::stdio::HostEnds;
use super::supervisor::Attach;
use super::tty;

pub(crate) struct Relay {
    outputs: Vec<Option<(OwnedFd, Stream)>>,
    stdin_target: Option<OwnedFd>,
    /// The terminal's master, whose window size follows the host's.
    tty: Option<OwnedFd>,
    attach: Attach,
    after_exit: AfterExit,
    /// The process's exit status, once reaped.
    pub exit: Option<i32>,
}

/// How much output to read once the process has exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterExit {
    /// To the end: when the process was the container's init, whose exit kills every other
    /// process that held the outputs, or when they are a terminal.
    ReadToEnd,
    /// What the pipes already hold: an `exec`'d command may leave a background child
    /// holding them, and `exec` returns when its command does.
    ReadWhatIsThere,
}

impl Relay {
    /// A relay of `ends`; the host's input goes to the command only when `forward_stdin`.
    pub(crate) fn new(
        ends: HostEnds,
        forward_stdin: bool,
        attach: Attach,
        after_exit: AfterExit,
    ) -> Self {
        let stdin_target = if forward_stdin {
            ends.stdin
                .or_else(|| ends.tty.as_ref().and_then(|tty| tty.try_clone().ok()))
        } else {
            None
        };
        Self {
            outputs: ends.outputs.into_iter().map(Some).collect(),
            stdin_target,
            tty: ends.tty,
            attach,
            after_exit,
            exit: None,
        }
    }

    /// Relay until `init` exits and its output is read (see [`AfterExit`]). With host input
    /// to forward to a terminal, the host's terminal is raw meanwhile.
    pub(crate) fn run(&mut self, signals: &SignalFd, init: Pid, log: Option<&mut LogWriter>) {
        let host_stdin = std::io::stdin();
        let stdin = self.stdin_target.is_some().then(|| host_stdin.as_fd());
        let _raw = match (&self.tty, stdin) {
            (Some(master), Some(stdin)) => {
                tty::copy_window_size(stdin, master);
                tty::RawTerminal::enter(stdin)
            }
            _ => None,
        };
        self.relay(signals, init, stdin, log);
    }

    fn relay(
        &mut self,
        signals: &SignalFd,
        init: Pid,
        mut stdin: Option<BorrowedFd<'_>>,
        mut log: Option<&mut LogWriter>,
    ) {
        let mut buffer = vec![0_u8; 64 * 1024];
        while self.exit.is_none() || self.outputs.iter().any(Option::is_some) {
            let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            let open: Vec<usize> = (0..self.outputs.len())
                .filter(|index| self.outputs[*index].is_some())
                .collect();
            for index in &open {
                if let Some((fd, _)) = &self.outputs[*index] {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                }
            }
            let stdin_slot = stdin.filter(|_| self.exit.is_none()).map(|fd| {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                fds.len() - 1
            });
            let timeout = if self.exit.is_some() && self.after_exit == AfterExit::ReadWhatIsThere {
                PollTimeout::ZERO
            } else {
                PollTimeout::NONE
            };
            match poll(&mut fds, timeout) {
                // Only with the zero timeout: the process has exited and nothing is left.
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => continue,
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
                .collect();
            drop(fds);
            if ready[0] {
                self.on_signal(signals, init);
            }
            for (slot, index) in open.iter().enumerate() {
                if ready[slot + 1] {
                    self.on_output(*index, &mut buffer, log.as_deref_mut());
                }
            }
            if let Some(slot) = stdin_slot
                && ready[slot]
                && !self.on_stdin(stdin, &mut buffer)
            {
                stdin = None;
                self.stdin_target = None;
            }
        }
    }

    fn on_signal(&mut self, signals: &SignalFd, init: Pid) {
        let Ok(Some(info)) = signals.read_signal() else {
            return;
        };
        let Ok(signal) = Signal::try_from(info.ssi_signo.cast_signed()) else {
            return;
        };
        match signal {
            Signal::SIGCHLD => {
                while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    if status == WaitStatus::StillAlive {
                        break;
                    }
                    if status.pid() == Some(init) {
                        self.exit = exit_code(status);
                    }
                }
            }
            Signal::SIGWINCH => {
                if let Some(master) = &self.tty {
                    tty::copy_window_size(std::io::stdin().as_fd(), master);
                }
            }
            signal => {
                let _ = kill(init, signal);
            }
        }
    }

    fn on_output(&mut self, index: usize, buffer: &mut [u8], log: Option<&mut LogWriter>) {
        let Some((fd, stream)) = &self.outputs[index] else {
            return;
        };
        let stream = *stream;
        match nix::unistd::read(fd, buffer) {
            // EIO: a terminal's last holder closed it.
            Ok(0) | Err(nix::Error::EIO | nix::Error::EBADF) => self.outputs[index] = None,
            Ok(read) => {
                let bytes = &buffer[..read];
                if let Some(log) = log {
                    let _ = log.write(stream, bytes);
                }
                if self.attach == Attach::Foreground {
                    let _ = match stream {
                        Stream::Stdout => std::io::stdout().lock().write_all(bytes),
                        Stream::Stderr => std::io::stderr().lock().write_all(bytes),
                    };
                    let _ = std::io::stdout().flush();
                }
            }
            Err(_) => {}
        }
    }

    /// Pass host input on; false at end of input.
    fn on_stdin(&mut self, stdin: Option<BorrowedFd<'_>>, buffer: &mut [u8]) -> bool {
        let (Some(stdin), Some(target)) = (stdin, &self.stdin_target) else {
            return false;
        };
        match nix::unistd::read(stdin, buffer) {
            Ok(0) | Err(_) => false,
            Ok(read) => write_all(target, &buffer[..read]).is_ok(),
        }
    }
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> nix::Result<()> {
    while !bytes.is_empty() {
        let written = nix::unistd::write(fd, bytes)?;
        bytes = &bytes[written..];
    }
    Ok(())
}
