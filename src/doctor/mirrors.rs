//! Registry mirrors: which registries' pulls go to mirrors first, from the user's
//! `config.toml` and Docker's `daemon.json` ([`registry::configured_mirrors`]). No mirror is
//! contacted; a malformed file is a warning, since every pull would stop on it.

use std::collections::BTreeSet;

use super::Check;
use crate::config::UserConfig;
use crate::error::Diagnostic;
use crate::oci::registry;

const NAME: &str = "mirrors";

pub(super) fn check() -> Check {
    let warn = |error: &dyn Diagnostic| {
        let hint = error.hints().into_iter().next().unwrap_or_default();
        Check::warn(NAME, error.to_string(), hint)
    };
    let user = match UserConfig::load() {
        Ok(user) => user,
        Err(error) => return warn(&error),
    };
    let registries: BTreeSet<&str> = user
        .registries
        .keys()
        .map(String::as_str)
        .chain(["docker.io"])
        .collect();
    let mut details = Vec::new();
    for registry in registries {
        let mirrors = match registry::configured_mirrors(registry) {
            Ok(mirrors) => mirrors,
            Err(error) => return warn(&error),
        };
        if !mirrors.is_empty() {
            let mirrors: Vec<String> = mirrors.iter().map(|url| format!("`{url}`")).collect();
            details.push(format!("`{registry}`: {}", mirrors.join(", ")));
        }
    }
    if details.is_empty() {
        Check::ok(NAME, "none: pulls go to the registries themselves")
    } else {
        Check::ok(
            NAME,
            format!("pulls try mirrors first for {} registries", details.len()),
        )
        .details(details)
    }
}
