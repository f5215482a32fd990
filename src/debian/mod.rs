//! Debian as a base, without Docker or dpkg: a suite's signed index, the dependency closure
//! of the packages a base needs, and `.deb`s unpacked into a root without running their
//! maintainer scripts, plus the dpkg database and the few things those scripts would have
//! done that an image needs.
//!
//! The order a build follows: [`Suite::for_image`], [`fetch_index`] (signature and hashes as
//! in [SecureApt]), [`PackageIndex::closure`], [`download`] each package, [`prepare_root`],
//! [`extract`] each `.deb`, [`write_dpkg_database`], [`finish_base`]. Libraries that wheels
//! need are found with [`fetch_library_index`] and added on top with [`write_dpkg_additions`].
//!
//! [SecureApt]: https://wiki.debian.org/SecureApt

mod alternatives;
mod closure;
mod contents;
mod control;
mod dpkg_database;
mod error;
mod extract;
mod fetch;
mod finish;
mod openpgp;
mod packages;
mod relation;
mod release;
mod suite;
mod version;

#[cfg(all(test, feature = "test-debian"))]
mod real_tests;

pub use contents::{LibraryIndex, fetch_library_index};
pub use dpkg_database::{write_dpkg_additions, write_dpkg_database};
pub use error::DebianError;
pub use extract::{Extracted, extract};
pub use fetch::{download, download_all, fetch_index, http_client};
pub use finish::{finish_base, prepare_root};
pub use packages::{DebPackage, PackageIndex};
pub use suite::{DEFAULT_MIRROR, Suite};
