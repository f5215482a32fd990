//! Registry credentials: mlpack's own `auth.json` (written by `mlpack login`), then Docker's
//! `config.json` (`credHelpers`, `auths`, `credsStore`), so a `docker login` works as it is.
//!
//! Formats: Docker's config file (<https://docs.docker.com/reference/cli/docker/#docker-cli-configuration-file-configjson-properties>)
//! and credential-helper protocol (<https://github.com/docker/docker-credential-helpers>).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::super::reference::DOCKER_HUB;
use super::error::RegistryError;
use crate::error::FromIo;

/// The key Docker (and its credential helpers) file Docker Hub's credentials under.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// A user name and password (or access token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"****")
            .finish()
    }
}

impl Credentials {
    /// `Basic base64(user:password)`, the `Authorization` value.
    pub(crate) fn basic_authorization(&self) -> String {
        format!("Basic {}", self.encoded())
    }

    fn encoded(&self) -> String {
        BASE64.encode(format!("{}:{}", self.username, self.password))
    }

    /// Credentials from a config file's `auth` value, base64 of `user:password`.
    fn decode(encoded: &str) -> Option<Self> {
        let decoded = BASE64.decode(encoded.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, password) = decoded.split_once(':')?;
        Some(Self {
            username: username.to_string(),
            password: password.to_string(),
        })
    }
}

/// Where registry credentials are read from, in order:
/// 1. mlpack's file, `$XDG_CONFIG_HOME/mlpack/auth.json` (else `~/.config/mlpack/auth.json`),
///    the only one [`CredentialStore::save`] and [`CredentialStore::remove`] change;
/// 2. Docker's `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`): first its
///    `credHelpers` entry for the registry, then its `auths` entry, then its `credsStore`.
///
/// A credential helper `docker-credential-<name>` that is not installed is skipped, so a
/// `config.json` copied from a desktop machine does not stop anonymous pulls.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    mlpack_file: PathBuf,
    docker_config: Option<PathBuf>,
    helper_path: Option<OsString>,
}

