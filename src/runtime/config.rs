//! A container's configuration: everything `mlpack run` decided before starting it, kept in
//! `containers/<id>/config.json` so `start` can run it again the same way. Parsing of
//! Docker-style flags (`-v`, `--mount`, `-e`, `--env-file`, `--cpus`) lives here too, so
//! every value is checked before anything is created.
//!
//! Flag syntax follows `docker run` (<https://docs.docker.com/reference/cli/docker/container/run/>).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cgroup::Limits;
use super::container_id::ContainerId;
use super::error::RuntimeError;
use super::network::PublishedPort;
use super::seccomp::Seccomp;
use crate::error::FromIo;
use crate::hardware::GpuRequest;

/// The environment a command gets when neither the image nor the user sets `PATH`.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: ContainerId,
    pub name: String,
    pub image: ImageInfo,
    /// The full argv: entrypoint and command after `--entrypoint` and arguments applied.
    pub command: Vec<String>,
    /// `NAME=value`, image first, later entries win.
    pub env: Vec<String>,
    pub workdir: String,
    /// The `-u` value, resolved against the container's `/etc/passwd` at start.
    pub user: Option<String>,
    pub hostname: String,
    pub mounts: Vec<BindMount>,
    pub network: NetworkMode,
    /// `-p`: container ports the supervisor publishes on the host.
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// Bytes for the `/dev/shm` tmpfs.
    pub shm_size: u64,
    pub limits: Limits,
    /// Containers created before seccomp existed get the default profile.
    #[serde(default)]
    pub seccomp: Seccomp,
    pub gpus: Option<GpuRequest>,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    /// What the detached supervisor does when the command exits (`--restart`).
    #[serde(default)]
    pub restart: super::restart::RestartPolicy,
    /// `--label KEY=VALUE`: `compose` finds its containers by them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created: String,
}

/// The image a container runs, pinned by digest: the name may later point elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageInfo {
    /// What the user typed, normalised (`iris:latest`), if it was a name.
    pub reference: Option<String>,
    pub digest: String,
    /// diffIDs, bottom layer first.
    pub layers: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// A host path bind-mounted into the container: `nosuid` and `nodev` unless `suid` or `dev`
/// is asked (Podman's `-v` options; Docker has neither and mounts binds without them). A
/// named volume is a bind of its data directory in the store, which `run` fills in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "Docker's and Podman's mount options"
)]
pub struct BindMount {
    pub source: PathBuf,
    /// Absolute, inside the container.
    pub target: String,
    pub read_only: bool,
    /// Let setuid and setgid bits and file capabilities work under it.
    #[serde(default)]
    pub suid: bool,
    /// Let device nodes under it open (the device allow-list still applies).
    #[serde(default)]
    pub dev: bool,
    /// The named volume this mounts (`-v NAME:/path`), whose data directory is `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Leave a new volume empty instead of filling it from the image (compose's `nocopy`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_copy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The host's network stack (the default: training jobs fetch data and log metrics).
    Host,
    /// A network namespace with only loopback.
    None,
    /// A network namespace of its own, joined to user networks (`--network NAME`, `network
    /// connect`); the networks are recorded in the store, not here.
    Bridge,
}

impl NetworkMode {
    /// Whether the container gets its own network namespace.
    pub fn is_isolated(self) -> bool {
        self != Self::Host
    }
}

