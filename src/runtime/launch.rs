//! Everything decided on the host before a container's init is cloned: the unpacked layers
//! and their overlay, the mount plan, GPUs (after the driver-versus-CUDA check), the files
//! bound over `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`, the namespaces, the
//! final environment, the cgroup and, for rootless containers, the uid map.

use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Pid, Uid};

use super::cgroup::Cgroup;
use super::config::{ContainerConfig, NetworkMode, merge_env};
use super::container::{Container, Containers};
use super::container_id::ContainerId;
use super::error::RuntimeError;
use super::init::Overlay;
use super::layers::{LayerCache, SHORT_LINKS_DIR};
use super::mounts::{BindOptions, MountPlan, MountRequest};
use crate::error::FromIo;
use crate::hardware::{
    CUDA_LABEL, CudaVersion, DRIVER_LABEL, DriverVersion, GpuInjection, min_driver_for,
    newest_major_for, plan_gpus,
};

/// Where the cgroup file systems are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The host CA bundle that a container with the host's network gets (Debian's path, which
/// Python's `ssl` and `certifi`-less `requests` read).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// One page of mount options; the kernel refuses more.
const MAX_MOUNT_OPTIONS: usize = 4095;

pub(crate) struct Launch {
    pub overlay: Overlay,
    pub plan: MountPlan,
    /// Volumes' data directories and their mount points, for init's copy-up.
    pub copy_up: Vec<(PathBuf, String)>,
    pub env: Vec<String>,
    pub new_network: bool,
    pub capabilities: Vec<caps::Capability>,
    /// Installed last before `execve`.
    pub seccomp: Vec<seccompiler::BpfProgram>,
    rootless: bool,
    id: ContainerId,
    limits: super::cgroup::Limits,
    /// Host device nodes bound in (GPUs), which the device allow-list must let through.
    devices: Vec<PathBuf>,
}

impl Launch {
    pub(crate) fn prepare(
        containers: &Containers,
        container: &Container,
    ) -> Result<Self, RuntimeError> {
        let config = &container.config;
        let rootless = !Uid::effective().is_root();
        let overlay = overlay(containers, container, rootless)?;
        let gpus = check_gpus(config)?;
        let new_network = config.network.is_isolated();
        let etc_files = write_etc_files(containers, container)?;
        let mut binds: Vec<(PathBuf, String, BindOptions)> = Vec::new();
        let mut copy_up = Vec::new();
        let mut devices = Vec::new();
        let mut symlinks = Vec::new();
        if let Some(gpus) = &gpus {
            devices.clone_from(&gpus.devices);
            for file in &gpus.mounts {
                binds.push((
                    file.host.clone(),
                    file.container.to_string_lossy().into_owned(),
                    BindOptions::files(file.read_only),
                ));
            }
            for (link, target) in &gpus.symlinks {
                symlinks.push((
                    target.to_string_lossy().into_owned(),
                    link.to_string_lossy().into_owned(),
                ));
            }
        }
        for mount in &config.mounts {
            let options = BindOptions {
                read_only: mount.read_only,
                nosuid: !mount.suid,
                nodev: !mount.dev,
            };
            let source = mount.check_source()?;
            if mount.volume.is_some() && !mount.no_copy {
                copy_up.push((source.clone(), mount.target.clone()));
            }
            binds.push((source, mount.target.clone(), options));
        }
        let ca_bundle =
            (!new_network && Path::new(CA_BUNDLE).is_file()).then(|| PathBuf::from(CA_BUNDLE));
        let plan = MountPlan::new(&MountRequest {
            rootless,
            new_network,
            shm_size: config.shm_size,
            etc_files,
            ca_bundle,
            devices: devices.clone(),
            binds,
            symlinks,
            host_dev: Path::new("/dev"),
        });
        let capabilities = super::capabilities::for_network(config.network);
        Ok(Self {
            overlay,
            plan,
            copy_up,
            env: final_env(config, gpus.as_ref()),
            new_network,
            seccomp: config.seccomp.compile(&capabilities)?,
            capabilities,
            rootless,
            id: config.id.clone(),
            limits: config.limits,
            devices,
        })
    }

