//! The command line: clap definitions, settings, dispatch and exit codes. No logic lives here
//! beyond turning arguments into a call of one module function and its result into output.

mod args;
mod build;
mod cluster;
mod compose;
mod container;
mod doctor;
mod export;
mod image;
mod init;
mod load;
mod lock;
mod lockfile;
mod network;
mod printer;
mod progress;
mod registry;
mod runs;
mod scan;
mod table;
mod train;
mod volume;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use self::printer::Printer;
use crate::context::Context;
pub use crate::error::UserError;
use crate::error::{Report, Result};
use crate::runtime::Containers;

/// Package a Python ML project into a reproducible container image and run its training.
#[derive(Debug, Parser)]
#[command(name = "mlpack", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: GlobalArgs,
}

#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Print one machine-readable JSON document on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Print only results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more detail on stderr. (No `-v`: `run -v` mounts a volume, as in Docker.)
    #[arg(long, global = true)]
    verbose: bool,
    /// The project directory.
    #[arg(
        short = 'C',
        long = "directory",
        global = true,
        value_name = "DIR",
        default_value = "."
    )]
    directory: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find the PyPI distributions the project's code imports.
    Scan(scan::ScanArgs),
    /// Write a commented `mlpack.toml` and a `.mlpackignore` for the project.
    Init(init::InitArgs),
    /// Resolve the project's Python packages for the image into `mlpack.lock`.
    Lock(lock::LockArgs),
    /// Show the locked packages as a dependency tree.
    Tree(lockfile::TreeArgs),
    /// Show every path from the project's requirements to a locked package.
    Why(lockfile::WhyArgs),
    /// Build the project's image into the store, without Docker.
    Build(args::BuildArgs),
    /// List the images in the store.
    Images(image::ImagesArgs),
    /// Show a container's or an image's configuration and state as JSON.
    Inspect(image::ImageArgs),
    /// Show an image's layers, their sizes and what each holds.
    History(image::ImageArgs),
    /// Give an image another name.
    Tag(image::TagArgs),
    /// Remove an image's name from the store (refused while a container uses the image).
    Rmi(image::RmiArgs),
    /// Delete what no image name, container or recorded run needs, and say how much that
    /// freed.
    Prune(image::PruneArgs),
    /// Write an image as a docker-archive or oci-archive, or the lock as a hash-pinned
    /// `requirements.txt` or a PEP 751 `pylock.toml`.
    #[command(visible_alias = "save")]
    Export(export::ExportArgs),
    /// Load images from a docker-archive or oci-archive (`docker save`, `mlpack save`).
    Load(load::LoadArgs),
    /// Push an image to a registry.
    Push(registry::PushArgs),
    /// Pull an image from a registry into the store.
    Pull(registry::PullArgs),
    /// Save credentials for a registry (checked against it first).
    Login(registry::LoginArgs),
    /// Remove the saved credentials for a registry.
    Logout(registry::LogoutArgs),
    /// Build the project's image if needed and run its `[train]` command with the datasets
    /// mounted; outputs and a run record go to `outputs/<run-id>/`.
    Train(Box<train::TrainArgs>),
    /// Make a model image: a run's training image plus its outputs, serving by default.
    Package(train::PackageArgs),
    /// Train again with a run's exact image, command and data (checked by fingerprint).
    Reproduce(train::ReproduceArgs),
    /// List the project's training runs; `runs show ID`, `runs diff A B`.
    Runs(runs::RunsArgs),
    /// Cancel a cluster run (`scancel` of its job, `kubectl delete` of its objects).
    Cancel(cluster::CancelArgs),
    /// Print a dataset's fingerprint as a run records it; with `--expect`, check it (what
    /// node 0 of a cluster run does before training).
    Fingerprint(train::FingerprintArgs),
    /// Run a command in a new container from an image, with mlpack's own runtime.
    Run(Box<container::RunArgs>),
    /// List containers.
    Ps(container::PsArgs),
    /// Print a container's output.
    Logs(container::LogsArgs),
    /// Stop running containers: SIGTERM, then SIGKILL after a grace period.
    Stop(container::StopArgs),
    /// Send a signal to running containers.
    Kill(container::KillArgs),
    /// Start a stopped container again, with the same configuration and files.
    Start(container::StartArgs),
    /// Remove containers.
    Rm(container::RmArgs),
    /// Run a command in a running container.
    Exec(container::ExecArgs),
    /// Save a container's changes as a new image.
    Commit(container::CommitArgs),
    /// Manage user networks: bridges on which containers reach each other by name.
    Network(network::NetworkArgs),
    /// List a container's published ports.
    Port(network::PortArgs),
    /// Manage named volumes: directories in the store that outlive containers.
    Volume(volume::VolumeArgs),
    /// Run several containers from a compose file (`compose.yaml`): `up`, `down`, `ps`,
    /// `logs`, `config`, `run`, `exec`, `build`, `stop`, `start`, `restart`.
    Compose(Box<compose::ComposeArgs>),
    /// Check this host and the store: kernel, namespaces, overlayfs, cgroups, GPUs,
    /// credentials, disk space and every blob's digest. Exits 1 when a check fails.
    Doctor(doctor::DoctorArgs),
}

