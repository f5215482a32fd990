//! What a container needs from the host to use NVIDIA GPUs: the driver version, the device
//! nodes a Docker-style `--gpus` request picks, and the driver's files. A CDI spec
//! (<https://github.com/cncf-tags/container-device-interface/blob/main/SPEC.md>) in `/etc/cdi` or
//! `/var/run/cdi` wins (see `cdi.rs`); without one, libraries come from glibc's linker cache, as
//! `nvidia-container-cli` does (`linker_cache.rs`; format: glibc `sysdeps/generic/dl-cache.h`,
//! read in `ld_so_cache.rs`).

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::cuda::DriverVersion;
use super::{cdi, linker_cache};
use crate::error::{Diagnostic, FromIo, IoError};

/// Where the loaded kernel module states its version, alone on one line.
const SYS_VERSION: &str = "/sys/module/nvidia/version";
/// The older banner, `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  …`.
const PROC_VERSION: &str = "/proc/driver/nvidia/version";
/// Variables whose value goes in front of the container's own, not in its place.
const PREPENDED_VARIABLES: [&str; 2] = ["PATH", "LD_LIBRARY_PATH"];
/// Linux's own limit on symbolic links followed in one lookup (`MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;
const CDI_GENERATE: &str = "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml";

/// The host's NVIDIA kernel driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NvidiaDriver {
    pub version: DriverVersion,
}

impl NvidiaDriver {
    /// The driver of the machine mlpack runs on; `None` when no NVIDIA module is loaded.
    /// Where `/sys` and `/proc` don't say (some containers and WSL hide them), `nvidia-smi`.
    pub fn detect() -> Result<Option<Self>, HardwareError> {
        match Self::detect_in(Path::new("/"))? {
            Some(driver) => Ok(Some(driver)),
            None => Ok(nvidia_smi_version().map(|version| Self { version })),
        }
    }

    /// The driver of the file system tree at `root` (`/` on a real host, a fixture in tests):
    /// 1. `sys/module/nvidia/version`, which holds only the version;
    /// 2. else `proc/driver/nvidia/version`, whose `NVRM version:` line names it after
    ///    "Kernel Module" (both the proprietary and the "Open Kernel Module" wording).
    pub fn detect_in(root: &Path) -> Result<Option<Self>, HardwareError> {
        if let Some(text) = read_if_exists(root, Path::new(SYS_VERSION))? {
            let version = text
                .trim()
                .parse()
                .map_err(|_| unreadable(SYS_VERSION, &text))?;
            return Ok(Some(Self { version }));
        }
        if let Some(text) = read_if_exists(root, Path::new(PROC_VERSION))? {
            let version = nvrm_version(&text).ok_or_else(|| unreadable(PROC_VERSION, &text))?;
            return Ok(Some(Self { version }));
        }
        Ok(None)
    }
}

/// The driver version `nvidia-smi` reports, if it is installed and finds a GPU.
fn nvidia_smi_version() -> Option<DriverVersion> {
    let output = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=driver_version", "--format=csv,noheader"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    smi_version(&String::from_utf8_lossy(&output.stdout))
}

/// The first line of `nvidia-smi --query-gpu=driver_version` (one line per GPU, all equal).
fn smi_version(text: &str) -> Option<DriverVersion> {
    text.lines().next()?.trim().parse().ok()
}

/// The version in the `NVRM version:` line: the first word after "Kernel Module" that parses
/// (`for x86_64` comes between them in the open module's banner).
fn nvrm_version(text: &str) -> Option<DriverVersion> {
    let line = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("NVRM version:"))?;
    let after = line
        .split_once("Kernel Module")
        .map_or(line, |(_, after)| after);
    after.split_whitespace().find_map(|word| word.parse().ok())
}

