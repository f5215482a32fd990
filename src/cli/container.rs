//! Container commands with Docker's flags: `run`, `ps`, `logs`, `stop`, `kill`, `start`,
//! `rm`, `exec`, `commit`, and `inspect` of a container.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Result;

use super::{ExitStatus, Printer, UserError};
use crate::byte_size::ByteSize;
use crate::context::Context;
use crate::hardware::GpuRequest;
use crate::oci::Store;
use crate::runtime::network::{Attachment, PublishedPort};
use crate::runtime::{
    self, Attach, BindMount, Container, Containers, ExecRequest, Limits, LogReader, NetworkMode,
    RunRequest, Seccomp, Status, Stream,
};

#[derive(Debug, clap::Args)]
#[expect(clippy::struct_excessive_bools, reason = "Docker's flags")]
pub(super) struct RunArgs {
    /// Remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Run in the background and print the container ID.
    #[arg(short, long)]
    detach: bool,
    /// Keep stdin open and pass it to the command.
    #[arg(short, long)]
    interactive: bool,
    /// Give the command a terminal.
    #[arg(short, long)]
    tty: bool,
    /// A name for the container (default: the image's name and part of the ID).
    #[arg(long)]
    name: Option<String>,
    /// Bind-mount a host path: `HOST:CONTAINER[:OPTIONS]`, options `ro` or `rw`, `suid`,
    /// `dev` (binds are `nosuid,nodev` unless asked).
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:OPTIONS]")]
    volumes: Vec<String>,
    /// Bind-mount a host path: `type=bind,source=HOST,target=CONTAINER[,readonly][,suid][,dev]`.
    #[arg(long = "mount", value_name = "SPEC")]
    mounts: Vec<String>,
    /// Set an environment variable: `NAME=value`, or `NAME` to pass the host's value.
    #[arg(short, long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Read environment variables from a file, one `NAME=value` per line.
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// The working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// The user: `NAME`, `UID`, `NAME:GROUP` or `UID:GID`.
    #[arg(short, long)]
    user: Option<String>,
    /// Replace the image's entrypoint (`""` clears it).
    #[arg(long)]
    entrypoint: Option<String>,
    /// `host` (the default), `none` (loopback only), or a user network's name (`mlpack
    /// network create`).
    #[arg(long)]
    network: Option<String>,
    /// Another name for the container on its user network.
    #[arg(long = "network-alias", value_name = "NAME")]
    network_aliases: Vec<String>,
    /// The container's address on its user network (default: the first free one).
    #[arg(long)]
    ip: Option<std::net::Ipv4Addr>,
    /// Publish a container port on the host: `[IP:]HOST_PORT:CONTAINER_PORT[/tcp]`; the host
    /// address is 127.0.0.1 unless given.
    #[arg(short = 'p', long = "publish", value_name = "[IP:]HOST:CONTAINER")]
    publish: Vec<String>,
    /// The container's hostname.
    #[arg(long)]
    hostname: Option<String>,
    /// The size of `/dev/shm` (default: half the host's memory).
    #[arg(long, value_name = "SIZE")]
    shm_size: Option<ByteSize>,
    /// A memory limit, like `4g`.
    #[arg(short, long, value_name = "SIZE")]
    memory: Option<ByteSize>,
    /// A CPU limit, like `1.5`.
    #[arg(long)]
    cpus: Option<String>,
    /// GPUs to pass in: `all`, a count, or `device=0,1`.
    #[arg(long)]
    gpus: Option<GpuRequest>,
    /// `seccomp=unconfined`, `seccomp=FILE` (a profile in Docker's JSON format), or
    /// `no-new-privileges` (always on).
    #[arg(long = "security-opt", value_name = "OPTION")]
    security_opts: Vec<String>,
    /// Restart the command when it exits, with `-d`: `no`, `on-failure[:N]`, `always`,
    /// `unless-stopped` (`stop`, `kill` and `rm -f` end it).
    #[arg(long, default_value = "no")]
    restart: runtime::RestartPolicy,
    /// A label on the container, `KEY=VALUE`.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// When to pull the image from its registry first: `missing` (when the store lacks it),
    /// `always`, or `never`.
    #[arg(long, value_enum, default_value = "missing")]
    pull: PullPolicy,
    /// The image: `NAME[:TAG]` or a digest.
    image: String,
    /// The command and its arguments (default: the image's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// `run --pull`, as Docker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PullPolicy {
    Missing,
    Always,
    Never,
}

