//! The kernel features `mlpack run` stands on: the kernel's version, user namespaces (for
//! rootless runs) and overlayfs.
//!
//! Sources: `user_namespaces(7)` and `proc_sys_user(5)` for `max_user_namespaces`; Debian's
//! `kernel.unprivileged_userns_clone` patch; Ubuntu 23.10's
//! `kernel.apparmor_restrict_unprivileged_userns`; `filesystems(5)` for `/proc/filesystems`.

use std::path::Path;

use super::{Check, read_trimmed};

const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
const MAX_USER_NAMESPACES: &str = "/proc/sys/user/max_user_namespaces";
const UNPRIVILEGED_USERNS_CLONE: &str = "/proc/sys/kernel/unprivileged_userns_clone";
const APPARMOR_RESTRICT_USERNS: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
const FILESYSTEMS: &str = "/proc/filesystems";

/// Every container bind-mounts host device nodes with `open_tree`/`move_mount`, which Linux
/// 5.2 added; `runtime/mounts.rs` has no fallback, so below this nothing runs.
const MIN_KERNEL: (u32, u32) = (5, 2);
/// A rootless container mounts its overlay inside its user namespace, which overlayfs
/// allows from Linux 5.11 (`FS_USERNS_MOUNT`, and the `userxattr` option the runtime passes).
/// Root's containers mount it outside, so older kernels only lose rootless runs.
const MIN_ROOTLESS_KERNEL: (u32, u32) = (5, 11);

pub(super) fn kernel(is_root: bool) -> Check {
    const NAME: &str = "kernel";
    let Some(release) = read_trimmed(OSRELEASE) else {
        return Check::warn(
            NAME,
            format!("could not read `{OSRELEASE}`"),
            "mount `/proc` (mlpack reads the host's state there)",
        );
    };
    let Some(version) = parse_release(&release) else {
        return Check::warn(
            NAME,
            format!("Linux `{release}`: could not tell its version"),
            format!(
                "mlpack needs Linux {} or newer, {} for rootless runs",
                show(MIN_KERNEL),
                show(MIN_ROOTLESS_KERNEL)
            ),
        );
    };
    if version < MIN_KERNEL {
        return Check::fail(
            NAME,
            format!(
                "Linux {release}: containers need {} or newer (`open_tree`)",
                show(MIN_KERNEL)
            ),
            "upgrade the kernel",
        );
    }
    if version < MIN_ROOTLESS_KERNEL {
        let summary = format!(
            "Linux {release}: rootless runs need {} (overlayfs in user namespaces)",
            show(MIN_ROOTLESS_KERNEL)
        );
        let hint = "upgrade the kernel to run containers as a normal user";
        return if is_root {
            Check::warn(NAME, summary, hint)
        } else {
            Check::fail(NAME, summary, format!("{hint}, or run mlpack as root"))
        };
    }
    Check::ok(NAME, format!("Linux {release}"))
}

/// `6.8.0-45-generic` → (6, 8): the leading digits of the first two dot-separated fields.
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut fields = release.split('.').map(|field| {
        let digits = field
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(field.len());
        field[..digits].parse::<u32>().ok()
    });
    Some((fields.next()??, fields.next()??))
}