impl CredentialStore {
    /// The store at the usual places, from `XDG_CONFIG_HOME`, `DOCKER_CONFIG` and `HOME`.
    pub fn open() -> Result<Self, RegistryError> {
        let home = std::env::home_dir().filter(|home| !home.as_os_str().is_empty());
        let config_dir = crate::dirs::config_dir().ok_or(RegistryError::NoConfigDir)?;
        let docker_dir = std::env::var_os("DOCKER_CONFIG")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".docker")));
        Ok(Self::at(
            config_dir.join("auth.json"),
            docker_dir.map(|dir| dir.join("config.json")),
        ))
    }

    /// A store reading and writing `mlpack_file`, and reading Docker's `docker_config` (the
    /// `config.json` file itself) if given.
    pub fn at(mlpack_file: PathBuf, docker_config: Option<PathBuf>) -> Self {
        Self {
            mlpack_file,
            docker_config,
            helper_path: None,
        }
    }

    /// Where to look for `docker-credential-*` programs, written like `PATH`. Default: `PATH`.
    #[must_use]
    pub fn helper_path(mut self, path: impl Into<OsString>) -> Self {
        self.helper_path = Some(path.into());
        self
    }

    /// mlpack's own credentials file.
    pub fn mlpack_file(&self) -> &Path {
        &self.mlpack_file
    }

    /// Docker's `config.json`, if a home or `DOCKER_CONFIG` names one.
    pub fn docker_config(&self) -> Option<&Path> {
        self.docker_config.as_deref()
    }

    /// Which registries have saved credentials and where, for `mlpack doctor`: no secret is
    /// decoded and no helper run.
    pub fn saved(&self) -> Result<SavedCredentials, RegistryError> {
        let mut saved = SavedCredentials::default();
        if let Some(file) = read_config(&self.mlpack_file)? {
            saved.mlpack = file.registries_with_credentials();
        }
        if let Some(path) = &self.docker_config
            && let Some(file) = read_config(path)?
        {
            saved.docker_auths = file.registries_with_credentials();
            saved.docker_helpers = file
                .cred_helpers
                .iter()
                .map(|(key, helper)| (registry_key(key), helper.clone()))
                .collect();
            saved.docker_store = file.creds_store.filter(|store| !store.is_empty());
        }
        Ok(saved)
    }

    /// The credentials for `registry` (`host[:port]`, `docker.io` for Docker Hub), if any.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        let wanted = registry_key(registry);
        if let Some(file) = read_config(&self.mlpack_file)?
            && let Some(credentials) = file.auths_entry(&wanted, &self.mlpack_file)?
        {
            return Ok(Some(credentials));
        }
        let Some(docker_config) = &self.docker_config else {
            return Ok(None);
        };
        let Some(file) = read_config(docker_config)? else {
            return Ok(None);
        };
        let helper = file
            .cred_helpers
            .iter()
            .find(|(key, _)| registry_key(key) == wanted)
            .map(|(_, helper)| helper);
        if let Some(helper) = helper
            && let Some(credentials) = self.run_helper(helper, &wanted, docker_config)?
        {
            return Ok(Some(credentials));
        }
        if let Some(credentials) = file.auths_entry(&wanted, docker_config)? {
            return Ok(Some(credentials));
        }
        match file
            .creds_store
            .as_deref()
            .filter(|store| !store.is_empty())
        {
            Some(store) => self.run_helper(store, &wanted, docker_config),
            None => Ok(None),
        }
    }

    /// Save `credentials` for `registry` in mlpack's file, replacing any it had. The file is
    /// replaced in one rename and is only ever readable by its owner (mode 0600).
    pub fn save(&self, registry: &str, credentials: &Credentials) -> Result<(), RegistryError> {
        if credentials.username.is_empty() || credentials.username.contains(':') {
            return Err(RegistryError::InvalidCredentials {
                registry: registry.to_string(),
                reason: "the user name must be non-empty and have no `:`",
            });
        }
        let key = registry_key(registry);
        let mut document = self.read_document()?;
        let auths = auths_object(&mut document, &self.mlpack_file)?;
        auths.retain(|existing, _| registry_key(existing) != key);
        auths.insert(key, serde_json::json!({ "auth": credentials.encoded() }));
        self.write_document(&document)
    }

    /// Forget the credentials for `registry` in mlpack's file; whether it had any. Docker's
    /// file is left alone (`docker logout` is for that).
    pub fn remove(&self, registry: &str) -> Result<bool, RegistryError> {
        if !self.mlpack_file.exists() {
            return Ok(false);
        }
        let key = registry_key(registry);
        let mut document = self.read_document()?;
        let auths = auths_object(&mut document, &self.mlpack_file)?;
        let before = auths.len();
        auths.retain(|existing, _| registry_key(existing) != key);
        if auths.len() == before {
            return Ok(false);
        }
        self.write_document(&document)?;
        Ok(true)
    }

    fn read_document(&self) -> Result<serde_json::Value, RegistryError> {
        match fs_err::read(&self.mlpack_file) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|error| RegistryError::CredentialFile {
                    path: self.mlpack_file.clone(),
                    message: error.to_string(),
                })
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(serde_json::json!({})),
            Err(source) => Err(RegistryError::io("read", &self.mlpack_file, source)),
        }
    }

    fn write_document(&self, document: &serde_json::Value) -> Result<(), RegistryError> {
        let mut bytes =
            serde_json::to_vec_pretty(document).map_err(|error| RegistryError::CredentialFile {
                path: self.mlpack_file.clone(),
                message: error.to_string(),
            })?;
        bytes.push(b'\n');
        write_private(&self.mlpack_file, &bytes)
    }

    /// Ask `docker-credential-<helper>` for `registry`'s credentials; `None` when the helper
    /// is not installed or has none.
    fn run_helper(
        &self,
        helper: &str,
        registry: &str,
        config: &Path,
    ) -> Result<Option<Credentials>, RegistryError> {
        let program = format!("docker-credential-{helper}");
        if helper.is_empty() || helper.contains('/') {
            return Err(RegistryError::CredentialFile {
                path: config.to_path_buf(),
                message: format!("`{helper}` is not a credential helper name"),
            });
        }
        let Some(path) = self.find_program(&program) else {
            return Ok(None);
        };
        let failed = |message: String| RegistryError::CredentialHelper {
            program: program.clone(),
            registry: registry.to_string(),
            message,
        };
        let server = if registry == DOCKER_HUB {
            DOCKER_HUB_SERVER
        } else {
            registry
        };
        let mut child = Command::new(&path)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| failed(format!("could not start `{}`: {error}", path.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(server.as_bytes())
                .map_err(|error| failed(format!("could not write to it: {error}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|error| failed(format!("could not read its answer: {error}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = [stdout.trim(), stderr.trim()]
                .into_iter()
                .filter(|text| !text.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            if message
                .to_ascii_lowercase()
                .contains("credentials not found")
            {
                return Ok(None);
            }
            return Err(failed(format!(
                "it exited with {}: {message}",
                output.status
            )));
        }
        let answer: HelperAnswer = serde_json::from_str(&stdout)
            .map_err(|error| failed(format!("its answer is not the expected JSON: {error}")))?;
        // `<token>` marks an identity token for an OAuth2 refresh, which this client does not
        // speak; empty secrets mean no credentials.
        if answer.secret.is_empty() || answer.username == "<token>" {
            return Ok(None);
        }
        Ok(Some(Credentials {
            username: answer.username,
            password: answer.secret,
        }))
    }

    fn find_program(&self, program: &str) -> Option<PathBuf> {
        let search = self
            .helper_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))?;
        std::env::split_paths(&search)
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| dir.join(program))
            .find(|path| {
                fs_err::metadata(path)
                    .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            })
    }
}

/// What [`CredentialStore::saved`] found: registry names as [`registry_key`] writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedCredentials {
    /// Registries in mlpack's own file.
    pub mlpack: Vec<String>,
    /// Registries with credentials in Docker's `auths`.
    pub docker_auths: Vec<String>,
    /// Docker's `credHelpers`: registry → helper name (`docker-credential-<name>`).
    pub docker_helpers: BTreeMap<String, String>,
    /// Docker's `credsStore`: the helper for every other registry.
    pub docker_store: Option<String>,
}

