//! A service's values as `up` takes them: its GPUs, argv, environment, mounts, ports and
//! healthcheck, from what the file wrote (each error names the service, see `invalid`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Condition, ProjectVolume, ServiceNetwork};
use crate::compose::error::ComposeError;
use crate::compose::file;
use crate::compose::health::{Healthcheck, parse_duration};
use crate::compose::interpolate::Text;
use crate::compose::shell_words;
use crate::hardware::GpuRequest;
use crate::runtime::network::PublishedPort;
use crate::runtime::{BindMount, NetworkMode};

impl super::Builder {
    /// The GPUs a service reserves: `count: all` or none given is every GPU, `count: N` the
    /// first N, `device_ids` those devices. Only NVIDIA's (the driver mlpack injects).
    pub(super) fn gpus(&self, deploy: file::Deploy) -> Result<Option<GpuRequest>, ComposeError> {
        let devices = deploy
            .resources
            .and_then(|resources| resources.reservations)
            .map(|reservations| reservations.devices)
            .unwrap_or_default();
        let mut gpus = None;
        for device in devices {
            if !device
                .capabilities
                .iter()
                .any(|capability| capability.0 == "gpu")
            {
                return Err(self.invalid(
                    "`deploy.resources.reservations.devices`: only `capabilities: [gpu]` is supported".to_string(),
                ));
            }
            if let Some(driver) = device.driver.filter(|driver| driver.0 != "nvidia") {
                return Err(self.invalid(format!(
                    "`deploy.resources.reservations.devices`: driver `{}`: only `nvidia` is supported",
                    driver.0
                )));
            }
            let request = match (device.count, device.device_ids) {
                (Some(_), Some(_)) => {
                    return Err(self.invalid(
                        "`deploy.resources.reservations.devices`: `count` and `device_ids` exclude each other".to_string(),
                    ));
                }
                (_, Some(ids)) => GpuRequest::Devices(ids.into_iter().map(|id| id.0).collect()),
                (Some(file::DeviceCount::Number(count)), None) => GpuRequest::Count(count),
                (Some(file::DeviceCount::Text(text)), None) => {
                    text.0
                        .parse()
                        .map_err(|error: crate::hardware::HardwareError| {
                            self.invalid(format!(
                                "`deploy.resources.reservations.devices`: {error}"
                            ))
                        })?
                }
                (None, None) => GpuRequest::All,
            };
            gpus = Some(request);
        }
        Ok(gpus)
    }

    pub(super) fn command(&self, command: file::Command) -> Result<Vec<String>, ComposeError> {
        match command {
            file::Command::Exec(words) => Ok(words.into_iter().map(|word| word.0).collect()),
            file::Command::Shell(text) => shell_words::split(&text.0).map_err(|e| self.invalid(e)),
        }
    }

    /// `env_file` entries first, `environment` over them; `NAME` alone passes the host's.
    pub(super) fn environment(
        &self,
        env_file: Option<file::OneOrMany>,
        environment: Option<file::Environment>,
    ) -> Result<Vec<String>, ComposeError> {
        let mut env = Vec::new();
        let files = match env_file {
            None => Vec::new(),
            Some(file::OneOrMany::One(file)) => vec![file],
            Some(file::OneOrMany::Many(files)) => files,
        };
        for file in files {
            env.extend(crate::runtime::parse_env_file(&self.dir.join(file.0))?);
        }
        let entries: Vec<String> = match environment {
            None => Vec::new(),
            Some(file::Environment::List(entries)) => entries.into_iter().map(|e| e.0).collect(),
            Some(file::Environment::Map(map)) => map
                .into_iter()
                .map(|(name, value)| match value {
                    Some(value) => format!("{name}={}", value.0),
                    None => name,
                })
                .collect(),
        };
        for entry in entries {
            env.extend(crate::runtime::parse_env(&entry)?);
        }
        Ok(env)
    }

