//! What a container needs from the host to use NVIDIA GPUs: the driver version, the device
//! nodes a Docker-style `--gpus` request picks, and the driver's files. A CDI spec
//! (<https://github.com/cncf-tags/container-device-interface/blob/main/SPEC.md>) in `/etc/cdi` or
//! `/var/run/cdi` wins; without one, libraries come from glibc's linker cache, as
//! `nvidia-container-cli` does (format: glibc `sysdeps/generic/dl-cache.h`).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::cuda::DriverVersion;

/// Where the loaded kernel module states its version, alone on one line.
const SYS_VERSION: &str = "/sys/module/nvidia/version";
/// The older banner, `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  …`.
const PROC_VERSION: &str = "/proc/driver/nvidia/version";
/// CDI's static and dynamic spec directories; the later one wins for a device named in both.
const CDI_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];
const CDI_KIND: &str = "nvidia.com/gpu";
const LD_SO_CACHE: &str = "/etc/ld.so.cache";
/// Device nodes every CUDA program opens, whichever GPUs it gets.
const CONTROL_DEVICES: [&str; 4] = [
    "nvidiactl",
    "nvidia-uvm",
    "nvidia-uvm-tools",
    "nvidia-modeset",
];
/// The compute and utility libraries of the driver (`nvidia-container-cli`'s "compute" and
/// "utility" capabilities), matched as soname prefixes.
const LIBRARY_PREFIXES: [&str; 10] = [
    "libcuda.so",
    "libcudadebugger.so",
    "libnvidia-ml.so",
    "libnvidia-ptxjitcompiler.so",
    "libnvidia-nvvm.so",
    "libnvidia-gpucomp.so",
    "libnvidia-allocator.so",
    "libnvidia-cfg.so",
    "libnvidia-opencl.so",
    "libnvidia-pkcs11.so",
];
const BINARIES: [&str; 5] = [
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
];
const BINARY_DIRS: [&str; 2] = ["/usr/bin", "/bin"];
/// Where the driver's files go in the container when no CDI spec says otherwise: the paths
/// the `nvidia/cuda` images put on `LD_LIBRARY_PATH` and `PATH`.
const CONTAINER_LIB_DIR: &str = "/usr/local/nvidia/lib64";
const CONTAINER_BIN_DIR: &str = "/usr/local/nvidia/bin";
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
    pub fn detect() -> Result<Option<Self>, HardwareError> {
        Self::detect_in(Path::new("/"))
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
fn is_uuid(device: &str) -> bool {
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

/// Devices chosen by name from a CDI spec.
mod cdi {
    use std::collections::BTreeSet;

    use super::{
        BTreeMap, CDI_DIRS, CDI_KIND, Deserialize, Deserializer, DriverVersion, GpuInjection,
        GpuRequest, HardwareError, HostFile, Path, PathBuf, io, linker_cache, natural_cmp,
        read_if_exists, resolve_in_root,
    };

    /// Directories glibc's loader searches without `LD_LIBRARY_PATH` in Debian-family images
    /// (mlpack's own base): a spec's library folder among them stays off `LD_LIBRARY_PATH`,
    /// where it would come before the `RUNPATH`s of the image's wheels. A RHEL host's
    /// `/usr/lib64` is not among them, so there the variable is needed.
    const LOADER_DEFAULT_DIRS: [&str; 6] = [
        "/lib",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
    ];

    /// Read first, so specs for other vendors' devices are skipped without being understood.
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }

    /// The parts of a CDI spec mlpack applies; unknown fields are ignored, as the spec's
    /// versions add fields (`intelRdt`, `additionalGids`) that do not concern GPUs.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Spec {
        #[serde(default, deserialize_with = "nullable")]
        devices: Vec<Device>,
        #[serde(default, deserialize_with = "nullable")]
        container_edits: ContainerEdits,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Device {
        name: String,
        #[serde(default, deserialize_with = "nullable")]
        container_edits: ContainerEdits,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ContainerEdits {
        #[serde(default, deserialize_with = "nullable")]
        env: Vec<String>,
        #[serde(default, deserialize_with = "nullable")]
        device_nodes: Vec<DeviceNode>,
        #[serde(default, deserialize_with = "nullable")]
        hooks: Vec<Hook>,
        #[serde(default, deserialize_with = "nullable")]
        mounts: Vec<Mount>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DeviceNode {
        path: PathBuf,
        host_path: Option<PathBuf>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Mount {
        host_path: PathBuf,
        container_path: PathBuf,
        #[serde(default, deserialize_with = "nullable")]
        options: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Hook {
        #[serde(default, deserialize_with = "nullable")]
        args: Vec<String>,
    }

    /// YAML writes an empty list as `env:` (null); the spec means "none".
    fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
    }

    pub(super) struct LoadedSpec {
        /// The host path, for messages.
        path: PathBuf,
        spec: Spec,
    }

    /// The `nvidia.com/gpu` specs under `root`, in priority order (directory, then file name).
    pub(super) fn load(root: &Path) -> Result<Vec<LoadedSpec>, HardwareError> {
        let mut specs = Vec::new();
        for dir in CDI_DIRS {
            for path in spec_files(root, Path::new(dir))? {
                let Some(text) = read_if_exists(root, &path)? else {
                    continue;
                };
                let json = path
                    .extension()
                    .is_some_and(|extension| extension == "json");
                let kind: Kind = parse(&path, &text, json)?;
                if kind.kind == CDI_KIND {
                    let spec = parse(&path, &text, json)?;
                    specs.push(LoadedSpec { path, spec });
                }
            }
        }
        Ok(specs)
    }

    fn spec_files(root: &Path, dir: &Path) -> Result<Vec<PathBuf>, HardwareError> {
        let entries = match std::fs::read_dir(super::on_disk(root, dir)) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(HardwareError::io("list", dir, source)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let name = entry
                .map_err(|source| HardwareError::io("list", dir, source))?
                .file_name();
            let path = dir.join(&name);
            if path
                .extension()
                .is_some_and(|extension| ["yaml", "yml", "json"].iter().any(|e| extension == *e))
            {
                names.push(path);
            }
        }
        names.sort();
        Ok(names)
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        path: &Path,
        text: &str,
        json: bool,
    ) -> Result<T, HardwareError> {
        let result = if json {
            serde_json::from_str(text).map_err(|error| error.to_string())
        } else {
            serde_norway::from_str(text).map_err(|error| error.to_string())
        };
        result.map_err(|message| invalid(path, message))
    }

    fn invalid(path: &Path, message: String) -> HardwareError {
        HardwareError::InvalidCdiSpec {
            path: path.to_path_buf(),
            message,
        }
    }

    /// A device a spec offers; a later spec's device replaces an earlier one of the same name.
    struct Offered<'a> {
        name: &'a str,
        spec: usize,
        edits: &'a ContainerEdits,
    }

    pub(super) fn plan(
        root: &Path,
        driver: DriverVersion,
        specs: &[LoadedSpec],
        request: &GpuRequest,
    ) -> Result<GpuInjection, HardwareError> {
        let mut by_name: BTreeMap<&str, Offered<'_>> = BTreeMap::new();
        for (index, loaded) in specs.iter().enumerate() {
            for device in &loaded.spec.devices {
                by_name.insert(
                    &device.name,
                    Offered {
                        name: &device.name,
                        spec: index,
                        edits: &device.container_edits,
                    },
                );
            }
        }
        let mut offered: Vec<Offered<'_>> = by_name.into_values().collect();
        offered.sort_by(|a, b| natural_cmp(a.name, b.name));
        let inventory = describe(specs);
        let chosen = choose(&offered, request, &inventory)?;

        // Spec-level edits apply once for each spec a chosen device comes from, before the
        // devices' own (the order the CDI reference implementation applies them in).
        let used: BTreeSet<usize> = chosen.iter().map(|device| device.spec).collect();
        let mut merged = Merged::default();
        for &index in &used {
            merged.apply(root, &specs[index].path, &specs[index].spec.container_edits)?;
        }
        for device in &chosen {
            merged.apply(root, &specs[device.spec].path, device.edits)?;
        }
        merged.link_sonames(root)?;
        let source = describe(&used.iter().map(|&index| &specs[index]).collect::<Vec<_>>());
        Ok(GpuInjection {
            driver,
            devices: merged.devices,
            mounts: merged.mounts,
            symlinks: merged.symlinks,
            env: merged.env,
            source,
        })
    }

    fn describe<S: std::borrow::Borrow<LoadedSpec>>(specs: &[S]) -> String {
        let paths: Vec<String> = specs
            .iter()
            .map(|spec| format!("`{}`", spec.borrow().path.display()))
            .collect();
        let noun = if paths.len() == 1 { "spec" } else { "specs" };
        format!("CDI {noun} {}", paths.join(", "))
    }

    /// 1. `All`: the spec's `all` device, else every device.
    /// 2. `Count(n)`: the first `n` by name, numbers in numeric order; index names (`0`) only
    ///    when there are any, so a spec naming each GPU twice (index and UUID) isn't counted
    ///    twice.
    /// 3. `Devices`: each name as written.
    fn choose<'a, 'b>(
        offered: &'b [Offered<'a>],
        request: &GpuRequest,
        inventory: &str,
    ) -> Result<Vec<&'b Offered<'a>>, HardwareError> {
        let no_gpus = || HardwareError::NoGpuDevices {
            inventory: inventory.to_string(),
        };
        let gpus: Vec<&Offered<'_>> = offered.iter().filter(|d| d.name != "all").collect();
        match request {
            GpuRequest::All => match offered.iter().find(|device| device.name == "all") {
                Some(all) => Ok(vec![all]),
                None if gpus.is_empty() => Err(no_gpus()),
                None => Ok(gpus),
            },
            GpuRequest::Count(count) => {
                let indexes: Vec<&Offered<'_>> = gpus
                    .iter()
                    .copied()
                    .filter(|device| device.name.bytes().all(|byte| byte.is_ascii_digit()))
                    .collect();
                let candidates = if indexes.is_empty() { gpus } else { indexes };
                if candidates.is_empty() {
                    return Err(no_gpus());
                }
                let wanted = usize::try_from(*count).unwrap_or(usize::MAX);
                if candidates.len() < wanted {
                    return Err(HardwareError::NotEnoughGpus {
                        requested: *count,
                        available: candidates.iter().map(|d| d.name.to_string()).collect(),
                        inventory: inventory.to_string(),
                    });
                }
                Ok(candidates.into_iter().take(wanted).collect())
            }
            GpuRequest::Devices(names) => names
                .iter()
                .map(|name| {
                    offered
                        .iter()
                        .find(|device| device.name == name)
                        .ok_or_else(|| HardwareError::UnknownGpu {
                            requested: name.clone(),
                            available: offered.iter().map(|d| d.name.to_string()).collect(),
                            inventory: inventory.to_string(),
                        })
                })
                .collect(),
        }
    }

    /// The union of the chosen edits; the first entry for a path wins, a later value for a
    /// variable replaces the earlier one.
    #[derive(Default)]
    struct Merged {
        devices: Vec<PathBuf>,
        mounts: Vec<HostFile>,
        symlinks: Vec<(PathBuf, PathBuf)>,
        env: Vec<(String, String)>,
        /// From `update-ldcache` hooks: directories whose libraries need their soname links.
        library_dirs: Vec<PathBuf>,
    }

    impl Merged {
        fn apply(
            &mut self,
            root: &Path,
            spec: &Path,
            edits: &ContainerEdits,
        ) -> Result<(), HardwareError> {
            for node in &edits.device_nodes {
                if !node.path.is_absolute() {
                    return Err(invalid(
                        spec,
                        format!(
                            "device node `{}` is not an absolute path",
                            node.path.display()
                        ),
                    ));
                }
                if let Some(host) = node.host_path.as_ref().filter(|host| **host != node.path) {
                    return Err(HardwareError::UnsupportedCdiEdit {
                        path: spec.to_path_buf(),
                        what: format!(
                            "device node `{}` from host path `{}`",
                            node.path.display(),
                            host.display()
                        ),
                    });
                }
                check_exists(root, spec, &node.path)?;
                if !self.devices.contains(&node.path) {
                    self.devices.push(node.path.clone());
                }
            }
            for mount in &edits.mounts {
                if !mount.host_path.is_absolute() || !mount.container_path.is_absolute() {
                    return Err(invalid(
                        spec,
                        format!(
                            "mount `{}` → `{}` does not use absolute paths",
                            mount.host_path.display(),
                            mount.container_path.display()
                        ),
                    ));
                }
                check_exists(root, spec, &mount.host_path)?;
                if !self
                    .mounts
                    .iter()
                    .any(|m| m.container == mount.container_path)
                {
                    self.mounts.push(HostFile {
                        host: mount.host_path.clone(),
                        container: mount.container_path.clone(),
                        read_only: mount.options.iter().any(|option| option == "ro"),
                    });
                }
            }
            for entry in &edits.env {
                let Some((name, value)) = entry.split_once('=') else {
                    return Err(invalid(
                        spec,
                        format!("environment entry `{entry}` is not `NAME=value`"),
                    ));
                };
                self.env.retain(|(existing, _)| existing != name);
                self.env.push((name.to_string(), value.to_string()));
            }
            for hook in &edits.hooks {
                self.apply_hook(spec, &hook.args)?;
            }
            Ok(())
        }

        /// mlpack runs no hooks; it does what the two hooks NVIDIA's generator writes for
        /// compute do. `create-symlinks --link TARGET::LINK` becomes symlinks;
        /// `update-ldcache --folder DIR` runs `ldconfig` in the container, which creates the
        /// soname links (`libcuda.so.1`) and puts DIR in the cache; mlpack creates those links
        /// itself ([`Merged::link_sonames`]) and puts DIR on `LD_LIBRARY_PATH` unless the loader
        /// searches it anyway. Other hooks (`chmod`, `enable-cuda-compat`, …) are skipped.
        fn apply_hook(&mut self, spec: &Path, args: &[String]) -> Result<(), HardwareError> {
            if args.iter().any(|arg| arg == "create-symlinks") {
                for link in option_values(args, "--link") {
                    let Some((target, path)) = link.split_once("::") else {
                        return Err(invalid(
                            spec,
                            format!("hook link `{link}` is not `TARGET::LINK`"),
                        ));
                    };
                    let path = PathBuf::from(path);
                    if !self.symlinks.iter().any(|(existing, _)| *existing == path) {
                        self.symlinks.push((path, PathBuf::from(target)));
                    }
                }
            }
            if args.iter().any(|arg| arg == "update-ldcache") {
                for folder in option_values(args, "--folder") {
                    let folder = PathBuf::from(folder);
                    if !self.library_dirs.contains(&folder) {
                        self.library_dirs.push(folder);
                    }
                }
            }
            Ok(())
        }

        /// Links each soname the host's linker cache knows to the mounted library in an
        /// `update-ldcache` folder (`libcuda.so.1` → `libcuda.so.550.54.14`).
        fn link_sonames(&mut self, root: &Path) -> Result<(), HardwareError> {
            if self.library_dirs.is_empty() {
                return Ok(());
            }
            let mut dirs: Vec<String> = self
                .library_dirs
                .iter()
                .filter(|dir| {
                    !LOADER_DEFAULT_DIRS
                        .iter()
                        .any(|default| dir.as_path() == Path::new(default))
                })
                .map(|dir| dir.display().to_string())
                .collect();
            if !dirs.is_empty() {
                let at = self
                    .env
                    .iter()
                    .position(|(name, _)| name == "LD_LIBRARY_PATH");
                dirs.extend(at.map(|at| self.env.remove(at).1));
                self.env
                    .push(("LD_LIBRARY_PATH".to_string(), dirs.join(":")));
            }
            let Some(cache) = linker_cache::read(root)? else {
                return Ok(());
            };
            let mut links = Vec::new();
            for mount in &self.mounts {
                let (Some(dir), Some(file)) =
                    (mount.container.parent(), mount.container.file_name())
                else {
                    continue;
                };
                let Some(file) = file.to_str() else { continue };
                if !self.library_dirs.iter().any(|folder| folder == dir) {
                    continue;
                }
                let Some((stem, _)) = file.split_once(".so") else {
                    continue;
                };
                let stem = format!("{stem}.so");
                let Some(real) = resolve_in_root(root, &mount.host)? else {
                    continue;
                };
                for entry in cache
                    .iter()
                    .filter(|e| e.is_64_bit() && e.key.starts_with(&stem))
                {
                    if entry.key == file || !super::is_file_name(&entry.key) {
                        continue;
                    }
                    if resolve_in_root(root, Path::new(&entry.value))?.as_ref() == Some(&real) {
                        links.push((dir.join(&entry.key), PathBuf::from(file)));
                    }
                }
            }
            for (link, target) in links {
                if !self.symlinks.iter().any(|(existing, _)| *existing == link) {
                    self.symlinks.push((link, target));
                }
            }
            Ok(())
        }
    }

    /// The values of `--name VALUE` and `--name=VALUE` in a hook's arguments.
    fn option_values<'a>(args: &'a [String], name: &'a str) -> impl Iterator<Item = &'a str> {
        let mut previous: Option<&str> = None;
        args.iter().filter_map(move |arg| {
            let value = if previous == Some(name) {
                Some(arg.as_str())
            } else {
                arg.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('='))
            };
            previous = Some(arg);
            value
        })
    }

    /// A stale spec (the driver was upgraded, a GPU removed) names files that are gone; saying
    /// so here beats a mount failing inside the container's setup.
    fn check_exists(root: &Path, spec: &Path, path: &Path) -> Result<(), HardwareError> {
        match std::fs::symlink_metadata(super::on_disk(root, path)) {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Err(HardwareError::MissingHostPath {
                    spec: spec.to_path_buf(),
                    path: path.to_path_buf(),
                })
            }
            Err(source) => Err(HardwareError::io("inspect", path, source)),
        }
    }
}

