//! The layer plan: which locked wheels go into which layer, from least to most often changed,
//! so an unchanged group is the same layer (same digest) across builds and projects.
//!
//! Order, as in `DESIGN.md`: base, hardware libraries (`nvidia-*`, `cuda-*`, `triton`, split
//! so no layer is much over [`HARDWARE_LAYER_BYTES`]), each large framework alone (the list
//! in [`FRAMEWORKS`], or any wheel over [`LARGE_WHEEL_BYTES`]), the other Python packages,
//! and the project's code. Within a group, packages are sorted by name.

use crate::hardware::is_hardware_wheel;
use crate::lock::{LockedPackage, Lockfile};

/// Frameworks that get a layer of their own whatever their size.
pub(crate) const FRAMEWORKS: &[&str] = &[
    "torch",
    "tensorflow",
    "tensorflow-cpu",
    "jax",
    "jaxlib",
    "paddlepaddle",
    "mxnet",
];
/// A wheel at least this large gets a layer of its own.
pub(crate) const LARGE_WHEEL_BYTES: u64 = 200 << 20;
/// Hardware layers are filled up to about this many compressed bytes.
pub(crate) const HARDWARE_LAYER_BYTES: u64 = 1536 << 20;

/// One group of wheels that becomes one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WheelGroup<'a> {
    /// `hardware libraries (1/2)`, `framework torch`, `python packages`.
    pub(crate) description: String,
    pub(crate) packages: Vec<&'a LockedPackage>,
}

/// The wheel groups of `lock`, in layer order; empty groups are left out.
pub(crate) fn wheel_groups(lock: &Lockfile) -> Vec<WheelGroup<'_>> {
    let mut packages: Vec<&LockedPackage> = lock.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let size = |package: &LockedPackage| {
        package
            .locked_file()
            .and_then(|file| file.size)
            .unwrap_or(0)
    };
    let (hardware, rest): (Vec<_>, Vec<_>) = packages
        .into_iter()
        .partition(|package| is_hardware_wheel(&package.name));
    let (frameworks, others): (Vec<_>, Vec<_>) = rest.into_iter().partition(|package| {
        FRAMEWORKS.contains(&package.name.as_str()) || size(package) >= LARGE_WHEEL_BYTES
    });

    let mut groups = Vec::new();
    let bins = fill_bins(&hardware, size);
    let count = bins.len();
    for (index, bin) in bins.into_iter().enumerate() {
        let description = if count == 1 {
            "hardware libraries".to_string()
        } else {
            format!("hardware libraries ({}/{count})", index + 1)
        };
        groups.push(WheelGroup {
            description,
            packages: bin,
        });
    }
    for framework in frameworks {
        groups.push(WheelGroup {
            description: format!("framework {}", framework.name),
            packages: vec![framework],
        });
    }
    if !others.is_empty() {
        groups.push(WheelGroup {
            description: "python packages".to_string(),
            packages: others,
        });
    }
    groups
}

/// Consecutive runs (in name order, so the split is stable) of at most `HARDWARE_LAYER_BYTES`;
/// a single wheel larger than that is a bin of its own.
fn fill_bins<'a>(
    packages: &[&'a LockedPackage],
    size: impl Fn(&LockedPackage) -> u64,
) -> Vec<Vec<&'a LockedPackage>> {
    let mut bins: Vec<Vec<&LockedPackage>> = Vec::new();
    let mut filled = 0;
    for package in packages {
        let bytes = size(package);
        if bins.is_empty() || filled + bytes > HARDWARE_LAYER_BYTES && filled > 0 {
            bins.push(Vec::new());
            filled = 0;
        }
        filled += bytes;
        if let Some(bin) = bins.last_mut() {
            bin.push(package);
        }
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{Hashes, LockedWheel};

    fn package(name: &str, size: u64) -> LockedPackage {
        LockedPackage {
            name: name.to_string(),
            version: "1.0".to_string(),
            platforms: Vec::new(),
            index: String::new(),
            extras: Vec::new(),
            dependencies: Vec::new(),
            why: Vec::new(),
            wheels: vec![LockedWheel {
                name: format!("{name}.whl"),
                url: String::new(),
                size: Some(size),
                hashes: Hashes {
                    sha256: String::new(),
                },
            }],
            sdist: None,
            build: None,
        }
    }

    fn plan(packages: Vec<LockedPackage>) -> Vec<(String, Vec<String>)> {
        let lock = Lockfile {
            lock_version: String::new(),
            created_by: String::new(),
            platforms: Vec::new(),
            other_platforms: std::collections::BTreeMap::new(),
            target: crate::resolve::Target::for_base(
                "debian:bookworm",
                crate::python::PythonVersion::DEFAULT,
                crate::arch::Arch::X86_64,
            ),
            inputs: crate::lock::Inputs {
                sha256: String::new(),
                requirements: Vec::new(),
                verified_imports: std::collections::BTreeMap::new(),
            },
            hardware: None,
            base: None,
            system_libraries: None,
            system_packages: None,
            packages,
            build_packages: Vec::new(),
        };
        wheel_groups(&lock)
            .into_iter()
            .map(|group| {
                (
                    group.description,
                    group.packages.iter().map(|p| p.name.clone()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn torch_and_its_cuda_wheels_are_split_out() {
        let mib = 1 << 20;
        let groups = plan(vec![
            package("numpy", 20 * mib),
            package("torch", 900 * mib),
            package("nvidia-cublas-cu12", 600 * mib),
            package("nvidia-cudnn-cu12", 700 * mib),
            package("nvidia-nccl-cu12", 300 * mib),
            package("triton", 150 * mib),
            package("filelock", mib),
            package("xgboost", 300 * mib),
        ]);
        let expected = [
            (
                "hardware libraries (1/2)",
                vec!["nvidia-cublas-cu12", "nvidia-cudnn-cu12"],
            ),
            (
                "hardware libraries (2/2)",
                vec!["nvidia-nccl-cu12", "triton"],
            ),
            ("framework torch", vec!["torch"]),
            ("framework xgboost", vec!["xgboost"]),
            ("python packages", vec!["filelock", "numpy"]),
        ];
        let expected: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(d, p)| {
                (
                    (*d).to_string(),
                    p.iter().map(|s| (*s).to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(groups, expected);
    }

    #[test]
    fn a_small_project_has_one_python_layer() {
        assert_eq!(
            plan(vec![package("six", 1000)]),
            [("python packages".to_string(), vec!["six".to_string()])]
        );
        assert!(plan(Vec::new()).is_empty());
    }
}
