//! Devices chosen by name from a Container Device Interface spec: the `nvidia.com/gpu` specs
//! in `/etc/cdi` and `/var/run/cdi`, read, matched against a `--gpus` request and merged into
//! one [`GpuInjection`], with the NVIDIA generator's hooks done by mlpack itself.
//! Spec: <https://github.com/cncf-tags/container-device-interface/blob/main/SPEC.md>.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::cuda::DriverVersion;
use super::linker_cache;
use super::nvidia::{
    GpuInjection, GpuRequest, HardwareError, HostFile, is_file_name, on_disk, read_if_exists,
    resolve_in_root,
};
use crate::error::FromIo;

/// CDI's static and dynamic spec directories; the later one wins for a device named in both.
pub const CDI_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];
const CDI_KIND: &str = "nvidia.com/gpu";

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
    let entries = match std::fs::read_dir(on_disk(root, dir)) {
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
            let (Some(dir), Some(file)) = (mount.container.parent(), mount.container.file_name())
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
                if entry.key == file || !is_file_name(&entry.key) {
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
    match std::fs::symlink_metadata(on_disk(root, path)) {
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

#[cfg(test)]
mod tests;
