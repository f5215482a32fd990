//! Registry credentials: which registries `push` and `pull` have credentials for, from
//! `mlpack login` and from Docker's `config.json` ([`CredentialStore::saved`]). No registry is
//! contacted, no helper run and no secret shown; a file holding secrets that others can read
//! is a warning.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Check;
use crate::error::Diagnostic;
use crate::oci::registry::{CredentialStore, SavedCredentials};

const NAME: &str = "credentials";

pub(super) fn check() -> Check {
    let store = match CredentialStore::open() {
        Ok(store) => store,
        Err(error) => {
            return Check::warn(
                NAME,
                error.to_string(),
                error
                    .hints()
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| "set `HOME` or `XDG_CONFIG_HOME`".to_string()),
            );
        }
    };
    let saved = match store.saved() {
        Ok(saved) => saved,
        Err(error) => {
            return Check::warn(
                NAME,
                error.to_string(),
                "fix the file, or log in again with `mlpack login REGISTRY`",
            );
        }
    };
    let details = describe(&saved);
    let mut exposed = Vec::new();
    if !saved.mlpack.is_empty() && readable_by_others(store.mlpack_file()) {
        exposed.push(store.mlpack_file().to_path_buf());
    }
    if let Some(docker) = store.docker_config()
        && !saved.docker_auths.is_empty()
        && readable_by_others(docker)
    {
        exposed.push(docker.to_path_buf());
    }
    if let Some(file) = exposed.first() {
        let files: Vec<String> = exposed
            .iter()
            .map(|path| format!("`{}`", path.display()))
            .collect();
        return Check::warn(
            NAME,
            format!(
                "{} holds registry passwords that other users can read",
                files.join(" and ")
            ),
            format!("make it private: `chmod 600 {}`", file.display()),
        )
        .details(details);
    }
    let summary = if details.is_empty() {
        "none saved: pulls are anonymous (`mlpack login REGISTRY` to add some)".to_string()
    } else {
        format!("saved for {}", registries(&saved).join(", "))
    };
    Check::ok(NAME, summary).details(details)
}

/// Every registry with credentials, once each, sorted.
fn registries(saved: &SavedCredentials) -> Vec<String> {
    let mut all: Vec<String> = saved
        .mlpack
        .iter()
        .chain(&saved.docker_auths)
        .chain(saved.docker_helpers.keys())
        .map(|registry| format!("`{registry}`"))
        .collect();
    if let Some(store) = &saved.docker_store {
        all.push(format!("any registry `docker-credential-{store}` knows"));
    }
    all.sort();
    all.dedup();
    all
}

/// Where each registry's credentials come from.
fn describe(saved: &SavedCredentials) -> Vec<String> {
    let mut lines = Vec::new();
    if !saved.mlpack.is_empty() {
        lines.push(format!("`mlpack login`: {}", saved.mlpack.join(", ")));
    }
    if !saved.docker_auths.is_empty() {
        lines.push(format!("Docker `auths`: {}", saved.docker_auths.join(", ")));
    }
    for (registry, helper) in &saved.docker_helpers {
        lines.push(format!(
            "Docker `credHelpers`: {registry} via `docker-credential-{helper}`"
        ));
    }
    if let Some(store) = &saved.docker_store {
        lines.push(format!("Docker `credsStore`: `docker-credential-{store}`"));
    }
    lines
}

/// Whether the group or others may read the file (it should be 0600).
fn readable_by_others(path: &Path) -> bool {
    fs_err::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o044 != 0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn lists_registries_once_with_their_source() {
        let saved = SavedCredentials {
            mlpack: vec!["ghcr.io".to_string()],
            docker_auths: vec!["docker.io".to_string(), "ghcr.io".to_string()],
            docker_helpers: BTreeMap::from([("gcr.io".to_string(), "gcloud".to_string())]),
            docker_store: Some("desktop".to_string()),
        };
        assert_eq!(
            registries(&saved),
            [
                "`docker.io`",
                "`gcr.io`",
                "`ghcr.io`",
                "any registry `docker-credential-desktop` knows"
            ]
        );
        assert_eq!(
            describe(&saved),
            [
                "`mlpack login`: ghcr.io",
                "Docker `auths`: docker.io, ghcr.io",
                "Docker `credHelpers`: gcr.io via `docker-credential-gcloud`",
                "Docker `credsStore`: `docker-credential-desktop`",
            ]
        );
    }

    #[test]
    fn group_or_world_readable_files_are_exposed() {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("auth.json");
        fs_err::write(&file, "{}").unwrap();
        for (mode, exposed) in [(0o600, false), (0o640, true), (0o604, true), (0o400, false)] {
            fs_err::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(readable_by_others(&file), exposed, "{mode:o}");
        }
    }
}
