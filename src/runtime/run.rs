//! `mlpack run`: from the flags and the image's config to a container on disk. Everything is
//! checked first (the image, its layers unpacked, mount sources, the name, GPUs against the
//! driver), so bad input leaves nothing behind. Command and environment follow Docker's
//! rules: `--entrypoint` replaces the image's entrypoint and clears its `Cmd`; arguments
//! replace `Cmd`; `-e` overrides the image's variables.

use std::collections::BTreeMap;

use super::cgroup::Limits;
use super::config::{BindMount, ContainerConfig, ImageInfo, NetworkMode, merge_env};
use super::container::{Container, Containers};
use super::container_id::ContainerId;
use super::error::RuntimeError;
use super::launch::check_gpus;
use super::layers::LayerCache;
use super::network::{Attachment, PublishedPort};
use super::restart::RestartPolicy;
use super::seccomp::Seccomp;
use crate::hardware::GpuRequest;
use crate::oci::{ImageReference, ResolvedImage};

/// What `mlpack run` was asked, parsed and checked for syntax by the CLI.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub image: String,
    /// Replaces the image's `Cmd` when not empty.
    pub command: Vec<String>,
    /// Replaces the image's entrypoint; `Some("")` clears it.
    pub entrypoint: Option<String>,
    pub name: Option<String>,
    /// `NAME=value` entries, applied over the image's.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub mounts: Vec<BindMount>,
    pub network: Option<NetworkMode>,
    /// User networks to join (`--network NAME`, with `--network-alias` and `--ip`).
    pub networks: Vec<Attachment>,
    /// `-p`.
    pub ports: Vec<PublishedPort>,
    pub hostname: Option<String>,
    pub shm_size: Option<u64>,
    pub limits: Limits,
    pub seccomp: Seccomp,
    pub gpus: Option<GpuRequest>,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    pub restart: RestartPolicy,
    pub labels: BTreeMap<String, String>,
}

/// Check the request and write the container's directory.
pub fn create(containers: &Containers, request: RunRequest) -> Result<Container, RuntimeError> {
    let store = containers.store();
    let wanted = request.image.clone();
    let image = store.resolve(&wanted)?;
    super::binfmt::check_architecture(&image, &wanted)?;
    let id = ContainerId::generate()?;
    let name = match &request.name {
        Some(name) => check_name(name)?,
        None => default_name(&image, &id),
    };
    let attachments = request.networks.clone();
    let mut config = config(request, &image, id, name)?;
    for mount in config.mounts.iter().filter(|mount| mount.volume.is_none()) {
        mount.check_source()?;
    }
    check_gpus(&config)?;
    super::network::check_attachments(store, &attachments)?;
    LayerCache::for_store(store).ensure_image(store, &image)?;
    // `rmi` and `prune` look at the containers under the store lock: the image must still be
    // there under the same lock, or one of them may have removed it since it was resolved
    // above, seeing no container that used it.
    let lock = store.lock()?;
    store.resolve(&wanted)?;
    store.resolve(&config.image.digest)?;
    // Under the same lock as the container's creation: `volume rm` holds it too, so it
    // sees the container or removes the volume before it is used.
    super::volume::attach_volumes(store, &mut config.mounts)?;
    let container = containers.create(config)?;
    drop(lock);
    if let Err(error) = super::network::join(containers, &container, &attachments) {
        let _ = containers.remove(&container);
        return Err(error.into());
    }
    Ok(container)
}