fn unreadable(path: &str, content: &str) -> HardwareError {
    HardwareError::UnreadableDriverVersion {
        path: PathBuf::from(path),
        content: content
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Which GPUs a container gets, in Docker's `--gpus` syntax
/// (<https://docs.docker.com/reference/cli/docker/container/run/#gpus>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuRequest {
    /// `all`
    All,
    /// `2`: the first two GPUs by index (never 0).
    Count(u32),
    /// `device=0,2` or `device=GPU-<uuid>`: indexes, UUIDs or CDI device names, as written.
    Devices(Vec<String>),
}

impl FromStr for GpuRequest {
    type Err = HardwareError;

    /// Takes `all`, `N`, `count=N`, `device=0`, `device=0,2`, `device=GPU-<uuid>`, and any of
    /// them in quotes (Docker's CSV quoting: `--gpus '"device=0,2"'`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| HardwareError::InvalidGpuRequest {
            value: text.to_string(),
            reason,
        };
        let value = unquote(text.trim()).trim();
        if value.is_empty() {
            return Err(invalid("it is empty".to_string()));
        }
        if value == "all" || value == "count=all" {
            return Ok(Self::All);
        }
        let count = value.strip_prefix("count=").unwrap_or(value);
        if count.bytes().all(|byte| byte.is_ascii_digit()) && !count.is_empty() {
            return match count.parse::<u32>() {
                Ok(0) => Err(invalid("it asks for no GPUs".to_string())),
                Ok(count) => Ok(Self::Count(count)),
                Err(_) => Err(invalid(format!("`{count}` GPUs is more than any host has"))),
            };
        }
        let Some(list) = value.strip_prefix("device=") else {
            return Err(invalid(format!(
                "`{value}` is not `all`, a number of GPUs or `device=…`"
            )));
        };
        let mut devices: Vec<String> = Vec::new();
        for device in list.split(',').map(str::trim) {
            if device.is_empty() {
                return Err(invalid("the device list has an empty entry".to_string()));
            }
            if !is_device_name(device) {
                return Err(invalid(format!(
                    "`{device}` is neither a GPU index like `0` nor a UUID like `GPU-…`"
                )));
            }
            if !devices.iter().any(|seen| seen == device) {
                devices.push(device.to_string());
            }
        }
        Ok(Self::Devices(devices))
    }
}

fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

/// An index (`0`), a MIG index (`0:1`), or a UUID (`GPU-…`, `MIG-…`, old `MIG-GPU-…/1/0`).
fn is_device_name(device: &str) -> bool {
    let index = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if index(device) {
        return true;
    }
    if let Some((gpu, instance)) = device.split_once(':') {
        return index(gpu) && index(instance);
    }
    ["GPU-", "MIG-"].iter().any(|prefix| {
        device.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'/')
        })
    })
}

/// A UUID rather than an index: only a CDI spec can map it to device nodes.
pub(super) fn is_uuid(device: &str) -> bool {
    device.starts_with("GPU-") || device.starts_with("MIG-")
}

impl fmt::Display for GpuRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Count(count) => write!(f, "{count}"),
            Self::Devices(devices) => write!(f, "device={}", devices.join(",")),
        }
    }
}

impl Serialize for GpuRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GpuRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A host file bind-mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostFile {
    /// The real file on the host (see [`GpuInjection`] for how to open it).
    pub host: PathBuf,
    pub container: PathBuf,
    pub read_only: bool,
}

/// Everything a container needs from the host for its GPUs, decided before it starts.
///
/// Every host path here is the path on the host, absolute, as if `root` were `/`: with the
/// production root `/` it is the path to open. With another root (a test fixture) the file is
/// at that path below the root, its leading `/` stripped (`root.join("dev/nvidia0")`).
/// Container paths are absolute paths in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuInjection {
    pub driver: DriverVersion,
    /// Host device nodes, bind-mounted at the same path in the container.
    pub devices: Vec<PathBuf>,
    pub mounts: Vec<HostFile>,
    /// `(link in the container, target)`; a relative target is relative to the link's directory.
    pub symlinks: Vec<(PathBuf, PathBuf)>,
    /// Variables for the container. `PATH` and `LD_LIBRARY_PATH` go in front of the image's
    /// value (joined with `:`); every other variable replaces it. [`GpuInjection::apply_env`]
    /// does both.
    pub env: Vec<(String, String)>,
    /// Where this came from, for messages: "CDI spec `/etc/cdi/nvidia.yaml`" or "the host's
    /// linker cache `/etc/ld.so.cache`".
    pub source: String,
}

impl GpuInjection {
    /// Applies [`GpuInjection::env`] to a container environment of `NAME=value` entries.
    /// Call it after the image's defaults are filled in: a `PATH` the environment lacks ends
    /// up holding only the GPU directory.
    pub fn apply_env(&self, env: &mut Vec<String>) {
        for (name, value) in &self.env {
            let prefix = format!("{name}=");
            let existing = env.iter().position(|entry| entry.starts_with(&prefix));
            let prepend = PREPENDED_VARIABLES.contains(&name.as_str());
            let entry = match existing.map(|at| &env[at][prefix.len()..]) {
                Some(old) if prepend && !old.is_empty() => format!("{name}={value}:{old}"),
                _ => format!("{name}={value}"),
            };
            match existing {
                Some(at) => env[at] = entry,
                None => env.push(entry),
            }
        }
    }
}

