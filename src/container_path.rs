//! Paths inside a container, as `mlpack.toml` (`[train] workdir`, dataset and outputs
//! `target`) and `mlpack run -v`/`--mount` give them. They are checked when read, not when a
//! mount or a layer fails late: absolute, without `..` (`/../../etc` is `/etc`, hiding the
//! image's), never `/` and never under `/proc`, `/sys` or `/dev`, whose kernel file systems the
//! runtime mounts (runc refuses mounts over `/proc` for the same reason: `checkProcMount` in
//! `libcontainer/rootfs_linux.go`).

/// Linux's `PATH_MAX`: no longer path can be opened.
pub const PATH_LIMIT: usize = 4096;

/// The trees the runtime mounts its own file systems on.
const KERNEL_TREES: [&str; 3] = ["/proc", "/sys", "/dev"];

/// `path` as `/a/b` (repeated and trailing `/` and `.` components dropped), or why it cannot
/// be a container path.
pub fn normalize(path: &str) -> Result<String, String> {
    if path.contains('\0') {
        return Err("contains a NUL byte".to_string());
    }
    if path.len() > PATH_LIMIT {
        return Err(format!("is longer than {PATH_LIMIT} bytes"));
    }
    if !path.starts_with('/') {
        return Err("is not an absolute path".to_string());
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err("has a `..` component".to_string());
    }
    if parts.is_empty() {
        return Err("is the container's root".to_string());
    }
    let normalized = format!("/{}", parts.join("/"));
    if let Some(tree) = KERNEL_TREES.iter().find(|tree| {
        normalized == **tree
            || normalized
                .strip_prefix(**tree)
                .is_some_and(|rest| rest.starts_with('/'))
    }) {
        return Err(format!(
            "is under `{tree}`, which the container's own file systems fill"
        ));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_absolute_normalized_and_outside_kernel_trees() {
        assert_eq!(normalize("/data//iris/./").as_deref(), Ok("/data/iris"));
        assert_eq!(normalize("/device").as_deref(), Ok("/device"));
        assert_eq!(normalize("/procfs/x").as_deref(), Ok("/procfs/x"));
        let refused: Vec<String> = [
            "data",
            "/../../etc",
            "/app/../..",
            "/",
            "//.",
            "/proc",
            "/sys/fs/cgroup",
            "/dev/",
            "/a\0b",
        ]
        .iter()
        .map(|path| {
            format!(
                "{}: {}",
                crate::source::excerpt(path),
                normalize(path).unwrap_err()
            )
        })
        .collect();
        insta::assert_snapshot!(refused.join("\n"), @r"
        data: is not an absolute path
        /../../etc: has a `..` component
        /app/../..: has a `..` component
        /: is the container's root
        //.: is the container's root
        /proc: is under `/proc`, which the container's own file systems fill
        /sys/fs/cgroup: is under `/sys`, which the container's own file systems fill
        /dev/: is under `/dev`, which the container's own file systems fill
        /a\0b: contains a NUL byte
        ");
        assert_eq!(
            normalize(&format!("/{}", "a".repeat(PATH_LIMIT))),
            Err("is longer than 4096 bytes".to_string())
        );
    }
}
