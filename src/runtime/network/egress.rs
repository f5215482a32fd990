//! Outbound traffic for a network created with `--egress`: one nftables table per network,
//! `ip mlpack-<bridge>`, that masquerades what leaves its subnet and drops what it would
//! forward to another mlpack bridge, so networks stay apart even though the host routes
//! between them. The table is written and replaced in one `nft -f -` transaction and removed
//! with `delete table`, so teardown undoes exactly what setup did.
//!
//! Through the `nft` program rather than a crate: `rustables`, the maintained pure-Rust
//! option, generates its kernel bindings with bindgen, which would make libclang a build
//! requirement of all of mlpack for one table; `nftnl` binds the C libnftnl. A network
//! without `--egress` (the default) never runs `nft`.

use std::io::Write as _;
use std::process::{Command, Stdio};

use super::error::NetworkError;
use super::record::Network;

/// The table's name: the bridge's, which is unique and short.
pub(crate) fn table(network: &Network) -> String {
    format!("mlpack-{}", network.bridge)
}

/// The network's ruleset, replacing any earlier one.
fn ruleset(network: &Network) -> String {
    let table = table(network);
    let bridge = &network.bridge;
    let subnet = network.subnet;
    format!(
        "add table ip {table}\n\
         delete table ip {table}\n\
         table ip {table} {{\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority filter; policy accept;\n\
         \t\tiifname \"{bridge}\" oifname \"mlpk-*\" oifname != \"{bridge}\" drop\n\
         \t}}\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {subnet} ip daddr != {subnet} masquerade\n\
         \t}}\n\
         }}\n"
    )
}

/// Install the network's table, and turn on IPv4 forwarding (as Docker does).
pub(crate) fn install(network: &Network) -> Result<(), NetworkError> {
    let forward = "/proc/sys/net/ipv4/ip_forward";
    if fs_err::read_to_string(forward).is_ok_and(|value| value.trim() != "1") {
        fs_err::write(forward, "1").map_err(|source| {
            NetworkError::Io(crate::error::IoError::new("write", forward, source))
        })?;
    }
    nft("install the egress rules", &ruleset(network))
}

/// Delete the network's table, if it is there.
pub(crate) fn remove(network: &Network) -> Result<(), NetworkError> {
    let table = table(network);
    nft(
        "remove the egress rules",
        &format!("add table ip {table}\ndelete table ip {table}\n"),
    )
}

fn nft(action: &str, script: &str) -> Result<(), NetworkError> {
    let fail = |message: String| NetworkError::Nftables {
        action: action.to_string(),
        message,
    };
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| fail(format!("could not run `nft`: {error}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|error| fail(error.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| fail(error.to_string()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(fail(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_text() {
        let network = Network {
            name: "web".to_string(),
            id: "0".repeat(64),
            subnet: "10.90.0.0/24".parse().unwrap(),
            bridge: "mlpk-0123456789".to_string(),
            egress: true,
            created: String::new(),
            endpoints: std::collections::BTreeMap::new(),
        };
        insta::assert_snapshot!(ruleset(&network), @r#"
        add table ip mlpack-mlpk-0123456789
        delete table ip mlpack-mlpk-0123456789
        table ip mlpack-mlpk-0123456789 {
        	chain forward {
        		type filter hook forward priority filter; policy accept;
        		iifname "mlpk-0123456789" oifname "mlpk-*" oifname != "mlpk-0123456789" drop
        	}
        	chain postrouting {
        		type nat hook postrouting priority srcnat; policy accept;
        		ip saddr 10.90.0.0/24 ip daddr != 10.90.0.0/24 masquerade
        	}
        }
        "#);
    }
}
