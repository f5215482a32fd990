//! Installing a wheel into a layer tree: the [binary distribution format]'s "Installing a wheel"
//! steps (unpack into purelib or platlib, spread `.data`, rewrite `#!python`, rewrite `RECORD`),
//! plus the [entry points] launchers and the [`INSTALLER`] file that pip writes.
//!
//! Wheels are untrusted input: every entry is checked against `RECORD` (hash and size) as it is
//! extracted, no entry may leave the tree, and no symlink already in the tree is followed. Start
//! from [`WheelInstaller::install`], or [`WheelInstaller::install_all`] for several at once. [`shared_objects`] lists a wheel's native libraries, for
//! the build to find the system libraries they need.
//!
//! [binary distribution format]: https://packaging.python.org/en/latest/specifications/binary-distribution-format/
//! [entry points]: https://packaging.python.org/en/latest/specifications/entry-points/
//! [`INSTALLER`]: https://packaging.python.org/en/latest/specifications/recording-installed-packages/#the-installer-file

mod dist_info;
mod entry_points;
mod error;
mod install;
mod install_all;
mod record;
mod scheme;
mod scripts;
mod shared_objects;
mod top_level;
mod write;

#[cfg(test)]
mod tests;

pub use error::WheelError;
pub use install::{InstalledWheel, WheelInstaller};
pub use scheme::InstallScheme;
pub use shared_objects::{SharedObject, shared_objects};
