//! Containers without a daemon: each image layer unpacked once, an overlay of them with a
//! private upper dir, new namespaces, `pivot_root`, a minimal `/dev`, bind mounts, limits,
//! GPUs, a reaping init, user networks and published ports (`network`), named volumes
//! (`volume`), and the state that
//! lets `ps`, `logs`, `stop`, `exec` and `commit` find a container after `mlpack run` has
//! exited.
//!
//! Spec: the OCI runtime spec's Linux section and its defaults
//! (<https://github.com/opencontainers/runtime-spec/blob/v1.2.0/config-linux.md>). This
//! module knows nothing about Python or PyPI.

mod admit;
mod binfmt;
mod capabilities;
mod cgroup;
mod commit;
mod config;
mod container;
mod container_id;
mod devices;
mod error;
mod exec;
mod init;
mod launch;
mod layers;
mod logs;
mod mounts;
pub mod network;
mod process;
mod relay;
mod restart;
mod run;
mod seccomp;
mod stdio;
mod stop;
mod supervisor;
mod tty;
mod user;
pub mod volume;
mod workload;

pub use self::admit::{Admission, PullError, pull_admitted};
pub use self::cgroup::{Cgroup, CgroupError, CgroupVersion, Limits};
pub use self::commit::{ConfigChange, commit};
pub use self::config::{
    BindMount, ContainerConfig, NetworkMode, parse_cpus, parse_env, parse_env_file,
};
pub use self::container::{Container, Containers, State, Status};
pub use self::container_id::{ContainerId, InvalidContainerId};
pub use self::error::RuntimeError;
pub use self::exec::{ExecRequest, exec};
pub use self::layers::{LayerCache, LayerError, SyncedTree};
pub use self::logs::{LogEntry, LogReader, Stream};
pub use self::process::ProcessId;
pub use self::restart::RestartPolicy;
pub use self::run::{RunRequest, create};
pub use self::seccomp::{Seccomp, SeccompError};
pub use self::stop::{remove, signal, stop};
pub use self::supervisor::{Attach, run, run_detached};
pub use self::user::{ContainerUser, UserSpecError};
