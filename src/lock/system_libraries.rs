//! `[system-libraries]`: the Debian packages `mlpack build` adds under the wheels because a
//! wheel's shared object needs a library (`DT_NEEDED`) that neither the wheels nor the base
//! provide, pinned like the base's packages so a rebuild fetches exactly these bytes.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::LockedDeb;
use super::write::{quote, write_raw_list};

/// The system libraries, computed by `mlpack build` for the inputs `inputs_sha256` names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedSystemLibraries {
    /// sha256 over the locked wheels, the base's pins and the scan's rules (see
    /// `build::system_libraries`): while it matches, a build uses these pins without reading
    /// a wheel or the Debian index.
    pub inputs_sha256: String,
    /// Each library that was missing, with the wheel that needs it and the package that
    /// ships it.
    #[serde(default)]
    pub needed: Vec<NeededLibrary>,
    /// Libraries the NVIDIA driver provides at run time (`mlpack run --gpus`), not the image.
    #[serde(default)]
    pub host_driver: Vec<NeededLibrary>,
    /// The closure of the packages `needed` names, less what the base has.
    #[serde(default)]
    pub packages: Vec<LockedDeb>,
}

/// A library a wheel needs and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NeededLibrary {
    /// `libGL.so.1`.
    pub soname: String,
    /// The locked package whose wheel needs it (`opencv-python`).
    pub wheel: String,
    /// The shared object inside the wheel that names it first.
    pub file: String,
    /// The Debian package that ships it; empty for the host driver's libraries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub package: String,
}

/// The section's text, in the lock's stable layout: sorted lists, one package per table.
pub(super) fn write_system_libraries(
    text: &mut String,
    prefix: &str,
    libraries: &LockedSystemLibraries,
) {
    let _ = write!(
        text,
        "\n[{prefix}system-libraries]\ninputs-sha256 = {}\n",
        quote(&libraries.inputs_sha256)
    );
    write_raw_list(text, "needed", &inline_tables(&libraries.needed));
    write_raw_list(text, "host-driver", &inline_tables(&libraries.host_driver));
    let mut packages: Vec<&LockedDeb> = libraries.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    for package in packages {
        let table = toml::to_string(package).unwrap_or_default();
        let _ = write!(text, "\n[[{prefix}system-libraries.packages]]\n{table}");
    }
}

fn inline_tables(libraries: &[NeededLibrary]) -> Vec<String> {
    let mut sorted: Vec<&NeededLibrary> = libraries.iter().collect();
    sorted.sort();
    sorted
        .into_iter()
        .map(|library| {
            let package = if library.package.is_empty() {
                String::new()
            } else {
                format!(", package = {}", quote(&library.package))
            };
            format!(
                "{{ soname = {}, wheel = {}, file = {}{package} }}",
                quote(&library.soname),
                quote(&library.wheel),
                quote(&library.file)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Lockfile;

    const LOCK: &str = r#"
lock-version = "1.0"
created-by = "mlpack test"

[target]
python = "3.11"
python-full = "3.11.2"
implementation = "cpython"
arch = "x86_64"
glibc = [2, 36]

[inputs]
sha256 = "00"
requirements = []
"#;

    fn library(soname: &str, wheel: &str, package: &str) -> NeededLibrary {
        NeededLibrary {
            soname: soname.to_string(),
            wheel: wheel.to_string(),
            file: format!("{wheel}/_native.so"),
            package: package.to_string(),
        }
    }

    #[test]
    fn the_section_is_sorted_and_round_trips() {
        let mut lock: Lockfile = toml::from_str(LOCK).unwrap();
        lock.system_libraries = Some(LockedSystemLibraries {
            inputs_sha256: "ab".repeat(32),
            needed: vec![
                library("libgomp.so.1", "lightgbm", "libgomp1"),
                library("libGL.so.1", "opencv-python", "libgl1"),
            ],
            host_driver: vec![library("libcuda.so.1", "torch", "")],
            packages: vec![
                LockedDeb {
                    name: "libgomp1".to_string(),
                    version: "12.2.0-14".to_string(),
                    sha256: "12".repeat(32),
                    ..LockedDeb::default()
                },
                LockedDeb {
                    name: "libgl1".to_string(),
                    version: "1.6.0-1".to_string(),
                    sha256: "34".repeat(32),
                    ..LockedDeb::default()
                },
            ],
        });
        let text = lock.to_toml();
        let section = text.split_once("\n[system-libraries]\n").unwrap().1;
        insta::assert_snapshot!(section, @r#"
        inputs-sha256 = "abababababababababababababababababababababababababababababababab"
        needed = [
            { soname = "libGL.so.1", wheel = "opencv-python", file = "opencv-python/_native.so", package = "libgl1" },
            { soname = "libgomp.so.1", wheel = "lightgbm", file = "lightgbm/_native.so", package = "libgomp1" },
        ]
        host-driver = [
            { soname = "libcuda.so.1", wheel = "torch", file = "torch/_native.so" },
        ]

        [[system-libraries.packages]]
        name = "libgl1"
        version = "1.6.0-1"
        architecture = ""
        filename = ""
        sha256 = "3434343434343434343434343434343434343434343434343434343434343434"
        size = 0

        [[system-libraries.packages]]
        name = "libgomp1"
        version = "12.2.0-14"
        architecture = ""
        filename = ""
        sha256 = "1212121212121212121212121212121212121212121212121212121212121212"
        size = 0
        "#);
        let read: Lockfile = toml::from_str(&text).unwrap();
        let (mut expected, read) = (
            lock.system_libraries.unwrap(),
            read.system_libraries.unwrap(),
        );
        expected.needed.sort();
        expected.packages.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(read, expected);
    }
}
