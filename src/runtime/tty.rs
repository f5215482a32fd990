//! Terminals for `-t`: the pty is opened inside the container's own devpts (so `tty` and
//! `ttyname` work there), and its master is passed to the supervisor over a Unix socket with
//! `SCM_RIGHTS`, as runc's console socket does. The host terminal is put in raw mode while
//! attached, and window size changes follow it.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd as _, OwnedFd};

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

/// Open a pty in the container's `/dev/pts`, send its master to the supervisor, and return
/// the slave for the command's stdio.
pub(crate) fn open_in_container(socket: &OwnedFd) -> Result<OwnedFd, String> {
    let fail = |what: &str, error: nix::Error| format!("{what}: {error}");
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|error| fail("open /dev/ptmx", error))?;
    grantpt(&master).map_err(|error| fail("grantpt", error))?;
    unlockpt(&master).map_err(|error| fail("unlockpt", error))?;
    let name = ptsname_r(&master).map_err(|error| fail("ptsname", error))?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|error| fail("open the terminal", error))?;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[std::io::IoSlice::new(b"t")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|error| fail("send the terminal to the supervisor", error))?;
    Ok(slave)
}

/// Receive the pty master that [`open_in_container`] sent.
pub(crate) fn receive_master(socket: &OwnedFd) -> Result<OwnedFd, nix::Error> {
    let mut byte = [0_u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for control in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = control
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor for us; nothing else owns it.
            #[expect(unsafe_code, reason = "adopting a descriptor received with SCM_RIGHTS")]
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(nix::Error::EBADMSG)
}

/// The host terminal in raw mode until dropped: keys (Ctrl-C included) go to the container's
/// terminal, whose line discipline turns them into signals there.
pub(crate) struct RawTerminal<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawTerminal<'a> {
    pub(crate) fn enter(fd: BorrowedFd<'a>) -> Option<Self> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(Self { fd, saved })
    }
}

impl Drop for RawTerminal<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Give `to` (the container's terminal) the window size of `from` (the host's).
pub(crate) fn copy_window_size(from: impl AsFd, to: impl AsFd) {
    // SAFETY: `winsize` is plain data.
    #[expect(unsafe_code, reason = "winsize is a C struct")]
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write a valid `winsize`.
    #[expect(unsafe_code, reason = "terminal ioctls")]
    unsafe {
        if libc::ioctl(from.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &raw mut size) == 0 {
            libc::ioctl(to.as_fd().as_raw_fd(), libc::TIOCSWINSZ, &raw const size);
        }
    }
}