/// Devices from `/dev/nvidia*` and the driver's files from glibc's linker cache.
mod linker_cache {
    use super::{
        BINARIES, BINARY_DIRS, BTreeMap, CONTAINER_BIN_DIR, CONTAINER_LIB_DIR, CONTROL_DEVICES,
        DriverVersion, GpuInjection, GpuRequest, HardwareError, HostFile, LD_SO_CACHE,
        LIBRARY_PREFIXES, Path, PathBuf, io, is_file_name, is_uuid, on_disk, resolve_in_root,
    };

    const DEV: &str = "/dev";

    pub(super) fn plan(
        root: &Path,
        driver: DriverVersion,
        request: &GpuRequest,
    ) -> Result<GpuInjection, HardwareError> {
        let (gpus, visible) = choose(&gpu_indexes(root)?, request)?;
        let mut devices: Vec<PathBuf> = Vec::new();
        for name in CONTROL_DEVICES {
            let path = Path::new(DEV).join(name);
            if on_disk(root, &path).exists() {
                devices.push(path);
            }
        }
        devices.extend(
            gpus.iter()
                .map(|index| Path::new(DEV).join(format!("nvidia{index}"))),
        );
        let DriverFiles {
            mut mounts,
            symlinks,
        } = libraries(root)?;
        mounts.extend(binaries(root)?);
        Ok(GpuInjection {
            driver,
            devices,
            mounts,
            symlinks,
            env: vec![
                ("LD_LIBRARY_PATH".to_string(), CONTAINER_LIB_DIR.to_string()),
                ("PATH".to_string(), CONTAINER_BIN_DIR.to_string()),
                ("NVIDIA_VISIBLE_DEVICES".to_string(), visible),
            ],
            source: format!("the host's linker cache `{LD_SO_CACHE}`"),
        })
    }

