//! The container's file systems as data: a [`MountPlan`] is computed from the config (and
//! snapshot-tested), then applied by thin code inside the container's mount namespace. Order
//! and flags follow the OCI runtime defaults and runc's `rootfs_linux.go`: `/proc` first
//! (bind sources are reached through `/proc/self/fd`), `/dev` before anything under it, user
//! mounts after the system ones, masks last so nothing mounted later uncovers a masked path.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MsFlags, mount};
use serde::Serialize;

/// Host device nodes every container gets, bind-mounted (a user namespace may not `mknod`).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The OCI defaults' masked paths: hidden behind `/dev/null` or an empty read-only tmpfs.
const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// The OCI defaults' read-only paths.
const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// One step after `pivot_root`, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) enum MountStep {
    /// A kernel file system (`proc`, `sysfs`, `tmpfs`, `devpts`, `mqueue`).
    Fs {
        fstype: &'static str,
        target: String,
        flags: Vec<&'static str>,
        data: String,
    },
    /// A host path bind-mounted; `source` indexes [`MountPlan::sources`].
    Bind {
        source: usize,
        target: String,
        options: BindOptions,
    },
    Symlink {
        target: String,
        link: String,
    },
    /// Hide a path: `/dev/null` over a file, an empty read-only tmpfs over a directory.
    Mask {
        path: String,
    },
    /// Remount a path read-only in place.
    ReadOnly {
        path: String,
    },
}

/// How a bind mount is restricted, submounts included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct BindOptions {
    pub read_only: bool,
    /// Setuid and setgid bits and file capabilities do nothing under it.
    pub nosuid: bool,
    /// Device nodes under it open nothing.
    pub nodev: bool,
}

impl BindOptions {
    /// Files and directories: no setuid and no devices (Docker's binds allow both), so a
    /// setuid binary or a device node that a host user left there gives the container
    /// nothing.
    pub(crate) const fn files(read_only: bool) -> Self {
        Self {
            read_only,
            nosuid: true,
            nodev: true,
        }
    }

    /// A device node: it must open.
    const DEVICE: Self = Self {
        read_only: false,
        nosuid: true,
        nodev: false,
    };

    /// `mount_setattr`'s `MOUNT_ATTR_*` bits for these options.
    fn attributes(self) -> u64 {
        [
            (self.read_only, MOUNT_ATTR_RDONLY),
            (self.nosuid, MOUNT_ATTR_NOSUID),
            (self.nodev, MOUNT_ATTR_NODEV),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(0, |bits, (_, bit)| bits | bit)
    }
}

/// Everything mounted in a container, as data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MountPlan {
    /// Host paths opened before `pivot_root` and bound from their descriptors after it.
    pub sources: Vec<PathBuf>,
    pub steps: Vec<MountStep>,
    /// How many leading steps run before `pivot_root`, under the new root: the kernel mounts
    /// a new `proc` or `sysfs` in a user namespace only while a full one is still visible in
    /// the mount namespace (`mount_too_revealing` in fs/namespace.c), as runc also orders it.
    pub early: usize,
}

/// What the plan is built from: all decided before the container starts.
#[derive(Debug, Clone)]
pub(crate) struct MountRequest<'a> {
    pub rootless: bool,
    pub new_network: bool,
    pub shm_size: u64,
    /// Files in the container's directory bound over `/etc/hosts`, `/etc/hostname`,
    /// `/etc/resolv.conf`.
    pub etc_files: Vec<(PathBuf, &'static str)>,
    /// The host CA bundle, bound read-only at the same path.
    pub ca_bundle: Option<PathBuf>,
    /// Host device nodes (GPUs), bound at the same path.
    pub devices: Vec<PathBuf>,
    /// `(host, container, options)`, GPU libraries and user volumes, in that order.
    pub binds: Vec<(PathBuf, String, BindOptions)>,
    pub symlinks: Vec<(String, String)>,
    pub host_dev: &'a Path,
}

