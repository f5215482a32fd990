//! The user's settings file, `config.toml` in mlpack's config directory
//! ([`crate::dirs::config_dir`]): what holds for every project of this user on this machine.
//! Today that is registry mirrors, as containerd's `hosts.toml` allows for any registry:
//!
//! ```toml
//! [registries."docker.io"]
//! mirrors = ["https://mirror.example", "http://127.0.0.1:5000"]
//! ```
//!
//! A missing file is an empty configuration; a malformed one is an error at its line, so a
//! typo never silently sends pulls to Docker Hub.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Diagnostic, IoError};

/// The settings file's name in the config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// What `config.toml` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    /// Per registry (`host[:port]`, `docker.io` for Docker Hub), its mirrors in order.
    pub registries: BTreeMap<String, Vec<MirrorUrl>>,
}

/// A mirror's base URL: `http` or `https`, a host and maybe a port, nothing after the `/`
/// (the repository path is the registry's, as with Docker's `registry-mirrors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorUrl {
    url: url::Url,
}

impl MirrorUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(text).map_err(|error| format!("`{text}` is not a URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{text}` is not an `http://` or `https://` URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{text}` names no host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{text}` has a path, query or fragment; a mirror is only `scheme://host[:port]`"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "`{text}` holds credentials; save them with `mlpack login HOST` instead"
            ));
        }
        Ok(Self { url })
    }

    /// `host[:port]`, as registries and saved credentials are named.
    pub fn host(&self) -> String {
        match (self.url.host_str(), self.url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => String::new(),
        }
    }

    /// Whether the URL says plain HTTP.
    pub fn is_http(&self) -> bool {
        self.url.scheme() == "http"
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }
}

impl std::fmt::Display for MirrorUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// `config.toml` could not be read or is malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Io(#[from] IoError),

    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl Diagnostic for ConfigError {
    fn is_user_error(&self) -> bool {
        matches!(self, Self::Invalid { .. })
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::Invalid { path, .. } => vec![format!(
                "fix `{}`; it reads like `[registries.\"docker.io\"]` then `mirrors = [\"https://mirror.example\"]`",
                path.display()
            )],
            Self::Io(_) => Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    registries: BTreeMap<Spanned<String>, Registry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    #[serde(default)]
    mirrors: Vec<Spanned<String>>,
}

impl UserConfig {
    /// The user's `config.toml`: empty when there is no config directory or no file.
    pub fn load() -> Result<Self, ConfigError> {
        match crate::dirs::config_dir() {
            Some(dir) => Self::read(&dir.join(CONFIG_FILE)),
            None => Ok(Self::default()),
        }
    }

    /// `path`, or the empty configuration when it does not exist.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        match fs_err::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(IoError::new("read", path, error).into()),
        }
    }

    /// `text`, read from `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |offset: usize, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, offset),
            message,
        };
        let file: File = toml::from_str(text).map_err(|error| {
            let offset = error.span().map_or(0, |span| span.start);
            invalid(offset, error.message().trim_end().to_string())
        })?;
        let mut registries = BTreeMap::new();
        for (name, registry) in file.registries {
            if !valid_registry(name.get_ref()) {
                return Err(invalid(
                    name.span().start,
                    format!("`{}` is not a registry `host[:port]`", name.get_ref()),
                ));
            }
            let mirrors = registry
                .mirrors
                .iter()
                .map(|mirror| {
                    MirrorUrl::parse(mirror.get_ref())
                        .map_err(|message| invalid(mirror.span().start, message))
                })
                .collect::<Result<Vec<_>, _>>()?;
            registries.insert(name.into_inner(), mirrors);
        }
        Ok(Self { registries })
    }
}

/// A registry name as references spell it: no scheme, no path.
fn valid_registry(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['/', ' '])
        && url::Url::parse(&format!("https://{name}/")).is_ok_and(|url| url.path() == "/")
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .unwrap_or(text)
        .bytes()
        .filter(|&byte| byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UserConfig, String> {
        UserConfig::parse(Path::new("/home/u/.config/mlpack/config.toml"), text)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn mirrors_per_registry() {
        let config = parse(
            "# mirrors\n[registries.\"docker.io\"]\nmirrors = [\"https://mirror.example\", \"http://127.0.0.1:5000/\"]\n\n[registries.\"ghcr.io\"]\nmirrors = []\n",
        )
        .unwrap();
        let docker = &config.registries["docker.io"];
        assert_eq!(
            docker.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["https://mirror.example", "http://127.0.0.1:5000"]
        );
        assert_eq!(docker[0].host(), "mirror.example");
        assert!(!docker[0].is_http());
        assert_eq!(docker[1].host(), "127.0.0.1:5000");
        assert!(docker[1].is_http());
        assert!(config.registries["ghcr.io"].is_empty());
        assert_eq!(parse("").unwrap(), UserConfig::default());
    }

    #[test]
    fn malformed_files_name_the_line() {
        for (text, expected) in [
            (
                "[registries.\"docker.io\"]\nmirrors = \"https://mirror.example\"\n",
                "config.toml:2: invalid type: string \"https://mirror.example\", expected a sequence",
            ),
            (
                "[registries.\"docker.io\"]\nmirror = [\"https://mirror.example\"]\n",
                "config.toml:2: unknown field `mirror`, expected `mirrors`",
            ),
            (
                "[registries.\"docker.io\"]\nmirrors = [\n  \"https://a.example\",\n  \"ftp://b.example\",\n]\n",
                "config.toml:4: `ftp://b.example` is not an `http://` or `https://` URL",
            ),
            (
                "[registries.\"docker.io\"]\nmirrors = [\"https://mirror.example/v2/\"]\n",
                "config.toml:2: `https://mirror.example/v2/` has a path, query or fragment; a mirror is only `scheme://host[:port]`",
            ),
            (
                "[registries.\"docker.io\"]\nmirrors = [\"mirror.example\"]\n",
                "config.toml:2: `mirror.example` is not a URL: relative URL without a base",
            ),
            (
                "\n[registries.\"https://docker.io\"]\nmirrors = []\n",
                "config.toml:2: `https://docker.io` is not a registry `host[:port]`",
            ),
            (
                "[registry.\"docker.io\"]\n",
                "config.toml:1: unknown field `registry`, expected `registries`",
            ),
            ("[registries\n", "config.toml:1: "),
        ] {
            let error = parse(text).unwrap_err();
            assert!(
                error.starts_with(&format!("/home/u/.config/mlpack/{expected}")),
                "{text:?}: {error}"
            );
        }
    }
}
