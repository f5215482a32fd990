//! Named volumes: directories in the store that outlive containers. `volumes/<name>/` holds
//! `volume.json` (name, creation time, labels) and `_data/`, which containers bind at their
//! mount point, as Docker's `local` driver lays them out. `mlpack run -v NAME:/path` creates
//! the volume on first use and, while it is empty, fills it with what the image has at that
//! path (`copy_up`). A volume stays until `volume rm`, `volume prune` or `prune --volumes`,
//! each refused or skipped while a container, in any state, mounts it.
//!
//! Commands and rules follow `docker volume`
//! (<https://docs.docker.com/reference/cli/docker/volume/>).

mod copy_up;
mod error;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use self::copy_up::copy_up;
pub use self::error::VolumeError;
use super::container::Containers;
use crate::error::FromIo;
use crate::oci::{DirLock, Store, StoreLock};

const VOLUMES_DIR: &str = "volumes";
const RECORD_FILE: &str = "volume.json";
const DATA_DIR: &str = "_data";

/// A named volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    /// RFC 3339.
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The directory containers see, `volumes/<name>/_data`.
    pub mountpoint: PathBuf,
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_volume_name(name: &str) -> Result<(), VolumeError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(VolumeError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// The volumes directory, locked for the life of the value.
struct Volumes {
    root: PathBuf,
    _lock: DirLock,
}

impl Volumes {
    fn lock(store: &Store) -> Result<Self, VolumeError> {
        let lock = store.lock_dir(VOLUMES_DIR)?;
        Ok(Self {
            root: lock.root().to_path_buf(),
            _lock: lock,
        })
    }

    fn find(&self, name: &str) -> Result<Volume, VolumeError> {
        check_volume_name(name).map_err(|_| VolumeError::NotFound {
            name: name.to_string(),
        })?;
        let path = self.root.join(name).join(RECORD_FILE);
        if !path.is_file() {
            return Err(VolumeError::NotFound {
                name: name.to_string(),
            });
        }
        let bytes = fs_err::read(&path).map_err(|source| VolumeError::io("read", &path, source))?;
        serde_json::from_slice(&bytes).map_err(|source| VolumeError::Record { path, source })
    }

    /// The volume `name`, created (with `labels`) when there is none.
    fn ensure(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<Volume, VolumeError> {
        check_volume_name(name)?;
        match self.find(name) {
            Err(VolumeError::NotFound { .. }) => {}
            found => return found,
        }
        let dir = self.root.join(name);
        let data = dir.join(DATA_DIR);
        // 0755 like Docker's `_data`; `copy_up` then gives it the image directory's mode.
        fs_err::create_dir_all(&data).map_err(|source| VolumeError::io("create", &data, source))?;
        let volume = Volume {
            name: name.to_string(),
            created: jiff::Timestamp::now().to_string(),
            labels: labels.clone(),
            mountpoint: data,
        };
        let path = dir.join(RECORD_FILE);
        let bytes = serde_json::to_vec_pretty(&volume).map_err(|source| VolumeError::Record {
            path: path.clone(),
            source,
        })?;
        crate::atomic_file::write(&path, &bytes, crate::atomic_file::Durability::Synced)
            .map_err(|source| VolumeError::io("write", &path, source))?;
        Ok(volume)
    }

    fn list(&self) -> Result<Vec<Volume>, VolumeError> {
        let entries = fs_err::read_dir(&self.root)
            .map_err(|source| VolumeError::io("list", &self.root, source))?;
        let mut volumes = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| VolumeError::io("list", &self.root, source))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            match self.find(&name) {
                Ok(volume) => volumes.push(volume),
                // `.lock`, and a directory half-removed by another process.
                Err(VolumeError::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    fn delete(&self, volume: &Volume) -> Result<(), VolumeError> {
        let dir = self.root.join(&volume.name);
        // Renamed first, so a half-deleted volume is never listed.
        let doomed = self.root.join(format!(".rm-{}", volume.name));
        fs_err::rename(&dir, &doomed)
            .and_then(|()| fs_err::remove_dir_all(&doomed))
            .map_err(|source| VolumeError::io("remove", &dir, source))
    }
}

/// `volume create NAME`: like Docker, creating a volume that exists returns it.
pub fn create_volume(
    store: &Store,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Volume, VolumeError> {
    Volumes::lock(store)?.ensure(name, labels)
}

pub fn find_volume(store: &Store, name: &str) -> Result<Volume, VolumeError> {
    Volumes::lock(store)?.find(name)
}

/// Every volume, by name; none (and no `volumes/` made) in a store that never had one.
pub fn list_volumes(store: &Store) -> Result<Vec<Volume>, VolumeError> {
    if !store.root().join(VOLUMES_DIR).is_dir() {
        return Ok(Vec::new());
    }
    Volumes::lock(store)?.list()
}

/// `volume rm`: refused while any container, running or not, mounts it (Docker's rule).
/// The store lock keeps `mlpack run` from creating a container with it meanwhile.
pub fn remove_volume(containers: &Containers, name: &str) -> Result<(), VolumeError> {
    let _lock = containers.store().lock()?;
    let volumes = Volumes::lock(containers.store())?;
    let volume = volumes.find(name)?;
    let users = users_of(containers, name)?;
    if !users.is_empty() {
        return Err(VolumeError::InUse {
            name: name.to_string(),
            containers: users.join(", "),
        });
    }
    volumes.delete(&volume)
}

/// Remove every volume no container mounts; their names. The caller holds the store lock.
pub fn prune_volumes(
    containers: &Containers,
    _held: &StoreLock,
) -> Result<Vec<String>, VolumeError> {
    if !containers.store().root().join(VOLUMES_DIR).is_dir() {
        return Ok(Vec::new());
    }
    let volumes = Volumes::lock(containers.store())?;
    let mut removed = Vec::new();
    for volume in volumes.list()? {
        if users_of(containers, &volume.name)?.is_empty() {
            volumes.delete(&volume)?;
            removed.push(volume.name);
        }
    }
    Ok(removed)
}

/// The names of the containers that mount volume `name`.
fn users_of(containers: &Containers, name: &str) -> Result<Vec<String>, VolumeError> {
    let all = containers.list().map_err(Box::new)?;
    Ok(all
        .into_iter()
        .filter(|container| {
            container
                .config
                .mounts
                .iter()
                .any(|mount| mount.volume.as_deref() == Some(name))
        })
        .map(|container| container.config.name)
        .collect())
}

/// Point each volume mount of a new container at its volume's data, creating volumes on
/// first use. Called under the store lock, so `volume rm` cannot remove one in between.
pub(crate) fn attach_volumes(
    store: &Store,
    mounts: &mut [super::config::BindMount],
) -> Result<(), VolumeError> {
    if mounts.iter().all(|mount| mount.volume.is_none()) {
        return Ok(());
    }
    let volumes = Volumes::lock(store)?;
    for mount in mounts {
        if let Some(name) = &mount.volume {
            mount.source = volumes.ensure(name, &BTreeMap::new())?.mountpoint;
        }
    }
    Ok(())
}