impl MountPlan {
    pub(crate) fn new(request: &MountRequest<'_>) -> Self {
        let mut plan = Self {
            sources: Vec::new(),
            steps: Vec::new(),
            early: 2,
        };
        plan.fs("proc", "/proc", &["nosuid", "nodev", "noexec"], "");
        plan.sys(request);
        // `nodev`, unlike Docker's: every node a container needs is bound in (its own
        // mount keeps the host's flags), so a node made here with `mknod` opens nothing.
        plan.fs(
            "tmpfs",
            "/dev",
            &["nosuid", "nodev", "strictatime"],
            "mode=755,size=65536k",
        );
        for device in DEVICES {
            plan.bind(
                request.host_dev.join(device),
                &format!("/dev/{device}"),
                BindOptions::DEVICE,
            );
        }
        plan.dev_filesystems(request);
        for device in &request.devices {
            let target = device.to_string_lossy().into_owned();
            plan.bind(device.clone(), &target, BindOptions::DEVICE);
        }
        for (file, target) in &request.etc_files {
            plan.bind(file.clone(), target, BindOptions::files(false));
        }
        if let Some(bundle) = &request.ca_bundle {
            let target = bundle.to_string_lossy().into_owned();
            plan.bind(bundle.clone(), &target, BindOptions::files(true));
        }
        for (host, target, options) in &request.binds {
            plan.bind(host.clone(), target, *options);
        }
        for (target, link) in &request.symlinks {
            plan.steps.push(MountStep::Symlink {
                target: target.clone(),
                link: link.clone(),
            });
        }
        for path in MASKED_PATHS {
            plan.steps.push(MountStep::Mask {
                path: path.to_string(),
            });
        }
        for path in READONLY_PATHS {
            plan.steps.push(MountStep::ReadOnly {
                path: path.to_string(),
            });
        }
        plan
    }

    fn fs(&mut self, fstype: &'static str, target: &str, flags: &[&'static str], data: &str) {
        self.steps.push(MountStep::Fs {
            fstype,
            target: target.to_string(),
            flags: flags.to_vec(),
            data: data.to_string(),
        });
    }

    fn bind(&mut self, host: PathBuf, target: &str, options: BindOptions) {
        self.sources.push(host);
        self.steps.push(MountStep::Bind {
            source: self.sources.len() - 1,
            target: target.to_string(),
            options,
        });
    }

    /// sysfs may only be mounted by the owner of the network namespace: a rootless container
    /// sharing the host's network binds the host's `/sys` read-only instead.
    fn sys(&mut self, request: &MountRequest<'_>) {
        if request.rootless && !request.new_network {
            self.bind(PathBuf::from("/sys"), "/sys", BindOptions::files(true));
        } else {
            self.fs("sysfs", "/sys", &["nosuid", "nodev", "noexec", "ro"], "");
        }
    }

    fn dev_filesystems(&mut self, request: &MountRequest<'_>) {
        // gid=5 (tty) exists only where the host's gid 5 is mapped, which rootless is not.
        let pts_data = if request.rootless {
            "newinstance,ptmxmode=0666,mode=0620"
        } else {
            "newinstance,ptmxmode=0666,mode=0620,gid=5"
        };
        self.fs("devpts", "/dev/pts", &["nosuid", "noexec"], pts_data);
        self.fs(
            "tmpfs",
            "/dev/shm",
            &["nosuid", "nodev", "noexec"],
            &format!("mode=1777,size={}", request.shm_size),
        );
        self.fs("mqueue", "/dev/mqueue", &["nosuid", "nodev", "noexec"], "");
        for (target, link) in [
            ("pts/ptmx", "/dev/ptmx"),
            ("/proc/self/fd", "/dev/fd"),
            ("/proc/self/fd/0", "/dev/stdin"),
            ("/proc/self/fd/1", "/dev/stdout"),
            ("/proc/self/fd/2", "/dev/stderr"),
            ("/proc/kcore", "/dev/core"),
        ] {
            self.steps.push(MountStep::Symlink {
                target: target.to_string(),
                link: link.to_string(),
            });
        }
    }

    /// Clone every source's mount tree (`open_tree`), on the host side, before `pivot_root`
    /// detaches the host: a detached tree can then be attached anywhere with `move_mount`,
    /// which a plain bind from the old root's paths could not (`EINVAL`).
    pub(crate) fn open_sources(&self) -> Result<Vec<OwnedFd>, String> {
        self.sources
            .iter()
            .map(|path| {
                open_tree(path).map_err(|error| format!("open `{}`: {error}", path.display()))
            })
            .collect()
    }

    /// Apply the early steps under `root`, the new root before `pivot_root`.
    pub(crate) fn apply_early(&self, root: &Path, sources: &[OwnedFd]) -> Result<(), String> {
        for step in &self.steps[..self.early] {
            apply_step(step, root, sources, &mut Vec::new())
                .map_err(|error| format!("{}: {error}", describe(step)))?;
        }
        Ok(())
    }

    /// Apply the other steps; run after `pivot_root`, with the new root as `/`. Returns the
    /// paths created in the root file system (mount points), relative, for `commit` to
    /// leave out.
    pub(crate) fn apply(&self, sources: &[OwnedFd]) -> Result<Vec<String>, String> {
        let mut created = Vec::new();
        for step in &self.steps[self.early..] {
            apply_step(step, Path::new("/"), sources, &mut created)
                .map_err(|error| format!("{}: {error}", describe(step)))?;
        }
        Ok(created)
    }
}

