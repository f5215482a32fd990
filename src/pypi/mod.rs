//! The package index client: a project's files from the simple API ([PEP 691] JSON, [PEP 503]
//! HTML), a wheel's core metadata ([PEP 658] files, HTTP range reads, or a download), an HTTP
//! cache on disk, and credentials from index URLs or `~/.netrc`.
//!
//! Async, since it is where the network is; commands enter it with one `block_on`. Start from
//! [`IndexClient::builder`].
//!
//! [PEP 691]: https://peps.python.org/pep-0691/
//! [PEP 503]: https://peps.python.org/pep-0503/
//! [PEP 658]: https://peps.python.org/pep-0658/

mod auth;
mod cache;
mod client;
mod core_metadata;
mod direct;
mod download;
mod error;
mod exclude_newer;
mod http;
mod metadata;
mod sdist;
mod simple;
mod types;
mod wheel_modules;
mod zip_directory;

#[cfg(test)]
mod tests;

pub use client::{IndexClient, IndexClientBuilder};
pub use direct::directory_digest;
pub use error::PypiError;
pub use http::RequestStats;
pub use metadata::is_wheel;
pub use sdist::{BuildSystem, SdistInfo};
pub use types::*;
pub use wheel_modules::{WheelLookup, WheelModules};

/// The index used when neither the manifest nor the environment names one.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";
