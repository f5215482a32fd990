//! Containers on disk: `$MLPACK_HOME/containers/<id>/` holds `config.json` (what to run),
//! `state.json` (what happened), the overlay's `upper/` and `work/`, the `rootfs/` mount
//! point and the log. State is written atomically; a "running" container whose supervisor is
//! gone (killed, or the host rebooted) reads as exited, never as a ghost.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cgroup::Cgroup;
use super::config::ContainerConfig;
use super::container_id::ContainerId;
use super::error::RuntimeError;
use super::process::ProcessId;
use crate::atomic_file::{self, Durability};
use crate::error::FromIo;
use crate::oci::Store;

const CONTAINERS_DIR: &str = "containers";
const CONFIG_FILE: &str = "config.json";
const STATE_FILE: &str = "state.json";
pub(crate) const LOG_FILE: &str = "container.log";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Exited => "exited",
        })
    }
}

/// What happened to a container, as its supervisor last wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// The container's init, as the host sees it.
    pub init: Option<ProcessId>,
    /// The process that relays the container's output and records its exit.
    pub supervisor: Option<ProcessId>,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Why it stopped when it did not exit by itself (`supervisor lost`, a start error).
    pub error: Option<String>,
    pub cgroup: Option<Cgroup>,
    /// Paths the runtime created in the upper dir (mount points), left out of `commit`.
    pub created_paths: Vec<String>,
}

impl State {
    fn new() -> Self {
        Self {
            status: Status::Created,
            init: None,
            supervisor: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            error: None,
            cgroup: None,
            created_paths: Vec::new(),
        }
    }
}

/// One container's directory, config and state.
#[derive(Debug, Clone)]
pub struct Container {
    pub dir: PathBuf,
    pub config: ContainerConfig,
    pub state: State,
}

impl Container {
    pub fn id(&self) -> &ContainerId {
        &self.config.id
    }

