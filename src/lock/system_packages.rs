//! `[system-packages]`: the Debian packages `[build] system-packages` names, with their
//! dependencies less what the base already has, pinned by `mlpack build` like the base's
//! packages so a rebuild (and `mlpack build --locked`) fetches exactly these bytes.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::LockedDeb;
use super::write::{quote, write_raw_list};

/// The system packages, resolved by `mlpack build` for the inputs `inputs_sha256` names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedSystemPackages {
    /// sha256 over the requested names, the suite and the base's pins (see
    /// `build::system_packages`): while it matches, a build uses these pins without reading
    /// the Debian index.
    pub inputs_sha256: String,
    /// The names as `[build] system-packages` writes them.
    #[serde(default)]
    pub requested: Vec<String>,
    /// Their closure, less what the base has.
    #[serde(default)]
    pub packages: Vec<LockedDeb>,
}

/// The section's text, in the lock's stable layout: one package per table, sorted by name.
pub(super) fn write_system_packages(text: &mut String, prefix: &str, pins: &LockedSystemPackages) {
    let _ = write!(
        text,
        "\n[{prefix}system-packages]\ninputs-sha256 = {}\n",
        quote(&pins.inputs_sha256)
    );
    let requested: Vec<String> = pins.requested.iter().map(|name| quote(name)).collect();
    write_raw_list(text, "requested", &requested);
    let mut packages: Vec<&LockedDeb> = pins.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    for package in packages {
        let table = toml::to_string(package).unwrap_or_default();
        let _ = write!(text, "\n[[{prefix}system-packages.packages]]\n{table}");
    }
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

    #[test]
    fn the_section_is_sorted_and_round_trips() {
        let mut lock: Lockfile = toml::from_str(LOCK).unwrap();
        let deb = |name: &str, sha: &str| LockedDeb {
            name: name.to_string(),
            version: "1.6-2.1+deb12u1".to_string(),
            sha256: sha.repeat(32),
            ..LockedDeb::default()
        };
        lock.system_packages = Some(LockedSystemPackages {
            inputs_sha256: "ab".repeat(32),
            requested: vec!["jq".to_string()],
            packages: vec![deb("libjq1", "12"), deb("jq", "34")],
        });
        let text = lock.to_toml();
        let section = text.split_once("\n[system-packages]\n").unwrap().1;
        insta::assert_snapshot!(section, @r#"
        inputs-sha256 = "abababababababababababababababababababababababababababababababab"
        requested = ["jq"]

        [[system-packages.packages]]
        name = "jq"
        version = "1.6-2.1+deb12u1"
        architecture = ""
        filename = ""
        sha256 = "3434343434343434343434343434343434343434343434343434343434343434"
        size = 0

        [[system-packages.packages]]
        name = "libjq1"
        version = "1.6-2.1+deb12u1"
        architecture = ""
        filename = ""
        sha256 = "1212121212121212121212121212121212121212121212121212121212121212"
        size = 0
        "#);
        let read: Lockfile = toml::from_str(&text).unwrap();
        let mut expected = lock.system_packages.unwrap();
        expected.packages.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(read.system_packages.unwrap(), expected);
    }
}