fn describe(step: &MountStep) -> String {
    match step {
        MountStep::Fs { fstype, target, .. } => format!("mount {fstype} at `{target}`"),
        MountStep::Bind { target, .. } => format!("bind-mount `{target}`"),
        MountStep::Symlink { link, .. } => format!("create the symlink `{link}`"),
        MountStep::Mask { path } => format!("mask `{path}`"),
        MountStep::ReadOnly { path } => format!("make `{path}` read-only"),
    }
}

fn apply_step(
    step: &MountStep,
    root: &Path,
    sources: &[OwnedFd],
    created: &mut Vec<String>,
) -> Result<(), String> {
    match step {
        MountStep::Fs {
            fstype,
            target,
            flags,
            data,
        } => {
            let target = place(root, target)?;
            note_created(created, ensure_dir(&target)?);
            let data = (!data.is_empty()).then_some(data.as_str());
            mount(Some(*fstype), &target, Some(*fstype), ms_flags(flags), data)
                .map_err(|error| error.to_string())
        }
        MountStep::Bind {
            source,
            target,
            options,
        } => {
            let fd = sources.get(*source).ok_or("missing source descriptor")?;
            bind(fd, &place(root, target)?, *options, created)
        }
        MountStep::Symlink { target, link } => {
            let link = Path::new(link);
            if link.symlink_metadata().is_ok() {
                return Ok(());
            }
            if let Some(parent) = link.parent() {
                note_created(created, ensure_dir(parent)?);
            }
            std::os::unix::fs::symlink(target, link).map_err(|error| error.to_string())?;
            note_created(created, Some(link.to_path_buf()));
            Ok(())
        }
        MountStep::Mask { path } => mask(Path::new(path)),
        MountStep::ReadOnly { path } => readonly_in_place(Path::new(path)),
    }
}

/// `target` under `root`. Under a root that is not yet `/`, a symlink in the image on the
/// way would lead out of it, so none is followed.
fn place(root: &Path, target: &str) -> Result<PathBuf, String> {
    let path = root.join(target.trim_start_matches('/'));
    if root != Path::new("/") {
        let mut current = root.to_path_buf();
        for component in Path::new(target.trim_start_matches('/')).components() {
            current.push(component);
            if current
                .symlink_metadata()
                .is_ok_and(|metadata| metadata.file_type().is_symlink())
            {
                return Err(format!("`{target}` is a symlink in the image"));
            }
        }
    }
    Ok(path)
}