impl BindMount {
    /// `-v HOST:CONTAINER[:OPTIONS]`, options a comma-separated list of `ro` or `rw`, `suid`
    /// or `nosuid`, `dev` or `nodev`. Relative host paths are taken from `cwd`; a host part
    /// that is not a path (no `/`, not starting with `.`) names a volume, as in Docker.
    pub fn parse_volume(spec: &str, cwd: &Path) -> Result<Self, RuntimeError> {
        let invalid = |reason: &str| RuntimeError::invalid("volume", spec, reason);
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, target, options) = match parts.as_slice() {
            [source, target] => (*source, *target, ""),
            [source, target, options] => (*source, *target, *options),
            _ => return Err(invalid("write it as HOST:CONTAINER or HOST:CONTAINER:ro")),
        };
        let mut mount = if source.starts_with('.') || source.contains('/') {
            Self::new(source, target, false, cwd).map_err(|reason| invalid(&reason))?
        } else {
            Self::volume(source, target, false).map_err(|reason| invalid(&reason))?
        };
        for option in options.split(',').filter(|option| !option.is_empty()) {
            match option {
                "ro" | "rw" => mount.read_only = option == "ro",
                "suid" | "nosuid" => mount.suid = option == "suid",
                "dev" | "nodev" => mount.dev = option == "dev",
                other => {
                    return Err(invalid(&format!(
                        "unknown option `{other}`; use `ro` or `rw`, `suid`, `dev`"
                    )));
                }
            }
        }
        Ok(mount)
    }

    /// `--mount type=bind,source=HOST,target=CONTAINER[,readonly][,suid][,dev]`, or
    /// `type=volume,source=NAME,target=CONTAINER[,readonly]`.
    pub fn parse_mount(spec: &str, cwd: &Path) -> Result<Self, RuntimeError> {
        let invalid = |reason: String| RuntimeError::invalid("mount", spec, reason);
        let (mut source, mut target, mut read_only) = (None, None, false);
        let (mut suid, mut dev, mut volume) = (false, false, false);
        for field in spec.split(',') {
            let (key, value) = field.split_once('=').unwrap_or((field, ""));
            match (key, value) {
                ("type", "bind" | "volume") => volume = value == "volume",
                ("type", other) => {
                    return Err(invalid(format!(
                        "only `type=bind` and `type=volume` are supported, not `{other}`"
                    )));
                }
                ("source" | "src", value) => source = Some(value),
                ("target" | "destination" | "dst", value) => target = Some(value),
                ("readonly" | "ro", "" | "true" | "1") => read_only = true,
                ("readonly" | "ro", "false" | "0") => read_only = false,
                ("suid", "" | "true" | "1") => suid = true,
                ("suid", "false" | "0") => suid = false,
                ("dev", "" | "true" | "1") => dev = true,
                ("dev", "false" | "0") => dev = false,
                _ => return Err(invalid(format!("unknown field `{field}`"))),
            }
        }
        let (Some(source), Some(target)) = (source, target) else {
            return Err(invalid("it needs `source=` and `target=`".to_string()));
        };
        let mut mount = if volume {
            Self::volume(source, target, read_only).map_err(invalid)?
        } else {
            Self::new(source, target, read_only, cwd).map_err(invalid)?
        };
        mount.suid = suid;
        mount.dev = dev;
        Ok(mount)
    }

    /// The target is normalized (`/a//b/` is `/a/b`, as Docker takes it) and checked as
    /// [`crate::container_path`] says: `/proc`, `/sys`, `/dev` and `/` are refused.
    fn new(source: &str, target: &str, read_only: bool, cwd: &Path) -> Result<Self, String> {
        let target = crate::container_path::normalize(target)
            .map_err(|reason| format!("the container path {reason}"))?;
        if source.is_empty() {
            return Err("the host path is empty".to_string());
        }
        Ok(Self {
            source: cwd.join(source),
            target,
            read_only,
            suid: false,
            dev: false,
            volume: None,
            no_copy: false,
        })
    }

    /// A named volume's mount; its source is set when the container is created.
    fn volume(name: &str, target: &str, read_only: bool) -> Result<Self, String> {
        super::volume::check_volume_name(name).map_err(|_| {
            "a volume name is letters, digits, `_`, `.` and `-`, at least two, starting with a letter or digit (a host path starts with `/` or `./`)".to_string()
        })?;
        let target = crate::container_path::normalize(target)
            .map_err(|reason| format!("the container path {reason}"))?;
        Ok(Self {
            source: PathBuf::new(),
            target,
            read_only,
            suid: false,
            dev: false,
            volume: Some(name.to_string()),
            no_copy: false,
        })
    }

    /// The host path, made absolute and checked to exist.
    pub fn check_source(&self) -> Result<PathBuf, RuntimeError> {
        fs_err::canonicalize(&self.source).map_err(|_| RuntimeError::MissingSource {
            path: self.source.clone(),
            target: self.target.clone(),
        })
    }
}

/// `-e NAME=value`, or `-e NAME` to pass the host's value (dropped when the host has none,
/// as Docker does).
pub fn parse_env(spec: &str) -> Result<Option<String>, RuntimeError> {
    let name = spec.split_once('=').map_or(spec, |(name, _)| name);
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(RuntimeError::invalid(
            "environment variable",
            spec,
            "write it as NAME=value or NAME",
        ));
    }
    if spec.contains('=') {
        return Ok(Some(spec.to_string()));
    }
    Ok(std::env::var(name)
        .ok()
        .map(|value| format!("{name}={value}")))
}

/// `--env-file FILE`: one `NAME=value` or `NAME` per line; `#` comments and blank lines skipped.
pub fn parse_env_file(path: &Path) -> Result<Vec<String>, RuntimeError> {
    let text =
        fs_err::read_to_string(path).map_err(|source| RuntimeError::io("read", path, source))?;
    let mut env = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry = parse_env(line).map_err(|_| {
            RuntimeError::invalid(
                "environment file line",
                &format!("{}:{}: {line}", path.display(), number + 1),
                "write it as NAME=value or NAME",
            )
        })?;
        env.extend(entry);
    }
    Ok(env)
}

/// `--cpus 1.5`: a positive number of CPUs.
pub fn parse_cpus(spec: &str) -> Result<f64, RuntimeError> {
    match spec.trim().parse::<f64>() {
        Ok(cpus) if cpus.is_finite() && cpus > 0.0 => Ok(cpus),
        _ => Err(RuntimeError::invalid(
            "CPU count",
            spec,
            "write a positive number such as `2` or `0.5`",
        )),
    }
}