    /// The `N` of each `/dev/nvidiaN`, in numeric order.
    fn gpu_indexes(root: &Path) -> Result<Vec<u32>, HardwareError> {
        let entries = match std::fs::read_dir(on_disk(root, Path::new(DEV))) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(HardwareError::io("list", DEV, source)),
        };
        let mut indexes = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| HardwareError::io("list", DEV, source))?;
            let name = entry.file_name();
            let index = name
                .to_str()
                .and_then(|name| name.strip_prefix("nvidia"))
                .filter(|digits| digits.bytes().all(|byte| byte.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u32>().ok());
            indexes.extend(index);
        }
        indexes.sort_unstable();
        Ok(indexes)
    }

    /// The chosen indexes and the matching `NVIDIA_VISIBLE_DEVICES` value.
    fn choose(present: &[u32], request: &GpuRequest) -> Result<(Vec<u32>, String), HardwareError> {
        let inventory = || format!("`{DEV}`");
        let names = || present.iter().map(u32::to_string).collect::<Vec<_>>();
        if present.is_empty() {
            return Err(HardwareError::NoGpuDevices {
                inventory: inventory(),
            });
        }
        match request {
            GpuRequest::All => Ok((present.to_vec(), "all".to_string())),
            GpuRequest::Count(count) => {
                let wanted = usize::try_from(*count).unwrap_or(usize::MAX);
                if present.len() < wanted {
                    return Err(HardwareError::NotEnoughGpus {
                        requested: *count,
                        available: names(),
                        inventory: inventory(),
                    });
                }
                let chosen = present[..wanted].to_vec();
                Ok((chosen.clone(), join(&chosen)))
            }
            GpuRequest::Devices(devices) => {
                let mut chosen = Vec::new();
                for device in devices {
                    if is_uuid(device) || device.contains(':') {
                        return Err(HardwareError::UuidNeedsCdi {
                            device: device.clone(),
                        });
                    }
                    let index = device.parse().ok().filter(|index| present.contains(index));
                    let Some(index) = index else {
                        return Err(HardwareError::UnknownGpu {
                            requested: device.clone(),
                            available: names(),
                            inventory: inventory(),
                        });
                    };
                    chosen.push(index);
                }
                Ok((chosen.clone(), join(&chosen)))
            }
        }
    }

    fn join(indexes: &[u32]) -> String {
        indexes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The parsed cache, or `None` when the host has none.
    pub(super) fn read(
        root: &Path,
    ) -> Result<Option<Vec<super::ld_so_cache::Entry>>, HardwareError> {
        let path = Path::new(LD_SO_CACHE);
        let Some(bytes) = super::read_bytes_if_exists(root, path)? else {
            return Ok(None);
        };
        super::ld_so_cache::parse(&bytes)
            .map(Some)
            .map_err(|reason| HardwareError::InvalidLinkerCache {
                path: path.to_path_buf(),
                reason,
            })
    }

    struct DriverFiles {
        mounts: Vec<HostFile>,
        symlinks: Vec<(PathBuf, PathBuf)>,
    }

    /// Each driver library's real file, mounted read-only in [`CONTAINER_LIB_DIR`] under its
    /// own name, with its soname linked to it. Entries whose file is gone (a stale cache) are
    /// skipped; only 64-bit entries count, the first for each soname (the cache's preference).
    fn libraries(root: &Path) -> Result<DriverFiles, HardwareError> {
        let cache_path = PathBuf::from(LD_SO_CACHE);
        let Some(cache) = read(root)? else {
            return Err(HardwareError::NoLinkerCache { path: cache_path });
        };
        let lib_dir = Path::new(CONTAINER_LIB_DIR);
        let mut mounts: BTreeMap<PathBuf, HostFile> = BTreeMap::new();
        let mut links: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        let mut sonames: Vec<&str> = Vec::new();
        for entry in cache.iter().filter(|entry| entry.is_64_bit()) {
            let wanted = LIBRARY_PREFIXES
                .iter()
                .any(|prefix| entry.key.starts_with(prefix));
            if !wanted || !is_file_name(&entry.key) || sonames.contains(&entry.key.as_str()) {
                continue;
            }
            let Some(real) = resolve_in_root(root, Path::new(&entry.value))? else {
                continue;
            };
            let Some(file) = real.file_name().map(PathBuf::from) else {
                continue;
            };
            sonames.push(&entry.key);
            let container = lib_dir.join(&file);
            mounts.entry(container.clone()).or_insert(HostFile {
                host: real,
                container,
                read_only: true,
            });
            if *entry.key != *file {
                links.entry(lib_dir.join(&entry.key)).or_insert(file);
            }
        }
        if !sonames.contains(&"libcuda.so.1") {
            return Err(HardwareError::DriverLibrariesNotFound { path: cache_path });
        }
        // The development name, which some programs `dlopen` (Triton's and JAX's loaders).
        links.insert(lib_dir.join("libcuda.so"), PathBuf::from("libcuda.so.1"));
        Ok(DriverFiles {
            mounts: mounts.into_values().collect(),
            symlinks: links.into_iter().collect(),
        })
    }

    /// The driver's tools, from `/usr/bin` or else `/bin`, at [`CONTAINER_BIN_DIR`].
    fn binaries(root: &Path) -> Result<Vec<HostFile>, HardwareError> {
        let mut mounts = Vec::new();
        for name in BINARIES {
            for dir in BINARY_DIRS {
                let Some(real) = resolve_in_root(root, &Path::new(dir).join(name))? else {
                    continue;
                };
                if on_disk(root, &real).is_file() {
                    mounts.push(HostFile {
                        host: real,
                        container: Path::new(CONTAINER_BIN_DIR).join(name),
                        read_only: true,
                    });
                    break;
                }
            }
        }
        Ok(mounts)
    }
}

