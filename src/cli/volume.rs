//! `mlpack volume create|ls|inspect|rm|prune`: Docker's commands, each parsed here and handed
//! to one function of `runtime::volume`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{ExitStatus, Printer};
use crate::error::Result;
use crate::runtime::Containers;
use crate::runtime::volume::{self, Volume};

#[derive(Debug, clap::Args)]
pub(super) struct VolumeArgs {
    #[command(subcommand)]
    command: VolumeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum VolumeCommand {
    /// Create a named volume (an existing one is left as it is).
    Create {
        /// A label, `KEY=VALUE`.
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        name: String,
    },
    /// List the volumes.
    #[command(visible_alias = "list")]
    Ls,
    /// Show volumes as JSON, with their directory on the host.
    Inspect {
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove volumes and their data (refused while a container mounts one).
    #[command(visible_alias = "remove")]
    Rm {
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove every volume no container mounts.
    Prune,
}

pub(super) fn run(
    args: VolumeArgs,
    containers: &Containers,
    printer: Printer,
) -> Result<ExitStatus> {
    let store = containers.store();
    match args.command {
        VolumeCommand::Create { labels, name } => {
            let labels: BTreeMap<String, String> = labels
                .iter()
                .map(|label| {
                    let (key, value) = label.split_once('=').unwrap_or((label, ""));
                    (key.to_string(), value.to_string())
                })
                .collect();
            let created = volume::create_volume(store, &name, &labels)?;
            printer.result(&format!("{}\n", created.name))?;
        }
        VolumeCommand::Ls => list(&volume::list_volumes(store)?, printer)?,
        VolumeCommand::Inspect { volumes } => {
            let found = volumes
                .iter()
                .map(|name| volume::find_volume(store, name))
                .collect::<Result<Vec<Volume>, _>>()?;
            printer.json(&found)?;
        }
        VolumeCommand::Rm { volumes } => {
            for name in volumes {
                volume::remove_volume(containers, &name)?;
                printer.result(&format!("{name}\n"))?;
            }
        }
        VolumeCommand::Prune => {
            let lock = store.lock()?;
            let mut text = String::new();
            for name in volume::prune_volumes(containers, &lock)? {
                let _ = writeln!(text, "{name}");
            }
            printer.result(&text)?;
        }
    }
    Ok(ExitStatus::Success)
}

fn list(volumes: &[Volume], printer: Printer) -> Result<()> {
    if printer.json {
        printer.json(&volumes)?;
        return Ok(());
    }
    let mut rows = vec![["DRIVER", "VOLUME NAME"].map(String::from).to_vec()];
    for volume in volumes {
        rows.push(vec!["local".to_string(), volume.name.clone()]);
    }
    printer.result(&super::table::render(&rows, &[]))?;
    Ok(())
}
