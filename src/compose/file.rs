//! The compose file as written: the part of the Compose specification mlpack runs, each
//! mapping closed (`deny_unknown_fields`), so that a key mlpack does not know or support is
//! an error at its line instead of being ignored. Scalars are [`Text`], interpolated as
//! they are read. [`super::project`] turns this into the checked model.
//!
//! Spec: <https://github.com/compose-spec/compose-spec/blob/main/spec.md> (services,
//! networks, volumes); the supported keys are listed in the README.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::interpolate::Text;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ComposeFile {
    /// Obsolete in the specification; read and ignored, as Compose does.
    #[serde(default)]
    #[expect(dead_code, reason = "read so that the key is accepted")]
    pub(super) version: Option<Text>,
    pub(super) name: Option<Text>,
    #[serde(default)]
    pub(super) services: BTreeMap<String, Service>,
    #[serde(default)]
    pub(super) networks: BTreeMap<String, Option<Network>>,
    #[serde(default)]
    pub(super) volumes: BTreeMap<String, Option<Volume>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Service {
    pub(super) image: Option<Text>,
    pub(super) build: Option<Build>,
    pub(super) command: Option<Command>,
    pub(super) entrypoint: Option<Command>,
    pub(super) environment: Option<Environment>,
    pub(super) env_file: Option<OneOrMany>,
    #[serde(default)]
    pub(super) volumes: Vec<ServiceVolume>,
    #[serde(default)]
    pub(super) ports: Vec<Port>,
    pub(super) networks: Option<ServiceNetworks>,
    pub(super) network_mode: Option<Text>,
    pub(super) depends_on: Option<DependsOn>,
    pub(super) healthcheck: Option<Healthcheck>,
    pub(super) restart: Option<Text>,
    pub(super) working_dir: Option<Text>,
    pub(super) user: Option<Text>,
    pub(super) shm_size: Option<Text>,
    pub(super) container_name: Option<Text>,
    pub(super) hostname: Option<Text>,
    #[serde(default)]
    pub(super) labels: Labels,
    pub(super) deploy: Option<Deploy>,
}

/// `deploy:`, of which mlpack reads the GPUs a service reserves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Deploy {
    pub(super) resources: Option<Resources>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Resources {
    pub(super) reservations: Option<Reservations>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Reservations {
    #[serde(default)]
    pub(super) devices: Vec<DeviceReservation>,
}

/// One `devices:` entry: `capabilities: [gpu]` with `count` (a number or `all`) or
/// `device_ids`, as Compose's GPU support writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeviceReservation {
    pub(super) driver: Option<Text>,
    pub(super) count: Option<DeviceCount>,
    pub(super) device_ids: Option<Vec<Text>>,
    #[serde(default)]
    pub(super) capabilities: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a number of devices, or `all`")]
pub(super) enum DeviceCount {
    Number(u32),
    Text(Text),
}

/// `build: DIR` or `build: {context: DIR}`: a directory with an `mlpack.toml`.
pub(super) type Build = ShortOrLong<BuildLong>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BuildLong {
    pub(super) context: Text,
}

/// `command:` and `entrypoint:`: a string split as a shell would, or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub(super) enum Command {
    Shell(Text),
    Exec(Vec<Text>),
}

#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of `NAME=value`, or a mapping of names to values"
)]
pub(super) enum Environment {
    List(Vec<Text>),
    Map(BTreeMap<String, Option<Text>>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub(super) enum OneOrMany {
    One(Text),
    Many(Vec<Text>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged, expecting = "a list of `KEY=value`, or a mapping")]
pub(super) enum Labels {
    #[default]
    None,
    List(Vec<Text>),
    Map(BTreeMap<String, Text>),
}

/// `SOURCE:TARGET[:MODE]` or the long syntax.
pub(super) type ServiceVolume = ShortOrLong<VolumeLong>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VolumeLong {
    #[serde(rename = "type")]
    pub(super) kind: Text,
    pub(super) source: Option<Text>,
    pub(super) target: Text,
    #[serde(default)]
    pub(super) read_only: bool,
    pub(super) volume: Option<VolumeOptions>,
    pub(super) bind: Option<BindOptions>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VolumeOptions {
    /// Don't fill a new volume from the image.
    #[serde(default)]
    pub(super) nocopy: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BindOptions {
    /// Create a missing host directory (the default, as in Compose).
    pub(super) create_host_path: Option<bool>,
}

/// `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp]` or the long syntax.
pub(super) type Port = ShortOrLong<PortLong>;

/// A value with a short syntax (a scalar) and a long one (a mapping). Not an untagged enum:
/// the mapping is read by its own type, so an unknown key in it is reported as such, at its
/// line, rather than as "no variant matched".
#[derive(Debug)]
pub(super) enum ShortOrLong<T> {
    Short(Text),
    Long(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ShortOrLong<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShortOrLongVisitor(std::marker::PhantomData))
    }
}

struct ShortOrLongVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ShortOrLongVisitor<T> {
    type Value = ShortOrLong<T>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a string or a mapping")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Text::interpolated(value).map(ShortOrLong::Short)
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(ShortOrLong::Short(Text(value.to_string())))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(ShortOrLong::Short(Text(value.to_string())))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(ShortOrLong::Long)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PortLong {
    pub(super) target: Text,
    pub(super) published: Option<Text>,
    pub(super) host_ip: Option<Text>,
    pub(super) protocol: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of networks, or a mapping of networks to their options"
)]
pub(super) enum ServiceNetworks {
    List(Vec<Text>),
    Map(BTreeMap<String, Option<ServiceNetwork>>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceNetwork {
    #[serde(default)]
    pub(super) aliases: Vec<Text>,
    pub(super) ipv4_address: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of services, or a mapping of services to `condition`"
)]
pub(super) enum DependsOn {
    List(Vec<Text>),
    Map(BTreeMap<String, Dependency>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Dependency {
    pub(super) condition: Option<Text>,
    /// Compose restarts dependents when a dependency restarts; accepted when false only.
    pub(super) restart: Option<bool>,
    /// Whether the dependency must exist; accepted when true only.
    pub(super) required: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Healthcheck {
    pub(super) test: Option<Command>,
    pub(super) interval: Option<Text>,
    pub(super) timeout: Option<Text>,
    pub(super) retries: Option<u32>,
    pub(super) start_period: Option<Text>,
    pub(super) start_interval: Option<Text>,
    #[serde(default)]
    pub(super) disable: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Network {
    /// Only `bridge`.
    pub(super) driver: Option<Text>,
    /// No route out (mlpack's default for a project network; `internal: false` gives one).
    pub(super) internal: Option<bool>,
    #[serde(default)]
    pub(super) external: bool,
    pub(super) name: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Volume {
    /// Only `local`.
    pub(super) driver: Option<Text>,
    #[serde(default)]
    pub(super) external: bool,
    pub(super) name: Option<Text>,
    #[serde(default)]
    pub(super) labels: Labels,
}
