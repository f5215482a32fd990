//! The loopback device of a container's own network namespace (`--network none` or a user
//! network): it starts down; bring it up so `127.0.0.1` works, as Docker does.

use std::os::fd::AsRawFd as _;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

/// `ip link set lo up`, through the `SIOCSIFFLAGS` ioctl (no netlink needed for one flag).
pub(crate) fn loopback_up() -> Result<(), String> {
    let fail = |error: nix::Error| format!("bring up the loopback device: {error}");
    let socket = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(fail)?;
    // SAFETY: `ifreq` is plain data; zeroed is a valid value.
    #[expect(unsafe_code, reason = "ifreq is a C union")]
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = libc::c_char::from_ne_bytes([*byte]);
    }
    // musl types ioctl's request as `c_int`, glibc as `c_ulong` (`libc::Ioctl` either way); both
    // requests are small, so the cast is exact on both (the static release binary is musl).
    let (get, set) = (
        libc::SIOCGIFFLAGS as libc::Ioctl,
        libc::SIOCSIFFLAGS as libc::Ioctl,
    );
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write `ifr_flags` of a valid `ifreq`.
    #[expect(unsafe_code, reason = "network ioctls")]
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), get, &raw mut request) != 0 {
            return Err(fail(nix::Error::last()));
        }
        request.ifr_ifru.ifru_flags |= libc::c_short::try_from(libc::IFF_UP).unwrap_or(1);
        if libc::ioctl(socket.as_raw_fd(), set, &raw const request) != 0 {
            return Err(fail(nix::Error::last()));
        }
    }
    Ok(())
}
