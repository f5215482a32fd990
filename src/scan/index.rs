//! The scan's one look-up online: whether the package index has a project named like each
//! unresolved import, so nobody installs a look-alike by accident (a project of that name
//! exists, but nothing says it provides the import).

use std::str::FromStr;

use pep508_rs::PackageName;

use super::UnresolvedImport;
use crate::network::Network;
use crate::pypi::{IndexClient, PypiError};

/// Set `on_pypi` of each unresolved import from `index_url`; what could not be asked, one
/// error per failed look-up (the scan stands without them).
pub fn check_on_index(
    unresolved: &mut [UnresolvedImport],
    index_url: &str,
    network: &Network,
) -> Vec<PypiError> {
    let client = match IndexClient::builder().build() {
        Ok(client) => client,
        Err(error) => return vec![error],
    };
    let names = unresolved
        .iter()
        .map(|import| PackageName::from_str(&import.name).ok())
        .collect();
    let mut errors = Vec::new();
    for (position, exists) in network.block_on(client.projects_exist(index_url, names)) {
        match exists {
            Ok(exists) => unresolved[position].on_pypi = Some(exists),
            Err(error) => errors.push(error),
        }
    }
    errors
}
