//! Containers without a daemon: each image layer unpacked once, an overlay of them with a
//! private upper dir, new namespaces, `pivot_root`, a minimal `/dev`, bind mounts, limits,
//! GPUs, a reaping init, and the state that lets `ps`, `logs`, `stop`, `exec` and `commit`
//! find a container after `mlpack run` has exited.
//!
//! Spec: the OCI runtime spec's Linux section and its defaults
//! (<https://github.com/opencontainers/runtime-spec/blob/v1.2.0/config-linux.md>). This
//! module knows nothing about Python or PyPI.

mod cgroup;
mod layers;
mod user;

pub use self::cgroup::{Cgroup, CgroupError, CgroupVersion, Limits};
pub use self::layers::{LayerCache, LayerError};
pub use self::user::{ContainerUser, UserSpecError};
