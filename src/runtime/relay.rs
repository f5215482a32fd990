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
use super::supervisor::Attach;
use super::tty;

pub(crate) struct Relay {
    pub outputs: Vec<Option<(OwnedFd, Stream)>>,
    pub stdin_target: Option<OwnedFd>,
    pub attach: Attach,
    pub exit: Option<i32>,
}

impl Relay {
    pub(crate) fn run(
        &mut self,
        signals: &SignalFd,
        init: Pid,
        mut stdin: Option<BorrowedFd<'_>>,
        tty: Option<&OwnedFd>,
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
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
                .collect();
            drop(fds);
            if ready[0] {
                self.on_signal(signals, init, tty);
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

    fn on_signal(&mut self, signals: &SignalFd, init: Pid, tty: Option<&OwnedFd>) {
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
                if let Some(master) = tty {
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
