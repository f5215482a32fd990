//! `mlpack load`: the images of a docker-archive or oci-archive into the store, named as the
//! archive names them and unpacked, as `docker load` does (an image whose layers are refused
//! leaves the store as it was).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::error::Result;

use super::{ExitStatus, Printer, UserError};
use crate::oci::{self, LoadedImage, Store};
use crate::runtime::Admission;

#[derive(Debug, clap::Args)]
pub(super) struct LoadArgs {
    /// The archive to read: `docker save`'s, `mlpack export`'s or an oci-archive, plain or
    /// compressed with gzip, zstd or xz. `-` or none reads stdin.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
}

pub(super) fn run(args: &LoadArgs, store: &Store, printer: Printer) -> Result<ExitStatus> {
    let admission = Admission::begin(store)?;
    let loaded = match args.input.as_deref().filter(|path| *path != Path::new("-")) {
        Some(path) if !path.exists() => {
            return Err(UserError::new(format!("no file `{}`", path.display()))
                .hint("name the archive `docker save` or `mlpack export` wrote")
                .into());
        }
        Some(path) => oci::import_archive(store, path)?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(UserError::new(
                    "`mlpack load` reads the archive from stdin, which is a terminal",
                )
                .hint("name the file: `mlpack load -i image.tar`, or `mlpack load < image.tar`")
                .into());
            }
            oci::import_archive_from(store, stdin.lock(), Path::new("stdin"))?
        }
    };
    let images: Vec<(String, oci::Digest)> = loaded
        .iter()
        .map(|image| {
            let name = image
                .references
                .first()
                .map_or_else(|| image.digest.to_string(), ToString::to_string);
            (name, image.digest.clone())
        })
        .collect();
    admission.check(&images)?;
    report(&loaded, printer)?;
    Ok(ExitStatus::Success)
}

/// `Loaded image: NAME` for each name, as Docker prints it, and `Loaded image ID: DIGEST` for
/// an image without one; `--json`: `[{"reference", "digest"}]`, `reference` null for those.
fn report(loaded: &[LoadedImage], printer: Printer) -> std::io::Result<()> {
    if printer.json {
        let mut rows = Vec::new();
        for image in loaded {
            let digest = image.digest.to_string();
            if image.references.is_empty() {
                rows.push(serde_json::json!({"reference": null, "digest": digest}));
            }
            for reference in &image.references {
                rows.push(serde_json::json!({"reference": reference, "digest": digest}));
            }
        }
        return printer.json(&rows);
    }
    let mut text = String::new();
    for image in loaded {
        if image.references.is_empty() {
            let _ = writeln!(text, "Loaded image ID: {}", image.digest);
        }
        for reference in &image.references {
            let _ = writeln!(text, "Loaded image: {reference}");
        }
    }
    printer.result(&text)?;
    if let Some(unnamed) = loaded.iter().find(|image| image.references.is_empty()) {
        printer.status(&format!(
            "hint: `mlpack tag {} NAME` names it; until then `mlpack prune` removes it",
            unnamed.digest
        ));
    }
    Ok(())
}
