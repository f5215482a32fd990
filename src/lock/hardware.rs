//! The lock's hardware target: CPU only, or CUDA with an optional release and the oldest
//! driver the image must run on, from `[hardware]` (and, for `auto`, the host's driver), and
//! what that asks of the resolver:
//! - frameworks get their CUDA builds: `jax[cuda12]`/`jax[cuda13]`, `tensorflow[and-cuda]`
//!   (torch's Linux wheels on PyPI are CUDA builds already);
//! - the CUDA runtime wheels are limited to the release `cuda` names and to the majors the
//!   oldest driver can run (NVIDIA's minor version compatibility: 11.x needs 450.80.02, 12.x
//!   525.60.13, 13.x 580.65.06; see `hardware::min_driver_for`).
//!
//! The lock then records the CUDA runtime it holds and the oldest driver that runs it; the
//! image carries both as labels, and `mlpack run --gpus` checks the host's driver against them.

use std::collections::HashMap;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName};
use pubgrub::Ranges;
use serde::{Deserialize, Serialize};

use super::Lockfile;
use crate::error::Diagnostic;
use crate::hardware::{
    CUDA_RUNTIME_PACKAGES, CudaVersion, DriverVersion, is_hardware_wheel, min_driver_for,
    runtime_release,
};
use crate::manifest::{Accelerator, HardwareSection};
use crate::resolve::{Limit, RootRequirement};

/// CUDA majors whose drivers the tables know, oldest first.
const CUDA_MAJORS: &[u32] = &[11, 12, 13];

/// What a lock is resolved for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareTarget {
    /// As `[hardware] accelerator` says.
    pub requested: Accelerator,
    /// `Cpu` or `Cuda`: what `auto` became on this host.
    pub accelerator: Accelerator,
    /// `[hardware] cuda`: the CUDA release the runtime wheels must be.
    pub cuda: Option<CudaVersion>,
    /// The oldest driver the image must run on: `[hardware] driver-min`, else for `auto` the
    /// host's driver.
    pub driver_min: Option<DriverVersion>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HardwareTargetError {
    #[error(transparent)]
    Cuda(#[from] crate::hardware::CudaVersionError),
    #[error(transparent)]
    Driver(#[from] crate::hardware::DriverVersionError),
    #[error(
        "`[hardware] cuda = \"{cuda}\"` needs NVIDIA driver {needed} or newer, but `[hardware] driver-min` is {driver_min}"
    )]
    CudaNeedsNewerDriver {
        cuda: CudaVersion,
        needed: DriverVersion,
        driver_min: DriverVersion,
    },
    #[error(
        "mlpack does not know which NVIDIA driver CUDA {cuda} needs, so it cannot check it against `[hardware] driver-min` {driver_min}"
    )]
    UnknownCuda {
        cuda: CudaVersion,
        driver_min: DriverVersion,
    },
}

impl Diagnostic for HardwareTargetError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::CudaNeedsNewerDriver { driver_min, .. } => {
                vec![match crate::hardware::newest_major_for(driver_min) {
                    Some(major) => format!(
                        "lower `cuda` to a CUDA {major}.x release, which driver {driver_min} runs, or raise `driver-min`"
                    ),
                    None => "raise `driver-min`: it is older than any driver CUDA 11 runs on"
                        .to_string(),
                }]
            }
            Self::UnknownCuda { .. } => vec![
                "remove `driver-min`, or name a CUDA release up to 13.x in `[hardware] cuda`"
                    .to_string(),
            ],
            Self::Cuda(_) | Self::Driver(_) => Vec::new(),
        }
    }
}

