//! Resource limits for `mlpack run --memory` and `--cpus`, and the device allow-list
//! ([`super::devices`]): one cgroup per container, at `mlpack/<id>` under cgroup v2, or under
//! each v1 controller that a limit or the allow-list needs.
//!
//! Specs: <https://docs.kernel.org/admin-guide/cgroup-v2.html> (`memory.max`, `cpu.max`),
//! <https://docs.kernel.org/admin-guide/cgroup-v1/memory.html> and
//! <https://docs.kernel.org/scheduler/sched-bwc.html> (`cpu.cfs_quota_us`).

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_getaffinity};
use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};
use nix::unistd::Pid;

use super::devices::DeviceRule;
use crate::error::{Diagnostic, FromIo, IoError};

/// Docker's floor for `--memory`: below it a container cannot even start its runtime.
const MIN_MEMORY: u64 = 6 << 20;
/// The CFS period mlpack uses, in microseconds: the kernel's and Docker's default.
const CPU_PERIOD_US: u64 = 100_000;
/// The kernel refuses a CFS quota under 1 ms, which is 0.01 CPUs at the period above.
const MIN_CPUS: f64 = 0.01;
/// How long `remove` waits for the kernel to let go of a cgroup whose tasks just exited.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(1);
/// The shared parent of every container's cgroup, like Docker's `docker`.
const PARENT: &str = "mlpack";
/// Where a v1 host may mount the CPU controller: alone, or co-mounted with `cpuacct`
/// (systemd mounts `cpu,cpuacct` and links `cpu` to it).
const V1_CPU_DIRS: [&str; 3] = ["cpu", "cpu,cpuacct", "cpuacct,cpu"];

const MEMORY_FLAG: &str = "--memory";
const CPUS_FLAG: &str = "--cpus";
/// What needs the device cgroup, in place of a flag in errors.
const DEVICES: &str = "the device allow-list";

/// What `mlpack run` limits a container to; `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Bytes of memory, swap excluded: the container gets no swap, so the limit is real.
    pub memory: Option<u64>,
    /// CPU time as a number of CPUs, like `docker run --cpus 1.5`.
    pub cpus: Option<f64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpus.is_none()
    }

    /// Checks the limits against Docker's rules and this host's CPUs, so a caller can refuse
    /// them before it creates anything. [`Cgroup::create`] checks again.
    pub fn validate(&self) -> Result<(), CgroupError> {
        self.validate_for(host_cpus())
    }

    fn validate_for(&self, host_cpus: usize) -> Result<(), CgroupError> {
        if let Some(cpus) = self.cpus {
            #[expect(clippy::cast_precision_loss, reason = "CPU counts are far below 2^52")]
            let max = host_cpus as f64;
            if !(MIN_CPUS..=max).contains(&cpus) {
                return Err(CgroupError::InvalidCpus { cpus, host_cpus });
            }
        }
        if let Some(bytes) = self.memory
            && bytes < MIN_MEMORY
        {
            return Err(CgroupError::MemoryTooLow { bytes });
        }
        Ok(())
    }
}

/// The CFS quota in microseconds per [`CPU_PERIOD_US`] for a number of CPUs.
fn cpu_quota_us(cpus: f64) -> u64 {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "validated: 0.01 ≤ cpus ≤ host CPUs"
    )]
    let quota = (cpus * 100_000.0).round() as u64;
    quota
}

/// The CPUs this process may run on: what Docker compares `--cpus` with (Go's
/// `runtime.NumCPU` reads the affinity mask too).
fn host_cpus() -> usize {
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CgroupVersion {
    /// One controller per mount under the root (also the "hybrid" layout, whose extra
    /// cgroup2 mount at `unified` carries no memory or CPU controller).
    V1,
    /// The unified hierarchy: the root itself is a cgroup2 file system.
    V2,
}

/// A container's cgroup(s), as created by [`Cgroup::create`]; kept in the container's state so
/// that a later `mlpack rm` can remove them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    version: CgroupVersion,
    /// One directory under v2; one per needed controller under v1 (memory first).
    paths: Vec<PathBuf>,
}