/// glibc's `/etc/ld.so.cache`, as `ldconfig` writes it since glibc 2.2
/// (`sysdeps/generic/dl-cache.h`).
mod ld_so_cache {
    const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
    const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
    const HEADER_LEN: usize = 48;
    const ENTRY_LEN: usize = 24;
    /// `FLAG_ELF_LIBC6 | FLAG_X8664_LIB64` and `FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64`.
    const X86_64: i32 = 0x0303;
    const AARCH64: i32 = 0x0a03;

    #[derive(Debug)]
    pub(super) struct Entry {
        pub(super) flags: i32,
        /// The soname, `libcuda.so.1`.
        pub(super) key: String,
        /// The path `ldconfig` found it at, `/lib/x86_64-linux-gnu/libcuda.so.1`.
        pub(super) value: String,
    }

    impl Entry {
        /// A 64-bit x86-64 or `AArch64` library: 32-bit copies (`i386`, flags `0x0003`) can't
        /// be loaded by the 64-bit programs an ML image runs.
        pub(super) fn is_64_bit(&self) -> bool {
            matches!(self.flags, X86_64 | AARCH64)
        }
    }

    /// The entries in the file's order (the order the loader prefers them in).
    ///
    /// 1. The new format alone (glibc 2.32+): header `glibc-ld.so.cache1.1` at byte 0.
    /// 2. The old format followed by the new (glibc 2.2 to 2.31): `ld.so-1.7.0`, a `u32` count
    ///    at byte 12, that many 12-byte entries, then the new header aligned to 8 bytes; only the
    ///    new part is read. A cache in the old format alone (libc5 era) is refused.
    ///
    /// The new header: magic and version (20 bytes), `nlibs: u32`, `len_strings: u32`,
    /// `flags: u8` (bits 0-1: 2 little-endian, 3 big-endian, else the host's order), padding,
    /// `extension_offset: u32` and 3 unused `u32`s; then `nlibs` entries of `flags: i32,
    /// key: u32, value: u32, osversion: u32, hwcap: u64`. Key and value are offsets of
    /// NUL-terminated strings, counted from the start of the new header.
    pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Entry>, &'static str> {
        let start = if bytes.starts_with(NEW_MAGIC) {
            0
        } else if bytes.starts_with(OLD_MAGIC) {
            let old_count =
                read_u32(bytes, 12, cfg!(target_endian = "big")).ok_or("it is truncated")?;
            let old_end = usize::try_from(old_count)
                .ok()
                .and_then(|count| count.checked_mul(12))
                .and_then(|len| len.checked_add(16))
                .ok_or("it is truncated")?;
            let start = old_end.next_multiple_of(8);
            if !bytes
                .get(start..)
                .is_some_and(|rest| rest.starts_with(NEW_MAGIC))
            {
                return Err("it has only the old `ld.so-1.7.0` format, which mlpack does not read");
            }
            start
        } else {
            return Err("it does not start with `glibc-ld.so.cache1.1`");
        };
        let table = &bytes[start..];
        let header = table.get(..HEADER_LEN).ok_or("it is truncated")?;
        let big_endian = match header[28] & 3 {
            2 => false,
            3 => true,
            _ => cfg!(target_endian = "big"),
        };
        let count = read_u32(header, 20, big_endian).ok_or("it is truncated")?;
        let count = usize::try_from(count).map_err(|_| "it is truncated")?;
        let entries_end = count
            .checked_mul(ENTRY_LEN)
            .and_then(|len| len.checked_add(HEADER_LEN))
            .filter(|end| *end <= table.len())
            .ok_or("it is truncated")?;
        let mut entries = Vec::with_capacity(count);
        for at in (HEADER_LEN..entries_end).step_by(ENTRY_LEN) {
            let field = |offset| read_u32(table, at + offset, big_endian).ok_or("it is truncated");
            let flags = i32::from_ne_bytes(field(0)?.to_ne_bytes());
            let key = string_at(table, field(4)?)?;
            let value = string_at(table, field(8)?)?;
            // A name that isn't UTF-8 isn't one of the driver's.
            if let (Some(key), Some(value)) = (key, value) {
                entries.push(Entry { flags, key, value });
            }
        }
        Ok(entries)
    }

    fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
        let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        })
    }

    fn string_at(table: &[u8], offset: u32) -> Result<Option<String>, &'static str> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|offset| table.get(offset..))
            .ok_or("a string offset points past its end")?;
        let end = rest
            .iter()
            .position(|byte| *byte == 0)
            .ok_or("a string runs past its end")?;
        Ok(String::from_utf8(rest[..end].to_vec()).ok())
    }
}