    pub(super) fn mount(
        &self,
        volume: file::ServiceVolume,
        volumes: &BTreeMap<String, ProjectVolume>,
    ) -> Result<BindMount, ComposeError> {
        let mut mount = match volume {
            file::ShortOrLong::Short(spec) => BindMount::parse_volume(&spec.0, &self.dir)?,
            file::ShortOrLong::Long(long) => {
                let source = long.source.map(|source| source.0).unwrap_or_default();
                let kind = long.kind.0.as_str();
                if !matches!(kind, "bind" | "volume") {
                    return Err(self.invalid(format!(
                        "volume type `{kind}` is not supported; use `bind` or `volume`"
                    )));
                }
                if long
                    .bind
                    .is_some_and(|bind| bind.create_host_path == Some(false))
                {
                    return Err(self.invalid("`bind.create_host_path: false` is not supported"));
                }
                let spec = format!(
                    "type={kind},source={source},target={},readonly={}",
                    long.target.0, long.read_only
                );
                let mut mount = BindMount::parse_mount(&spec, &self.dir)?;
                mount.no_copy = long.volume.is_some_and(|options| options.nocopy);
                mount
            }
        };
        if let Some(key) = mount.volume.clone() {
            let declared = volumes.get(&key).ok_or_else(|| {
                self.invalid(format!(
                    "volume `{key}` is not declared under the top-level `volumes`"
                ))
            })?;
            mount.volume = Some(declared.name.clone());
        }
        Ok(mount)
    }

    pub(super) fn port(&self, port: file::Port) -> Result<PublishedPort, ComposeError> {
        let spec = match port {
            file::ShortOrLong::Short(spec) => spec.0,
            file::ShortOrLong::Long(long) => {
                let published = long.published.ok_or_else(|| {
                    self.invalid(format!(
                        "port {}: give `published`; mlpack does not pick host ports",
                        long.target.0
                    ))
                })?;
                format!(
                    "{}:{}:{}/{}",
                    long.host_ip
                        .map_or_else(|| "127.0.0.1".to_string(), |ip| ip.0),
                    published.0,
                    long.target.0,
                    long.protocol
                        .map_or_else(|| "tcp".to_string(), |protocol| protocol.0)
                )
            }
        };
        Ok(spec.parse()?)
    }

    pub(super) fn service_networks(
        &self,
        networks: Option<file::ServiceNetworks>,
        mode: Option<&Text>,
    ) -> Result<(BTreeMap<String, ServiceNetwork>, Option<NetworkMode>), ComposeError> {
        let mode = match mode.map(|mode| mode.0.as_str()) {
            None => None,
            Some("host") => Some(NetworkMode::Host),
            Some("none") => Some(NetworkMode::None),
            Some(other) => {
                return Err(self.invalid(format!(
                    "`network_mode: {other}` is not supported; use `host` or `none`, or `networks`"
                )));
            }
        };
        let attached: BTreeMap<String, ServiceNetwork> = match networks {
            None => BTreeMap::new(),
            Some(file::ServiceNetworks::List(keys)) => keys
                .into_iter()
                .map(|key| (key.0, ServiceNetwork::default()))
                .collect(),
            Some(file::ServiceNetworks::Map(map)) => {
                let mut attached = BTreeMap::new();
                for (key, options) in map {
                    let options = options.unwrap_or_default();
                    let ipv4_address = options
                        .ipv4_address
                        .map(|ip| {
                            ip.0.parse().map_err(|_| {
                                self.invalid(format!("`{}` is not an IPv4 address", ip.0))
                            })
                        })
                        .transpose()?;
                    let aliases = options.aliases.into_iter().map(|alias| alias.0).collect();
                    attached.insert(
                        key,
                        ServiceNetwork {
                            aliases,
                            ipv4_address,
                        },
                    );
                }
                attached
            }
        };
        match (mode, attached.is_empty()) {
            (Some(_), false) => {
                Err(self.invalid("`network_mode` and `networks` cannot be combined"))
            }
            (Some(mode), true) => Ok((attached, Some(mode))),
            (None, true) => Ok((
                BTreeMap::from([("default".to_string(), ServiceNetwork::default())]),
                None,
            )),
            (None, false) => Ok((attached, None)),
        }
    }

