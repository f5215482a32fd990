//! The interpreter and platform an image runs: what markers evaluate against and which wheel
//! tags fit. Computed from the base's facts, never by running an interpreter.

use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};
use serde::{Deserialize, Serialize};

use crate::arch::Arch;
use crate::python::PythonVersion;

/// Everything about the image that decides which packages and wheels fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Target {
    /// `3.11`
    pub python: PythonVersion,
    /// `3.11.2`: what `python_full_version` markers and `Requires-Python` compare against.
    pub python_full: String,
    /// Only CPython for now: `cpython`.
    pub implementation: String,
    pub arch: Arch,
    /// The base's glibc as `(major, minor)`.
    pub glibc: (u16, u16),
}

impl Target {
    /// What an sdist's computed metadata may depend on: the interpreter and the machine
    /// (`cpython-3.11.2-x86_64`), as a file name.
    pub fn interpreter_key(&self) -> String {
        format!(
            "{}-{}-{}",
            self.implementation,
            self.python_full,
            self.arch.as_str()
        )
    }

    /// The target of a known Debian base, or of `python` on a bookworm-like glibc.
    pub fn for_base(image: &str, python: PythonVersion, arch: Arch) -> Self {
        let (full, glibc) = match image {
            "debian:trixie" | "debian:13" if python == PythonVersion::new(3, 13) => {
                ("3.13.5", (2, 41))
            }
            "debian:trixie" | "debian:13" => ("", (2, 41)),
            _ if python == PythonVersion::new(3, 11) => ("3.11.2", (2, 36)),
            _ => ("", (2, 36)),
        };
        let python_full = if full.is_empty() {
            format!("{python}.0")
        } else {
            full.to_string()
        };
        Self {
            python,
            python_full,
            implementation: "cpython".to_string(),
            arch,
            glibc,
        }
    }

    /// The environment PEP 508 markers are evaluated in.
    pub fn marker_environment(&self) -> MarkerEnvironment {
        let python_version = self.python.to_string();
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: &self.implementation,
            implementation_version: &self.python_full,
            os_name: "posix",
            platform_machine: self.arch.as_str(),
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &self.python_full,
            python_version: &python_version,
            sys_platform: "linux",
        })
        .expect("target versions are valid PEP 440 versions")
    }

    /// `CPython 3.11 on manylinux_2_36 x86_64`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "CPython {} on manylinux_{}_{} {}",
            self.python, self.glibc.0, self.glibc.1, self.arch
        )
    }

    /// Supported platform tags, most specific first: `manylinux_2_N` down to the oldest, with
    /// the legacy aliases (`manylinux2014`, `manylinux2010`, `manylinux1`) beside their glibc,
    /// then `linux_<arch>`. Spec: PEP 600 and the `packaging.tags` order.
    pub fn platform_tags(&self) -> Vec<String> {
        let arch = self.arch.as_str();
        let (major, newest) = self.glibc;
        let mut tags = Vec::new();
        for minor in (self.arch.oldest_manylinux_glibc_minor()..=newest).rev() {
            tags.push(format!("manylinux_{major}_{minor}_{arch}"));
            let legacy = match minor {
                17 => Some("manylinux2014"),
                12 => Some("manylinux2010"),
                5 => Some("manylinux1"),
                _ => None,
            };
            if let Some(legacy) = legacy {
                tags.push(format!("{legacy}_{arch}"));
            }
        }
        tags.push(format!("linux_{arch}"));
        tags
    }
}