impl Cgroup {
    /// Detect the host's cgroup layout under `mount_root` (normally `/sys/fs/cgroup`).
    pub fn detect(mount_root: &Path) -> Result<CgroupVersion, CgroupError> {
        let stat = match statfs(mount_root) {
            Ok(stat) => stat,
            Err(nix::errno::Errno::ENOENT) => {
                return Err(CgroupError::NoCgroup {
                    mount_root: mount_root.to_path_buf(),
                });
            }
            Err(errno) => {
                return Err(CgroupError::io("inspect", mount_root, errno.into()));
            }
        };
        if stat.filesystem_type() == CGROUP2_SUPER_MAGIC {
            return Ok(CgroupVersion::V2);
        }
        // Not unified: a tmpfs with one mount per v1 controller. A hybrid host's
        // `unified` cgroup2 mount is ignored: the memory and CPU controllers are bound to the
        // v1 mounts, and a controller lives in one hierarchy at a time.
        let has_v1_controller = std::iter::once("memory")
            .chain(V1_CPU_DIRS)
            .any(|name| mount_root.join(name).is_dir());
        if has_v1_controller {
            Ok(CgroupVersion::V1)
        } else {
            Err(CgroupError::NoCgroup {
                mount_root: mount_root.to_path_buf(),
            })
        }
    }

    /// The controllers under `mount_root` that [`Cgroup::create`] could use: v2's root
    /// `cgroup.controllers`, or v1's mounted hierarchies by name (`cpu,cpuacct` gives both;
    /// named ones such as `systemd` and the hybrid `unified` are listed too, so a caller
    /// that wants controllers only keeps the names `/proc/cgroups` lists).
    pub fn controllers(
        mount_root: &Path,
        version: CgroupVersion,
    ) -> Result<BTreeSet<String>, CgroupError> {
        match version {
            CgroupVersion::V2 => {
                let listing = mount_root.join("cgroup.controllers");
                let text = fs::read_to_string(&listing)
                    .map_err(|source| CgroupError::io("read", &listing, source))?;
                Ok(text.split_whitespace().map(str::to_string).collect())
            }
            CgroupVersion::V1 => {
                let entries = fs::read_dir(mount_root)
                    .map_err(|source| CgroupError::io("list", mount_root, source))?;
                Ok(entries
                    .flatten()
                    .filter(|entry| entry.path().is_dir())
                    .filter_map(|entry| entry.file_name().into_string().ok())
                    .flat_map(|name| name.split(',').map(str::to_string).collect::<Vec<_>>())
                    .collect())
            }
        }
    }

    /// Create `mlpack/<container_id>` cgroup(s), write the limits and install the device
    /// allow-list. Validates first (cpus from 0.01 to the number of host CPUs, memory ≥ 6 MiB
    /// as Docker requires) so nothing is created on bad input. With empty limits and no
    /// device rules nothing is created.
    ///
    /// On failure the container's directories made so far are removed again. The shared
    /// `mlpack` parent and the controllers enabled in v2 `cgroup.subtree_control` files stay:
    /// other containers may be using them at the same moment.
    pub(crate) fn create(
        mount_root: &Path,
        container_id: &str,
        limits: &Limits,
        devices: &[DeviceRule],
    ) -> Result<Self, CgroupError> {
        validate_id(container_id)?;
        limits.validate()?;
        let version = Self::detect(mount_root)?;
        let mut made = Vec::new();
        let result = match version {
            CgroupVersion::V1 => create_v1(mount_root, container_id, limits, devices, &mut made),
            CgroupVersion::V2 => create_v2(mount_root, container_id, limits, devices, &mut made),
        };
        match result {
            Ok(paths) => Ok(Self { version, paths }),
            Err(error) => {
                // Nothing was moved into these, so `rmdir` succeeds at once; a failure here
                // would hide the error that matters, so it is dropped.
                for dir in made.iter().rev() {
                    let _ = fs::remove_dir(dir);
                }
                Err(error)
            }
        }
    }