/// How mlpack exits: documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The command did what was asked.
    Success,
    /// The user's input was wrong (a bad manifest, a missing file, a refused overwrite).
    Failure,
    /// Something unexpected failed (I/O, the network).
    Error,
    /// A container's command exited with this status (`run`, `start -a`, `exec`).
    Code(i32),
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Failure => Self::from(1),
            ExitStatus::Error => Self::from(2),
            ExitStatus::Code(code) => Self::from(u8::try_from(code).unwrap_or(255)),
        }
    }
}

/// Parse argv, run the command, and report any error with its causes and hint.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Like `docker run`, these exit with the command's status, so their own failures use
    // the statuses no ordinary command does: 125, or 126/127 when the command cannot run.
    let runs_a_command = matches!(
        cli.command,
        Command::Run(_)
            | Command::Exec(_)
            | Command::Start(_)
            | Command::Train(_)
            | Command::Reproduce(_)
    );
    let printer = Printer {
        json: cli.global.json,
        quiet: cli.global.quiet,
        verbose: cli.global.verbose,
    };
    let result = dispatch(cli.command, &cli.global.directory, printer);
    match result {
        Ok(status) => status.into(),
        Err(error) if runs_a_command => container_failure(&error).into(),
        Err(error) => report(&error).into(),
    }
}

/// Run `command`: the one place the store and the network are opened (see [`Context`]).
fn dispatch(command: Command, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let context = Context::new();
    let containers = || -> Result<Containers> { Ok(Containers::open(context.store()?)?) };
    match command {
        Command::Scan(args) => scan::run(&args, directory, &context, printer),
        Command::Init(args) => init::run(&args, directory, printer),
        Command::Lock(args) => lock::run(&args, directory, &context, printer),
        Command::Tree(args) => lockfile::tree(&args, directory, printer),
        Command::Why(args) => lockfile::why(&args, directory, printer),
        Command::Build(args) => build::run(&args, directory, &context, printer),
        Command::Images(args) => image::images(&args, context.store()?, printer),
        Command::Inspect(args) => {
            match container::inspect_container(&args.image, &containers()?, printer)? {
                Some(status) => Ok(status),
                None => image::inspect(&args, context.store()?, printer),
            }
        }
        Command::History(args) => image::history(&args, context.store()?, printer),
        Command::Tag(args) => image::tag(&args, context.store()?, printer),
        Command::Rmi(args) => image::rmi(&args, context.store()?, printer),
        Command::Prune(args) => image::prune(&args, context.store()?, printer),
        Command::Export(args) => export::run(&args, directory, &context, printer),
        Command::Load(args) => load::run(&args, context.store()?, printer),
        Command::Push(args) => registry::push(&args, &context, printer),
        Command::Pull(args) => registry::pull(&args, &context, printer),
        Command::Login(args) => registry::login(&args, &context, printer),
        Command::Logout(args) => registry::logout(&args, printer),
        Command::Train(args) => train::run(&args, directory, &context, printer),
        Command::Package(args) => train::package(&args, directory, &context, printer),
        Command::Reproduce(args) => train::reproduce(&args, directory, &context, printer),
        Command::Runs(args) => runs::run(&args, directory, printer),
        Command::Cancel(args) => cluster::cancel(&args, directory, printer),
        Command::Fingerprint(args) => train::fingerprint(&args, printer),
        Command::Run(args) => container::run(&args, &context, &containers()?, printer),
        Command::Ps(args) => container::ps(&args, &containers()?, printer),
        // A cluster run's rank when asked for one, or when no container has the name.
        Command::Logs(args)
            if args.rank.is_some()
                || (!container::exists(&context, &args.container)
                    && cluster::is_cluster_run(directory, &args.container)) =>
        {
            let rank = args.rank.unwrap_or(0);
            cluster::logs(directory, &args.container, rank, args.follow, printer)
        }
        Command::Logs(args) => container::logs(&args, &context),
        Command::Stop(args) => container::stop(&args, &containers()?, printer),
        Command::Kill(args) => container::kill(&args, &containers()?, printer),
        Command::Start(args) => container::start(&args, &containers()?, printer),
        Command::Rm(args) => container::rm(&args, &containers()?, printer),
        Command::Exec(args) => container::exec(args, &containers()?),
        Command::Commit(args) => container::commit(&args, &containers()?, printer),
        Command::Network(args) => network::run(args, printer),
        Command::Port(args) => network::port(&args, printer),
        Command::Volume(args) => volume::run(args, &containers()?, printer),
        Command::Compose(args) => compose::run(*args, directory, &context, printer),
        Command::Doctor(args) => doctor::run(&args, printer),
    }
}

fn report(error: &Report) -> ExitStatus {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {error}");
    for cause in error.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
    let mut hints = error.diagnostic().hints();
    hints.dedup();
    if !hints.is_empty() {
        let _ = writeln!(stderr);
    }
    for hint in hints {
        let _ = writeln!(stderr, "hint: {hint}");
    }
    if error.diagnostic().is_user_error() {
        ExitStatus::Failure
    } else {
        ExitStatus::Error
    }
}

/// Report an error of `run`/`exec`/`start`: Docker's 126/127 when the command could not be
/// executed, 125 for anything else.
fn container_failure(error: &Report) -> ExitStatus {
    report(error);
    ExitStatus::Code(error.diagnostic().exec_status().unwrap_or(125))
}
