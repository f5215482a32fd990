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
