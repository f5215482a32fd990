//! The CPU architectures mlpack builds and runs images for, and every name each one goes by:
//! the kernel's (`uname -m`, also Python's `platform_machine` and wheel platform tags), Debian's
//! (<https://wiki.debian.org/SupportedArchitectures>), Go's as OCI platforms use it
//! (<https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md#properties>), and the
//! ELF machine number (`e_machine`, <https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html>).
//! No other module spells these names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// `EM_X86_64` in `<elf.h>`.
const EM_X86_64: u16 = 62;
/// `EM_AARCH64` in `<elf.h>`.
const EM_AARCH64: u16 = 183;

/// A CPU architecture an image is built for. Serialized by its kernel name (`x86_64`), read
/// from any of its names (`[python] platforms = ["amd64"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    const ALL: [Self; 2] = [Self::X86_64, Self::Aarch64];

    /// The architecture of this machine, where mlpack runs the image by default.
    pub fn host() -> Self {
        if cfg!(target_arch = "aarch64") {
            Self::Aarch64
        } else {
            Self::X86_64
        }
    }

    /// The kernel's name (`uname -m`): `x86_64`, `aarch64`. It is also Python's
    /// `platform_machine` and the suffix of wheel platform tags (`manylinux_2_17_x86_64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        }
    }

    /// Debian's name, as in `binary-amd64/Packages`: `amd64`, `arm64`.
    pub fn debian(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Aarch64 => "arm64",
        }
    }

    /// Go's `GOARCH`, which OCI image configs and index platforms use: `amd64`, `arm64`
    /// (the same words as Debian's, by coincidence of history).
    pub fn oci(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Aarch64 => "arm64",
        }
    }

    /// The OCI platform variant a machine of this architecture runs without emulation:
    /// `arm64` images are `v8` (later variants may use instructions a v8 machine lacks).
    pub fn oci_variant(self) -> Option<&'static str> {
        match self {
            Self::X86_64 => None,
            Self::Aarch64 => Some("v8"),
        }
    }

    /// The ELF header's `e_machine` of this architecture's objects.
    pub fn elf_machine(self) -> u16 {
        match self {
            Self::X86_64 => EM_X86_64,
            Self::Aarch64 => EM_AARCH64,
        }
    }

    /// The GNU multiarch triplet: where Debian puts the architecture's libraries
    /// (`usr/lib/x86_64-linux-gnu`).
    pub fn triplet(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-linux-gnu",
            Self::Aarch64 => "aarch64-linux-gnu",
        }
    }

    /// The oldest manylinux glibc minor for the architecture (manylinux1 = 2.5; aarch64 wheels
    /// start at manylinux2014 = 2.17).
    pub fn oldest_manylinux_glibc_minor(self) -> u16 {
        match self {
            Self::X86_64 => 5,
            Self::Aarch64 => 17,
        }
    }

    /// Every name a user or a file may use for this architecture.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::X86_64 => &["x86_64", "amd64", "x86-64"],
            Self::Aarch64 => &["aarch64", "arm64"],
        }
    }
}

/// The OCI (Go) name of `name`, an architecture as a user may write it (`x86_64` gives
/// `amd64`); a name mlpack does not build for (`s390x`) is returned as written, since a
/// registry may still serve it.
pub fn oci_architecture(name: &str) -> &str {
    match name.parse::<Arch>() {
        Ok(arch) => arch.oci(),
        Err(_) => name,
    }
}

/// An architecture name mlpack does not build for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a supported architecture; use `x86_64` or `aarch64`")]
pub struct UnsupportedArch {
    pub name: String,
}

impl FromStr for Arch {
    type Err = UnsupportedArch;

    /// Any of the kernel, Debian, Go or `x86-64` spellings.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|arch| arch.aliases().contains(&text))
            .ok_or_else(|| UnsupportedArch {
                name: text.to_string(),
            })
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_each_architecture() {
        let table = [
            (
                Arch::X86_64,
                "x86_64",
                "amd64",
                "amd64",
                None,
                62,
                "x86_64-linux-gnu",
            ),
            (
                Arch::Aarch64,
                "aarch64",
                "arm64",
                "arm64",
                Some("v8"),
                183,
                "aarch64-linux-gnu",
            ),
        ];
        for (arch, kernel, debian, oci, variant, machine, triplet) in table {
            assert_eq!(
                (arch.as_str(), arch.debian(), arch.oci(), arch.oci_variant()),
                (kernel, debian, oci, variant)
            );
            assert_eq!((arch.elf_machine(), arch.triplet()), (machine, triplet));
            assert_eq!(arch.to_string(), kernel);
        }
    }

    #[test]
    fn parses_the_names_users_type() {
        for (text, arch) in [
            ("x86_64", Arch::X86_64),
            ("amd64", Arch::X86_64),
            ("x86-64", Arch::X86_64),
            ("aarch64", Arch::Aarch64),
            ("arm64", Arch::Aarch64),
        ] {
            assert_eq!(text.parse::<Arch>(), Ok(arch), "{text}");
        }
        for bad in ["", "X86_64", "arm", "i386", "riscv64"] {
            assert!(bad.parse::<Arch>().is_err(), "{bad}");
        }
        assert_eq!(
            "s390x".parse::<Arch>().unwrap_err().to_string(),
            "`s390x` is not a supported architecture; use `x86_64` or `aarch64`"
        );
    }

    #[test]
    fn oci_names_of_what_users_type() {
        assert_eq!(oci_architecture("x86_64"), "amd64");
        assert_eq!(oci_architecture("x86-64"), "amd64");
        assert_eq!(oci_architecture("aarch64"), "arm64");
        assert_eq!(oci_architecture("amd64"), "amd64");
        assert_eq!(oci_architecture("s390x"), "s390x");
    }

    #[test]
    fn serialized_by_the_kernel_name() {
        assert_eq!(
            serde_json::to_string(&Arch::Aarch64).unwrap(),
            r#""aarch64""#
        );
        assert_eq!(
            serde_json::from_str::<Arch>(r#""x86_64""#).unwrap(),
            Arch::X86_64
        );
        assert_eq!(
            serde_json::from_str::<Arch>(r#""arm64""#).unwrap(),
            Arch::Aarch64
        );
    }

    #[test]
    fn the_host_is_the_machine_this_was_built_for() {
        assert_eq!(Arch::host().as_str(), std::env::consts::ARCH);
    }
}
