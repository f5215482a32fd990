//! Wheel filenames and the ordered list of tags a target accepts.
//!
//! Spec: <https://packaging.python.org/en/latest/specifications/binary-distribution-format/>
//! (file name convention) and <https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/>.
//! The order follows `packaging.tags.sys_tags` for CPython: `cpXY-cpXY-<plat>`, `cpXY-abi3-<plat>`,
//! `cpXY-none-<plat>`, older `cpXX-abi3-<plat>`, `pyXY-none-<plat>`, then the `-any` tags.

use std::collections::HashMap;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

use super::target::Target;

/// A parsed wheel file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{filename}` is not a valid wheel file name: {reason}")]
pub struct WheelFilenameError {
    filename: String,
    reason: &'static str,
}

impl FromStr for WheelFilename {
    type Err = WheelFilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let error = |reason| WheelFilenameError {
            filename: filename.to_string(),
            reason,
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| error("it does not end in `.whl`"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, tags) = match parts.as_slice() {
            [name, version, python, abi, platform] | [name, version, _, python, abi, platform] => {
                (name, version, [python, abi, platform])
            }
            _ => return Err(error("expected five or six `-`-separated parts")),
        };
        let name = PackageName::from_str(name).map_err(|_| error("the name is invalid"))?;
        let version = Version::from_str(version).map_err(|_| error("the version is invalid"))?;
        let split = |tag: &str| tag.split('.').map(str::to_string).collect();
        Ok(Self {
            name,
            version,
            python: split(tags[0]),
            abi: split(tags[1]),
            platform: split(tags[2]),
        })
    }
}

/// The tags a target accepts, each with its priority (lower is better).
#[derive(Debug, Clone)]
pub struct Tags {
    priorities: HashMap<(String, String, String), usize>,
}

impl Tags {
    pub fn for_target(target: &Target) -> Self {
        let minor = target.python.minor();
        let interpreter = format!("cp3{minor}");
        let platforms = target.platform_tags();
        let mut ordered: Vec<(String, String, String)> = Vec::new();
        let mut push_platforms = |python: &str, abi: &str| {
            for platform in &platforms {
                ordered.push((python.to_string(), abi.to_string(), platform.clone()));
            }
        };
        push_platforms(&interpreter, &interpreter);
        push_platforms(&interpreter, "abi3");
        push_platforms(&interpreter, "none");
        for older in (2..minor).rev() {
            push_platforms(&format!("cp3{older}"), "abi3");
        }
        for python in python_tags(minor) {
            push_platforms(&python, "none");
        }
        ordered.push((interpreter.clone(), "none".to_string(), "any".to_string()));
        for python in python_tags(minor) {
            ordered.push((python, "none".to_string(), "any".to_string()));
        }
        let mut priorities = HashMap::new();
        for (priority, tag) in ordered.into_iter().enumerate() {
            priorities.entry(tag).or_insert(priority);
        }
        Self { priorities }
    }

    /// The best priority among the wheel's expanded tags, or `None` if it does not fit.
    pub fn priority(&self, wheel: &WheelFilename) -> Option<usize> {
        let mut best = None;
        for python in &wheel.python {
            for abi in &wheel.abi {
                for platform in &wheel.platform {
                    let key = (python.clone(), abi.clone(), platform.clone());
                    if let Some(&priority) = self.priorities.get(&key) {
                        best = Some(best.map_or(priority, |b: usize| b.min(priority)));
                    }
                }
            }
        }
        best
    }
}

/// `py3XY`, `py3`, then `py3(XY-1)` … `py30`, as `packaging` orders them.
fn python_tags(minor: u8) -> Vec<String> {
    let mut tags = vec![format!("py3{minor}"), "py3".to_string()];
    tags.extend((0..minor).rev().map(|older| format!("py3{older}")));
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::python::PythonVersion;

    fn bookworm() -> Tags {
        Tags::for_target(&Target::for_base(
            "debian:bookworm",
            PythonVersion::new(3, 11),
            Arch::X86_64,
        ))
    }

    fn priority(tags: &Tags, filename: &str) -> Option<usize> {
        tags.priority(&filename.parse().unwrap())
    }

    #[test]
    fn parses_wheel_names() {
        let wheel: WheelFilename =
            "scikit_learn-1.5.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
                .parse()
                .unwrap();
        assert_eq!(wheel.name.as_ref(), "scikit-learn");
        assert_eq!(wheel.version.to_string(), "1.5.0");
        assert_eq!(
            wheel.platform,
            ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        );
        insta::assert_snapshot!(
            "numpy-1.0.tar.gz".parse::<WheelFilename>().unwrap_err(),
            @"`numpy-1.0.tar.gz` is not a valid wheel file name: it does not end in `.whl`"
        );
        assert!("a-1.0-py3-none.whl".parse::<WheelFilename>().is_err());
    }

    #[test]
    fn accepts_what_the_target_can_run_in_order() {
        let tags = bookworm();
        let native = priority(
            &tags,
            "numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap();
        let newer_glibc =
            priority(&tags, "numpy-2.0-cp311-cp311-manylinux_2_28_x86_64.whl").unwrap();
        let abi3 = priority(&tags, "cryptography-43-cp39-abi3-manylinux_2_28_x86_64.whl").unwrap();
        let pure = priority(&tags, "six-1.16-py2.py3-none-any.whl").unwrap();
        assert!(newer_glibc < native && native < abi3 && abi3 < pure);
        assert_eq!(
            priority(&tags, "old-1.0-cp27-cp27mu-manylinux1_x86_64.whl"),
            None
        );
        for unfit in [
            "numpy-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "numpy-2.0-cp311-cp311-manylinux_2_39_x86_64.whl",
            "numpy-2.0-cp311-cp311-manylinux_2_17_aarch64.whl",
            "numpy-2.0-cp311-cp311-musllinux_1_1_x86_64.whl",
            "numpy-2.0-cp311-cp311-win_amd64.whl",
            "numpy-2.0-cp311-cp311-macosx_11_0_arm64.whl",
            "thing-1.0-py2-none-any.whl",
        ] {
            assert_eq!(priority(&tags, unfit), None, "{unfit}");
        }
        assert!(priority(&tags, "x-1.0-cp311-cp311-linux_x86_64.whl").is_some());
        assert!(priority(&tags, "x-1.0-cp311-cp311-manylinux1_x86_64.whl").is_some());
    }

    #[test]
    fn aarch64_starts_at_manylinux2014() {
        let target = Target::for_base("debian:bookworm", PythonVersion::new(3, 11), Arch::Aarch64);
        let platforms = target.platform_tags();
        assert_eq!(
            platforms.first().map(String::as_str),
            Some("manylinux_2_36_aarch64")
        );
        assert!(platforms.contains(&"manylinux2014_aarch64".to_string()));
        assert!(!platforms.iter().any(|tag| tag.starts_with("manylinux1")));
    }
}