    /// Move process `pid`, all its threads, into every cgroup of the container; its children
    /// born afterwards start there too.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in &self.paths {
            let path = dir.join("cgroup.procs");
            write_file(&path, &pid.to_string()).map_err(|source| CgroupError::AddProcess {
                pid,
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// Remove the container's cgroups; ones already gone count as removed. Tries every path
    /// and returns the first error.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut first_error = None;
        for dir in &self.paths {
            if let Err(error) = remove_dir_waiting(dir) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

/// The ID becomes a directory name, so it must not climb out of `mlpack/`.
fn validate_id(id: &str) -> Result<(), CgroupError> {
    if id.is_empty() || id == "." || id == ".." || id.contains(['/', '\0']) {
        return Err(CgroupError::InvalidContainerId { id: id.to_string() });
    }
    Ok(())
}

/// v1: each limit in its own controller's hierarchy, `<controller>/mlpack/<id>`.
fn create_v1(
    mount_root: &Path,
    id: &str,
    limits: &Limits,
    devices: &[DeviceRule],
    made: &mut Vec<PathBuf>,
) -> Result<Vec<PathBuf>, CgroupError> {
    let mut paths = Vec::new();
    if let Some(bytes) = limits.memory {
        let controller = v1_controller(mount_root, MEMORY_FLAG, "memory", &["memory"])?;
        let dir = make_container_dir(&controller, id, MEMORY_FLAG, made)?;
        let bytes = bytes.to_string();
        // `memsw` (memory + swap) must stay ≥ `limit_in_bytes`, so it is raised second.
        // Equal values leave no room for swap, as the OOM test needs.
        write_limit(MEMORY_FLAG, &dir.join("memory.limit_in_bytes"), &bytes)?;
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write_limit(MEMORY_FLAG, &memsw, &bytes)?;
        }
        paths.push(dir);
    }
    if let Some(cpus) = limits.cpus {
        let controller = v1_controller(mount_root, CPUS_FLAG, "cpu", &V1_CPU_DIRS)?;
        let dir = make_container_dir(&controller, id, CPUS_FLAG, made)?;
        let period = CPU_PERIOD_US.to_string();
        write_limit(CPUS_FLAG, &dir.join("cpu.cfs_period_us"), &period)?;
        let quota = cpu_quota_us(cpus).to_string();
        write_limit(CPUS_FLAG, &dir.join("cpu.cfs_quota_us"), &quota)?;
        paths.push(dir);
    }
    if !devices.is_empty() {
        let controller = mount_root.join("devices");
        if !controller.is_dir() {
            return Err(CgroupError::DevicesMissing { path: controller });
        }
        let dir = make_container_dir(&controller, id, DEVICES, made)?;
        // Deny everything first, then allow: a new cgroup starts with its parent's list.
        write_limit(DEVICES, &dir.join("devices.deny"), "a")?;
        for rule in devices {
            write_limit(DEVICES, &dir.join("devices.allow"), &rule.v1_line())?;
        }
        paths.push(dir);
    }
    Ok(paths)
}

/// The first of `candidates` mounted under `mount_root`.
fn v1_controller(
    mount_root: &Path,
    flag: &'static str,
    controller: &'static str,
    candidates: &[&str],
) -> Result<PathBuf, CgroupError> {
    candidates
        .iter()
        .map(|name| mount_root.join(name))
        .find(|path| path.is_dir())
        .ok_or_else(|| CgroupError::ControllerMissing {
            flag,
            controller,
            path: mount_root.join(candidates[0]),
        })
}

/// v2: one directory, `mlpack/<id>`, with the controllers enabled on the way down (a cgroup
/// only gets the controllers its parent lists in `cgroup.subtree_control`) and the device
/// program attached. The device program needs no controller.
fn create_v2(
    mount_root: &Path,
    id: &str,
    limits: &Limits,
    devices: &[DeviceRule],
    made: &mut Vec<PathBuf>,
) -> Result<Vec<PathBuf>, CgroupError> {
    let mut needed = Vec::new();
    if limits.memory.is_some() {
        needed.push((MEMORY_FLAG, "memory"));
    }
    if limits.cpus.is_some() {
        needed.push((CPUS_FLAG, "cpu"));
    }
    let first_flag = match needed.first() {
        Some(&(flag, _)) => flag,
        None if !devices.is_empty() => DEVICES,
        None => return Ok(Vec::new()),
    };

    if !needed.is_empty() {
        let listing = mount_root.join("cgroup.controllers");
        let available = fs::read_to_string(&listing)
            .map_err(|source| CgroupError::limit(first_flag, "read", &listing, source))?;
        for &(flag, controller) in &needed {
            if !available.split_whitespace().any(|name| name == controller) {
                return Err(CgroupError::ControllerMissing {
                    flag,
                    controller,
                    path: listing,
                });
            }
        }
        enable_controllers(mount_root, &needed)?;
    }
    let parent = mount_root.join(PARENT);
    create_parent(&parent, first_flag)?;
    // `mlpack` itself never holds a process, so the "no internal processes" rule lets it
    // hand controllers down.
    enable_controllers(&parent, &needed)?;
    let dir = parent.join(id);
    fs::create_dir(&dir)
        .map_err(|source| CgroupError::limit(first_flag, "create", &dir, source))?;
    made.push(dir.clone());
    if !devices.is_empty() {
        super::devices::attach_program(&dir, devices).map_err(|source| {
            CgroupError::limit(DEVICES, "attach a device program to", &dir, source)
        })?;
    }

    if let Some(bytes) = limits.memory {
        write_limit(MEMORY_FLAG, &dir.join("memory.max"), &bytes.to_string())?;
        // v2 counts swap apart from memory; without this the container would swap instead
        // of meeting the OOM killer. The file is absent when swap accounting is off.
        let swap = dir.join("memory.swap.max");
        if swap.exists() {
            write_limit(MEMORY_FLAG, &swap, "0")?;
        }
    }
    if let Some(cpus) = limits.cpus {
        let value = format!("{} {CPU_PERIOD_US}", cpu_quota_us(cpus));
        write_limit(CPUS_FLAG, &dir.join("cpu.max"), &value)?;
    }
    Ok(vec![dir])
}

/// Enable each controller in `dir/cgroup.subtree_control` unless it already is; the file is
/// written one controller at a time so that a refusal names its flag.
fn enable_controllers(dir: &Path, needed: &[(&'static str, &str)]) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.subtree_control");
    let Some(&(first_flag, _)) = needed.first() else {
        return Ok(());
    };
    let enabled = fs::read_to_string(&path)
        .map_err(|source| CgroupError::limit(first_flag, "read", &path, source))?;
    for &(flag, controller) in needed {
        if !enabled.split_whitespace().any(|name| name == controller) {
            write_limit(flag, &path, &format!("+{controller}"))?;
        }
    }
    Ok(())
}

/// `dir` may have been made by another container, or be made by one right now.
fn create_parent(dir: &Path, flag: &'static str) -> Result<(), CgroupError> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::limit(flag, "create", dir, source)),
    }
}

/// Make `controller/mlpack/<id>` and record it in `made` for the rollback.
fn make_container_dir(
    controller: &Path,
    id: &str,
    flag: &'static str,
    made: &mut Vec<PathBuf>,
) -> Result<PathBuf, CgroupError> {
    let parent = controller.join(PARENT);
    create_parent(&parent, flag)?;
    let dir = parent.join(id);
    fs::create_dir(&dir).map_err(|source| CgroupError::limit(flag, "create", &dir, source))?;
    made.push(dir.clone());
    Ok(dir)
}

fn write_limit(flag: &'static str, path: &Path, value: &str) -> Result<(), CgroupError> {
    write_file(path, value).map_err(|source| CgroupError::limit(flag, "write", path, source))
}

/// Cgroup files take one value per `write(2)` and cannot be created, so the file is opened
/// without `O_CREAT` (a missing file means the kernel lacks the feature) and written at once.
fn write_file(path: &Path, value: &str) -> io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(value.as_bytes())
}

/// `rmdir` a cgroup. The kernel answers `EBUSY` while it still counts tasks, which lasts a
/// moment after the last one is killed (until it is reaped and its css released), so this
/// retries for up to [`REMOVE_TIMEOUT`].
fn remove_dir_waiting(dir: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + REMOVE_TIMEOUT;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::ResourceBusy => {
                if Instant::now() >= deadline {
                    return Err(CgroupError::Busy {
                        path: dir.to_path_buf(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(source) => return Err(CgroupError::io("remove", dir, source)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "`{flag} {cpus}` is out of range: this host has {host_cpus} CPUs, so it must be from 0.01 to {host_cpus}",
        flag = CPUS_FLAG
    )]
    InvalidCpus { cpus: f64, host_cpus: usize },

    #[error(
        "`{flag}` of {bytes} bytes is below the minimum of 6 MiB ({min} bytes)",
        flag = MEMORY_FLAG,
        min = MIN_MEMORY
    )]
    MemoryTooLow { bytes: u64 },

    /// Container IDs are generated, so this is a bug rather than the user's input.
    #[error("container ID `{id}` cannot name a cgroup directory")]
    InvalidContainerId { id: String },

    #[error(
        "`{}` has no cgroup v2 file system and no cgroup v1 `memory` or `cpu` controller",
        mount_root.display()
    )]
    NoCgroup { mount_root: PathBuf },

    /// The host does not offer the controller a limit needs (`path` is the v1 mount point
    /// that is missing, or the v2 `cgroup.controllers` that does not list it).
    #[error(
        "`{flag}` needs the cgroup `{controller}` controller, which `{}` does not provide",
        path.display()
    )]
    ControllerMissing {
        flag: &'static str,
        controller: &'static str,
        path: PathBuf,
    },

    /// The host's v1 cgroups have no `devices` controller.
    #[error(
        "the device allow-list needs the cgroup v1 `devices` controller, which `{}` does not provide",
        path.display()
    )]
    DevicesMissing { path: PathBuf },

    /// Setting up a limit or the device allow-list failed; `action` is a verb (`create`,
    /// `write`, `read`).
    #[error("could not {action} `{}` for {}", path.display(), purpose(flag))]
    Limit {
        flag: &'static str,
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("could not move process {pid} into the container's cgroup (`{}`)", path.display())]
    AddProcess {
        pid: i32,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cgroup `{}` still has processes after 1 s", path.display())]
    Busy { path: PathBuf },

    #[error(transparent)]
    Io(#[from] IoError),
}

impl CgroupError {
    fn limit(flag: &'static str, action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Limit {
            flag,
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl Diagnostic for CgroupError {
    /// Whether the user can fix this by changing the command or the host (a bad value, a
    /// host without the controller or the permission), rather than something unexpected.
    fn is_user_error(&self) -> bool {
        match self {
            Self::InvalidCpus { .. }
            | Self::MemoryTooLow { .. }
            | Self::NoCgroup { .. }
            | Self::ControllerMissing { .. }
            | Self::DevicesMissing { .. } => true,
            Self::Limit { source, .. } => is_denied(source),
            Self::InvalidContainerId { .. }
            | Self::AddProcess { .. }
            | Self::Busy { .. }
            | Self::Io(_) => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::InvalidCpus { host_cpus, .. } => vec![format!(
                "`--cpus` is a number of CPUs' worth of time, like `--cpus 1.5`; the most is {host_cpus}"
            )],
            Self::MemoryTooLow { .. } => {
                vec!["give at least `6m`, like `--memory 512m`".to_string()]
            }
            Self::NoCgroup { .. } => vec![
                "boot with cgroups mounted at `/sys/fs/cgroup` (systemd does this): containers run as root get their device allow-list there, and `--memory` and `--cpus` need them"
                    .to_string(),
            ],
            Self::DevicesMissing { .. } => vec![
                "mount the `devices` controller (`mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices`), or boot with cgroup v2"
                    .to_string(),
            ],
            Self::Limit { flag, .. } if *flag == DEVICES => vec![
                "containers run as root get Docker's default device allow-list through a cgroup, which needs a writable `/sys/fs/cgroup` (not the read-only one of an unprivileged container) and, on cgroup v2, eBPF"
                    .to_string(),
            ],
            Self::ControllerMissing { flag, .. } => vec![no_permission_hint(flag)],
            Self::Limit { flag, source, .. } if is_denied(source) => {
                vec![no_permission_hint(flag)]
            }
            Self::Limit { flag, source, .. } if source.kind() == io::ErrorKind::NotFound => {
                vec![format!(
                    "this kernel does not offer the limit; drop `{flag}`"
                )]
            }
            Self::Busy { path } => vec![format!(
                "stop the processes listed in `{}` and remove the container again",
                path.join("cgroup.procs").display()
            )],
            _ => Vec::new(),
        }
    }
}

/// A flag as errors name it, in backticks, or what else needs a cgroup.
fn purpose(flag: &str) -> String {
    if flag.starts_with("--") {
        format!("`{flag}`")
    } else {
        flag.to_string()
    }
}

/// A non-root user without delegation, or cgroups mounted read-only (as in most containers).
fn is_denied(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

fn no_permission_hint(flag: &str) -> String {
    format!(
        "run as root, or on cgroup v2 in a delegated scope (`systemd-run --user --scope -p Delegate=yes mlpack run …`), or drop `{flag}`"
    )
}

#[cfg(test)]
mod tests;
