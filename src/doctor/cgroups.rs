//! Cgroups, which `mlpack run --memory` and `--cpus` need, and every container run by root
//! (its device allow-list): the version the runtime detects, the controllers it can use,
//! and whether this user may create cgroups there.
//!
//! Detection is the runtime's own ([`Cgroup::detect`], [`Cgroup::controllers`]); on v1 the
//! mounted hierarchies are narrowed to the controllers `/proc/cgroups` lists as enabled
//! (format: `cgroups(7)`, "/proc files").

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};

use super::{Check, read_trimmed};
use crate::error::Diagnostic;
use crate::runtime::{Cgroup, CgroupVersion};

/// Where the runtime looks for cgroups (`runtime/launch.rs`).
const MOUNT_ROOT: &str = "/sys/fs/cgroup";
const PROC_CGROUPS: &str = "/proc/cgroups";
/// The runtime's parent cgroup for containers (`runtime/cgroup.rs`).
const PARENT: &str = "mlpack";

/// The controllers a limit needs, with the flag that needs it.
const LIMIT_CONTROLLERS: [(&str, &str); 2] = [("memory", "--memory"), ("cpu", "--cpus")];

pub(super) fn check(is_root: bool) -> Check {
    const NAME: &str = "cgroups";
    let root = Path::new(MOUNT_ROOT);
    let version = match Cgroup::detect(root) {
        Ok(version) => version,
        Err(error) => {
            let hint = error
                .hints()
                .into_iter()
                .next()
                .unwrap_or_else(|| "drop `--memory` and `--cpus`".to_string());
            if is_root {
                return Check::fail(
                    NAME,
                    format!("{error}: containers run as root will not start"),
                    hint,
                );
            }
            return Check::warn(
                NAME,
                format!("{error}: `--memory` and `--cpus` will not work"),
                hint,
            );
        }
    };
    let controllers = match controllers(root, version) {
        Ok(controllers) => controllers,
        Err(error) => {
            return Check::warn(
                NAME,
                error,
                "check that `/sys/fs/cgroup` is mounted and readable",
            );
        }
    };
    let shown = controllers.iter().cloned().collect::<Vec<_>>().join(" ");
    let label = match version {
        CgroupVersion::V1 => "v1",
        CgroupVersion::V2 => "v2",
    };
    let mut details = vec![format!("controllers: {shown}")];
    if !controllers.contains("pids") {
        details.push("no `pids` controller (mlpack sets no process limit, so this is fine)".into());
    }
    let missing: Vec<&str> = LIMIT_CONTROLLERS
        .iter()
        .filter(|(controller, _)| !controllers.contains(*controller))
        .map(|(_, flag)| *flag)
        .collect();
    if is_root && version == CgroupVersion::V1 && !controllers.contains("devices") {
        return Check::fail(
            NAME,
            "cgroup v1 without the `devices` controller: containers run as root need it for their device allow-list and will not start",
            "mount it (`mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices`), or boot with cgroup v2",
        )
        .details(details);
    }
    if !missing.is_empty() {
        let flags = missing.join("`, `");
        return Check::warn(
            NAME,
            format!("cgroup {label} without the controllers that `{flags}` need"),
            format!("drop `{flags}`, or enable the controllers (on v2, in the parent's `cgroup.subtree_control`)"),
        )
        .details(details);
    }
    if let Some(dir) = unwritable_dir(root, version) {
        if is_root {
            return Check::fail(
                NAME,
                format!("cgroup {label}, but root cannot create cgroups in `{}`: containers will not start (their device allow-list needs one)", dir.display()),
                "mount `/sys/fs/cgroup` read-write (inside a container, run it privileged)",
            )
            .details(details);
        }
        return Check::warn(
            NAME,
            format!("cgroup {label}, but this user cannot create cgroups in `{}`: `--memory` and `--cpus` will be refused", dir.display()),
            "run as root with `/sys/fs/cgroup` mounted read-write, or on cgroup v2 in a delegated scope (`systemd-run --user --scope -p Delegate=yes mlpack run …`)",
        )
        .details(details);
    }
    Check::ok(
        NAME,
        format!("cgroup {label}: `--memory` and `--cpus` work"),
    )
    .details(details)
}

/// The runtime's controllers; on v1 only the names `/proc/cgroups` lists as enabled, which
/// drops named hierarchies such as `systemd` and the hybrid `unified` mount.
fn controllers(root: &Path, version: CgroupVersion) -> Result<BTreeSet<String>, String> {
    let mut controllers = Cgroup::controllers(root, version).map_err(|error| error.to_string())?;
    if version == CgroupVersion::V1
        && let Some(text) = read_trimmed(PROC_CGROUPS)
    {
        let enabled = enabled_controllers(&text);
        controllers.retain(|name| enabled.contains(name));
    }
    Ok(controllers)
}

/// The first directory the runtime would write to that this process may not: `mlpack/`
/// if it exists, else the directory it would be made in.
fn unwritable_dir(root: &Path, version: CgroupVersion) -> Option<PathBuf> {
    let bases: Vec<PathBuf> = match version {
        CgroupVersion::V2 => vec![root.to_path_buf()],
        CgroupVersion::V1 => ["memory", "cpu", "devices"]
            .iter()
            .map(|name| root.join(name))
            .filter(|dir| dir.is_dir())
            .collect(),
    };
    bases
        .into_iter()
        .map(|base| {
            let parent = base.join(PARENT);
            if parent.is_dir() { parent } else { base }
        })
        .find(|dir| access(dir.as_path(), AccessFlags::W_OK).is_err())
}

/// The enabled controllers in `/proc/cgroups`: `#subsys_name hierarchy num_cgroups enabled`.
fn enabled_controllers(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [name, _, _, "1", ..] => Some((*name).to_string()),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_enabled_controllers_from_proc_cgroups() {
        let text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
                    cpuset\t3\t2\t1\n\
                    cpu\t1\t3\t1\n\
                    memory\t4\t82\t0\n\
                    pids\t8\t2\t1\n\
                    garbage\n";
        assert_eq!(
            enabled_controllers(text).into_iter().collect::<Vec<_>>(),
            ["cpu", "cpuset", "pids"]
        );
    }

    #[test]
    fn finds_the_directory_the_runtime_writes() {
        let root = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(root.path().join("memory/mlpack")).unwrap();
        fs_err::create_dir_all(root.path().join("cpu")).unwrap();
        // Writable temp dirs, as whoever runs the test.
        assert_eq!(unwritable_dir(root.path(), CgroupVersion::V1), None);
        assert_eq!(unwritable_dir(root.path(), CgroupVersion::V2), None);
    }
}
