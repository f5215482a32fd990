//! What can go wrong running a container. Messages name the container, mount, path or image
//! they are about; a failure inside the container's init (after `pivot_root`, where nothing
//! else can report it) travels back to `mlpack` as text over the sync pipe.

use std::path::PathBuf;

use super::cgroup::CgroupError;
use super::layers::LayerError;
use super::network::NetworkError;
use super::seccomp::SeccompError;
use super::user::UserSpecError;
use super::volume::VolumeError;
use crate::error::{Diagnostic, IoError};
use crate::hardware::HardwareError;
use crate::oci::OciError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] IoError),

    #[error("could not {action}")]
    Sys {
        action: String,
        #[source]
        source: nix::Error,
    },

    /// A command-line value is malformed; `what` names the flag.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidOption {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("the host path `{path}` of the mount at `{target}` does not exist")]
    MissingSource { path: PathBuf, target: String },

    #[error("no container `{name}`")]
    NotFound { name: String },

    #[error("`{name}` matches more than one container: {matches}")]
    Ambiguous { name: String, matches: String },

    #[error("the name `{name}` is already used by container {id}")]
    NameInUse { name: String, id: String },

    #[error("container `{name}` is {status}; {action} needs a {wanted} container")]
    WrongStatus {
        name: String,
        status: String,
        action: &'static str,
        wanted: &'static str,
    },

    #[error(
        "the image needs CUDA {cuda}, which needs NVIDIA driver {needed} or newer; this host has {host}{}",
        supported.as_ref().map(|cuda| format!(", which runs CUDA {cuda} images")).unwrap_or_default()
    )]
    DriverTooOld {
        cuda: String,
        needed: String,
        host: String,
        supported: Option<String>,
    },

    #[error(
        "the image `{image}` is for `{architecture}`, and this machine (`{host}`) has no binfmt_misc handler to run its programs"
    )]
    ForeignArchitecture {
        image: String,
        architecture: String,
        host: crate::arch::Arch,
    },

    /// The container's init failed before the command started; the text comes from inside.
    #[error("the container could not start: {message}")]
    Init { message: String },

    /// The command could not be executed inside the container (Docker's exit 126/127).
    #[error("{message}")]
    Exec { message: String, status: i32 },

    #[error("invalid container state in `{path}`")]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("the image has {count} layers; an overlay of more than {max} cannot be mounted")]
    TooManyLayers { count: usize, max: usize },

    /// An image `load` or `pull` brought in could not be unpacked; the store was put back.
    #[error("refused the image `{image}`; the store is as it was before")]
    Refused {
        image: String,
        #[source]
        source: Box<RuntimeError>,
    },

    #[error(transparent)]
    Layer(#[from] LayerError),

    #[error(transparent)]
    Cgroup(#[from] CgroupError),

    #[error(transparent)]
    User(#[from] UserSpecError),

    #[error(transparent)]
    Seccomp(#[from] SeccompError),

    #[error(transparent)]
    Hardware(#[from] HardwareError),

    #[error(transparent)]
    Oci(#[from] OciError),

    #[error(transparent)]
    Network(#[from] NetworkError),

    #[error(transparent)]
    Volume(#[from] VolumeError),
}

impl RuntimeError {
    pub(crate) fn sys(action: impl Into<String>, source: nix::Error) -> Self {
        Self::Sys {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::InvalidOption {
            what,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl Diagnostic for RuntimeError {
    /// Whether the user can fix this by changing the command or the host.
    fn is_user_error(&self) -> bool {
        match self {
            Self::InvalidOption { .. }
            | Self::MissingSource { .. }
            | Self::NotFound { .. }
            | Self::Ambiguous { .. }
            | Self::NameInUse { .. }
            | Self::WrongStatus { .. }
            | Self::DriverTooOld { .. }
            | Self::ForeignArchitecture { .. }
            | Self::TooManyLayers { .. }
            | Self::Exec { .. } => true,
            Self::Refused { source, .. } => source.is_user_error(),
            Self::User(error) => error.is_user_error(),
            Self::Seccomp(error) => error.is_user_error(),
            Self::Layer(error) => error.is_user_error(),
            Self::Cgroup(error) => error.is_user_error(),
            Self::Hardware(error) => error.is_user_error(),
            Self::Oci(error) => error.is_user_error(),
            Self::Network(error) => error.is_user_error(),
            Self::Volume(error) => error.is_user_error(),
            Self::Io(_) | Self::Sys { .. } | Self::Init { .. } | Self::State { .. } => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::MissingSource { .. } => {
                vec!["create the directory first, or fix the path before `:`".to_string()]
            }
            Self::NotFound { .. } => vec!["`mlpack ps -a` lists the containers".to_string()],
            Self::ForeignArchitecture { architecture, host, .. } => vec![
                format!("to emulate `{architecture}`, register QEMU's handler with binfmt_misc and its `F` flag (on Debian: `apt-get install qemu-user-static`; `ls /proc/sys/fs/binfmt_misc` then shows `qemu-{architecture}`)"),
                format!("or build the image for this machine: `mlpack build --arch {host}`"),
            ],
            Self::Ambiguous { .. } => vec!["give more of the ID, or the name".to_string()],
            Self::NameInUse { name, .. } => vec![format!(
                "remove it with `mlpack rm {name}`, or pick another `--name`"
            )],
            Self::WrongStatus { name, wanted, .. } => vec![if *wanted == "running" {
                format!("start it with `mlpack start {name}`")
            } else {
                format!("stop it first with `mlpack stop {name}`, or add `-f`")
            }],
            Self::DriverTooOld { .. } => vec![
                "upgrade the host's NVIDIA driver, or lock an older CUDA with `[hardware] cuda` in mlpack.toml"
                    .to_string(),
            ],
            Self::TooManyLayers { .. } => vec![
                "squash the image's lower layers, or rebuild it with fewer layers".to_string(),
            ],
            Self::Init { message } if message.contains("EPERM") => vec![
                "the kernel refused a namespace or mount: run as root, or check that this host allows user namespaces (`sysctl user.max_user_namespaces`)"
                    .to_string(),
            ],
            Self::Refused { source, .. } => source.hints(),
            Self::Layer(error) => error.hints(),
            Self::Cgroup(error) => error.hints(),
            Self::User(error) => error.hints(),
            Self::Seccomp(error) => error.hints(),
            Self::Hardware(error) => error.hints(),
            Self::Oci(error) => error.hints(),
            Self::Network(error) => error.hints(),
            Self::Volume(error) => error.hints(),
            _ => Vec::new(),
        }
    }

    fn exec_status(&self) -> Option<i32> {
        match self {
            Self::Exec { status, .. } => Some(*status),
            _ => None,
        }
    }
}