#[derive(Debug, clap::Args)]
pub(super) struct PsArgs {
    /// Show stopped containers too.
    #[arg(short, long)]
    all: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct LogsArgs {
    /// Keep printing new output until the container stops.
    #[arg(short, long)]
    pub(super) follow: bool,
    /// Start from the last N lines.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
    /// Prefix each line with its time.
    #[arg(short, long)]
    timestamps: bool,
    /// A cluster run's rank whose log to show (`mlpack logs RUN --rank 1`) [default: 0].
    #[arg(long, value_name = "K")]
    pub(super) rank: Option<u32>,
    /// A container, or a cluster run of the project.
    pub(super) container: String,
}

#[derive(Debug, clap::Args)]
pub(super) struct StopArgs {
    /// Seconds to wait after SIGTERM before SIGKILL.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    time: u64,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(super) struct KillArgs {
    /// The signal to send.
    #[arg(short, long, default_value = "SIGKILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(super) struct StartArgs {
    /// Attach to its output and return its exit status.
    #[arg(short, long)]
    attach: bool,
    container: String,
}

#[derive(Debug, clap::Args)]
pub(super) struct RmArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(super) struct ExecArgs {
    /// Keep stdin open and pass it to the command.
    #[arg(short, long)]
    interactive: bool,
    /// Give the command a terminal.
    #[arg(short, long)]
    tty: bool,
    /// Set an environment variable.
    #[arg(short, long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// The working directory.
    #[arg(short, long)]
    workdir: Option<String>,
    /// The user.
    #[arg(short, long)]
    user: Option<String>,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(super) struct CommitArgs {
    container: String,
    /// The new image's `NAME[:TAG]`.
    reference: String,
    /// Change the config with a Dockerfile instruction: `LABEL key=value` or `CMD [...]`.
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    changes: Vec<String>,
}

pub(super) fn run(
    args: &RunArgs,
    context: &Context,
    containers: &Containers,
    printer: Printer,
) -> Result<ExitStatus> {
    let request = run_request(args)?;
    pull_for_run(args, context, printer)?;
    let mut container = runtime::create(containers, request)?;
    if args.detach {
        if let Err(error) = runtime::run_detached(containers, &mut container) {
            let _ = containers.remove(&container);
            return Err(error.into());
        }
        if printer.json {
            printer
                .json(&serde_json::json!({"id": container.id(), "name": container.config.name}))?;
        } else {
            printer.result(&format!("{}\n", container.id()))?;
        }
        return Ok(ExitStatus::Success);
    }
    match runtime::run(containers, &mut container, Attach::Foreground) {
        Ok(code) => Ok(ExitStatus::Code(code)),
        Err(error) => {
            let _ = containers.remove(&container);
            Err(error.into())
        }
    }
}

/// Pull the image as `--pull` asks, so that `run` of a registry image the store lacks starts
/// it, as `docker run` does. The pull is a child `mlpack pull` (each layer unpacked as it
/// arrives, progress on stderr): its network runtime's threads then never share this process
/// with the container supervisor, which waits for `SIGCHLD` through a signalfd and so needs
/// the signal blocked in every thread.
fn pull_for_run(args: &RunArgs, context: &Context, printer: Printer) -> Result<()> {
    let store = context.store()?;
    let missing = match store.resolve(&args.image) {
        Ok(_) => false,
        Err(crate::oci::OciError::ImageNotFound { .. }) => true,
        Err(error) => return Err(error.into()),
    };
    let pull = match args.pull {
        PullPolicy::Always => true,
        PullPolicy::Missing => missing,
        PullPolicy::Never => false,
    };
    if !pull {
        return Ok(());
    }
    if missing {
        printer.status(&format!(
            "Unable to find image `{}` in the store; pulling it",
            args.image
        ));
    }
    let exe = std::env::current_exe()?;
    let mut pull = std::process::Command::new(exe);
    pull.env(crate::oci::MLPACK_HOME, store.root())
        .args(printer.quiet.then_some("--quiet"))
        .args(["pull", &args.image])
        .stdin(std::process::Stdio::null())
        .stdout(std::io::stderr());
    if pull.status()?.success() {
        return Ok(());
    }
    let message = if missing {
        format!(
            "no image `{}` in the store, and pulling it failed (the pull's error is above)",
            args.image
        )
    } else {
        format!(
            "pulling `{}` failed (the pull's error is above)",
            args.image
        )
    };
    Err(UserError::new(message)
        .hint("build it with `mlpack build`, load it with `mlpack load`, check the name with `mlpack images`, or run what the store has with `--pull never`")
        .into())
}

fn run_request(args: &RunArgs) -> Result<RunRequest> {
    let cwd = std::env::current_dir()?;
    let mut mounts = Vec::new();
    for volume in &args.volumes {
        mounts.push(BindMount::parse_volume(volume, &cwd)?);
    }
    for mount in &args.mounts {
        mounts.push(BindMount::parse_mount(mount, &cwd)?);
    }
    let mut env = Vec::new();
    for file in &args.env_files {
        env.extend(runtime::parse_env_file(file)?);
    }
    for entry in &args.env {
        env.extend(runtime::parse_env(entry)?);
    }
    let mut seccomp = Seccomp::Default;
    for spec in &args.security_opts {
        if let Some(chosen) =
            Seccomp::from_security_opt(spec, &cwd).map_err(runtime::RuntimeError::from)?
        {
            seccomp = chosen;
        }
    }
    let (network, networks) = run_networks(args)?;
    let ports = args
        .publish
        .iter()
        .map(|spec| spec.parse::<PublishedPort>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunRequest {
        image: args.image.clone(),
        command: args.command.clone(),
        entrypoint: args.entrypoint.clone(),
        name: args.name.clone(),
        env,
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        mounts,
        network,
        networks,
        ports,
        hostname: args.hostname.clone(),
        shm_size: args.shm_size.map(ByteSize::bytes),
        limits: Limits {
            memory: args.memory.map(ByteSize::bytes),
            cpus: args.cpus.as_deref().map(runtime::parse_cpus).transpose()?,
        },
        seccomp,
        gpus: args.gpus.clone(),
        tty: args.tty,
        interactive: args.interactive,
        auto_remove: args.rm,
        restart: args.restart,
        labels: args
            .labels
            .iter()
            .map(|label| {
                let (key, value) = label.split_once('=').unwrap_or((label, ""));
                (key.to_string(), value.to_string())
            })
            .collect(),
    })
}

/// `--network`: `host`, `none`, or a user network with its alias and address.
fn run_networks(args: &RunArgs) -> Result<(Option<NetworkMode>, Vec<Attachment>)> {
    let mode = match args.network.as_deref() {
        None => None,
        Some("host") => Some(NetworkMode::Host),
        Some("none") => Some(NetworkMode::None),
        Some(name) => {
            return Ok((
                None,
                vec![Attachment {
                    network: name.to_string(),
                    aliases: args.network_aliases.clone(),
                    ip: args.ip,
                }],
            ));
        }
    };
    if !args.network_aliases.is_empty() || args.ip.is_some() {
        return Err(
            super::UserError::new("`--network-alias` and `--ip` need a user network")
                .hint("add `--network NAME`; `mlpack network create NAME` makes one")
                .into(),
        );
    }
    Ok((mode, Vec::new()))
}

pub(super) fn ps(args: &PsArgs, containers: &Containers, printer: Printer) -> Result<ExitStatus> {
    let listed: Vec<Container> = containers
        .list()?
        .into_iter()
        .rev()
        .filter(|container| args.all || container.status() == Status::Running)
        .collect();
    if printer.json {
        let mut rows = Vec::new();
        for container in &listed {
            rows.push(summary(containers.store(), container)?);
        }
        printer.json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    if printer.quiet {
        let mut ids = String::new();
        for container in &listed {
            let _ = writeln!(ids, "{}", container.id().short());
        }
        printer.result(&ids)?;
        return Ok(ExitStatus::Success);
    }
    let now = jiff::Timestamp::now();
    let mut rows = vec![
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NETWORKS",
            "NAMES",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for container in &listed {
        let config = &container.config;
        let image = config.image.reference.clone().unwrap_or_else(|| {
            let hex = config.image.digest.trim_start_matches("sha256:");
            hex[..hex.len().min(12)].to_string()
        });
        rows.push(vec![
            container.id().short().to_string(),
            truncate(&image, 24),
            truncate(&format!("\"{}\"", config.command.join(" ")), 24),
            super::table::ago(&config.created, now),
            container.status_text(),
            super::table::ports(&config.ports),
            runtime::network::endpoints_of(containers.store(), container.id().as_str())?
                .iter()
                .map(|(network, endpoint)| format!("{network}:{}", endpoint.address))
                .collect::<Vec<_>>()
                .join(", "),
            config.name.clone(),
        ]);
    }
    let text = super::table::render(&rows, &[]);
    printer.result(&text)?;
    Ok(ExitStatus::Success)
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width - 1).collect();
    format!("{kept}…")
}

fn summary(store: &Store, container: &Container) -> Result<serde_json::Value> {
    Ok(serde_json::json!({
        "id": container.id(),
        "name": container.config.name,
        "image": container.config.image.reference,
        "image_digest": container.config.image.digest,
        "command": container.config.command,
        "created": container.config.created,
        "status": container.status(),
        "exit_code": container.state.exit_code,
        "networks": networks_json(store, container)?,
        "ports": container.config.ports,
    }))
}

/// A container's user networks: name → address, aliases, interface.
fn networks_json(store: &Store, container: &Container) -> Result<serde_json::Value> {
    let mut networks = serde_json::Map::new();
    for (name, endpoint) in runtime::network::endpoints_of(store, container.id().as_str())? {
        networks.insert(name, serde_json::to_value(endpoint)?);
    }
    Ok(serde_json::Value::Object(networks))
}

/// Whether a container has this name or ID (prefix).
pub(super) fn exists(context: &crate::context::Context, name: &str) -> bool {
    context
        .store()
        .ok()
        .and_then(|store| Containers::open(store).ok())
        .is_some_and(|containers| containers.find(name).is_ok())
}

pub(super) fn logs(args: &LogsArgs, context: &crate::context::Context) -> Result<ExitStatus> {
    let containers = Containers::open(context.store()?)?;
    let mut container = containers.find(&args.container)?;
    let mut reader = LogReader::open(&container.log_path())?;
    let mut entries = reader.read_new()?;
    if let Some(tail) = args.tail {
        entries.drain(..entries.len().saturating_sub(tail));
    }
    print_entries(&entries, args.timestamps);
    if !args.follow {
        return Ok(ExitStatus::Success);
    }
    loop {
        let running = container.is_running();
        std::thread::sleep(Duration::from_millis(50));
        print_entries(&reader.read_new()?, args.timestamps);
        if !running {
            break;
        }
        container.reload()?;
    }
    Ok(ExitStatus::Success)
}

fn print_entries(entries: &[runtime::LogEntry], timestamps: bool) {
    let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr().lock());
    for entry in entries {
        let out: &mut dyn std::io::Write = match entry.stream {
            Stream::Stdout => &mut stdout,
            Stream::Stderr => &mut stderr,
        };
        if timestamps {
            let _ = write!(out, "{} ", entry.time);
        }
        let _ = out.write_all(entry.log.as_bytes());
    }
    let _ = stdout.flush();
}

pub(super) fn stop(
    args: &StopArgs,
    containers: &Containers,
    printer: Printer,
) -> Result<ExitStatus> {
    for name in &args.containers {
        let mut container = containers.find(name)?;
        runtime::stop(&mut container, Duration::from_secs(args.time))?;
        printer.result(&format!("{name}\n"))?;
    }
    Ok(ExitStatus::Success)
}

pub(super) fn kill(
    args: &KillArgs,
    containers: &Containers,
    printer: Printer,
) -> Result<ExitStatus> {
    let name = args.signal.to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    let signal = name
        .parse::<nix::sys::signal::Signal>()
        .or_else(|_| {
            args.signal
                .parse::<i32>()
                .map_err(|_| nix::Error::EINVAL)
                .and_then(nix::sys::signal::Signal::try_from)
        })
        .map_err(|_| {
            super::UserError::new(format!("unknown signal `{}`", args.signal))
                .hint("write a name like `SIGTERM` or `TERM`, or a number like `15`")
        })?;
    for container_name in &args.containers {
        let container = containers.find(container_name)?;
        if !container.is_running() {
            return Err(runtime::RuntimeError::WrongStatus {
                name: container.config.name.clone(),
                status: container.status().to_string(),
                action: "kill",
                wanted: "running",
            }
            .into());
        }
        runtime::signal(&container, signal)?;
        printer.result(&format!("{container_name}\n"))?;
    }
    Ok(ExitStatus::Success)
}

pub(super) fn start(
    args: &StartArgs,
    containers: &Containers,
    printer: Printer,
) -> Result<ExitStatus> {
    let mut container = containers.find(&args.container)?;
    if container.is_running() {
        return Ok(ExitStatus::Success);
    }
    if args.attach {
        let code = runtime::run(containers, &mut container, Attach::Foreground)?;
        return Ok(ExitStatus::Code(code));
    }
    runtime::run_detached(containers, &mut container)?;
    printer.result(&format!("{}\n", args.container))?;
    Ok(ExitStatus::Success)
}

pub(super) fn rm(args: &RmArgs, containers: &Containers, printer: Printer) -> Result<ExitStatus> {
    for name in &args.containers {
        let mut container = containers.find(name)?;
        runtime::remove(containers, &mut container, args.force)?;
        printer.result(&format!("{name}\n"))?;
    }
    Ok(ExitStatus::Success)
}

pub(super) fn exec(args: ExecArgs, containers: &Containers) -> Result<ExitStatus> {
    let container = containers.find(&args.container)?;
    let mut env = Vec::new();
    for entry in &args.env {
        env.extend(runtime::parse_env(entry)?);
    }
    let code = runtime::exec(
        &container,
        &ExecRequest {
            command: args.command,
            env,
            workdir: args.workdir,
            user: args.user,
            tty: args.tty,
            interactive: args.interactive,
        },
    )?;
    Ok(ExitStatus::Code(code))
}

pub(super) fn commit(
    args: &CommitArgs,
    containers: &Containers,
    printer: Printer,
) -> Result<ExitStatus> {
    let container = containers.find(&args.container)?;
    let changes = args
        .changes
        .iter()
        .map(|change| change.parse())
        .collect::<Result<Vec<runtime::ConfigChange>, _>>()?;
    let reference = crate::oci::ImageReference::parse_name(&args.reference)?;
    let descriptor = runtime::commit(containers.store(), &container, &reference, &changes)?;
    if printer.json {
        printer.json(&serde_json::json!({"reference": args.reference, "digest": descriptor.digest().to_string()}))?;
    } else {
        printer.result(&format!("{}\n", descriptor.digest()))?;
    }
    Ok(ExitStatus::Success)
}

/// `inspect NAME`: a container if one has that name or ID, else an image.
pub(super) fn inspect_container(
    name: &str,
    containers: &Containers,
    printer: Printer,
) -> Result<Option<ExitStatus>> {
    let container = match containers.find(name) {
        Ok(container) => container,
        Err(runtime::RuntimeError::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    printer.json(&serde_json::json!({
        "id": container.id(),
        "name": container.config.name,
        "status": container.status(),
        "config": container.config,
        "state": container.state,
        "networks": networks_json(containers.store(), &container)?,
        "dir": container.dir,
    }))?;
    Ok(Some(ExitStatus::Success))
}