    pub fn upper_dir(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// Whether its supervisor is alive: the state says running and the recorded process is
    /// still the same one (same start time, same boot).
    pub fn is_running(&self) -> bool {
        self.state.status == Status::Running
            && self
                .state
                .supervisor
                .as_ref()
                .is_some_and(ProcessId::is_alive)
    }

    /// The status to show: a running state whose supervisor is gone is exited.
    pub fn status(&self) -> Status {
        match self.state.status {
            Status::Running if !self.is_running() => Status::Exited,
            status => status,
        }
    }

    pub fn save_state(&self) -> Result<(), RuntimeError> {
        write_json_atomic(&self.dir.join(STATE_FILE), &self.state)
    }

    /// Re-read the state the supervisor wrote.
    pub fn reload(&mut self) -> Result<(), RuntimeError> {
        self.state = read_json(&self.dir.join(STATE_FILE))?;
        Ok(())
    }

    /// `Exited (0) 3 minutes ago`-style status text for `ps`.
    pub fn status_text(&self) -> String {
        match self.status() {
            Status::Created => "Created".to_string(),
            Status::Running => "Up".to_string(),
            Status::Exited => match (self.state.exit_code, &self.state.error) {
                (Some(code), _) => format!("Exited ({code})"),
                (None, Some(error)) => format!("Exited ({error})"),
                (None, None) => "Exited (supervisor lost)".to_string(),
            },
        }
    }
}

/// The containers of one store.
#[derive(Debug, Clone)]
pub struct Containers {
    root: PathBuf,
    store: Store,
}

impl Containers {
    pub fn open(store: &Store) -> Result<Self, RuntimeError> {
        let root = store.root().join(CONTAINERS_DIR);
        fs_err::create_dir_all(&root)
            .map_err(|source| RuntimeError::io("create the directory", &root, source))?;
        Ok(Self {
            root,
            store: store.clone(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Write a new container's directory. The name must be free; the store lock makes the
    /// check and the creation one step for concurrent `mlpack run`s.
    pub fn create(&self, config: ContainerConfig) -> Result<Container, RuntimeError> {
        let _lock = self.store.lock()?;
        if let Some(existing) = self
            .list()?
            .into_iter()
            .find(|c| c.config.name == config.name)
        {
            return Err(RuntimeError::NameInUse {
                name: config.name,
                id: existing.id().short().to_string(),
            });
        }
        let temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(&self.root)
            .map_err(|source| RuntimeError::io("create a directory in", &self.root, source))?;
        for dir in ["upper", "work", "rootfs"] {
            let path = temp.path().join(dir);
            fs_err::create_dir(&path)
                .map_err(|source| RuntimeError::io("create the directory", &path, source))?;
        }
        let container = Container {
            dir: self.root.join(config.id.as_str()),
            config,
            state: State::new(),
        };
        write_json_atomic(&temp.path().join(CONFIG_FILE), &container.config)?;
        write_json_atomic(&temp.path().join(STATE_FILE), &container.state)?;
        let temp = temp.keep();
        fs_err::rename(&temp, &container.dir)
            .map_err(|source| RuntimeError::io("create", &container.dir, source))?;
        Ok(container)
    }

    /// Every container, oldest first.
    pub fn list(&self) -> Result<Vec<Container>, RuntimeError> {
        let mut containers = Vec::new();
        let entries = fs_err::read_dir(&self.root)
            .map_err(|source| RuntimeError::io("list", &self.root, source))?;
        for entry in entries {
            let entry = entry.map_err(|source| RuntimeError::io("list", &self.root, source))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            match Self::load(&entry.path()) {
                Ok(container) => containers.push(container),
                // A directory being removed by `rm` in another process.
                Err(RuntimeError::Io(error))
                    if error.source_error().kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        containers.sort_by(|a, b| a.config.created.cmp(&b.config.created));
        Ok(containers)
    }

    fn load(dir: &Path) -> Result<Container, RuntimeError> {
        Ok(Container {
            dir: dir.to_path_buf(),
            config: read_json(&dir.join(CONFIG_FILE))?,
            state: read_json(&dir.join(STATE_FILE))?,
        })
    }

    /// Find a container by name, full ID or unique ID prefix, as Docker does.
    pub fn find(&self, name: &str) -> Result<Container, RuntimeError> {
        let all = self.list()?;
        if let Some(found) = all
            .iter()
            .find(|c| c.config.name == name || c.config.id.as_str() == name)
        {
            return Ok(found.clone());
        }
        let matches: Vec<&Container> = all
            .iter()
            .filter(|c| c.config.id.starts_with(name))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(RuntimeError::NotFound {
                name: name.to_string(),
            }),
            many => Err(RuntimeError::Ambiguous {
                name: name.to_string(),
                matches: many
                    .iter()
                    .map(|c| c.config.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Delete a container's directory (it must not be running), after taking it off its
    /// networks.
    pub fn remove(&self, container: &Container) -> Result<(), RuntimeError> {
        super::network::forget(self, container.id().as_str())?;
        // Rename first so a half-deleted directory never looks like a container.
        let doomed = self.root.join(format!(".rm-{}", container.id()));
        match fs_err::rename(&container.dir, &doomed) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(RuntimeError::io("remove", &container.dir, source)),
        }
        // overlayfs leaves its `work/work` directory with mode 0, which an unprivileged
        // owner cannot list, and so cannot delete, until it is given back its permissions.
        for internal in ["work/work", "work/index"] {
            let path = doomed.join(internal);
            if path.is_dir() {
                let _ = fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o700));
            }
        }
        fs_err::remove_dir_all(&doomed)
            .map_err(|source| RuntimeError::io("remove", &doomed, source))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RuntimeError> {
    let bytes = fs_err::read(path).map_err(|source| RuntimeError::io("read", path, source))?;
    serde_json::from_slice(&bytes).map_err(|source| RuntimeError::State {
        path: path.to_path_buf(),
        source,
    })
}

/// Write through a temp file and rename: a reader sees the old or the new state, never half.
/// No fsync: state is rebuilt from process liveness after a crash, and start latency counts.
fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), RuntimeError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| RuntimeError::State {
        path: path.to_path_buf(),
        source,
    })?;
    atomic_file::write(path, &bytes, Durability::Cached)
        .map_err(|source| RuntimeError::io("write", path, source))
}
