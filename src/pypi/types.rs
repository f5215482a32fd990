//! What the index tells about a project: its files (PEP 691 / PEP 503) and a file's core
//! metadata (PEP 658 / the wheel's `METADATA`). Plain data, shared by the client and the resolver.

use std::collections::BTreeMap;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement, VerbatimUrl};
use serde::{Deserialize, Serialize};

/// One file of a project on an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistFile {
    /// `scikit_learn-1.5.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl`
    pub filename: String,
    /// Absolute: relative URLs from the index are resolved against the page URL.
    pub url: String,
    /// Lowercase hex sha256, when the index gives one.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// The file's `Requires-Python`, as the index states it.
    pub requires_python: Option<String>,
    /// `Some(reason)` when yanked (the reason may be empty).
    pub yanked: Option<String>,
    /// RFC 3339, when the index gives it (PEP 700).
    pub upload_time: Option<String>,
    /// Whether the index says a PEP 658 metadata file is served at `{url}.metadata`.
    pub core_metadata: bool,
}

/// All files of one project on one index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFiles {
    pub name: PackageName,
    /// The index URL the files came from (`https://pypi.org/simple`).
    pub index: String,
    pub files: Vec<DistFile>,
}

/// The parts of a distribution's core metadata that resolution needs.
#[derive(Debug, Clone)]
pub struct CoreMetadata {
    pub name: PackageName,
    pub version: Version,
    pub requires_dist: Vec<Requirement<VerbatimUrl>>,
    pub requires_python: Option<VersionSpecifiers>,
    pub provides_extra: Vec<ExtraName>,
}

/// Shared handles, so the resolver and prefetchers can hold them cheaply.
pub type SharedProject = Arc<ProjectFiles>;
pub type SharedMetadata = Arc<CoreMetadata>;

/// Which index each package comes from: a package bound to an extra index resolves only from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMap {
    pub default: String,
    pub bound: BTreeMap<PackageName, String>,
}

impl IndexMap {
    pub fn index_for(&self, name: &PackageName) -> &str {
        self.bound
            .get(name)
            .map_or(self.default.as_str(), String::as_str)
    }
}