/// `path` (a host path) as found below `root`.
fn on_disk(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// A soname usable as a link name: no directories, no `..`.
fn is_file_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

fn read_bytes_if_exists(root: &Path, path: &Path) -> Result<Option<Vec<u8>>, HardwareError> {
    match std::fs::read(on_disk(root, path)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(HardwareError::io("read", path, source)),
    }
}

fn read_if_exists(root: &Path, path: &Path) -> Result<Option<String>, HardwareError> {
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
fn resolve_in_root(root: &Path, path: &Path) -> Result<Option<PathBuf>, HardwareError> {
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

/// Orders names with numbers by value: `2` before `10`, `GPU-…` after both.
fn natural_cmp(left: &str, right: &str) -> Ordering {
    let (mut left, mut right) = (left, right);
    loop {
        let (Some(a), Some(b)) = (left.chars().next(), right.chars().next()) else {
            return left.len().cmp(&right.len());
        };
        let ordering = if a.is_ascii_digit() && b.is_ascii_digit() {
            let a_len = left.bytes().take_while(u8::is_ascii_digit).count();
            let b_len = right.bytes().take_while(u8::is_ascii_digit).count();
            let (a_digits, a_rest) = left.split_at(a_len);
            let (b_digits, b_rest) = right.split_at(b_len);
            (left, right) = (a_rest, b_rest);
            let (a_digits, b_digits) = (
                a_digits.trim_start_matches('0'),
                b_digits.trim_start_matches('0'),
            );
            a_digits
                .len()
                .cmp(&b_digits.len())
                .then_with(|| a_digits.cmp(b_digits))
        } else {
            (left, right) = (&left[a.len_utf8()..], &right[b.len_utf8()..]);
            a.cmp(&b)
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
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
    /// A file system operation failed; `action` is a verb phrase (`read`, `list`).
    #[error("could not {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

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

impl HardwareError {
    /// Whether the request or the host's setup is at fault (no driver, no such GPU), rather
    /// than a file failing to read.
    pub fn is_user_error(&self) -> bool {
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

    /// A suggestion for the user, without the `hint: ` prefix, where one helps.
    pub fn hint(&self) -> Option<String> {
        let libraries = || {
            format!(
                "install the driver's user-space libraries (Ubuntu: `libnvidia-compute-<branch>`) and run `sudo ldconfig`, or describe the GPUs in a CDI spec: `{CDI_GENERATE}`"
            )
        };
        match self {
            Self::NoDriver => Some(
                "install the NVIDIA driver and check that `nvidia-smi` works, or run without `--gpus`"
                    .to_string(),
            ),
            Self::InvalidGpuRequest { .. } => Some(
                "write `all`, a number of GPUs (`2`), or devices by index or UUID (`device=0,2`, `device=GPU-<uuid>`)"
                    .to_string(),
            ),
            Self::UnknownGpu {
                requested,
                available,
                ..
            } => Some(unknown_gpu_hint(requested, available)),
            Self::NotEnoughGpus { .. } => {
                Some("ask for fewer, or for `all` of them".to_string())
            }
            Self::NoGpuDevices { inventory } if inventory.starts_with("CDI") => Some(format!(
                "check that `nvidia-smi` lists the GPUs; if it does, regenerate the spec with `{CDI_GENERATE}`"
            )),
            Self::NoGpuDevices { .. } => Some(
                "check that `nvidia-smi` lists the GPUs; if it does, create the device nodes with `nvidia-modprobe`"
                    .to_string(),
            ),
            Self::UuidNeedsCdi { .. } => Some(format!(
                "name the GPU by index (`nvidia-smi -L` shows both), or generate a CDI spec that names GPUs by UUID: `{CDI_GENERATE} --device-name-strategy=uuid`"
            )),
            Self::InvalidCdiSpec { .. } => Some(format!(
                "fix it, or regenerate it with `{CDI_GENERATE}`"
            )),
            Self::MissingHostPath { .. } => Some(format!(
                "the spec is stale (the driver was upgraded, or a GPU removed); regenerate it with `{CDI_GENERATE}`"
            )),
            Self::UnsupportedCdiEdit { path, .. } => Some(format!(
                "regenerate it with `{CDI_GENERATE}`, or move `{}` out of the CDI directory so mlpack uses the linker cache",
                path.display()
            )),
            Self::NoLinkerCache { .. } | Self::DriverLibrariesNotFound { .. } => Some(libraries()),
            Self::InvalidLinkerCache { .. } => {
                Some("rebuild it with `sudo ldconfig`".to_string())
            }
            Self::Io { .. } | Self::UnreadableDriverVersion { .. } | Self::SymlinkLoop { .. } => {
                None
            }
        }
    }

    fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
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
    use std::fs;

    use super::*;

    const PROPRIETARY_BANNER: &str = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
    const OPEN_BANNER: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Jan 23 23:54:22 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";

    /// A host's file system in a temporary directory; regular files stand in for device nodes.
    struct Host(tempfile::TempDir);

    impl Host {
        fn new() -> Self {
            Self(tempfile::tempdir().unwrap())
        }

        /// A loaded driver with `gpus` GPUs and the control devices.
        fn with_driver(gpus: u32) -> Self {
            let host = Self::new();
            host.write("proc/driver/nvidia/version", PROPRIETARY_BANNER);
            for name in ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "null"] {
                host.write(&format!("dev/{name}"), "");
            }
            for index in 0..gpus {
                host.write(&format!("dev/nvidia{index}"), "");
            }
            host
        }

        fn root(&self) -> &Path {
            self.0.path()
        }

        fn write(&self, path: &str, content: impl AsRef<[u8]>) -> &Self {
            let full = self.root().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, content).unwrap();
            self
        }

        fn link(&self, path: &str, target: &str) -> &Self {
            let full = self.root().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, full).unwrap();
            self
        }

        /// A Debian-style driver install: merged `/usr` (`/lib` → `usr/lib`), 64-bit and
        /// 32-bit `libcuda`, soname links, an absolute link to a tool, and a linker cache
        /// that lists a library that is gone.
        fn with_libraries(&self) -> &Self {
            let lib = "usr/lib/x86_64-linux-gnu";
            for name in ["libcuda", "libnvidia-ml", "libnvidia-ptxjitcompiler"] {
                self.write(&format!("{lib}/{name}.so.550.54.14"), "");
                self.link(
                    &format!("{lib}/{name}.so.1"),
                    &format!("{name}.so.550.54.14"),
                );
            }
            self.link(&format!("{lib}/libcuda.so"), "libcuda.so.1")
                .write(&format!("{lib}/libc.so.6"), "")
                .write("usr/lib/i386-linux-gnu/libcuda.so.550.54.14", "")
                .link(
                    "usr/lib/i386-linux-gnu/libcuda.so.1",
                    "libcuda.so.550.54.14",
                )
                .link("lib", "usr/lib")
                .link("bin", "usr/bin")
                .write("usr/bin/nvidia-smi", "")
                .write("usr/sbin/nvidia-persistenced", "")
                .link(
                    "usr/bin/nvidia-persistenced",
                    "/usr/sbin/nvidia-persistenced",
                )
                .write(
                    "etc/ld.so.cache",
                    ld_so_cache(&[
                        (
                            0x0303,
                            "libnvidia-ptxjitcompiler.so.1",
                            "/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.1",
                        ),
                        (
                            0x0303,
                            "libnvidia-ml.so.1",
                            "/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
                        ),
                        (
                            0x0303,
                            "libnvidia-cfg.so.1",
                            "/lib/x86_64-linux-gnu/libnvidia-cfg.so.1",
                        ),
                        (0x0003, "libcuda.so.1", "/lib/i386-linux-gnu/libcuda.so.1"),
                        (0x0303, "libcuda.so.1", "/lib/x86_64-linux-gnu/libcuda.so.1"),
                        (0x0303, "libcuda.so", "/lib/x86_64-linux-gnu/libcuda.so"),
                        (0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
                    ]),
                )
        }
    }

    /// A cache in the format `ldconfig` writes since glibc 2.32, little-endian:
    ///
    /// | offset | field |
    /// |---|---|
    /// | 0 | `glibc-ld.so.cache` (17 bytes) then `1.1` (3 bytes) |
    /// | 20 | `nlibs: u32` |
    /// | 24 | `len_strings: u32` |
    /// | 28 | `flags: u8` (2: little-endian), 3 bytes of padding |
    /// | 32 | `extension_offset: u32` (0: none), 3 unused `u32`s |
    /// | 48 | `nlibs` entries: `flags: i32, key: u32, value: u32, osversion: u32, hwcap: u64` |
    /// | 48 + 24 × nlibs | the NUL-terminated strings |
    ///
    /// `key` and `value` are offsets from byte 0 of this header.
    fn ld_so_cache(entries: &[(i32, &str, &str)]) -> Vec<u8> {
        let strings_start = 48 + 24 * entries.len();
        let mut strings: Vec<u8> = Vec::new();
        let mut intern = |text: &str| {
            let offset = u32::try_from(strings_start + strings.len()).unwrap();
            strings.extend(text.as_bytes());
            strings.push(0);
            offset
        };
        let mut table = Vec::new();
        for (flags, key, value) in entries {
            let (key, value) = (intern(key), intern(value));
            table.extend(flags.to_le_bytes());
            table.extend(key.to_le_bytes());
            table.extend(value.to_le_bytes());
            table.extend(0u32.to_le_bytes());
            table.extend(0u64.to_le_bytes());
        }
        let mut bytes = b"glibc-ld.so.cache1.1".to_vec();
        bytes.extend(u32::try_from(entries.len()).unwrap().to_le_bytes());
        bytes.extend(u32::try_from(strings.len()).unwrap().to_le_bytes());
        bytes.extend([2, 0, 0, 0]);
        bytes.extend([0; 16]);
        assert_eq!(bytes.len(), 48);
        bytes.extend(table);
        bytes.extend(strings);
        bytes
    }

    /// The glibc 2.2–2.31 layout: `ld.so-1.7.0`, padding, a native-endian count, one 12-byte
    /// old entry, padding to 8 bytes, then the new format.
    fn with_old_format(new: &[u8]) -> Vec<u8> {
        let mut bytes = b"ld.so-1.7.0\0".to_vec();
        bytes.extend(1u32.to_ne_bytes());
        bytes.extend([0; 12]);
        bytes.resize(32, 0);
        bytes.extend(new);
        bytes
    }

    const NVIDIA_YAML: &str = r#"---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: "1"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
- name: all
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/nvidia1
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - path: /dev/nvidia-uvm
  - path: /dev/nvidia-uvm-tools
  - path: /dev/nvidiactl
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - create-symlinks
    - --link
    - libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - enable-cuda-compat
    - --host-driver-version=550.54.14
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - update-ldcache
    - --folder
    - /usr/lib/x86_64-linux-gnu
  mounts:
  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    options:
    - ro
    - nosuid
    - nodev
    - bind
  - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14
    containerPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14
    options: [ro, nosuid, nodev, bind]
  - hostPath: /usr/bin/nvidia-smi
    containerPath: /usr/bin/nvidia-smi
    options: [ro, nosuid, nodev, bind]
  - hostPath: /run/nvidia-persistenced/socket
    containerPath: /run/nvidia-persistenced/socket
    options: [nosuid, nodev, bind, noexec]
"#;

    fn cdi_host() -> Host {
        let host = Host::with_driver(2);
        host.with_libraries();
        host.write("run/nvidia-persistenced/socket", "")
            .write("etc/cdi/nvidia.yaml", NVIDIA_YAML);
        host
    }

    fn plan(host: &Host, request: &str) -> Result<GpuInjection, HardwareError> {
        plan_gpus(host.root(), &request.parse().unwrap())
    }

    /// The error as the CLI shows it.
    fn report(error: &HardwareError) -> String {
        match error.hint() {
            Some(hint) => format!("{error}\n\nhint: {hint}"),
            None => error.to_string(),
        }
    }

    fn version(root: &Path) -> Option<String> {
        NvidiaDriver::detect_in(root)
            .unwrap()
            .map(|driver| driver.version.to_string())
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
    fn cdi_all_takes_the_all_device_and_the_spec_edits() {
        let plan = plan(&cdi_host(), "all").unwrap();
        insta::assert_json_snapshot!(plan, @r#"
        {
          "driver": "550.54.14",
          "devices": [
            "/dev/nvidia-uvm",
            "/dev/nvidia-uvm-tools",
            "/dev/nvidiactl",
            "/dev/nvidia0",
            "/dev/nvidia1"
          ],
          "mounts": [
            {
              "host": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14",
              "container": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14",
              "read_only": true
            },
            {
              "host": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14",
              "container": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14",
              "read_only": true
            },
            {
              "host": "/usr/bin/nvidia-smi",
              "container": "/usr/bin/nvidia-smi",
              "read_only": true
            },
            {
              "host": "/run/nvidia-persistenced/socket",
              "container": "/run/nvidia-persistenced/socket",
              "read_only": false
            }
          ],
          "symlinks": [
            [
              "/usr/lib/x86_64-linux-gnu/libcuda.so",
              "libcuda.so.1"
            ],
            [
              "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
              "libcuda.so.550.54.14"
            ],
            [
              "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
              "libnvidia-ml.so.550.54.14"
            ]
          ],
          "env": [
            [
              "NVIDIA_VISIBLE_DEVICES",
              "void"
            ]
          ],
          "source": "CDI spec `/etc/cdi/nvidia.yaml`"
        }
        "#);
    }

    #[test]
    fn cdi_count_and_device_lists_choose_by_name() {
        let host = cdi_host();
        let devices = |request: &str| {
            let plan = plan(&host, request).unwrap();
            let devices: Vec<String> = plan
                .devices
                .iter()
                .map(|path| path.display().to_string())
                .collect();
            devices.join(" ")
        };
        assert_eq!(
            devices("1"),
            "/dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidiactl /dev/nvidia0"
        );
        assert_eq!(
            devices("device=1,0"),
            "/dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidiactl /dev/nvidia1 /dev/nvidia0"
        );
        insta::assert_snapshot!(report(&plan(&host, "3").unwrap_err()), @"
        asked for 3 GPUs, but CDI spec `/etc/cdi/nvidia.yaml` has only 2: `0`, `1`

        hint: ask for fewer, or for `all` of them
        ");
        insta::assert_snapshot!(report(&plan(&host, "device=2").unwrap_err()), @"
        no GPU `2` in CDI spec `/etc/cdi/nvidia.yaml`, which has `0`, `1`, `all`

        hint: pick one of those, like `device=0`
        ");
        insta::assert_snapshot!(
            report(&plan(&host, "device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a").unwrap_err()),
            @"
        no GPU `GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a` in CDI spec `/etc/cdi/nvidia.yaml`, which has `0`, `1`, `all`

        hint: pick one of those, like `device=0`; to name GPUs by UUID, regenerate the spec with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml --device-name-strategy=uuid`
        "
        );
    }

    #[test]
    fn cdi_json_specs_by_uuid_and_other_vendors_skipped() {
        let host = Host::with_driver(2);
        host.write(
            "etc/cdi/amd.yaml",
            "cdiVersion: 0.6.0\nkind: amd.com/gpu\ndevices: {something: else}\n",
        )
        .write(
            "var/run/cdi/nvidia.json",
            r#"{"cdiVersion":"0.6.0","kind":"nvidia.com/gpu","devices":[
                {"name":"GPU-bbbb","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia1"}]}},
                {"name":"GPU-aaaa","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0","hostPath":"/dev/nvidia0"}],
                  "env":["CUDA_DEVICE_ORDER=PCI_BUS_ID"]}}],
              "containerEdits":{"deviceNodes":[{"path":"/dev/nvidiactl"}],"env":null,
                "mounts":[{"hostPath":"/usr/lib64/libcuda.so.570.86.15",
                  "containerPath":"/usr/lib64/libcuda.so.570.86.15","options":["ro"]}],
                "hooks":[{"hookName":"createContainer","path":"/usr/bin/nvidia-cdi-hook",
                  "args":["nvidia-cdi-hook","update-ldcache","--folder=/usr/lib64"]}]}}"#,
        )
        .write("usr/lib64/libcuda.so.570.86.15", "")
        .link("usr/lib64/libcuda.so.1", "libcuda.so.570.86.15")
        .write(
            "etc/ld.so.cache",
            ld_so_cache(&[(0x0303, "libcuda.so.1", "/usr/lib64/libcuda.so.1")]),
        );
        let plan_devices = |request: &str| {
            let plan = plan(&host, request).unwrap();
            assert_eq!(plan.source, "CDI spec `/var/run/cdi/nvidia.json`");
            plan.devices
        };
        assert_eq!(
            plan_devices("all"),
            ["/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia1"].map(PathBuf::from)
        );
        assert_eq!(
            plan_devices("1"),
            ["/dev/nvidiactl", "/dev/nvidia0"].map(PathBuf::from)
        );
        let plan = plan(&host, "device=GPU-bbbb").unwrap();
        assert_eq!(
            plan.devices,
            ["/dev/nvidiactl", "/dev/nvidia1"].map(PathBuf::from)
        );
        // A RHEL host's library folder is not searched by a Debian image's loader.
        assert_eq!(
            plan.env,
            [("LD_LIBRARY_PATH".to_string(), "/usr/lib64".to_string())]
        );
        assert_eq!(
            plan.symlinks,
            [(
                PathBuf::from("/usr/lib64/libcuda.so.1"),
                PathBuf::from("libcuda.so.570.86.15")
            )]
        );
    }

    #[test]
    fn bad_cdi_specs_are_named() {
        let host = Host::with_driver(1);
        host.write("etc/cdi/nvidia.yaml", "kind: nvidia.com/gpu\ndevices: 3\n");
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` is not valid: devices: invalid type: integer `3`, expected a sequence at line 2 column 10

        hint: fix it, or regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
        host.write("etc/cdi/nvidia.yaml", "kind: 'nvidia.com/gpu\n");
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` is not valid: found unexpected end of stream at line 2 column 1, while scanning a quoted scalar at line 1 column 7

        hint: fix it, or regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
        host.write(
            "etc/cdi/nvidia.yaml",
            "kind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n    mounts:\n    - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05\n      containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05\n",
        );
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` names `/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05`, which does not exist on this host

        hint: the spec is stale (the driver was upgraded, or a GPU removed); regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
        host.write(
            "etc/cdi/nvidia.yaml",
            "kind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n      hostPath: /dev/nvidia3\n",
        );
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` asks for device node `/dev/nvidia0` from host path `/dev/nvidia3`, which mlpack does not support

        hint: regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, or move `/etc/cdi/nvidia.yaml` out of the CDI directory so mlpack uses the linker cache
        ");
    }

    #[test]
    fn linker_cache_plan_mounts_the_driver_files() {
        let host = Host::with_driver(3);
        host.with_libraries();
        let plan = plan(&host, "all").unwrap();
        insta::assert_json_snapshot!(plan, @r#"
        {
          "driver": "550.54.14",
          "devices": [
            "/dev/nvidiactl",
            "/dev/nvidia-uvm",
            "/dev/nvidia-uvm-tools",
            "/dev/nvidia0",
            "/dev/nvidia1",
            "/dev/nvidia2"
          ],
          "mounts": [
            {
              "host": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14",
              "container": "/usr/local/nvidia/lib64/libcuda.so.550.54.14",
              "read_only": true
            },
            {
              "host": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14",
              "container": "/usr/local/nvidia/lib64/libnvidia-ml.so.550.54.14",
              "read_only": true
            },
            {
              "host": "/usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.550.54.14",
              "container": "/usr/local/nvidia/lib64/libnvidia-ptxjitcompiler.so.550.54.14",
              "read_only": true
            },
            {
              "host": "/usr/bin/nvidia-smi",
              "container": "/usr/local/nvidia/bin/nvidia-smi",
              "read_only": true
            },
            {
              "host": "/usr/sbin/nvidia-persistenced",
              "container": "/usr/local/nvidia/bin/nvidia-persistenced",
              "read_only": true
            }
          ],
          "symlinks": [
            [
              "/usr/local/nvidia/lib64/libcuda.so",
              "libcuda.so.1"
            ],
            [
              "/usr/local/nvidia/lib64/libcuda.so.1",
              "libcuda.so.550.54.14"
            ],
            [
              "/usr/local/nvidia/lib64/libnvidia-ml.so.1",
              "libnvidia-ml.so.550.54.14"
            ],
            [
              "/usr/local/nvidia/lib64/libnvidia-ptxjitcompiler.so.1",
              "libnvidia-ptxjitcompiler.so.550.54.14"
            ]
          ],
          "env": [
            [
              "LD_LIBRARY_PATH",
              "/usr/local/nvidia/lib64"
            ],
            [
              "PATH",
              "/usr/local/nvidia/bin"
            ],
            [
              "NVIDIA_VISIBLE_DEVICES",
              "all"
            ]
          ],
          "source": "the host's linker cache `/etc/ld.so.cache`"
        }
        "#);
    }

    #[test]
    fn linker_cache_plan_chooses_gpus_by_index() {
        let host = Host::with_driver(3);
        host.with_libraries();
        let chosen = |request: &str| {
            let plan = plan(&host, request).unwrap();
            let gpus: Vec<String> = plan
                .devices
                .iter()
                .filter_map(|path| path.to_str()?.strip_prefix("/dev/nvidia"))
                .filter(|index| index.bytes().all(|byte| byte.is_ascii_digit()))
                .map(str::to_string)
                .collect();
            let visible = plan
                .env
                .iter()
                .find(|(name, _)| name == "NVIDIA_VISIBLE_DEVICES")
                .map(|(_, value)| value.clone());
            (gpus.join(","), visible.unwrap_or_default())
        };
        assert_eq!(chosen("all"), ("0,1,2".to_string(), "all".to_string()));
        assert_eq!(chosen("2"), ("0,1".to_string(), "0,1".to_string()));
        assert_eq!(chosen("device=2,0"), ("2,0".to_string(), "2,0".to_string()));
        insta::assert_snapshot!(report(&plan(&host, "4").unwrap_err()), @"
        asked for 4 GPUs, but `/dev` has only 3: `0`, `1`, `2`

        hint: ask for fewer, or for `all` of them
        ");
        insta::assert_snapshot!(report(&plan(&host, "device=3").unwrap_err()), @"
        no GPU `3` in `/dev`, which has `0`, `1`, `2`

        hint: pick one of those, like `device=0`
        ");
        insta::assert_snapshot!(
            report(&plan(&host, "device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a").unwrap_err()),
            @"
        GPU `GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a` is named by UUID or MIG instance, which needs a CDI spec; without one, mlpack knows GPUs by index (`/dev/nvidia0` is `0`)

        hint: name the GPU by index (`nvidia-smi -L` shows both), or generate a CDI spec that names GPUs by UUID: `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml --device-name-strategy=uuid`
        "
        );
    }

    #[test]
    fn linker_cache_plan_needs_devices_and_libcuda() {
        let host = Host::with_driver(0);
        host.with_libraries();
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        the NVIDIA driver is loaded, but `/dev` has no GPUs

        hint: check that `nvidia-smi` lists the GPUs; if it does, create the device nodes with `nvidia-modprobe`
        ");

        let host = Host::with_driver(1);
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        no linker cache `/etc/ld.so.cache`, so the NVIDIA driver's libraries cannot be found

        hint: install the driver's user-space libraries (Ubuntu: `libnvidia-compute-<branch>`) and run `sudo ldconfig`, or describe the GPUs in a CDI spec: `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
        host.write(
            "etc/ld.so.cache",
            ld_so_cache(&[(0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6")]),
        );
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        the NVIDIA driver's user-space libraries (`libcuda.so.1`) are not in the linker cache `/etc/ld.so.cache`

        hint: install the driver's user-space libraries (Ubuntu: `libnvidia-compute-<branch>`) and run `sudo ldconfig`, or describe the GPUs in a CDI spec: `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
        host.write("etc/ld.so.cache", b"glibc-ld.so.cache1.1\x05\0\0\0");
        insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        the linker cache `/etc/ld.so.cache` is not valid: it is truncated

        hint: rebuild it with `sudo ldconfig`
        ");
    }

    #[test]
    fn linker_cache_reads_both_layouts() {
        let new = ld_so_cache(&[
            (
                0x0a03,
                "libcuda.so.1",
                "/usr/lib/aarch64-linux-gnu/libcuda.so.1",
            ),
            (
                0x0003,
                "libcuda.so.1",
                "/usr/lib/arm-linux-gnueabihf/libcuda.so.1",
            ),
        ]);
        for bytes in [new.clone(), with_old_format(&new)] {
            let entries = ld_so_cache::parse(&bytes).unwrap();
            let summary: Vec<(bool, &str, &str)> = entries
                .iter()
                .map(|entry| (entry.is_64_bit(), entry.key.as_str(), entry.value.as_str()))
                .collect();
            assert_eq!(
                summary,
                [
                    (
                        true,
                        "libcuda.so.1",
                        "/usr/lib/aarch64-linux-gnu/libcuda.so.1"
                    ),
                    (
                        false,
                        "libcuda.so.1",
                        "/usr/lib/arm-linux-gnueabihf/libcuda.so.1"
                    ),
                ]
            );
        }
        let mut old_only = b"ld.so-1.7.0\0".to_vec();
        old_only.extend(0u32.to_ne_bytes());
        let errors: Vec<&str> = [&old_only[..], b"\x7fELF", &new[..new.len() - 3], &new[..60]]
            .iter()
            .map(|bytes| ld_so_cache::parse(bytes).unwrap_err())
            .collect();
        insta::assert_snapshot!(errors.join("\n"), @"
        it has only the old `ld.so-1.7.0` format, which mlpack does not read
        it does not start with `glibc-ld.so.cache1.1`
        a string runs past its end
        it is truncated
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
    fn names_sort_with_numbers_by_value() {
        let mut names = vec!["10", "GPU-b", "2", "all", "0:1", "1", "0", "GPU-a", "02"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["0", "0:1", "1", "2", "02", "10", "GPU-a", "GPU-b", "all"]
        );
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