    pub(super) fn depends_on(
        &self,
        depends_on: Option<file::DependsOn>,
    ) -> Result<BTreeMap<String, Condition>, ComposeError> {
        let mut dependencies = BTreeMap::new();
        match depends_on {
            None => {}
            Some(file::DependsOn::List(names)) => {
                for name in names {
                    dependencies.insert(name.0, Condition::ServiceStarted);
                }
            }
            Some(file::DependsOn::Map(map)) => {
                for (name, dependency) in map {
                    if dependency.restart == Some(true) || dependency.required == Some(false) {
                        return Err(self.invalid(format!(
                            "depends_on `{name}`: `restart: true` and `required: false` are not supported"
                        )));
                    }
                    let condition = match dependency.condition.as_ref().map(|c| c.0.as_str()) {
                        None | Some("service_started") => Condition::ServiceStarted,
                        Some("service_healthy") => Condition::ServiceHealthy,
                        Some("service_completed_successfully") => {
                            Condition::ServiceCompletedSuccessfully
                        }
                        Some(other) => {
                            return Err(self.invalid(format!(
                                "depends_on `{name}`: unknown condition `{other}`; use `service_started`, `service_healthy` or `service_completed_successfully`"
                            )));
                        }
                    };
                    dependencies.insert(name, condition);
                }
            }
        }
        Ok(dependencies)
    }

    /// `None` when disabled (`disable: true` or `test: ["NONE"]`).
    pub(super) fn healthcheck(
        &self,
        raw: file::Healthcheck,
    ) -> Result<Option<Healthcheck>, ComposeError> {
        let test = match raw.test {
            None => return Err(self.invalid("`healthcheck` needs a `test`")),
            Some(file::Command::Shell(text)) => {
                vec!["/bin/sh".to_string(), "-c".to_string(), text.0]
            }
            Some(file::Command::Exec(words)) => {
                let words: Vec<String> = words.into_iter().map(|word| word.0).collect();
                match words.split_first() {
                    Some((first, rest)) if first == "CMD" && !rest.is_empty() => rest.to_vec(),
                    Some((first, [command])) if first == "CMD-SHELL" => {
                        vec!["/bin/sh".to_string(), "-c".to_string(), command.clone()]
                    }
                    Some((first, [])) if first == "NONE" => return Ok(None),
                    _ => {
                        return Err(self.invalid(
                            "`healthcheck.test` is `[\"CMD\", ARGS...]`, `[\"CMD-SHELL\", COMMAND]`, `[\"NONE\"]` or a string",
                        ));
                    }
                }
            }
        };
        if raw.disable {
            return Ok(None);
        }
        let mut check = Healthcheck::new(test);
        let duration = |text: Option<Text>, default: Duration| {
            text.map_or(Ok(default), |text| {
                parse_duration(&text.0)
                    .map_err(|error| self.invalid(format!("`healthcheck`: {error}")))
            })
        };
        check.interval = duration(raw.interval, check.interval)?;
        check.timeout = duration(raw.timeout, check.timeout)?;
        check.start_period = duration(raw.start_period, check.start_period)?;
        check.start_interval = duration(raw.start_interval, check.start_interval)?;
        check.retries = raw.retries.unwrap_or(check.retries);
        Ok(Some(check))
    }
}

pub(super) fn key_values(labels: file::Labels) -> BTreeMap<String, String> {
    match labels {
        file::Labels::None => BTreeMap::new(),
        file::Labels::List(entries) => entries
            .into_iter()
            .map(|entry| {
                let (key, value) = entry.0.split_once('=').unwrap_or((&entry.0, ""));
                (key.to_string(), value.to_string())
            })
            .collect(),
        file::Labels::Map(map) => map.into_iter().map(|(key, value)| (key, value.0)).collect(),
    }
}