/// A credential helper's answer to `get`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// The parts of a Docker-style config file this module reads; mlpack's file is a subset.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl ConfigFile {
    /// The registries whose `auths` entry holds credentials (Docker leaves empty entries
    /// behind when a helper keeps the secret).
    fn registries_with_credentials(&self) -> Vec<String> {
        self.auths
            .iter()
            .filter(|(_, entry)| {
                entry.auth.as_deref().is_some_and(|auth| !auth.is_empty())
                    || entry
                        .username
                        .as_deref()
                        .is_some_and(|name| !name.is_empty())
            })
            .map(|(key, _)| registry_key(key))
            .collect()
    }

    /// The `auths` entry for the registry `wanted` (a [`registry_key`]), if it holds
    /// credentials; an entry that cannot be decoded is an error naming the file.
    fn auths_entry(&self, wanted: &str, path: &Path) -> Result<Option<Credentials>, RegistryError> {
        let Some((key, entry)) = self
            .auths
            .iter()
            .find(|(key, _)| registry_key(key) == wanted)
        else {
            return Ok(None);
        };
        if let Some(encoded) = entry.auth.as_deref().filter(|auth| !auth.is_empty()) {
            return Credentials::decode(encoded).map(Some).ok_or_else(|| {
                RegistryError::CredentialFile {
                    path: path.to_path_buf(),
                    message: format!("the `auth` of `{key}` is not base64 of `user:password`"),
                }
            });
        }
        Ok(match (&entry.username, &entry.password) {
            (Some(username), Some(password)) if !username.is_empty() => Some(Credentials {
                username: username.clone(),
                password: password.clone(),
            }),
            _ => None,
        })
    }
}

