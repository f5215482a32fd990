//! `mlpack init`: `init::init`, and what it wrote.

use std::path::{Path, PathBuf};

use crate::error::Result;
use clap::ValueEnum;

use super::{ExitStatus, Printer};
use crate::init::Template;

#[derive(Debug, clap::Args)]
pub(super) struct InitArgs {
    /// The project [default: the `-C` directory].
    dir: Option<PathBuf>,
    /// The template to start from [default: chosen from the frameworks the code imports].
    #[arg(long, value_enum)]
    template: Option<Template>,
    /// Overwrite an existing `mlpack.toml` and `.mlpackignore`.
    #[arg(long)]
    force: bool,
}

pub(super) fn run(args: &InitArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let project = args.dir.as_deref().unwrap_or(directory);
    let wrote = crate::init::init(project, args.template, args.force)?;
    if printer.json {
        printer.json(&serde_json::json!({
            "manifest": wrote.manifest_path,
            "template": wrote.template,
            "ignore_file": wrote.ignore_path,
            "picked_up": wrote.picked_up,
        }))?;
        return Ok(ExitStatus::Success);
    }
    let name = wrote
        .template
        .to_possible_value()
        .map(|value| value.get_name().to_string())
        .unwrap_or_default();
    printer.status(&format!(
        "Wrote `{}` from the `{name}` template",
        wrote.manifest_path.display()
    ));
    for message in &wrote.picked_up {
        printer.status(message);
    }
    if let Some(ignore_path) = &wrote.ignore_path {
        printer.status(&format!("Wrote `{}`", ignore_path.display()));
    }
    Ok(ExitStatus::Success)
}