impl HardwareTarget {
    /// The target `section` asks for; `host_driver` is asked only for `accelerator = "auto"`.
    pub fn decide(
        section: &HardwareSection,
        host_driver: impl FnOnce() -> Option<DriverVersion>,
    ) -> Result<Self, HardwareTargetError> {
        let cuda = section
            .cuda
            .as_ref()
            .map(|cuda| CudaVersion::from_str(cuda.get_ref()))
            .transpose()?;
        let mut driver_min = section
            .driver_min
            .as_ref()
            .map(|driver| DriverVersion::from_str(driver.get_ref()))
            .transpose()?;
        let accelerator = match section.accelerator {
            Accelerator::Auto => match host_driver() {
                Some(host) => {
                    driver_min = driver_min.or(Some(host));
                    Accelerator::Cuda
                }
                None => Accelerator::Cpu,
            },
            other => other,
        };
        if let (Accelerator::Cuda, Some(cuda), Some(driver_min)) = (accelerator, cuda, &driver_min)
        {
            match min_driver_for(cuda) {
                Some(needed) if needed > *driver_min => {
                    return Err(HardwareTargetError::CudaNeedsNewerDriver {
                        cuda,
                        needed,
                        driver_min: driver_min.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    return Err(HardwareTargetError::UnknownCuda {
                        cuda,
                        driver_min: driver_min.clone(),
                    });
                }
            }
        }
        Ok(Self {
            requested: section.accelerator,
            accelerator,
            cuda,
            driver_min,
        })
    }

    /// What goes into the lock's inputs hash. Empty for the default (CPU, nothing pinned), so
    /// locks written before `[hardware]` mattered stay fresh. `auto` is hashed as `auto`, not as
    /// what this host made of it: a lock written on a GPU machine stays fresh on a CPU one.
    pub fn settings(section: &HardwareSection) -> Vec<(&'static str, String)> {
        let mut settings = Vec::new();
        if section.accelerator != Accelerator::Cpu {
            settings.push(("accelerator", section.accelerator.as_str().to_string()));
        }
        if let Some(cuda) = &section.cuda {
            settings.push(("cuda", cuda.get_ref().clone()));
        }
        if let Some(driver) = &section.driver_min {
            settings.push(("driver-min", driver.get_ref().clone()));
        }
        settings
    }

    /// Give the frameworks among `roots` their CUDA builds, unless they name extras already.
    pub fn add_framework_extras(&self, roots: &mut [RootRequirement]) {
        if self.accelerator != Accelerator::Cuda {
            return;
        }
        let jax = format!("cuda{}", self.cuda.map_or(12, |cuda| cuda.major));
        for root in roots {
            let extra = match root.requirement.name.as_ref() {
                "jax" => jax.as_str(),
                "tensorflow" => "and-cuda",
                _ => continue,
            };
            if !root.requirement.extras.is_empty() {
                continue;
            }
            if let Ok(extra) = ExtraName::from_str(extra) {
                root.origin = format!(
                    "{} (as `{}[{extra}]` for `[hardware] accelerator`)",
                    root.origin, root.requirement.name
                );
                root.requirement.extras.push(extra);
            }
        }
    }

    /// The limits on the CUDA runtime wheels, each with the reason a conflict will give.
    pub fn limits(&self) -> HashMap<PackageName, Limit> {
        if self.accelerator != Accelerator::Cuda {
            return HashMap::new();
        }
        let mut range = Ranges::full();
        let mut reasons = Vec::new();
        if let Some(cuda) = self.cuda {
            range = range.intersection(&release_range(cuda));
            reasons.push(format!(
                "`[hardware] cuda = \"{cuda}\"` asks for CUDA {cuda}"
            ));
        }
        if let Some(driver) = &self.driver_min {
            let (allowed, reason) = driver_range(driver);
            range = range.intersection(&allowed);
            reasons.push(reason);
        }
        if reasons.is_empty() {
            return HashMap::new();
        }
        let reason = reasons.join(" and ");
        CUDA_RUNTIME_PACKAGES
            .iter()
            .filter_map(|name| PackageName::from_str(name).ok())
            .map(|name| {
                let limit = Limit {
                    range: range.clone(),
                    reason: reason.clone(),
                };
                (name, limit)
            })
            .collect()
    }
}

/// `12.8` → `>=12.8, <12.9`: every build of one CUDA release.
fn release_range(cuda: CudaVersion) -> Ranges<Version> {
    Ranges::between(
        Version::new([u64::from(cuda.major), u64::from(cuda.minor)]),
        Version::new([u64::from(cuda.major), u64::from(cuda.minor) + 1]),
    )
}

/// The CUDA majors `driver` runs (every minor of a major, by minor version compatibility),
/// and the reason in words.
fn driver_range(driver: &DriverVersion) -> (Ranges<Version>, String) {
    let mut range = Ranges::empty();
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for &major in CUDA_MAJORS {
        match min_driver_for(CudaVersion::new(major, 1)) {
            Some(needed) if needed <= *driver => {
                allowed.push(major.to_string());
                range = range.union(&Ranges::between(
                    Version::new([u64::from(major)]),
                    Version::new([u64::from(major) + 1]),
                ));
            }
            Some(needed) => refused.push(format!("CUDA {major} needs {needed}")),
            None => {}
        }
    }
    let reason = match allowed.as_slice() {
        [] => format!("driver {driver} runs no CUDA release from 11 on"),
        _ => format!(
            "the oldest driver the image must run on, {driver}, runs CUDA {} only ({})",
            allowed.join(" and "),
            refused.join(", ")
        ),
    };
    (range, reason)
}

/// `[hardware]` in `mlpack.lock`: what the lock was resolved for and the CUDA it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedHardware {
    /// `cpu` or `cuda`.
    pub accelerator: Accelerator,
    /// `auto` when that is what the manifest said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<Accelerator>,
    /// The CUDA release of the locked runtime wheel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<CudaVersion>,
    /// The oldest driver that runs that release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_min: Option<DriverVersion>,
}

impl LockedHardware {
    /// The section for a resolution for `target`; `None` for a CPU lock without CUDA wheels,
    /// so such locks look as they always did.
    pub fn new(target: &HardwareTarget, lock: &Lockfile) -> Option<Self> {
        let cuda = cuda_release(lock);
        if target.accelerator == Accelerator::Cpu && cuda.is_none() {
            return None;
        }
        Some(Self {
            accelerator: target.accelerator,
            requested: (target.requested != target.accelerator).then_some(target.requested),
            cuda,
            driver_min: cuda.and_then(min_driver_for),
        })
    }
}

/// The CUDA release of the lock's runtime wheel, if it has one.
pub fn cuda_release(lock: &Lockfile) -> Option<CudaVersion> {
    lock.packages
        .iter()
        .find_map(|package| runtime_release(&package.name, &package.version))
}

/// How many hardware wheels the lock holds and their size, compressed.
pub fn hardware_wheels(lock: &Lockfile) -> (usize, u64) {
    lock.packages
        .iter()
        .filter(|package| is_hardware_wheel(&package.name))
        .fold((0, 0), |(count, bytes), package| {
            let size = package.wheels.first().and_then(|wheel| wheel.size);
            (count + 1, bytes + size.unwrap_or(0))
        })
}

/// What the lock's hardware comes to, for the person locking: the CUDA it holds and the
/// driver that needs, or, for a CPU target that got CUDA wheels anyway (torch's Linux wheels
/// on PyPI are CUDA builds), what they cost and how to avoid them.
pub fn summary(target: &HardwareTarget, lock: &Lockfile) -> Option<String> {
    let (count, bytes) = hardware_wheels(lock);
    let cuda = cuda_release(lock);
    match (target.accelerator, cuda) {
        (Accelerator::Cpu, _) if count > 0 => {
            let bringers = bringers(lock);
            let named: Vec<String> = bringers.iter().map(|name| format!("`{name}`")).collect();
            let quoted: Vec<String> = bringers.iter().map(|name| format!("\"{name}\"")).collect();
            Some(format!(
                "warning: `[hardware] accelerator` is `cpu`, but {} from PyPI bring{} {count} CUDA wheels ({}) into the image\n  hint: for a CPU-only image, bind {} to a CPU wheel index in mlpack.toml: `[[python.indexes]]` with `url = \"https://download.pytorch.org/whl/cpu\"` and `packages = [{}]`",
                named.join(", "),
                if bringers.len() == 1 { "s" } else { "" },
                crate::byte_size::human_size(bytes),
                named.join(", "),
                quoted.join(", "),
            ))
        }
        (Accelerator::Cuda, Some(cuda)) => Some(format!(
            "CUDA {cuda} in {count} hardware wheels ({}); needs NVIDIA driver {} or newer",
            crate::byte_size::human_size(bytes),
            min_driver_for(cuda).map_or_else(|| "(unknown)".to_string(), |d| d.to_string())
        )),
        (Accelerator::Cuda, None) => Some(
            "`[hardware] accelerator` is `cuda`, but no locked package uses CUDA wheels"
                .to_string(),
        ),
        _ => None,
    }
}

/// The locked packages that depend on a hardware wheel without being one: `torch`.
fn bringers(lock: &Lockfile) -> Vec<&str> {
    lock.packages
        .iter()
        .filter(|package| !is_hardware_wheel(&package.name))
        .filter(|package| {
            package
                .dependencies
                .iter()
                .any(|dependency| is_hardware_wheel(&dependency.name))
        })
        .map(|package| package.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(
        accelerator: Accelerator,
        cuda: Option<&str>,
        driver: Option<&str>,
    ) -> HardwareSection {
        let spanned = |text: &str| toml::Spanned::new(0..0, text.to_string());
        HardwareSection {
            accelerator,
            cuda: cuda.map(spanned),
            driver_min: driver.map(spanned),
        }
    }

    fn driver(text: &str) -> DriverVersion {
        text.parse().unwrap()
    }

    /// The runtime versions a target lets through, among typical ones on PyPI.
    fn allowed(target: &HardwareTarget) -> Vec<&'static str> {
        let limits = target.limits();
        let range = limits
            .get(&PackageName::from_str("nvidia-cuda-runtime-cu12").unwrap())
            .map_or_else(Ranges::full, |limit| limit.range.clone());
        ["11.8.89", "12.4.127", "12.8.90", "12.9.79", "13.0.48"]
            .into_iter()
            .filter(|version| range.contains(&Version::from_str(version).unwrap()))
            .collect()
    }

    #[test]
    fn targets_and_the_cuda_runtimes_they_allow() {
        use Accelerator::{Auto, Cpu, Cuda};
        let all = vec!["11.8.89", "12.4.127", "12.8.90", "12.9.79", "13.0.48"];
        let cases: &[(HardwareSection, Option<&str>, Accelerator, Vec<&str>)] = &[
            // accelerator, cuda, driver-min; host driver → resolved accelerator, runtimes
            (
                section(Cpu, None, None),
                Some("550.54.14"),
                Cpu,
                all.clone(),
            ),
            (section(Cuda, None, None), None, Cuda, all.clone()),
            (
                section(Cuda, Some("12.8"), None),
                None,
                Cuda,
                vec!["12.8.90"],
            ),
            (
                section(Cuda, Some("13.0"), None),
                None,
                Cuda,
                vec!["13.0.48"],
            ),
            (
                section(Cuda, None, Some("525.60.13")),
                None,
                Cuda,
                vec!["11.8.89", "12.4.127", "12.8.90", "12.9.79"],
            ),
            (
                section(Cuda, None, Some("470.57.02")),
                None,
                Cuda,
                vec!["11.8.89"],
            ),
            (
                section(Cuda, None, Some("580.65.06")),
                None,
                Cuda,
                all.clone(),
            ),
            (
                section(Cuda, Some("12.4"), Some("535.104.05")),
                None,
                Cuda,
                vec!["12.4.127"],
            ),
            (section(Auto, None, None), None, Cpu, all.clone()),
            (
                section(Auto, None, None),
                Some("550.54.14"),
                Cuda,
                vec!["11.8.89", "12.4.127", "12.8.90", "12.9.79"],
            ),
            (
                section(Auto, None, Some("470.57.02")),
                Some("580.65.06"),
                Cuda,
                vec!["11.8.89"],
            ),
        ];
        for (section, host, accelerator, runtimes) in cases {
            let target = HardwareTarget::decide(section, || host.map(driver)).unwrap();
            assert_eq!(target.accelerator, *accelerator, "{section:?} on {host:?}");
            assert_eq!(&allowed(&target), runtimes, "{section:?} on {host:?}");
        }
    }

    #[test]
    fn a_cuda_release_the_oldest_driver_cannot_run_is_refused() {
        let error = HardwareTarget::decide(
            &section(Accelerator::Cuda, Some("13.0"), Some("550.54.14")),
            || None,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`[hardware] cuda = \"13.0\"` needs NVIDIA driver 580.65.06 or newer, but `[hardware] driver-min` is 550.54.14"
        );
        assert!(error.hints().join("\n").contains("CUDA 12.x release"));
        let unknown = HardwareTarget::decide(
            &section(Accelerator::Cuda, Some("14.0"), Some("600.1")),
            || None,
        );
        assert!(matches!(
            unknown,
            Err(HardwareTargetError::UnknownCuda { .. })
        ));
    }

    #[test]
    fn only_the_host_driver_of_auto_is_asked_for() {
        let asked = std::cell::Cell::new(false);
        let ask = || {
            asked.set(true);
            None
        };
        HardwareTarget::decide(&section(Accelerator::Cuda, None, None), ask).unwrap();
        assert!(!asked.get());
    }

    #[test]
    fn the_default_target_adds_nothing_to_the_inputs_hash() {
        assert!(HardwareTarget::settings(&section(Accelerator::Cpu, None, None)).is_empty());
        assert_eq!(
            HardwareTarget::settings(&section(Accelerator::Auto, Some("12.8"), None)),
            vec![
                ("accelerator", "auto".to_string()),
                ("cuda", "12.8".to_string())
            ]
        );
    }

    #[test]
    fn frameworks_get_their_cuda_builds() {
        let roots = |texts: &[&str]| -> Vec<RootRequirement> {
            texts
                .iter()
                .map(|text| RootRequirement {
                    requirement: text.parse().unwrap(),
                    origin: format!("`{text}`"),
                })
                .collect()
        };
        let extras = |target: &HardwareTarget, texts: &[&str]| -> Vec<String> {
            let mut roots = roots(texts);
            target.add_framework_extras(&mut roots);
            roots
                .iter()
                .map(|root| root.requirement.to_string())
                .collect()
        };
        let cuda13 =
            HardwareTarget::decide(&section(Accelerator::Cuda, Some("13.0"), None), || None)
                .unwrap();
        assert_eq!(
            extras(&cuda13, &["jax>=0.7", "tensorflow", "torch", "numpy"]),
            ["jax[cuda13]>=0.7", "tensorflow[and-cuda]", "torch", "numpy"]
        );
        let cuda =
            HardwareTarget::decide(&section(Accelerator::Cuda, None, None), || None).unwrap();
        assert_eq!(
            extras(&cuda, &["jax", "jax[tpu]"]),
            ["jax[cuda12]", "jax[tpu]"]
        );
        let cpu = HardwareTarget::decide(&section(Accelerator::Cpu, None, None), || None).unwrap();
        assert_eq!(extras(&cpu, &["jax", "tensorflow"]), ["jax", "tensorflow"]);
    }
}
