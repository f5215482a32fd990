//! Registry mirrors: where pulls from a registry go first. From the user's `config.toml`
//! (`[registries."HOST"] mirrors = [...]`, any registry, as containerd's `hosts.toml` allows)
//! and, for Docker Hub only as Docker does it, `registry-mirrors` in Docker's
//! `/etc/docker/daemon.json`. Pushes never use them, and what a mirror sends is verified
//! against the digests like anything else: a mirror is not trusted.
//!
//! Docker's setting: <https://docs.docker.com/docker-hub/image-library/mirror/>.

use std::path::{Path, PathBuf};

use super::super::reference::DOCKER_HUB;
use super::error::RegistryError;
use crate::config::{MirrorUrl, UserConfig};

/// Docker's daemon settings, where `registry-mirrors` is read from.
pub const DOCKER_DAEMON_CONFIG: &str = "/etc/docker/daemon.json";

/// The mirrors of `registry`, in the order pulls try them: the user's, then Docker's (for
/// Docker Hub), each once.
pub fn configured(registry: &str) -> Result<Vec<MirrorUrl>, RegistryError> {
    let user = UserConfig::load()?;
    let docker = if registry == DOCKER_HUB {
        docker_mirrors(Path::new(DOCKER_DAEMON_CONFIG))?
    } else {
        Vec::new()
    };
    Ok(merge(
        user.registries.get(registry).cloned().unwrap_or_default(),
        docker,
    ))
}

fn merge(mut first: Vec<MirrorUrl>, then: Vec<MirrorUrl>) -> Vec<MirrorUrl> {
    for mirror in then {
        if !first.contains(&mirror) {
            first.push(mirror);
        }
    }
    first
}

/// `registry-mirrors` in Docker's `daemon.json` at `path`; none when the file is missing.
fn docker_mirrors(path: &Path) -> Result<Vec<MirrorUrl>, RegistryError> {
    match fs_err::read_to_string(path) {
        Ok(text) => parse_daemon_config(path, &text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(crate::error::IoError::new("read", path, error).into()),
    }
}

fn parse_daemon_config(path: &Path, text: &str) -> Result<Vec<MirrorUrl>, RegistryError> {
    #[derive(serde::Deserialize)]
    struct Daemon {
        #[serde(default, rename = "registry-mirrors")]
        registry_mirrors: Vec<String>,
    }
    let invalid = |message: String| RegistryError::DaemonConfig {
        path: PathBuf::from(path),
        message,
    };
    let daemon: Daemon = serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
    daemon
        .registry_mirrors
        .iter()
        .map(|mirror| MirrorUrl::parse(mirror).map_err(invalid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_registry_mirrors() {
        let path = Path::new("/etc/docker/daemon.json");
        let mirrors = parse_daemon_config(
            path,
            r#"{"data-root": "/srv/docker", "registry-mirrors": ["https://mirror.gcr.io/", "http://10.0.0.5:5000"]}"#,
        )
        .unwrap();
        assert_eq!(
            mirrors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["https://mirror.gcr.io", "http://10.0.0.5:5000"]
        );
        assert!(parse_daemon_config(path, "{}").unwrap().is_empty());
        let error = parse_daemon_config(path, r#"{"registry-mirrors": ["mirror.gcr.io"]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "`/etc/docker/daemon.json` is not a valid Docker daemon configuration: `mirror.gcr.io` is not a URL: relative URL without a base"
        );
    }

    #[test]
    fn users_mirrors_come_first_each_once() {
        let url = |text: &str| MirrorUrl::parse(text).unwrap();
        assert_eq!(
            merge(
                vec![url("http://127.0.0.1:5000"), url("https://a.example")],
                vec![url("https://a.example/"), url("https://b.example")],
            ),
            [
                url("http://127.0.0.1:5000"),
                url("https://a.example"),
                url("https://b.example")
            ]
        );
    }
}
