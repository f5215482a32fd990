//! `mlpack doctor`: checks that this host can build and run images, and says what to fix.
//!
//! Each check reads the host (`/proc`, `/sys`, the store) and never changes it, except the
//! store check under `--repair`, which deletes corrupt blobs and the temp trees of killed
//! processes. A check that cannot look
//! reports that as its finding instead of failing the whole run, so one unreadable file
//! never hides the other answers.

mod cgroups;
mod credentials;
mod disk;
mod gpu;
mod host;
mod mirrors;
mod store;

use serde::Serialize;

use crate::byte_size::binary_size as gib;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, with a limit the user may care about (no rootless runs, little disk).
    Warn,
    /// Something mlpack needs is missing or damaged.
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable key (`kernel`, `store`, …), for scripts reading `--json`.
    pub name: &'static str,
    pub status: Status,
    /// One line: what was found.
    pub summary: String,
    /// What to do, for a warning or failure.
    pub hint: Option<String>,
    /// More lines (paths, values, each problem found), shown indented.
    pub details: Vec<String>,
}

impl Check {
    fn ok(name: &'static str, summary: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            summary: summary.into(),
            hint: None,
            details: Vec::new(),
        }
    }

    fn warn(name: &'static str, summary: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            status: Status::Warn,
            hint: Some(hint.into()),
            ..Self::ok(name, summary)
        }
    }

    fn fail(name: &'static str, summary: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            hint: Some(hint.into()),
            ..Self::ok(name, summary)
        }
    }

    #[must_use]
    fn details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

/// Every check, in the order they are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    /// Whether no check failed (warnings allowed): the exit status.
    pub ok: bool,
}

/// What `mlpack doctor` was asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Delete corrupt blobs, and the temp trees of killed processes, from the store.
    pub repair: bool,
}

/// Run every check: the host's kernel features first (what `mlpack run` needs), then GPUs,
/// credentials, registry mirrors, disk space, and last the store, whose re-hashing is the slow part.
pub fn run_checks(options: Options) -> Report {
    let is_root = nix::unistd::geteuid().is_root();
    let checks = vec![
        host::kernel(is_root),
        host::user_namespaces(is_root),
        host::overlayfs(),
        cgroups::check(is_root),
        disk::shm(),
        gpu::check(),
        credentials::check(),
        mirrors::check(),
        disk::free_space(),
        store::check(options.repair),
    ];
    let ok = checks.iter().all(|check| check.status != Status::Fail);
    Report { checks, ok }
}

/// Read a small kernel file; `None` if it does not exist or cannot be read.
fn read_trimmed(path: &str) -> Option<String> {
    fs_err::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_string())
}