/// The file at `path`, or `None` if there is none.
fn read_config(path: &Path) -> Result<Option<ConfigFile>, RegistryError> {
    let bytes = match fs_err::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RegistryError::io("read", path, source)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| RegistryError::CredentialFile {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
}

/// The `auths` object of a config document, created if missing.
fn auths_object<'a>(
    document: &'a mut serde_json::Value,
    path: &Path,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, RegistryError> {
    let not_an_object = |what: &str| RegistryError::CredentialFile {
        path: path.to_path_buf(),
        message: format!("{what} is not a JSON object"),
    };
    let root = document
        .as_object_mut()
        .ok_or_else(|| not_an_object("the file"))?;
    root.entry("auths")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .ok_or_else(|| not_an_object("`auths`"))
}

/// A config key as the registry it names: `https://index.docker.io/v1/` and `docker.io` are
/// both `docker.io`; a scheme and path are dropped, the host lowercased.
pub(crate) fn registry_key(key: &str) -> String {
    let key = key.trim();
    let without_scheme = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_string()
        }
        _ => host,
    }
}

/// Write `bytes` to `path` through a temp file created with mode 0600 in the same directory,
/// so the file is never readable by others, not even for a moment, and never half-written.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| RegistryError::io("create the directory", dir, source))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".auth-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|source| RegistryError::io("create a temp file in", dir, source))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|source| RegistryError::io("write", temp.path().to_path_buf(), source))?;
    temp.persist(path)
        .map_err(|error| RegistryError::io("replace", path, error.error))?;
    fs_err::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| RegistryError::io("sync", dir, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    fn credentials(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    #[test]
    fn saves_reads_and_removes_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config").join("mlpack").join("auth.json");
        let store = CredentialStore::at(file.clone(), None).helper_path("");
        assert_eq!(store.get("localhost:5000").unwrap(), None);
        assert!(!store.remove("localhost:5000").unwrap());

        store
            .save("localhost:5000", &credentials("alice", "s3cr:et"))
            .unwrap();
        store
            .save("https://index.docker.io/v1/", &credentials("bob", "pw"))
            .unwrap();
        let mode = fs_err::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs_err::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let document: serde_json::Value =
            serde_json::from_slice(&fs_err::read(&file).unwrap()).unwrap();
        assert_eq!(
            document,
            serde_json::json!({"auths": {
                "localhost:5000": {"auth": BASE64.encode("alice:s3cr:et")},
                "docker.io": {"auth": BASE64.encode("bob:pw")},
            }})
        );
        assert_eq!(
            store.get("localhost:5000").unwrap(),
            Some(credentials("alice", "s3cr:et"))
        );
        assert_eq!(
            store.get("docker.io").unwrap(),
            Some(credentials("bob", "pw"))
        );

        store
            .save("localhost:5000", &credentials("carol", "new"))
            .unwrap();
        assert_eq!(
            store.get("localhost:5000").unwrap(),
            Some(credentials("carol", "new"))
        );
        assert!(store.remove("localhost:5000").unwrap());
        assert!(!store.remove("localhost:5000").unwrap());
        assert_eq!(store.get("localhost:5000").unwrap(), None);
        assert_eq!(
            fs_err::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let error = store
            .save("ghcr.io", &credentials("a:b", "pw"))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid credentials for `ghcr.io`: the user name must be non-empty and have no `:`"
        );
    }

    #[test]
    fn reads_docker_auths_after_mlpack_file() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker-config.json");
        fs_err::write(
            &docker,
            serde_json::json!({
                "auths": {
                    "https://index.docker.io/v1/": {"auth": BASE64.encode("hub:hubpw")},
                    "registry.example.com:5000": {"auth": BASE64.encode("ex:expw")},
                    "plain.example.com": {"username": "u", "password": "p"},
                    "bad.example.com": {"auth": "%%%"},
                    "empty.example.com": {},
                },
                "HttpHeaders": {"User-Agent": "x"},
            })
            .to_string(),
        )
        .unwrap();
        let mlpack = dir.path().join("auth.json");
        let store = CredentialStore::at(mlpack, Some(docker.clone())).helper_path("");
        assert_eq!(
            store.get("docker.io").unwrap(),
            Some(credentials("hub", "hubpw"))
        );
        assert_eq!(
            store.get("registry.example.com:5000").unwrap(),
            Some(credentials("ex", "expw"))
        );
        assert_eq!(store.get("registry.example.com").unwrap(), None);
        assert_eq!(
            store.get("plain.example.com").unwrap(),
            Some(credentials("u", "p"))
        );
        assert_eq!(store.get("empty.example.com").unwrap(), None);
        let error = store.get("bad.example.com").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "could not read credentials from `{}`: the `auth` of `bad.example.com` is not base64 of `user:password`",
                docker.display()
            )
        );

        store
            .save("docker.io", &credentials("mine", "minepw"))
            .unwrap();
        assert_eq!(
            store.get("docker.io").unwrap(),
            Some(credentials("mine", "minepw"))
        );
        let saved = store.saved().unwrap();
        assert_eq!(saved.mlpack, ["docker.io"]);
        assert_eq!(
            saved.docker_auths,
            [
                "bad.example.com",
                "docker.io",
                "plain.example.com",
                "registry.example.com:5000"
            ]
        );
        assert_eq!((saved.docker_helpers.len(), saved.docker_store), (0, None));
    }

    /// A fake `docker-credential-test`: knows `helped.example.com` and Docker Hub, fails for
    /// `broken.example.com`, has nothing for anything else.
    fn fake_helper(dir: &Path) {
        let script = dir.join("docker-credential-test");
        fs_err::write(
            &script,
            r#"#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
case "$server" in
  helped.example.com) echo '{"ServerURL":"helped.example.com","Username":"helper-user","Secret":"helper-secret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"hub-user","Secret":"hub-secret"}' ;;
  broken.example.com) echo 'keychain locked' >&2; exit 3 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
