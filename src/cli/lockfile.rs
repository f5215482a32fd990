//! Commands that read `mlpack.lock`: `tree` and `why`.

use std::path::{Path, PathBuf};

use crate::error::Result;

use super::{ExitStatus, Printer, UserError};
use crate::lock::{LockGraph, Lockfile};

#[derive(Debug, clap::Args)]
pub(super) struct TreeArgs {
    /// The project [default: the `-C` directory].
    dir: Option<PathBuf>,
    /// Show at most this many levels below the roots.
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub(super) struct WhyArgs {
    /// The locked package to explain.
    package: String,
    /// The project [default: the `-C` directory].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub(super) fn tree(args: &TreeArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let path = crate::project::lock_path(args.dir.as_deref().unwrap_or(directory));
    let lock = Lockfile::read_existing(&path)?.for_this_machine();
    printer.result(&lock.tree_text(args.depth))?;
    Ok(ExitStatus::Success)
}

pub(super) fn why(args: &WhyArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let path = crate::project::lock_path(args.dir.as_deref().unwrap_or(directory));
    let lock = Lockfile::read_existing(&path)?.for_this_machine();
    let name = args
        .package
        .parse::<pep508_rs::PackageName>()
        .map_or_else(|_| args.package.clone(), |name| name.to_string());
    if lock.package(&name).is_none() {
        return Err(
            UserError::new(format!("`{}` is not in `mlpack.lock`", args.package))
                .hint("`mlpack tree` shows every locked package")
                .into(),
        );
    }
    let paths = LockGraph::new(&lock).paths_to(&name);
    if printer.json {
        printer.json(&paths)?;
    } else {
        printer.result(&lock.why_text(&paths))?;
    }
    Ok(ExitStatus::Success)
}