/// What `request` gives a container on the host whose file system is at `root` (`/` in
/// production; see [`GpuInjection`] for the paths this returns).
///
/// 1. No NVIDIA driver: [`HardwareError::NoDriver`].
/// 2. A CDI spec of kind `nvidia.com/gpu` in `etc/cdi` or `var/run/cdi`: the chosen devices'
///    edits, merged with their spec's own.
/// 3. Otherwise `/dev/nvidia*` nodes, and the driver's libraries from `etc/ld.so.cache`, mounted
///    under `/usr/local/nvidia`.
pub fn plan_gpus(root: &Path, request: &GpuRequest) -> Result<GpuInjection, HardwareError> {
    let Some(driver) = NvidiaDriver::detect_in(root)? else {
        return Err(HardwareError::NoDriver);
    };
    if *request == GpuRequest::Count(0) {
        return Err(HardwareError::InvalidGpuRequest {
            value: "0".to_string(),
            reason: "it asks for no GPUs".to_string(),
        });
    }
    let specs = cdi::load(root)?;
    if specs.is_empty() {
        linker_cache::plan(root, driver.version, request)
    } else {
        cdi::plan(root, driver.version, &specs, request)
    }
}

/// `path` (a host path) as found below `root`.
pub(super) fn on_disk(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// A soname usable as a link name: no directories, no `..`.
pub(super) fn is_file_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

pub(super) fn read_bytes_if_exists(
    root: &Path,
    path: &Path,
) -> Result<Option<Vec<u8>>, HardwareError> {
    match std::fs::read(on_disk(root, path)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(HardwareError::io("read", path, source)),
    }
}

pub(super) fn read_if_exists(root: &Path, path: &Path) -> Result<Option<String>, HardwareError> {
    let Some(bytes) = read_bytes_if_exists(root, path)? else {
        return Ok(None);
    };
    String::from_utf8(bytes).map(Some).map_err(|error| {
        HardwareError::io(
            "read",
            path,
            io::Error::new(io::ErrorKind::InvalidData, error),
        )
    })
}

/// The host path of the file `path` names, following symbolic links as the host would but
/// inside `root` (an absolute link target starts again at `root`, `..` stops at it); `None`
/// when it doesn't exist. Bind mounts need the real file: a link would be followed in the
/// container, where its target isn't.
pub(super) fn resolve_in_root(root: &Path, path: &Path) -> Result<Option<PathBuf>, HardwareError> {
    let mut resolved = PathBuf::from("/");
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, path);
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let disk = on_disk(root, &candidate);
        let metadata = match std::fs::symlink_metadata(&disk) {
            Ok(metadata) => metadata,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(None);
            }
            Err(source) => return Err(HardwareError::io("inspect", candidate, source)),
        };
        if !metadata.file_type().is_symlink() {
            resolved = candidate;
            continue;
        }
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(HardwareError::SymlinkLoop {
                path: path.to_path_buf(),
            });
        }
        let target = std::fs::read_link(&disk)
            .map_err(|source| HardwareError::io("read the link", &candidate, source))?;
        if target.has_root() {
            resolved = PathBuf::from("/");
        }
        push_components(&mut pending, &target);
    }
    Ok(Some(resolved))
}

/// Pushes `path`'s parts so the first is popped first.
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(parts.into_iter().rev());
}

