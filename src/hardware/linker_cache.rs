//! The plan without a CDI spec, as `nvidia-container-cli` makes it: the `/dev/nvidia*` device
//! nodes, and the driver's libraries and tools found through the host's linker cache, mounted
//! under `/usr/local/nvidia` where the `nvidia/cuda` images look for them.
//! Reference: <https://github.com/NVIDIA/libnvidia-container> (`src/nvc_info.c`).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::cuda::DriverVersion;
use super::ld_so_cache;
use super::nvidia::{
    GpuInjection, GpuRequest, HardwareError, HostFile, is_file_name, is_uuid, on_disk,
    read_bytes_if_exists, resolve_in_root,
};
use crate::error::FromIo;

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
/// Driver libraries a CDI spec may mount besides [`LIBRARY_PREFIXES`] (graphics, video,
/// ray tracing: `libnvidia-encode.so.1`, `libnvcuvid.so.1`, `libnvoptix.so.1`).
const OTHER_DRIVER_PREFIXES: [&str; 3] = ["libnvidia-", "libnvcuvid.so", "libnvoptix.so"];

/// Whether `soname` is one of the NVIDIA driver's libraries, which `--gpus` brings from the
/// host at run time: an image must not ship its own (it would not match the host's kernel
/// module).
pub fn is_driver_library(soname: &str) -> bool {
    LIBRARY_PREFIXES
        .iter()
        .chain(&OTHER_DRIVER_PREFIXES)
        .any(|prefix| soname.starts_with(prefix))
}

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
pub(super) fn read(root: &Path) -> Result<Option<Vec<ld_so_cache::Entry>>, HardwareError> {
    let path = Path::new(LD_SO_CACHE);
    let Some(bytes) = read_bytes_if_exists(root, path)? else {
        return Ok(None);
    };
    ld_so_cache::parse(&bytes)
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

#[cfg(test)]
mod tests {
    use crate::hardware::tests::{Host, ld_so_cache, plan, report};

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
}