/// `env` with `overrides` applied: a later `NAME=` replaces an earlier one in place.
pub(crate) fn merge_env(env: &mut Vec<String>, overrides: impl IntoIterator<Item = String>) {
    for entry in overrides {
        let name = entry
            .split_once('=')
            .map_or(entry.as_str(), |(name, _)| name);
        let prefix = format!("{name}=");
        match env
            .iter_mut()
            .find(|existing| existing.starts_with(&prefix))
        {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }
}

/// The value of `name` in `env`.
pub(crate) fn env_value<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter().find_map(|entry| {
        entry
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let cwd = Path::new("/work");
        let volume = BindMount::parse_volume("./data:/data:ro", cwd).unwrap();
        assert_eq!(volume.source, Path::new("/work/./data"));
        assert_eq!(volume.target, "/data");
        assert!(volume.read_only);
        let volume = BindMount::parse_volume("/srv//out:/outputs/", cwd).unwrap();
        assert_eq!(volume.target, "/outputs");
        assert!(!volume.read_only && !volume.suid && !volume.dev);
        let volume = BindMount::parse_volume("/srv:/srv:ro,suid,dev", cwd).unwrap();
        assert!(volume.read_only && volume.suid && volume.dev);
        let volume = BindMount::parse_volume("/srv:/srv:suid,nosuid,rw", cwd).unwrap();
        assert!(!volume.read_only && !volume.suid);
        let volume = BindMount::parse_volume("data-1:/data:ro", cwd).unwrap();
        assert_eq!(volume.volume.as_deref(), Some("data-1"));
        assert!(volume.read_only);
        let mount =
            BindMount::parse_mount("type=volume,source=cache,target=/cache,readonly", cwd).unwrap();
        assert_eq!(mount.volume.as_deref(), Some("cache"));
        assert!(mount.read_only);
    }

    #[test]
    fn bad_volumes() {
        let cwd = Path::new("/work");
        let errors: Vec<String> = [
            "d:/data",
            "da$ta:/data",
            "/a:b",
            "/a:/b:rx",
            "/a",
            "/a:/../etc",
            "/a:/proc",
            "/a:/sys/kernel",
            "/a:/dev//shm",
            "/a://",
        ]
        .iter()
        .map(|spec| BindMount::parse_volume(spec, cwd).unwrap_err().to_string())
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @r"
        invalid volume `d:/data`: a volume name is letters, digits, `_`, `.` and `-`, at least two, starting with a letter or digit (a host path starts with `/` or `./`)
        invalid volume `da$ta:/data`: a volume name is letters, digits, `_`, `.` and `-`, at least two, starting with a letter or digit (a host path starts with `/` or `./`)
        invalid volume `/a:b`: the container path is not an absolute path
        invalid volume `/a:/b:rx`: unknown option `rx`; use `ro` or `rw`, `suid`, `dev`
        invalid volume `/a`: write it as HOST:CONTAINER or HOST:CONTAINER:ro
        invalid volume `/a:/../etc`: the container path has a `..` component
        invalid volume `/a:/proc`: the container path is under `/proc`, which the container's own file systems fill
        invalid volume `/a:/sys/kernel`: the container path is under `/sys`, which the container's own file systems fill
        invalid volume `/a:/dev//shm`: the container path is under `/dev`, which the container's own file systems fill
        invalid volume `/a://`: the container path is the container's root
        ");
    }

    #[test]
    fn mounts() {
        let cwd = Path::new("/work");
        let mount =
            BindMount::parse_mount("type=bind,source=/d,target=/data,readonly", cwd).unwrap();
        assert_eq!(
            mount,
            BindMount {
                source: PathBuf::from("/d"),
                target: "/data".to_string(),
                read_only: true,
                suid: false,
                dev: false,
                volume: None,
                no_copy: false,
            }
        );
        let mount = BindMount::parse_mount("type=bind,src=/d,dst=/d,suid,dev=true", cwd).unwrap();
        assert!(mount.suid && mount.dev && !mount.read_only);
        let error = BindMount::parse_mount("type=tmpfs,dst=/x", cwd).unwrap_err();
        insta::assert_snapshot!(error, @"invalid mount `type=tmpfs,dst=/x`: only `type=bind` and `type=volume` are supported, not `tmpfs`");
        let error = BindMount::parse_mount("type=bind,src=/d,dst=/proc/sys", cwd).unwrap_err();
        insta::assert_snapshot!(error, @"invalid mount `type=bind,src=/d,dst=/proc/sys`: the container path is under `/proc`, which the container's own file systems fill");
    }

    #[test]
    fn env_merging() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        merge_env(&mut env, ["A=2".to_string(), "B=3".to_string()]);
        assert_eq!(env, ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(env_value(&env, "A"), Some("2"));
        assert_eq!(env_value(&env, "PAT"), None);
    }

    #[test]
    fn env_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        fs_err::write(&path, "# comment\n\nA=1\nB=two words\n").unwrap();
        assert_eq!(parse_env_file(&path).unwrap(), ["A=1", "B=two words"]);
        fs_err::write(&path, "A=1\n=oops\n").unwrap();
        let error = parse_env_file(&path).unwrap_err().to_string();
        assert!(error.contains(":2: =oops"), "{error}");
    }

    #[test]
    fn cpus() {
        assert!((parse_cpus("1.5").unwrap() - 1.5).abs() < f64::EPSILON);
        for bad in ["0", "-1", "x", "inf"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }
}