fn show((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

/// Whether unprivileged users may create user namespaces, which rootless runs need; root's
/// containers do without them.
pub(super) fn user_namespaces(is_root: bool) -> Check {
    const NAME: &str = "user_namespaces";
    let sysctls = UsernsSysctls {
        max: read_trimmed(MAX_USER_NAMESPACES),
        unprivileged_clone: read_trimmed(UNPRIVILEGED_USERNS_CLONE),
        apparmor_restrict: read_trimmed(APPARMOR_RESTRICT_USERNS),
    };
    let Some((problem, hint)) = sysctls.blocker() else {
        let max = sysctls.max.unwrap_or_default();
        return Check::ok(
            NAME,
            format!("available to unprivileged users (at most {max}): rootless runs work"),
        );
    };
    if is_root {
        Check::warn(
            NAME,
            format!("{problem}: only root can run containers, rootless runs are impossible"),
            hint,
        )
    } else {
        Check::fail(
            NAME,
            format!("{problem}: this user cannot run containers"),
            format!("{hint}, or run mlpack as root"),
        )
    }
}

/// The sysctls that decide whether an unprivileged user gets a user namespace; `None` for
/// a file the kernel does not have.
struct UsernsSysctls {
    max: Option<String>,
    unprivileged_clone: Option<String>,
    apparmor_restrict: Option<String>,
}

impl UsernsSysctls {
    /// What stops unprivileged user namespaces, and the fix; `None` when nothing does.
    fn blocker(&self) -> Option<(&'static str, &'static str)> {
        match self.max.as_deref() {
            None => {
                return Some((
                    "the kernel has no user namespaces",
                    "use a kernel built with `CONFIG_USER_NS`",
                ));
            }
            Some("0") => {
                return Some((
                    "user namespaces are turned off (`user.max_user_namespaces` is 0)",
                    "enable them: `sysctl -w user.max_user_namespaces=15000`",
                ));
            }
            Some(_) => {}
        }
        if self.unprivileged_clone.as_deref() == Some("0") {
            return Some((
                "unprivileged user namespaces are off (`kernel.unprivileged_userns_clone` is 0)",
                "enable them: `sysctl -w kernel.unprivileged_userns_clone=1`",
            ));
        }
        if self.apparmor_restrict.as_deref() == Some("1") {
            return Some((
                "AppArmor restricts unprivileged user namespaces",
                "allow them: `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or give `mlpack` an AppArmor profile with `userns,`",
            ));
        }
        None
    }
}

/// Every container's root file system is an overlay of its image's layers.
pub(super) fn overlayfs() -> Check {
    const NAME: &str = "overlayfs";
    let Some(listing) = read_trimmed(FILESYSTEMS) else {
        return Check::warn(
            NAME,
            format!("could not read `{FILESYSTEMS}`"),
            "mount `/proc` (mlpack reads the host's state there)",
        );
    };
    if lists_filesystem(&listing, "overlay") {
        return Check::ok(NAME, "available");
    }
    // Not loaded yet: a module on disk loads on the first mount, or with `modprobe`.
    let module = read_trimmed(OSRELEASE)
        .map(|release| {
            Path::new("/lib/modules")
                .join(release)
                .join("kernel/fs/overlayfs")
        })
        .filter(|dir| dir.is_dir());
    match module {
        Some(dir) => Check::warn(
            NAME,
            format!("not loaded (the module is in `{}`)", dir.display()),
            "load it: `modprobe overlay`",
        ),
        None => Check::fail(
            NAME,
            "this kernel has no overlayfs: containers cannot start",
            "try `modprobe overlay`; if that fails, use a kernel built with `CONFIG_OVERLAY_FS`",
        ),
    }
}

/// Whether `/proc/filesystems` (`[nodev]\tNAME` per line) lists `name`.
fn lists_filesystem(listing: &str, name: &str) -> bool {
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .any(|listed| listed == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_releases() {
        for (release, version) in [
            ("6.18.44-fc-v595", Some((6, 18))),
            ("5.15.0-91-generic", Some((5, 15))),
            ("4.18.0-513.el8.x86_64", Some((4, 18))),
            ("6.8-rc1", Some((6, 8))),
            ("5.10", Some((5, 10))),
            ("6", None),
            ("linux", None),
        ] {
            assert_eq!(parse_release(release), version, "{release}");
        }
        assert!(parse_release("5.1.21").unwrap() < MIN_KERNEL);
        assert!(parse_release("5.10.0").unwrap() < MIN_ROOTLESS_KERNEL);
        assert!(parse_release("5.11.0").unwrap() >= MIN_ROOTLESS_KERNEL);
        assert!(parse_release("10.0.0").unwrap() >= MIN_ROOTLESS_KERNEL);
    }

    #[test]
    fn finds_overlay_in_proc_filesystems() {
        let listing = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\nnodev\tcgroup2\n";
        assert!(lists_filesystem(listing, "overlay"));
        assert!(lists_filesystem(listing, "ext4"));
        assert!(!lists_filesystem(listing, "btrfs"));
        assert!(!lists_filesystem("nodev\toverlayfs\n", "overlay"));
    }

    fn sysctls(max: Option<&str>, clone: Option<&str>, apparmor: Option<&str>) -> UsernsSysctls {
        UsernsSysctls {
            max: max.map(str::to_string),
            unprivileged_clone: clone.map(str::to_string),
            apparmor_restrict: apparmor.map(str::to_string),
        }
    }

    #[test]
    fn names_what_blocks_user_namespaces() {
        let blocker = |s: UsernsSysctls| s.blocker().map(|(problem, _)| problem);
        assert_eq!(blocker(sysctls(Some("63229"), None, None)), None);
        assert_eq!(blocker(sysctls(Some("63229"), Some("1"), Some("0"))), None);
        assert_eq!(
            blocker(sysctls(None, None, None)),
            Some("the kernel has no user namespaces")
        );
        assert_eq!(
            blocker(sysctls(Some("0"), Some("1"), None)),
            Some("user namespaces are turned off (`user.max_user_namespaces` is 0)")
        );
        assert_eq!(
            blocker(sysctls(Some("100"), Some("0"), None)),
            Some("unprivileged user namespaces are off (`kernel.unprivileged_userns_clone` is 0)")
        );
        assert_eq!(
            blocker(sysctls(Some("100"), None, Some("1"))),
            Some("AppArmor restricts unprivileged user namespaces")
        );
    }
}