fn ms_flags(names: &[&str]) -> MsFlags {
    names.iter().fold(MsFlags::empty(), |flags, name| {
        flags
            | match *name {
                "nosuid" => MsFlags::MS_NOSUID,
                "nodev" => MsFlags::MS_NODEV,
                "noexec" => MsFlags::MS_NOEXEC,
                "ro" => MsFlags::MS_RDONLY,
                "strictatime" => MsFlags::MS_STRICTATIME,
                _ => MsFlags::empty(),
            }
    })
}

/// Attach the cloned tree `fd` at `target`, restricted as asked (submounts included).
fn bind(
    fd: &OwnedFd,
    target: &Path,
    options: BindOptions,
    created: &mut Vec<String>,
) -> Result<(), String> {
    let is_dir = nix::sys::stat::fstat(fd)
        .map_err(|error| error.to_string())?
        .st_mode
        & libc::S_IFMT
        == libc::S_IFDIR;
    let made = if is_dir {
        ensure_dir(target)?
    } else {
        ensure_file(target)?
    };
    note_created(created, made);
    move_mount(fd, target).map_err(|error| error.to_string())?;
    let attributes = options.attributes();
    if attributes != 0 {
        restrict(target, attributes, true)?;
    }
    Ok(())
}

const OPEN_TREE_CLONE: u32 = 1;
const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;

/// `open_tree(2)` (Linux 5.2): a detached copy of the mount tree at `path`.
fn open_tree(path: &Path) -> nix::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| nix::Error::EINVAL)?;
    // SAFETY: a valid C string; the flags ask for a new descriptor, which we then own.
    #[expect(unsafe_code, reason = "open_tree(2) has no wrapper in nix")]
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE,
        )
    };
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    #[expect(unsafe_code, reason = "adopting a descriptor from a raw syscall")]
    Ok(
        unsafe {
            <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(i32::try_from(fd).unwrap_or(-1))
        },
    )
}

/// `move_mount(2)`: attach the detached tree `fd` at `target`.
fn move_mount(fd: &OwnedFd, target: &Path) -> nix::Result<()> {
    let c_target = CString::new(target.as_os_str().as_bytes()).map_err(|_| nix::Error::EINVAL)?;
    // SAFETY: valid descriptor and C strings that outlive the call.
    #[expect(unsafe_code, reason = "move_mount(2) has no wrapper in nix")]
    let result = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c_target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}

fn mask(path: &Path) -> Result<(), String> {
    let Ok(metadata) = path.symlink_metadata() else {
        return Ok(());
    };
    if metadata.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0"),
        )
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    }
    .map_err(|error| error.to_string())
}

fn readonly_in_place(path: &Path) -> Result<(), String> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|error| error.to_string())?;
    restrict(path, MOUNT_ATTR_RDONLY, false)
}

/// `mount_setattr(2)`'s argument (Linux 5.12); libc does not define it.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: u32 = 0x8000;