"#,
        )
        .unwrap();
        fs_err::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn runs_credential_helpers() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs_err::create_dir(&bin).unwrap();
        fake_helper(&bin);
        let docker = dir.path().join("config.json");
        fs_err::write(
            &docker,
            serde_json::json!({
                "auths": {
                    "helped.example.com": {"auth": BASE64.encode("file:filepw")},
                    "other.example.com": {"auth": BASE64.encode("o:opw")},
                },
                "credHelpers": {
                    "helped.example.com": "test",
                    "broken.example.com": "test",
                    "missing.example.com": "not-installed",
                },
                "credsStore": "test",
            })
            .to_string(),
        )
        .unwrap();
        let store = CredentialStore::at(dir.path().join("auth.json"), Some(docker.clone()))
            .helper_path(&bin);
        assert_eq!(
            store.get("helped.example.com").unwrap(),
            Some(credentials("helper-user", "helper-secret"))
        );
        // `credsStore` covers registries without their own helper; `auths` comes first.
        assert_eq!(
            store.get("docker.io").unwrap(),
            Some(credentials("hub-user", "hub-secret"))
        );
        assert_eq!(
            store.get("other.example.com").unwrap(),
            Some(credentials("o", "opw"))
        );
        assert_eq!(store.get("nothing.example.com").unwrap(), None);
        // A helper that is not installed is skipped (then `credsStore` has nothing).
        assert_eq!(store.get("missing.example.com").unwrap(), None);
        let error = store.get("broken.example.com").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the credential helper `docker-credential-test` failed for `broken.example.com`: it exited with exit status: 3: keychain locked"
        );

        // Without the helper on the path, `credsStore` is skipped too.
        let without = CredentialStore::at(dir.path().join("auth.json"), Some(docker))
            .helper_path(dir.path().join("empty"));
        assert_eq!(without.get("docker.io").unwrap(), None);
        assert_eq!(
            without.get("helped.example.com").unwrap(),
            Some(credentials("file", "filepw"))
        );
    }

    #[test]
    fn invalid_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        fs_err::write(&file, "{not json").unwrap();
        let store = CredentialStore::at(file.clone(), None);
        let error = store.get("ghcr.io").unwrap_err();
        assert!(
            error.to_string().starts_with(&format!(
                "could not read credentials from `{}`: ",
                file.display()
            )),
            "{error}"
        );
        assert!(error.is_user_error());
        assert!(store.save("ghcr.io", &credentials("a", "b")).is_err());
    }

    #[test]
    fn keys_and_debug() {
        assert_eq!(registry_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(
            registry_key("Registry.Example.com:5000"),
            "registry.example.com:5000"
        );
        assert_eq!(registry_key("http://localhost:5000/v2/"), "localhost:5000");
        let shown = format!("{:?}", credentials("alice", "hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            credentials("alice", "pw").basic_authorization(),
            format!("Basic {}", BASE64.encode("alice:pw"))
        );
    }
}
