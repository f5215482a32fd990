//! `mlpack compose`: Docker Compose's commands over a compose file, each parsed here and
//! handed to one function of `compose`; this file only words their events.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::args::ResolverArgs;
use super::progress::{Bars, PipelineProgress};
use super::{ExitStatus, Printer};
use crate::build::BuildOptions;
use crate::compose::{self, ComposeEvent, ComposeProject, Condition, UpOptions};
use crate::context::Context;
use crate::error::Result;
use crate::runtime::{self, Containers, ExecRequest, LogEntry, Stream};

#[derive(Debug, clap::Args)]
pub(super) struct ComposeArgs {
    /// The compose file [default: `compose.yaml`, `compose.yml`, `docker-compose.yml` or
    /// `docker-compose.yaml` in the `-C` directory].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// The project's name [default: the file's `name:`, else `COMPOSE_PROJECT_NAME`, else the
    /// file's directory's name].
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    project: Option<String>,
    #[command(subcommand)]
    command: ComposeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ComposeCommand {
    /// Create and start the services (and what they depend on), in dependency order.
    Up {
        /// Start them in the background and return once they are up.
        #[arg(short, long)]
        detach: bool,
        /// Build the images of services with `build` even when they exist.
        #[arg(long)]
        build: bool,
        /// Return once every service with a healthcheck is healthy (implies `-d`).
        #[arg(long)]
        wait: bool,
        services: Vec<String>,
    },
    /// Stop and remove the project's containers and networks.
    Down {
        /// Remove the project's named volumes too.
        #[arg(short = 'v', long)]
        volumes: bool,
    },
    /// List the project's containers.
    Ps,
    /// Print the services' output, each line after its service's name.
    Logs {
        /// Keep printing new output until the containers stop.
        #[arg(short, long)]
        follow: bool,
        services: Vec<String>,
    },
    /// Print the file as mlpack reads it: variables substituted, names settled, defaults in.
    Config,
    /// Run a one-off command in a new container of a service (its dependencies started).
    Run {
        service: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Run a command in a service's running container.
    Exec {
        service: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Build the images of services with `build` (a directory with an `mlpack.toml`).
    Build {
        services: Vec<String>,
        #[command(flatten)]
        resolver: ResolverArgs,
    },
    /// Pull the images of services that build none, from their registries.
    Pull { services: Vec<String> },
    /// Stop the services' containers.
    Stop { services: Vec<String> },
    /// Start the services' stopped containers again.
    Start { services: Vec<String> },
    /// Stop the services' containers and start them again.
    Restart { services: Vec<String> },
}

pub(super) fn run(
    args: ComposeArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let project = ComposeProject::load(directory, args.file.as_deref(), args.project.as_deref())?;
    let containers = Containers::open(context.store()?)?;
    let mut events = |event: ComposeEvent<'_>| report(event, printer);
    match args.command {
        ComposeCommand::Up {
            detach,
            build,
            wait,
            services,
        } => {
            let options = UpOptions {
                services,
                build,
                wait,
            };
            compose::up(&project, &containers, &options, &mut events)?;
            if !detach && !wait {
                compose::logs(
                    &project,
                    &containers,
                    &options.services,
                    true,
                    &mut print_line,
                )?;
            }
        }
        ComposeCommand::Down { volumes } => {
            compose::down(&project, &containers, volumes, &mut events)?;
        }
        ComposeCommand::Ps => ps(&project, &containers, printer)?,
        ComposeCommand::Logs { follow, services } => {
            compose::logs(&project, &containers, &services, follow, &mut print_line)?;
        }
        ComposeCommand::Config => {
            printer.result(&serde_norway::to_string(&project).map_err(std::io::Error::other)?)?;
        }
        ComposeCommand::Run { service, command } => {
            let code = compose::run_one_off(&project, &containers, &service, command, &mut events)?;
            return Ok(ExitStatus::Code(code));
        }
        ComposeCommand::Exec { service, command } => {
            let container = containers.find(&project.service(&service)?.container_name)?;
            let request = ExecRequest {
                command,
                ..ExecRequest::default()
            };
            return Ok(ExitStatus::Code(runtime::exec(&container, &request)?));
        }
        ComposeCommand::Build { services, resolver } => {
            let options = BuildOptions {
                lock: resolver.settings(false, &[]),
                ..BuildOptions::default()
            };
            let progress = PipelineProgress::new(printer, false);
            let built = compose::build_services(context, &project, &services, &options, &progress);
            progress.finish();
            for report in built? {
                printer.status(&format!(
                    "Built `{}` ({}) in {:.2}s",
                    report.reference, report.manifest_digest, report.seconds
                ));
            }
        }
        ComposeCommand::Pull { services } => {
            let progress = Bars::new(printer);
            let pulled = compose::pull_services(context, &project, &services, &progress);
            progress.clear();
            for (name, report) in pulled? {
                printer.status(&format!("Pulled `{name}` ({})", report.manifest_digest));
            }
        }
        ComposeCommand::Stop { services } => {
            compose::stop(&project, &containers, &services, &mut events)?;
        }
        ComposeCommand::Start { services } => {
            compose::start(&project, &containers, &services, &mut events)?;
        }
        ComposeCommand::Restart { services } => {
            compose::stop(&project, &containers, &services, &mut events)?;
            compose::start(&project, &containers, &services, &mut events)?;
        }
    }
    Ok(ExitStatus::Success)
}

fn report(event: ComposeEvent<'_>, printer: Printer) {
    let line = match event {
        ComposeEvent::Building { services } => format!("Building {}", services.join(", ")),
        ComposeEvent::Pulling { services } => format!("Pulling {}", services.join(", ")),
        ComposeEvent::NetworkCreated { name } => format!("Network {name}  Created"),
        ComposeEvent::VolumeCreated { name } => format!("Volume {name}  Created"),
        ComposeEvent::Created { container } => format!("Container {container}  Created"),
        ComposeEvent::Started { container } => format!("Container {container}  Started"),
        ComposeEvent::Running { container } => format!("Container {container}  Running"),
        ComposeEvent::Waiting { service, condition } => {
            format!("Service {service}  Waiting ({})", condition_text(condition))
        }
        ComposeEvent::Ready { service, condition } => {
            format!("Service {service}  {}", condition_text(condition))
        }
        ComposeEvent::Logs { service, text } => {
            let mut lines = format!("Last output of {service}:");
            for line in text.lines() {
                let _ = write!(lines, "\n{service}  | {line}");
            }
            lines
        }
        ComposeEvent::Stopped { container } => format!("Container {container}  Stopped"),
        ComposeEvent::Removed { container } => format!("Container {container}  Removed"),
        ComposeEvent::NetworkRemoved { name } => format!("Network {name}  Removed"),
        ComposeEvent::VolumeRemoved { name } => format!("Volume {name}  Removed"),
    };
    // A failed service's output is part of the error, so it shows even with `--quiet`.
    if matches!(event, ComposeEvent::Logs { .. }) {
        let _ = writeln!(std::io::stderr(), "{line}");
    } else {
        printer.status(&line);
    }
}

fn condition_text(condition: Condition) -> &'static str {
    match condition {
        Condition::ServiceStarted => "started",
        Condition::ServiceHealthy => "healthy",
        Condition::ServiceCompletedSuccessfully => "completed successfully",
    }
}

fn print_line(service: &str, entry: &LogEntry) {
    let line = format!("{service}  | {}", entry.log);
    let _ = match entry.stream {
        Stream::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
        Stream::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
    };
}

fn ps(project: &ComposeProject, containers: &Containers, printer: Printer) -> Result<()> {
    let found = compose::project_containers(project, containers)?;
    if printer.json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .map(|container| {
                serde_json::json!({
                    "name": container.config.name,
                    "service": container.config.labels.get(compose::SERVICE_LABEL),
                    "status": container.status(),
                    "exit_code": container.state.exit_code,
                    "ports": container.config.ports,
                })
            })
            .collect();
        printer.json(&rows)?;
        return Ok(());
    }
    let mut rows = vec![
        ["NAME", "SERVICE", "STATUS", "PORTS"]
            .map(String::from)
            .to_vec(),
    ];
    for container in &found {
        rows.push(vec![
            container.config.name.clone(),
            container
                .config
                .labels
                .get(compose::SERVICE_LABEL)
                .cloned()
                .unwrap_or_default(),
            container.status_text(),
            super::table::ports(&container.config.ports),
        ]);
    }
    printer.result(&super::table::render(&rows, &[]))?;
    Ok(())
}