    /// The namespaces init is cloned into. Mount, PID, IPC and UTS always; network for
    /// `--network none`; user when not root, which must come in the same `clone` so that the
    /// other namespaces are owned by it.
    pub(crate) fn clone_flags(&self) -> CloneFlags {
        let mut flags = CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC;
        if self.new_network {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        if self.rootless {
            flags |= CloneFlags::CLONE_NEWUSER;
        }
        flags
    }

    /// The container's cgroup: its limits, and, as root, Docker's device allow-list. A
    /// rootless container gets no device cgroup (its user may not make one), and needs
    /// none: a user namespace may not create device nodes, and its layers hold none.
    pub(crate) fn create_cgroup(&self) -> Result<Option<Cgroup>, RuntimeError> {
        let devices = if self.rootless {
            Vec::new()
        } else {
            super::devices::rules_with(&self.devices).map_err(|(path, source)| {
                RuntimeError::io("inspect the device node", path, source)
            })?
        };
        if self.limits.is_empty() && devices.is_empty() {
            return Ok(None);
        }
        Ok(Some(Cgroup::create(
            Path::new(CGROUP_ROOT),
            self.id.as_str(),
            &self.limits,
            &devices,
        )?))
    }

    /// Map the calling user to root in a rootless container's user namespace. An
    /// unprivileged process may map only its own IDs, and only after denying `setgroups`
    /// (`user_namespaces(7)`).
    pub(crate) fn write_id_maps(&self, pid: Pid) -> Result<(), RuntimeError> {
        if !self.rootless {
            return Ok(());
        }
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let (uid, gid) = (Uid::effective(), Gid::effective());
        for (file, text) in [
            ("setgroups", "deny".to_string()),
            ("uid_map", format!("0 {uid} 1")),
            ("gid_map", format!("0 {gid} 1")),
        ] {
            let path = proc.join(file);
            fs_err::write(&path, text).map_err(|source| {
                RuntimeError::io("write the user namespace map", &path, source)
            })?;
        }
        Ok(())
    }
}

/// Unpack the image's layers (once per store) and describe their overlay.
fn overlay(
    containers: &Containers,
    container: &Container,
    rootless: bool,
) -> Result<Overlay, RuntimeError> {
    let store = containers.store();
    let image = store.resolve(&container.config.image.digest)?;
    let cache = LayerCache::for_store(store);
    let mut lower = Vec::new();
    // A directory is named by a diffID or a chain ID: 64 hex digits either way.
    for dir in cache.ensure_image(store, &image)?.iter().rev() {
        let hex = dir.file_name().unwrap_or_default().to_string_lossy();
        lower.push(short_link(&cache, &hex)?);
    }
    if lower.is_empty() {
        let empty = cache.root().join("empty");
        fs_err::create_dir_all(&empty)
            .map_err(|source| RuntimeError::io("create the directory", &empty, source))?;
        lower.push("empty".to_string());
    }
    let overlay = Overlay {
        layers_root: cache.root().to_path_buf(),
        lower,
        upper: container.upper_dir(),
        work: container.work_dir(),
        target: container.rootfs(),
        userxattr: rootless,
        // Rootless, the kernel's `work/incompat/volatile` would be left for a user who
        // cannot remove it.
        volatile: container.config.auto_remove && !rootless,
    };
    if overlay.options().len() > MAX_MOUNT_OPTIONS {
        let fixed = overlay.options().len() - overlay.lower.join(":").len();
        return Err(RuntimeError::TooManyLayers {
            count: overlay.lower.len(),
            max: (MAX_MOUNT_OPTIONS - fixed) / (SHORT_LINK.len() + 1),
        });
    }
    Ok(overlay)
}

/// `l/<12 hex>`, as each lower dir is named in the overlay's options.
const SHORT_LINK: &str = "l/0123456789ab";

/// A short name for a layer directory: `layers/l/<first 12 hex digits>` links to it, so that
/// some 250 layers fit in the one page of mount options where full diffIDs fit 60 (Docker's
/// overlay2 driver shortens its lower dirs the same way). A prefix already taken by another
/// layer falls back to the full name.
fn short_link(cache: &LayerCache, hex: &str) -> Result<String, RuntimeError> {
    let dir = cache.root().join(SHORT_LINKS_DIR);
    let name = &hex[..12.min(hex.len())];
    let link = dir.join(name);
    let target = PathBuf::from("..").join(hex);
    match fs_err::read_link(&link) {
        Ok(existing) if existing == target => return Ok(format!("l/{name}")),
        Ok(_) => return Ok(hex.to_string()),
        Err(_) => {}
    }
    fs_err::create_dir_all(&dir)
        .map_err(|source| RuntimeError::io("create the directory", &dir, source))?;
    match std::os::unix::fs::symlink(&target, &link) {
        Ok(()) => Ok(format!("l/{name}")),
        // Another container made it meanwhile: check what it points to.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => short_link(cache, hex),
        Err(source) => Err(RuntimeError::io("create the link", &link, source)),
    }
}

/// With `--gpus`: what to bind in, after checking the host driver can run the image's CUDA.
pub(crate) fn check_gpus(config: &ContainerConfig) -> Result<Option<GpuInjection>, RuntimeError> {
    let Some(request) = &config.gpus else {
        return Ok(None);
    };
    let injection = plan_gpus(Path::new("/"), request)?;
    let labels = &config.image.labels;
    if let Some(cuda) = labels.get(CUDA_LABEL)
        && let Some(needed) = needed_driver(cuda, labels.get(DRIVER_LABEL))
        && injection.driver < needed
    {
        return Err(RuntimeError::DriverTooOld {
            cuda: cuda.clone(),
            needed: needed.to_string(),
            host: injection.driver.to_string(),
            supported: newest_major_for(&injection.driver).map(|major| format!("{major}.x")),
        });
    }
    Ok(Some(injection))
}

/// The oldest driver for an image's CUDA label: the newer of what NVIDIA's tables say the
/// release needs and what the image's driver label says (a label from a newer mlpack may know
/// a release these tables don't).
fn needed_driver(cuda: &str, driver: Option<&String>) -> Option<DriverVersion> {
    let from_table = cuda.parse::<CudaVersion>().ok().and_then(min_driver_for);
    let from_label = driver.and_then(|driver| driver.parse::<DriverVersion>().ok());
    from_table.into_iter().chain(from_label).max()
}

/// The container's environment: the config's, plus `HOSTNAME`, `TERM` for a terminal, and
/// the GPU library and binary directories in front of the image's paths.
fn final_env(config: &ContainerConfig, gpus: Option<&GpuInjection>) -> Vec<String> {
    let mut env = config.env.clone();
    merge_env(&mut env, [format!("HOSTNAME={}", config.hostname)]);
    if config.tty && super::config::env_value(&env, "TERM").is_none() {
        env.push("TERM=xterm".to_string());
    }
    for (name, value) in gpus.map(|gpus| gpus.env.as_slice()).unwrap_or_default() {
        let joined = match (name.as_str(), super::config::env_value(&env, name)) {
            ("PATH" | "LD_LIBRARY_PATH", Some(existing)) if !existing.is_empty() => {
                format!("{value}:{existing}")
            }
            _ => value.clone(),
        };
        merge_env(&mut env, [format!("{name}={joined}")]);
    }
    env
}

/// A container's `/etc/hosts`: the host's own with the host network, else loopback, its
/// hostname, and `network_lines` (the containers on its user networks).
pub(crate) fn hosts_text(config: &ContainerConfig, network_lines: &str) -> String {
    let hosts = match config.network {
        NetworkMode::Host => fs_err::read_to_string("/etc/hosts").unwrap_or_default(),
        NetworkMode::None | NetworkMode::Bridge => String::new(),
    };
    format!(
        "{hosts}127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{}\n{network_lines}",
        config.hostname
    )
}

/// `hosts`, `hostname` and `resolv.conf` in the container's directory, to bind over the
/// image's.
fn write_etc_files(
    containers: &Containers,
    container: &Container,
) -> Result<Vec<(PathBuf, &'static str)>, RuntimeError> {
    let config = &container.config;
    // A `none` container may have been connected to a network since it was created.
    let network_lines = if config.network.is_isolated() {
        super::network::hosts_for(containers.store(), container.id().as_str())?
    } else {
        String::new()
    };
    let hosts = hosts_text(config, &network_lines);
    let resolv = fs_err::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut files = Vec::new();
    for (name, text, target) in [
        ("hosts", hosts, "/etc/hosts"),
        (
            "hostname",
            format!("{}\n", config.hostname),
            "/etc/hostname",
        ),
        ("resolv.conf", resolv, "/etc/resolv.conf"),
    ] {
        let path = container.dir.join(name);
        fs_err::write(&path, text).map_err(|source| RuntimeError::io("write", &path, source))?;
        files.push((path, target));
    }
    Ok(files)
}