fn listing(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What can go wrong finding the driver and planning a container's GPUs. Host paths in
/// messages are as seen from the host's `/`.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    /// A file system operation failed.
    #[error(transparent)]
    Io(#[from] IoError),

    #[error("`{path}` does not name an NVIDIA driver version; it reads `{content}`")]
    UnreadableDriverVersion { path: PathBuf, content: String },

    #[error("no NVIDIA driver found: neither `{SYS_VERSION}` nor `{PROC_VERSION}` exists")]
    NoDriver,

    #[error("invalid `--gpus` value `{value}`: {reason}")]
    InvalidGpuRequest { value: String, reason: String },

    /// `inventory` says where GPUs were looked for: "CDI spec `…`" or "`/dev`".
    #[error(
        "no GPU `{requested}` in {inventory}, which has {}",
        listing(available)
    )]
    UnknownGpu {
        requested: String,
        available: Vec<String>,
        inventory: String,
    },

    #[error("asked for {requested} GPUs, but {inventory} has only {}: {}", available.len(), listing(available))]
    NotEnoughGpus {
        requested: u32,
        available: Vec<String>,
        inventory: String,
    },

    #[error("the NVIDIA driver is loaded, but {inventory} has no GPUs")]
    NoGpuDevices { inventory: String },

    #[error(
        "GPU `{device}` is named by UUID or MIG instance, which needs a CDI spec; without one, mlpack knows GPUs by index (`/dev/nvidia0` is `0`)"
    )]
    UuidNeedsCdi { device: String },

    /// The spec could not be parsed, or breaks a rule of the CDI spec.
    #[error("CDI spec `{path}` is not valid: {message}")]
    InvalidCdiSpec { path: PathBuf, message: String },

    #[error("CDI spec `{path}` asks for {what}, which mlpack does not support")]
    UnsupportedCdiEdit { path: PathBuf, what: String },

    #[error("CDI spec `{spec}` names `{path}`, which does not exist on this host")]
    MissingHostPath { spec: PathBuf, path: PathBuf },

    #[error("no linker cache `{path}`, so the NVIDIA driver's libraries cannot be found")]
    NoLinkerCache { path: PathBuf },

    #[error("the linker cache `{path}` is not valid: {reason}")]
    InvalidLinkerCache { path: PathBuf, reason: &'static str },

    #[error(
        "the NVIDIA driver's user-space libraries (`libcuda.so.1`) are not in the linker cache `{path}`"
    )]
    DriverLibrariesNotFound { path: PathBuf },

    #[error("`{path}` goes through more than {MAX_SYMLINKS} symbolic links")]
    SymlinkLoop { path: PathBuf },
}

impl Diagnostic for HardwareError {
    /// Whether the request or the host's setup is at fault (no driver, no such GPU), rather
    /// than a file failing to read.
    fn is_user_error(&self) -> bool {
        matches!(
            self,
            Self::NoDriver
                | Self::InvalidGpuRequest { .. }
                | Self::UnknownGpu { .. }
                | Self::NotEnoughGpus { .. }
                | Self::NoGpuDevices { .. }
                | Self::UuidNeedsCdi { .. }
        )
    }

    fn hints(&self) -> Vec<String> {
        let libraries = || {
            format!(
                "install the driver's user-space libraries (Ubuntu: `libnvidia-compute-<branch>`) and run `sudo ldconfig`, or describe the GPUs in a CDI spec: `{CDI_GENERATE}`"
            )
        };
        match self {
            Self::NoDriver => vec![
                "install the NVIDIA driver and check that `nvidia-smi` works, or run without `--gpus`"
                    .to_string(),
            ],
            Self::InvalidGpuRequest { .. } => vec![
                "write `all`, a number of GPUs (`2`), or devices by index or UUID (`device=0,2`, `device=GPU-<uuid>`)"
                    .to_string(),
            ],
            Self::UnknownGpu {
                requested,
                available,
                ..
            } => vec![unknown_gpu_hint(requested, available)],
            Self::NotEnoughGpus { .. } => {
                vec!["ask for fewer, or for `all` of them".to_string()]
            }
            Self::NoGpuDevices { inventory } if inventory.starts_with("CDI") => vec![format!(
                "check that `nvidia-smi` lists the GPUs; if it does, regenerate the spec with `{CDI_GENERATE}`"
            )],
            Self::NoGpuDevices { .. } => vec![
                "check that `nvidia-smi` lists the GPUs; if it does, create the device nodes with `nvidia-modprobe`"
                    .to_string(),
            ],
            Self::UuidNeedsCdi { .. } => vec![format!(
                "name the GPU by index (`nvidia-smi -L` shows both), or generate a CDI spec that names GPUs by UUID: `{CDI_GENERATE} --device-name-strategy=uuid`"
            )],
            Self::InvalidCdiSpec { .. } => vec![format!(
                "fix it, or regenerate it with `{CDI_GENERATE}`"
            )],
            Self::MissingHostPath { .. } => vec![format!(
                "the spec is stale (the driver was upgraded, or a GPU removed); regenerate it with `{CDI_GENERATE}`"
            )],
            Self::UnsupportedCdiEdit { path, .. } => vec![format!(
                "regenerate it with `{CDI_GENERATE}`, or move `{}` out of the CDI directory so mlpack uses the linker cache",
                path.display()
            )],
            Self::NoLinkerCache { .. } | Self::DriverLibrariesNotFound { .. } => vec![libraries()],
            Self::InvalidLinkerCache { .. } => {
                vec!["rebuild it with `sudo ldconfig`".to_string()]
            }
            Self::Io(_) | Self::UnreadableDriverVersion { .. } | Self::SymlinkLoop { .. } => Vec::new()
        }
    }
}