fn config(
    request: RunRequest,
    image: &ResolvedImage,
    id: ContainerId,
    name: String,
) -> Result<ContainerConfig, RuntimeError> {
    let image_config = image.config.config().clone().unwrap_or_default();
    let entrypoint = match &request.entrypoint {
        Some(entrypoint) if entrypoint.is_empty() => Vec::new(),
        Some(entrypoint) => vec![entrypoint.clone()],
        None => image_config.entrypoint().clone().unwrap_or_default(),
    };
    let cmd = if !request.command.is_empty() {
        request.command
    } else if request.entrypoint.is_some() {
        Vec::new()
    } else {
        image_config.cmd().clone().unwrap_or_default()
    };
    let command: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if command.is_empty() {
        return Err(RuntimeError::invalid(
            "command",
            "",
            "the image has no command and none was given; add one after the image name",
        ));
    }
    let mut env = image_config.env().clone().unwrap_or_default();
    merge_env(&mut env, request.env);
    if super::config::env_value(&env, "PATH").is_none() {
        env.insert(0, format!("PATH={}", super::config::DEFAULT_PATH));
    }
    let workdir = request
        .workdir
        .or_else(|| image_config.working_dir().clone())
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| "/".to_string());
    if !workdir.starts_with('/') {
        return Err(RuntimeError::invalid(
            "working directory",
            &workdir,
            "it must be an absolute path",
        ));
    }
    let network = match (request.network, request.networks.is_empty()) {
        (Some(mode @ (NetworkMode::Host | NetworkMode::None)), false) => {
            return Err(RuntimeError::invalid(
                "network",
                if mode == NetworkMode::Host {
                    "host"
                } else {
                    "none"
                },
                "`host` and `none` cannot be combined with a user network",
            ));
        }
        (_, false) => NetworkMode::Bridge,
        (network, true) => network.unwrap_or(NetworkMode::Host),
    };
    if network == NetworkMode::Host
        && let Some(port) = request.ports.first()
    {
        return Err(RuntimeError::invalid(
            "published port",
            &port.to_string(),
            "with `--network host` the container's ports are the host's already; use `--network NAME` or `none`",
        ));
    }
    if request.auto_remove && request.restart != RestartPolicy::No {
        return Err(RuntimeError::invalid(
            "restart policy",
            &request.restart.to_string(),
            "a container removed when it exits cannot be restarted; drop `--rm` or `--restart`",
        ));
    }
    let hostname = match (request.hostname, network) {
        (Some(hostname), _) => hostname,
        (None, NetworkMode::Host) => nix::unistd::gethostname().map_or_else(
            |_| id.short().to_string(),
            |name| name.to_string_lossy().into_owned(),
        ),
        (None, NetworkMode::None | NetworkMode::Bridge) => id.short().to_string(),
    };
    Ok(ContainerConfig {
        image: ImageInfo {
            reference: image.reference.clone(),
            digest: image.manifest_digest()?.to_string(),
            layers: image
                .diff_ids()?
                .iter()
                .map(|diff_id| diff_id.as_str().to_string())
                .collect(),
            labels: image_config
                .labels()
                .clone()
                .map(|labels| labels.into_iter().collect::<BTreeMap<_, _>>())
                .unwrap_or_default(),
        },
        command,
        env,
        workdir,
        user: request
            .user
            .or_else(|| image_config.user().clone())
            .filter(|user| !user.is_empty()),
        hostname,
        mounts: request.mounts,
        network,
        ports: request.ports,
        shm_size: request.shm_size.unwrap_or_else(default_shm_size),
        limits: request.limits,
        seccomp: request.seccomp,
        gpus: request.gpus,
        tty: request.tty,
        interactive: request.interactive,
        auto_remove: request.auto_remove,
        restart: request.restart,
        labels: request.labels,
        created: jiff::Timestamp::now().to_string(),
        id,
        name,
    })
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn check_name(name: &str) -> Result<String, RuntimeError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(name.to_string())
    } else {
        Err(RuntimeError::invalid(
            "container name",
            name,
            "use letters, digits, `_`, `.` and `-`, starting with a letter or digit",
        ))
    }
}

/// `iris-3f2a1c`: the image's name and six digits of the ID.
fn default_name(image: &ResolvedImage, id: &ContainerId) -> String {
    let base = image
        .reference
        .as_deref()
        .and_then(|reference| reference.parse::<ImageReference>().ok())
        .map_or_else(
            || "container".to_string(),
            |reference| reference.repository_name().to_string(),
        );
    format!("{base}-{}", &id.as_str()[..6])
}

/// Half the host's memory, which is also tmpfs's own default: PyTorch's `DataLoader` workers
/// pass batches through `/dev/shm`, and Docker's 64 MiB default makes them crash.
fn default_shm_size() -> u64 {
    crate::hardware::total_memory_bytes().unwrap_or(1 << 30) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("train-1.a_b").is_ok());
        insta::assert_snapshot!(check_name("-x").unwrap_err(), @"invalid container name `-x`: use letters, digits, `_`, `.` and `-`, starting with a letter or digit");
    }
}
