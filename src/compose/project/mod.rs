//! A compose project: the file found, read with its variables, checked as a whole and turned
//! into what `up` runs: each service's image, argv, environment, mounts (named volumes under
//! their project names), ports, networks, dependencies and healthcheck, in start order.
//!
//! Names follow Compose: the project is `-p`, else the file's `name:`, else
//! `COMPOSE_PROJECT_NAME`, else the directory's name, lowercased to `[a-z0-9_-]`; its
//! default network is `PROJECT_default`, a volume `KEY` is `PROJECT_KEY`, and a service's
//! container `PROJECT-SERVICE-1`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::ComposeError;
use super::file::{self, ComposeFile};
use super::health::Healthcheck;
use super::interpolate;
use crate::byte_size::ByteSize;
use crate::hardware::GpuRequest;
use crate::runtime::network::PublishedPort;
use crate::runtime::{BindMount, NetworkMode, RestartPolicy};

mod values;
use self::values::key_values;

/// The files looked for, in Compose's order.
pub const FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The label naming a container's project, and the one naming its service (Compose's).
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";

/// The project, ready to run.
#[derive(Debug, Clone, Serialize)]
pub struct ComposeProject {
    pub name: String,
    #[serde(skip)]
    pub file: PathBuf,
    /// The directory relative paths are taken from (the file's).
    #[serde(skip)]
    pub dir: PathBuf,
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, ProjectNetwork>,
    pub volumes: BTreeMap<String, ProjectVolume>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    #[serde(skip)]
    pub name: String,
    pub container_name: String,
    /// The image to run; for a service with `build`, the name the build tags.
    pub image: String,
    /// A directory with an `mlpack.toml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<BindMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PublishedPort>,
    /// Project network key → aliases and address; empty with `network_mode`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, ServiceNetwork>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<NetworkMode>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(serialize_with = "as_display")]
    pub restart: RestartPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `deploy.resources.reservations.devices` with `capabilities: [gpu]`, as `--gpus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<GpuRequest>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceNetwork {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<std::net::Ipv4Addr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectNetwork {
    /// The mlpack network's name.
    pub name: String,
    /// Made elsewhere: `up` neither creates nor `down` removes it.
    pub external: bool,
    /// A route out (masqueraded); off unless `internal: false`.
    pub egress: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectVolume {
    /// The mlpack volume's name.
    pub name: String,
    pub external: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn as_display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl ComposeProject {
    /// Find the file (`file`, else one of [`FILE_NAMES`] in `dir`), read it with `.env` and
    /// the environment, and check it.
    pub fn load(dir: &Path, file: Option<&Path>, name: Option<&str>) -> Result<Self, ComposeError> {
        Self::load_with(dir, file, name, &[])
    }

    /// [`ComposeProject::load`], with `defaults` for variables that neither `.env` nor the
    /// environment sets (what `mlpack train` gives its sidecars, when only checking them).
    pub fn load_with(
        dir: &Path,
        file: Option<&Path>,
        name: Option<&str>,
        defaults: &[(&str, String)],
    ) -> Result<Self, ComposeError> {
        let file = match file {
            Some(file) => dir.join(file),
            None => FILE_NAMES
                .iter()
                .map(|name| dir.join(name))
                .find(|path| path.is_file())
                .ok_or_else(|| ComposeError::NoFile {
                    dir: dir.to_path_buf(),
                    names: FILE_NAMES.map(|name| format!("`{name}`")).join(", "),
                })?,
        };
        // Absolute, so that bind sources and `env_file`s do not depend on the working
        // directory of whoever reads the containers' configs later.
        let parent = file.parent().unwrap_or(dir);
        let project_dir = fs_err::canonicalize(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        })
        .map_err(|source| crate::error::IoError::new("find", parent, source))?;
        let file = file
            .file_name()
            .map_or_else(|| file.clone(), |name| project_dir.join(name));
        let text = fs_err::read_to_string(&file)
            .map_err(|source| crate::error::IoError::new("read", &file, source))?;
        let mut variables = interpolate::project_variables(&project_dir)?;
        for (name, value) in defaults {
            variables
                .entry((*name).to_string())
                .or_insert_with(|| value.clone());
        }
        let from_env = variables.get("COMPOSE_PROJECT_NAME").cloned();
        let parsed: ComposeFile =
            interpolate::with_variables(variables, || serde_norway::from_str(&text))
                .map_err(|error| syntax_error(&file, &error))?;
        let project_name = name
            .map(str::to_string)
            .or_else(|| parsed.name.as_ref().map(|name| name.0.clone()))
            .or(from_env)
            .unwrap_or_else(|| {
                project_dir.file_name().map_or_else(
                    || "default".to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            });
        let builder = Builder {
            file: file.clone(),
            dir: project_dir.clone(),
            project: normalize_project_name(&project_name),
        };
        builder.project(parsed)
    }

    /// The services in start order: each after what it depends on.
    pub fn start_order(&self) -> Vec<&Service> {
        let mut ordered: Vec<&Service> = Vec::new();
        let mut placed = BTreeSet::new();
        // The file was checked for cycles, so each pass places at least one service.
        while placed.len() < self.services.len() {
            for service in self.services.values() {
                if !placed.contains(&service.name)
                    && service.depends_on.keys().all(|dep| placed.contains(dep))
                {
                    placed.insert(service.name.clone());
                    ordered.push(service);
                }
            }
        }
        ordered
    }

    /// `names` and everything they depend on, in start order; all services when empty.
    pub fn selected(&self, names: &[String]) -> Result<Vec<&Service>, ComposeError> {
        let mut wanted: BTreeSet<&str> = BTreeSet::new();
        let mut stack: Vec<&str> = names.iter().map(String::as_str).collect();
        while let Some(name) = stack.pop() {
            let service = self.service(name)?;
            if wanted.insert(&service.name) {
                stack.extend(service.depends_on.keys().map(String::as_str));
            }
        }
        Ok(self
            .start_order()
            .into_iter()
            .filter(|service| names.is_empty() || wanted.contains(service.name.as_str()))
            .collect())
    }

    pub fn service(&self, name: &str) -> Result<&Service, ComposeError> {
        self.services
            .get(name)
            .ok_or_else(|| ComposeError::NoService {
                name: name.to_string(),
            })
    }
}

/// `serde_norway`'s message, located: `FILE:LINE:COLUMN: MESSAGE`.
fn syntax_error(file: &Path, error: &serde_norway::Error) -> ComposeError {
    let message = error.to_string();
    let (location, message) = match error.location() {
        Some(location) => (
            format!(
                "{}:{}:{}",
                file.display(),
                location.line(),
                location.column()
            ),
            // The message ends with its own "at line L column C", said already.
            message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(text, _)| text)
                .to_string(),
        ),
        None => (file.display().to_string(), message),
    };
    ComposeError::Syntax { location, message }
}

/// Compose's rule: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
fn normalize_project_name(name: &str) -> String {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let trimmed = cleaned.trim_start_matches(['-', '_']);
    if trimmed.is_empty() {
        "default".to_string()
    } else {
        trimmed.to_string()
    }
}

struct Builder {
    file: PathBuf,
    dir: PathBuf,
    project: String,
}

impl Builder {
    fn invalid(&self, message: impl Into<String>) -> ComposeError {
        ComposeError::Invalid {
            file: self.file.clone(),
            message: message.into(),
        }
    }

    fn project(&self, parsed: ComposeFile) -> Result<ComposeProject, ComposeError> {
        let mut networks = BTreeMap::new();
        for (key, network) in parsed.networks {
            networks.insert(
                key.clone(),
                self.network(&key, network.unwrap_or_default())?,
            );
        }
        let mut volumes = BTreeMap::new();
        for (key, volume) in parsed.volumes {
            volumes.insert(key.clone(), self.volume(&key, volume.unwrap_or_default())?);
        }
        let mut services = BTreeMap::new();
        for (name, service) in parsed.services {
            let service = self
                .service(&name, service, &volumes)
                .map_err(|error| match error {
                    ComposeError::Invalid { file, message } => ComposeError::Invalid {
                        file,
                        message: format!("service `{name}`: {message}"),
                    },
                    other => other,
                })?;
            services.insert(name, service);
        }
        let used: BTreeSet<&String> = services
            .values()
            .flat_map(|service| service.networks.keys())
            .collect();
        if used.contains(&"default".to_string()) && !networks.contains_key("default") {
            networks.insert(
                "default".to_string(),
                ProjectNetwork {
                    name: format!("{}_default", self.project),
                    external: false,
                    egress: false,
                },
            );
        }
        for (name, service) in &services {
            if let Some(missing) = service
                .networks
                .keys()
                .find(|key| !networks.contains_key(*key))
            {
                return Err(self.invalid(format!(
                    "service `{name}`: network `{missing}` is not declared under the top-level `networks`"
                )));
            }
            if let Some(missing) = service
                .depends_on
                .keys()
                .find(|dep| !services.contains_key(*dep))
            {
                return Err(self.invalid(format!(
                    "service `{name}` depends on `{missing}`, which is no service of the file"
                )));
            }
        }
        let project = ComposeProject {
            name: self.project.clone(),
            file: self.file.clone(),
            dir: self.dir.clone(),
            services,
            networks,
            volumes,
        };
        self.check_cycles(&project)?;
        Ok(project)
    }

    fn check_cycles(&self, project: &ComposeProject) -> Result<(), ComposeError> {
        // Kahn's algorithm: what remains after removing every service whose dependencies are
        // all removed is on a cycle.
        let mut remaining: BTreeMap<&str, BTreeSet<&str>> = project
            .services
            .values()
            .map(|service| {
                (
                    service.name.as_str(),
                    service.depends_on.keys().map(String::as_str).collect(),
                )
            })
            .collect();
        loop {
            let ready: Vec<&str> = remaining
                .iter()
                .filter(|(_, deps)| deps.is_empty())
                .map(|(name, _)| *name)
                .collect();
            if ready.is_empty() {
                break;
            }
            for name in ready {
                remaining.remove(name);
                for deps in remaining.values_mut() {
                    deps.remove(name);
                }
            }
        }
        if remaining.is_empty() {
            Ok(())
        } else {
            let names: Vec<String> = remaining.keys().map(|name| format!("`{name}`")).collect();
            Err(self.invalid(format!(
                "`depends_on` has a cycle among {}",
                names.join(", ")
            )))
        }
    }

    /// An external network or volume is named by its key; the project's own are prefixed.
    fn default_name(&self, key: &str, external: bool) -> String {
        if external {
            key.to_string()
        } else {
            format!("{}_{key}", self.project)
        }
    }

    fn network(&self, key: &str, network: file::Network) -> Result<ProjectNetwork, ComposeError> {
        if let Some(driver) = network.driver.filter(|driver| driver.0 != "bridge") {
            return Err(self.invalid(format!(
                "network `{key}`: driver `{}` is not supported; mlpack's networks are bridges",
                driver.0
            )));
        }
        let name = network
            .name
            .map_or_else(|| self.default_name(key, network.external), |name| name.0);
        Ok(ProjectNetwork {
            name,
            external: network.external,
            egress: network.internal == Some(false),
        })
    }

    fn volume(&self, key: &str, volume: file::Volume) -> Result<ProjectVolume, ComposeError> {
        if let Some(driver) = volume.driver.filter(|driver| driver.0 != "local") {
            return Err(self.invalid(format!(
                "volume `{key}`: driver `{}` is not supported; use `local`",
                driver.0
            )));
        }
        let name = volume
            .name
            .map_or_else(|| self.default_name(key, volume.external), |name| name.0);
        Ok(ProjectVolume {
            name,
            external: volume.external,
            labels: key_values(volume.labels),
        })
    }

    fn service(
        &self,
        name: &str,
        raw: file::Service,
        volumes: &BTreeMap<String, ProjectVolume>,
    ) -> Result<Service, ComposeError> {
        let build = raw.build.map(|build| match build {
            file::ShortOrLong::Short(dir)
            | file::ShortOrLong::Long(file::BuildLong { context: dir }) => self.dir.join(dir.0),
        });
        let image = match (raw.image, &build) {
            (Some(image), _) => image.0,
            (None, Some(_)) => format!("{}-{name}", self.project),
            (None, None) => {
                return Err(ComposeError::NoImage {
                    service: name.to_string(),
                });
            }
        };
        let (networks, network_mode) =
            self.service_networks(raw.networks, raw.network_mode.as_ref())?;
        if network_mode == Some(NetworkMode::Host) && !raw.ports.is_empty() {
            return Err(self.invalid(
                "`ports` with `network_mode: host`: the container's ports are the host's already",
            ));
        }
        let mut labels = key_values(raw.labels);
        labels.insert(PROJECT_LABEL.to_string(), self.project.clone());
        labels.insert(SERVICE_LABEL.to_string(), name.to_string());
        Ok(Service {
            name: name.to_string(),
            container_name: raw
                .container_name
                .map_or_else(|| format!("{}-{name}-1", self.project), |name| name.0),
            image,
            build,
            entrypoint: raw.entrypoint.map(|c| self.command(c)).transpose()?,
            command: raw.command.map(|c| self.command(c)).transpose()?,
            environment: self.environment(raw.env_file, raw.environment)?,
            volumes: raw
                .volumes
                .into_iter()
                .map(|volume| self.mount(volume, volumes))
                .collect::<Result<_, _>>()?,
            ports: raw
                .ports
                .into_iter()
                .map(|port| self.port(port))
                .collect::<Result<_, _>>()?,
            networks,
            network_mode,
            depends_on: self.depends_on(raw.depends_on)?,
            healthcheck: raw
                .healthcheck
                .map(|h| self.healthcheck(h))
                .transpose()?
                .flatten(),
            restart: raw
                .restart
                .map(|restart| restart.0.parse())
                .transpose()
                .map_err(|error: crate::runtime::RuntimeError| self.invalid(error.to_string()))?
                .unwrap_or_default(),
            working_dir: raw.working_dir.map(|dir| dir.0),
            user: raw.user.map(|user| user.0),
            shm_size: raw
                .shm_size
                .map(|size| size.0.parse::<ByteSize>().map(ByteSize::bytes))
                .transpose()
                .map_err(|error| self.invalid(format!("`shm_size`: {error}")))?,
            hostname: raw.hostname.map(|hostname| hostname.0),
            labels,
            gpus: raw
                .deploy
                .map(|deploy| self.gpus(deploy))
                .transpose()?
                .flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn load(yaml: &str) -> Result<ComposeProject, ComposeError> {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("compose.yaml"), yaml).unwrap();
        fs_err::write(dir.path().join(".env"), "TAG=3.11\n").unwrap();
        ComposeProject::load(dir.path(), None, Some("Demo"))
    }

    #[test]
    fn services_are_normalized() {
        let project = load(
            r#"
services:
  web:
    image: "python:${TAG}"
    entrypoint: ["python3", "-m"]
    command: http.server '8000'
    environment: {A: "1", B: 2}
    ports: ["8080:8000", {target: 9000, published: "9001", host_ip: 0.0.0.0}]
    volumes: ["data:/data:ro", {type: volume, source: data, target: /cache, volume: {nocopy: true}}]
    depends_on:
      db: {condition: service_healthy}
    restart: on-failure:3
  db:
    image: busybox
    healthcheck:
      test: ["CMD-SHELL", "test -f /ready"]
      interval: 1m30s
volumes:
  data:
"#,
        )
        .unwrap();
        let order: Vec<&str> = project
            .start_order()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(order, ["db", "web"]);
        let web = &project.services["web"];
        assert_eq!(web.image, "python:3.11");
        assert_eq!(web.container_name, "demo-web-1");
        assert_eq!(web.command.as_deref().unwrap(), ["http.server", "8000"]);
        assert_eq!(web.environment, ["A=1", "B=2"]);
        assert_eq!(web.ports[1].to_string(), "9000/tcp -> 0.0.0.0:9001");
        assert_eq!(web.volumes[0].volume.as_deref(), Some("demo_data"));
        assert!(web.volumes[0].read_only && web.volumes[1].no_copy);
        assert_eq!(web.restart.to_string(), "on-failure:3");
        assert_eq!(project.networks["default"].name, "demo_default");
        let check = project.services["db"].healthcheck.as_ref().unwrap();
        assert_eq!(check.test, ["/bin/sh", "-c", "test -f /ready"]);
        assert_eq!(check.interval, Duration::from_secs(90));
    }

    #[test]
    fn gpu_reservations_become_gpu_requests() {
        let gpus = |devices: &str| {
            let yaml = format!(
                "services:\n  train:\n    image: x\n    deploy: {{resources: {{reservations: {{devices: [{devices}]}}}}}}\n"
            );
            load(&yaml).unwrap().services["train"].gpus.clone()
        };
        assert_eq!(gpus("{capabilities: [gpu]}"), Some(GpuRequest::All));
        assert_eq!(
            gpus("{driver: nvidia, count: all, capabilities: [gpu]}"),
            Some(GpuRequest::All)
        );
        assert_eq!(
            gpus("{count: 2, capabilities: [gpu]}"),
            Some(GpuRequest::Count(2))
        );
        assert_eq!(
            gpus("{device_ids: ['0', '3'], capabilities: [gpu]}"),
            Some(GpuRequest::Devices(vec!["0".to_string(), "3".to_string()]))
        );
    }

    #[test]
    fn errors_name_the_line_or_the_service() {
        let errors: Vec<String> = [
            "services:\n  web:\n    image: x\n    secrets: [token]\n",
            "services:\n  web:\n    image: x\n    deploy: {resources: {limits: {cpus: '2'}}}\n",
            "services:\n  web:\n    image: x\n    deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 1, device_ids: ['0']}]}}}\n",
            "services:\n  web:\n    image: x\n    volumes: [data:/data]\n",
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
            "services:\n  web:\n    build: {context: ., target: dev}\n",
            "services:\n  web: {}\n",
        ]
        .iter()
        .map(|yaml| {
            let text = load(yaml).unwrap_err().to_string();
            // The temporary directory's path, masked.
            text.split_once("compose.yaml")
                .map_or(text.clone(), |(_, rest)| format!("compose.yaml{rest}"))
        })
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @r"
        compose.yaml:4:5: services.web: unknown field `secrets`, expected one of `image`, `build`, `command`, `entrypoint`, `environment`, `env_file`, `volumes`, `ports`, `networks`, `network_mode`, `depends_on`, `healthcheck`, `restart`, `working_dir`, `user`, `shm_size`, `container_name`, `hostname`, `labels`, `deploy`
        compose.yaml:4:26: services.web.deploy.resources: unknown field `limits`, expected `reservations`
        compose.yaml: service `web`: `deploy.resources.reservations.devices`: `count` and `device_ids` exclude each other
        compose.yaml: service `web`: volume `data` is not declared under the top-level `volumes`
        compose.yaml: `depends_on` has a cycle among `a`, `b`
        compose.yaml:3:25: services.web.build: unknown field `target`, expected `context`
        service `web` has no `image` and no `build`
        ");
    }
}