fn unknown_gpu_hint(requested: &str, available: &[String]) -> String {
    let Some(first) = available.iter().find(|name| *name != "all") else {
        return "check that `nvidia-smi` lists the GPUs".to_string();
    };
    if is_uuid(requested) && !available.iter().any(|name| is_uuid(name)) {
        return format!(
            "pick one of those, like `device={first}`; to name GPUs by UUID, regenerate the spec with `{CDI_GENERATE} --device-name-strategy=uuid`"
        );
    }
    format!("pick one of those, like `device={first}`")
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::hardware::tests::{Host, PROPRIETARY_BANNER, plan, report};

    const OPEN_BANNER: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Jan 23 23:54:22 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";

    fn version(root: &Path) -> Option<String> {
        NvidiaDriver::detect_in(root)
            .unwrap()
            .map(|driver| driver.version.to_string())
    }

    #[test]
    fn nvidia_smi_output_gives_the_first_gpu_driver() {
        let version = |text| smi_version(text).map(|version| version.to_string());
        assert_eq!(
            version("570.133.20\n570.133.20\n").as_deref(),
            Some("570.133.20")
        );
        assert_eq!(version("NVIDIA-SMI has failed\n"), None);
        assert_eq!(version(""), None);
    }

    #[test]
    fn driver_version_comes_from_sysfs_first() {
        let host = Host::new();
        host.write("sys/module/nvidia/version", "580.65.06\n")
            .write("proc/driver/nvidia/version", PROPRIETARY_BANNER);
        assert_eq!(version(host.root()).as_deref(), Some("580.65.06"));
    }

    #[test]
    fn driver_version_comes_from_either_nvrm_banner() {
        for (banner, expected) in [
            (PROPRIETARY_BANNER, "550.54.14"),
            (OPEN_BANNER, "570.86.15"),
        ] {
            let host = Host::new();
            host.write("proc/driver/nvidia/version", banner);
            assert_eq!(version(host.root()).as_deref(), Some(expected));
        }
    }

    #[test]
    fn no_version_file_means_no_driver() {
        assert_eq!(version(Host::new().root()), None);
    }

    #[test]
    fn unreadable_driver_version_is_reported() {
        let host = Host::new();
        host.write("sys/module/nvidia/version", "garbage\n");
        let error = NvidiaDriver::detect_in(host.root()).unwrap_err();
        insta::assert_snapshot!(report(&error), @"`/sys/module/nvidia/version` does not name an NVIDIA driver version; it reads `garbage`");
        let host = Host::new();
        host.write(
            "proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX Kernel Module\n",
        );
        let error = NvidiaDriver::detect_in(host.root()).unwrap_err();
        insta::assert_snapshot!(report(&error), @"`/proc/driver/nvidia/version` does not name an NVIDIA driver version; it reads `NVRM version: NVIDIA UNIX Kernel Module`");
    }

    #[test]
    fn gpu_requests_parse_docker_syntax() {
        let devices =
            |names: &[&str]| GpuRequest::Devices(names.iter().map(ToString::to_string).collect());
        for (text, expected) in [
            ("all", GpuRequest::All),
            ("\"all\"", GpuRequest::All),
            ("2", GpuRequest::Count(2)),
            ("count=3", GpuRequest::Count(3)),
            ("device=0", devices(&["0"])),
            ("device=0,2", devices(&["0", "2"])),
            ("\"device=0,2\"", devices(&["0", "2"])),
            ("'device=1, 0, 1'", devices(&["1", "0"])),
            (
                "device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a",
                devices(&["GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a"]),
            ),
            ("device=0:1", devices(&["0:1"])),
        ] {
            assert_eq!(text.parse::<GpuRequest>().unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn gpu_request_errors_name_the_accepted_forms() {
        let errors: Vec<String> = [
            "",
            "0",
            "some",
            "device=",
            "device=0,,1",
            "device=first",
            "99999999999",
        ]
        .iter()
        .map(|text| text.parse::<GpuRequest>().unwrap_err().to_string())
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @"
        invalid `--gpus` value ``: it is empty
        invalid `--gpus` value `0`: it asks for no GPUs
        invalid `--gpus` value `some`: `some` is not `all`, a number of GPUs or `device=…`
        invalid `--gpus` value `device=`: the device list has an empty entry
        invalid `--gpus` value `device=0,,1`: the device list has an empty entry
        invalid `--gpus` value `device=first`: `first` is neither a GPU index like `0` nor a UUID like `GPU-…`
        invalid `--gpus` value `99999999999`: `99999999999` GPUs is more than any host has
        ");
        let error = "gpu0".parse::<GpuRequest>().unwrap_err();
        assert!(error.is_user_error());
        insta::assert_snapshot!(report(&error), @"
        invalid `--gpus` value `gpu0`: `gpu0` is not `all`, a number of GPUs or `device=…`

        hint: write `all`, a number of GPUs (`2`), or devices by index or UUID (`device=0,2`, `device=GPU-<uuid>`)
        ");
    }

    #[test]
    fn gpu_requests_round_trip_through_serde() {
        for text in [
            "all",
            "2",
            "device=0,2",
            "device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a",
        ] {
            let request: GpuRequest = text.parse().unwrap();
            let json = serde_json::to_string(&request).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<GpuRequest>(&json).unwrap(), request);
        }
        assert!(serde_json::from_str::<GpuRequest>("\"none\"").is_err());
    }

    #[test]
    fn no_driver_says_which_files_were_checked() {
        let error = plan(&Host::new(), "all").unwrap_err();
        assert!(error.is_user_error());
        insta::assert_snapshot!(report(&error), @"
        no NVIDIA driver found: neither `/sys/module/nvidia/version` nor `/proc/driver/nvidia/version` exists

        hint: install the NVIDIA driver and check that `nvidia-smi` works, or run without `--gpus`
        ");
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let host = Host::new();
        host.write("usr/lib/real.so", "")
            .link("lib", "usr/lib")
            .link("usr/lib/absolute.so", "/lib/real.so")
            .link("usr/lib/escape.so", "../../../../usr/lib/real.so")
            .link("usr/lib/loop.so", "loop.so");
        let resolve = |path: &str| resolve_in_root(host.root(), Path::new(path));
        for path in ["/lib/absolute.so", "/usr/lib/escape.so", "/lib/./real.so"] {
            assert_eq!(
                resolve(path).unwrap(),
                Some(PathBuf::from("/usr/lib/real.so")),
                "{path}"
            );
        }
        assert_eq!(resolve("/lib/missing.so").unwrap(), None);
        assert_eq!(resolve("/usr/lib/real.so/child").unwrap(), None);
        insta::assert_snapshot!(resolve("/lib/loop.so").unwrap_err(), @"`/lib/loop.so` goes through more than 40 symbolic links");
    }

    #[test]
    fn env_prepends_paths_and_replaces_the_rest() {
        let injection = GpuInjection {
            driver: "550.54.14".parse().unwrap(),
            devices: Vec::new(),
            mounts: Vec::new(),
            symlinks: Vec::new(),
            env: vec![
                (
                    "LD_LIBRARY_PATH".to_string(),
                    "/usr/local/nvidia/lib64".to_string(),
                ),
                ("PATH".to_string(), "/usr/local/nvidia/bin".to_string()),
                ("NVIDIA_VISIBLE_DEVICES".to_string(), "all".to_string()),
            ],
            source: String::new(),
        };
        let mut env = vec![
            "PATH=/usr/bin:/bin".to_string(),
            "NVIDIA_VISIBLE_DEVICES=void".to_string(),
            "LD_LIBRARY_PATH=".to_string(),
        ];
        injection.apply_env(&mut env);
        assert_eq!(
            env,
            [
                "PATH=/usr/local/nvidia/bin:/usr/bin:/bin",
                "NVIDIA_VISIBLE_DEVICES=all",
                "LD_LIBRARY_PATH=/usr/local/nvidia/lib64",
            ]
        );
    }
}
