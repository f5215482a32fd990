//! `mlpack network create|ls|inspect|connect|disconnect|rm|prune` and `mlpack port`: Docker's
//! commands, each parsed here and handed to one function of `runtime::network`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::{ExitStatus, Printer};
use crate::error::Result;
use crate::oci::Store;
use crate::runtime::Containers;
use crate::runtime::network::{self, Attachment, Network, NetworkRequest};

#[derive(Debug, clap::Args)]
pub(super) struct NetworkArgs {
    #[command(subcommand)]
    command: NetworkCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NetworkCommand {
    /// Create a user network: a bridge whose containers reach each other by name, and
    /// nothing outside it unless `--egress` is given.
    Create(CreateArgs),
    /// List the networks.
    #[command(visible_alias = "list")]
    Ls,
    /// Show networks as JSON, with their containers' addresses.
    Inspect {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Put a container on a network (at once if it runs, else at its next start).
    Connect(ConnectArgs),
    /// Take a container off a network.
    Disconnect { network: String, container: String },
    /// Remove networks (refused while a container is on one).
    #[command(visible_alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove every network no container is on.
    Prune,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The subnet, like `10.90.0.0/24` (default: the first free `10.89.N.0/24`).
    #[arg(long, value_name = "CIDR")]
    subnet: Option<network::Subnet>,
    /// No route out of the network (the default).
    #[arg(long, conflicts_with = "egress")]
    internal: bool,
    /// Let containers reach beyond the network, masqueraded through the host (nftables).
    #[arg(long)]
    egress: bool,
    name: String,
}

#[derive(Debug, clap::Args)]
struct ConnectArgs {
    /// Another name for the container on this network.
    #[arg(long = "alias", value_name = "NAME")]
    aliases: Vec<String>,
    /// The container's address (default: the first free one).
    #[arg(long)]
    ip: Option<Ipv4Addr>,
    network: String,
    container: String,
}

#[derive(Debug, clap::Args)]
pub(super) struct PortArgs {
    container: String,
}

pub(super) fn run(args: NetworkArgs, printer: Printer) -> Result<ExitStatus> {
    let store = Store::open_default()?;
    match args.command {
        NetworkCommand::Create(args) => {
            let created = network::create_network(
                &store,
                &NetworkRequest {
                    name: args.name,
                    subnet: args.subnet,
                    egress: args.egress && !args.internal,
                },
            )?;
            printer.result(&format!("{}\n", created.id))?;
        }
        NetworkCommand::Ls => list(&network::list_networks(&store)?, printer)?,
        NetworkCommand::Inspect { networks } => {
            let found = networks
                .iter()
                .map(|name| network::find_network(&store, name))
                .collect::<Result<Vec<Network>, _>>()?;
            printer.json(&found)?;
        }
        NetworkCommand::Connect(args) => {
            let containers = Containers::open(&store)?;
            let container = containers.find(&args.container)?;
            let attachment = Attachment {
                network: args.network,
                aliases: args.aliases,
                ip: args.ip,
            };
            network::connect(&containers, &container, &attachment)?;
        }
        NetworkCommand::Disconnect { network, container } => {
            let containers = Containers::open(&store)?;
            let container = containers.find(&container)?;
            network::disconnect(&containers, &container, &network)?;
        }
        NetworkCommand::Rm { networks } => {
            for name in networks {
                network::remove_network(&store, &name)?;
                printer.result(&format!("{name}\n"))?;
            }
        }
        NetworkCommand::Prune => {
            let mut text = String::new();
            for name in network::prune_networks(&store)? {
                let _ = writeln!(text, "{name}");
            }
            printer.result(&text)?;
        }
    }
    Ok(ExitStatus::Success)
}

fn list(networks: &[Network], printer: Printer) -> Result<()> {
    if printer.json {
        printer.json(&networks)?;
        return Ok(());
    }
    let mut rows = vec![
        ["NETWORK ID", "NAME", "SUBNET", "EGRESS", "CONTAINERS"]
            .map(String::from)
            .to_vec(),
    ];
    for network in networks {
        rows.push(vec![
            network.id[..12].to_string(),
            network.name.clone(),
            network.subnet.to_string(),
            if network.egress { "yes" } else { "no" }.to_string(),
            network.endpoints.len().to_string(),
        ]);
    }
    printer.result(&super::table::render(&rows, &[4]))?;
    Ok(())
}

/// `port CONTAINER`: its published ports, as `docker port` prints them.
pub(super) fn port(args: &PortArgs, printer: Printer) -> Result<ExitStatus> {
    let container = Containers::open(&Store::open_default()?)?.find(&args.container)?;
    if printer.json {
        printer.json(&container.config.ports)?;
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    for port in &container.config.ports {
        let _ = writeln!(text, "{port}");
    }
    printer.result(&text)?;
    Ok(ExitStatus::Success)
}
