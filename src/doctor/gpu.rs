//! NVIDIA GPUs: the driver and the newest CUDA it runs natively ([`NvidiaDriver::detect`],
//! [`max_cuda_for`]), the `/dev/nvidia*` nodes containers get, and whether CDI specs say
//! which driver files to mount. No driver is not a problem: images then run on the CPU.

use std::path::{Path, PathBuf};

use super::Check;
use crate::error::Diagnostic;
use crate::hardware::{CDI_DIRS, NvidiaDriver, max_cuda_for};

pub(super) fn check() -> Check {
    const NAME: &str = "gpu";
    let driver = match NvidiaDriver::detect() {
        Ok(Some(driver)) => driver,
        Ok(None) => return Check::ok(NAME, "no NVIDIA driver: images run on the CPU"),
        Err(error) => {
            return Check::warn(
                NAME,
                format!("{error}"),
                error
                    .hints()
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| "reinstall the NVIDIA driver".to_string()),
            );
        }
    };
    let nodes = device_nodes(Path::new("/dev"));
    let specs = cdi_specs(&CDI_DIRS.map(PathBuf::from));
    let mut details = vec![if nodes.is_empty() {
        "no `/dev/nvidia*` device nodes".to_string()
    } else {
        format!("device nodes: {}", nodes.join(" "))
    }];
    details.push(if specs.is_empty() {
        "no CDI spec: driver libraries come from the linker cache".to_string()
    } else {
        let listed: Vec<String> = specs
            .iter()
            .map(|spec| format!("`{}`", spec.display()))
            .collect();
        format!("CDI specs: {}", listed.join(", "))
    });
    let Some(cuda) = max_cuda_for(&driver.version) else {
        return Check::warn(
            NAME,
            format!(
                "NVIDIA driver {} is older than any CUDA mlpack knows",
                driver.version
            ),
            "upgrade the NVIDIA driver",
        )
        .details(details);
    };
    let summary = format!("NVIDIA driver {}, CUDA up to {cuda}", driver.version);
    if !nodes.iter().any(|node| is_gpu_node(node)) {
        return Check::warn(
            NAME,
            format!("{summary}, but no `/dev/nvidia0`: containers get no GPU"),
            "create the device nodes: run `nvidia-smi` once as root, or `nvidia-modprobe -c 0`",
        )
        .details(details);
    }
    Check::ok(NAME, summary).details(details)
}

/// `nvidia0`, `nvidiactl`, `nvidia-uvm`, … in `dev`, sorted.
fn device_nodes(dev: &Path) -> Vec<String> {
    let mut nodes: Vec<String> = fs_err::read_dir(dev)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| name.starts_with("nvidia"))
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes
}

/// One GPU's node, `nvidia<N>`, rather than a control node (`nvidiactl`, `nvidia-uvm`).
fn is_gpu_node(name: &str) -> bool {
    name.strip_prefix("nvidia")
        .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
}

/// The `.yaml` and `.json` files in `dirs`, sorted within each directory.
fn cdi_specs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    dirs.iter()
        .flat_map(|dir| {
            let mut specs: Vec<PathBuf> = fs_err::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|entry| entry.path())
                        .filter(|path| {
                            path.extension()
                                .is_some_and(|extension| extension == "yaml" || extension == "json")
                        })
                        .collect()
                })
                .unwrap_or_default();
            specs.sort();
            specs
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_gpu_nodes_from_control_nodes() {
        assert!(is_gpu_node("nvidia0"));
        assert!(is_gpu_node("nvidia12"));
        assert!(!is_gpu_node("nvidiactl"));
        assert!(!is_gpu_node("nvidia-uvm"));
        assert!(!is_gpu_node("nvidia"));
    }

    #[test]
    fn lists_nodes_and_specs() {
        let temp = tempfile::tempdir().unwrap();
        let dev = temp.path().join("dev");
        let cdi = temp.path().join("cdi");
        for dir in [&dev, &cdi] {
            fs_err::create_dir_all(dir).unwrap();
        }
        for name in ["nvidiactl", "nvidia0", "null", "nvidia-uvm"] {
            fs_err::write(dev.join(name), "").unwrap();
        }
        for name in ["nvidia.yaml", "README", "other.json"] {
            fs_err::write(cdi.join(name), "").unwrap();
        }
        assert_eq!(device_nodes(&dev), ["nvidia-uvm", "nvidia0", "nvidiactl"]);
        assert_eq!(
            cdi_specs(&[cdi.clone(), temp.path().join("missing")]),
            [cdi.join("nvidia.yaml"), cdi.join("other.json")]
        );
    }
}