/// Set `attributes` (`MOUNT_ATTR_*`) on the mount at `path`: `mount_setattr` covers
/// submounts too; older kernels get a remount of the top mount that keeps the flags a user
/// namespace may not clear (nosuid, nodev, noexec).
fn restrict(path: &Path, attributes: u64, recursive: bool) -> Result<(), String> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|error| error.to_string())?;
    let attr = MountAttr {
        attr_set: attributes,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the path is a valid C string and `attr` a properly sized, initialised struct
    // that outlives the call.
    #[expect(unsafe_code, reason = "mount_setattr(2) has no wrapper in nix or libc")]
    let result = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            flags,
            &raw const attr,
            size_of::<MountAttr>(),
        )
    };
    if result == 0 {
        return Ok(());
    }
    let stat = nix::sys::statvfs::statvfs(path).map_err(|error| error.to_string())?;
    let kept = [
        (nix::sys::statvfs::FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (nix::sys::statvfs::FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (nix::sys::statvfs::FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ]
    .into_iter()
    .filter(|(flag, _)| stat.flags().contains(*flag))
    .fold(MsFlags::empty(), |flags, (_, ms)| flags | ms);
    let asked = [
        (MOUNT_ATTR_RDONLY, MsFlags::MS_RDONLY),
        (MOUNT_ATTR_NOSUID, MsFlags::MS_NOSUID),
        (MOUNT_ATTR_NODEV, MsFlags::MS_NODEV),
    ]
    .into_iter()
    .filter(|(bit, _)| attributes & bit != 0)
    .fold(MsFlags::empty(), |flags, (_, ms)| flags | ms);
    mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | asked | kept,
        None::<&str>,
    )
    .map_err(|error| error.to_string())
}

/// Create `dir` and missing parents; the topmost one created, if any.
fn ensure_dir(dir: &Path) -> Result<Option<PathBuf>, String> {
    if dir.is_dir() {
        return Ok(None);
    }
    let topmost = topmost_missing(dir);
    fs_err::create_dir_all(dir).map_err(|error| error.to_string())?;
    Ok(topmost)
}

/// Create an empty file to bind a file over; the topmost path created, if any.
fn ensure_file(file: &Path) -> Result<Option<PathBuf>, String> {
    if file.symlink_metadata().is_ok() {
        return Ok(None);
    }
    let topmost = topmost_missing(file);
    if let Some(parent) = file.parent() {
        fs_err::create_dir_all(parent).map_err(|error| error.to_string())?;
    }
    fs_err::File::create(file).map_err(|error| error.to_string())?;
    Ok(topmost)
}

fn topmost_missing(path: &Path) -> Option<PathBuf> {
    let mut current = PathBuf::new();
    for component in path.components() {
        current.push(component);
        if matches!(component, Component::Normal(_)) && current.symlink_metadata().is_err() {
            return Some(current);
        }
    }
    None
}

/// Record a created path if it is in the image's file system (not under a kernel or tmpfs
/// mount, whose contents vanish with the container anyway).
fn note_created(created: &mut Vec<String>, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let relative = path.to_string_lossy().trim_start_matches('/').to_string();
    let volatile = ["proc", "sys", "dev"]
        .iter()
        .any(|top| relative == *top || relative.starts_with(&format!("{top}/")));
    if !volatile && !relative.is_empty() {
        created.push(relative);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_for_a_rootless_container_with_a_volume() {
        let plan = MountPlan::new(&MountRequest {
            rootless: true,
            new_network: false,
            shm_size: 1 << 30,
            etc_files: vec![(PathBuf::from("/c/hosts"), "/etc/hosts")],
            ca_bundle: Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt")),
            devices: vec![],
            binds: vec![(
                PathBuf::from("/home/me/data"),
                "/data".to_string(),
                BindOptions::files(true),
            )],
            symlinks: vec![],
            host_dev: Path::new("/dev"),
        });
        let text: Vec<String> = plan
            .steps
            .iter()
            .map(|step| match step {
                MountStep::Bind {
                    source,
                    target,
                    options,
                } => {
                    let flags: Vec<&str> = [
                        (options.read_only, "ro"),
                        (options.nosuid, "nosuid"),
                        (options.nodev, "nodev"),
                    ]
                    .into_iter()
                    .filter_map(|(on, name)| on.then_some(name))
                    .collect();
                    format!(
                        "bind {} -> {target} [{}]",
                        plan.sources[*source].display(),
                        flags.join(",")
                    )
                }
                MountStep::Fs {
                    fstype,
                    target,
                    flags,
                    data,
                } => format!("{fstype} {target} [{}] {data}", flags.join(",")),
                MountStep::Symlink { target, link } => format!("symlink {link} -> {target}"),
                MountStep::Mask { path } => format!("mask {path}"),
                MountStep::ReadOnly { path } => format!("ro {path}"),
            })
            .collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    #[test]
    fn created_paths_skip_kernel_mounts() {
        let mut created = Vec::new();
        note_created(&mut created, Some(PathBuf::from("/dev/shm")));
        note_created(&mut created, Some(PathBuf::from("/data")));
        note_created(&mut created, Some(PathBuf::from("/devices")));
        assert_eq!(created, ["data", "devices"]);
    }
}
