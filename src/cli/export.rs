//! `mlpack export`: an image as an archive (`docker`, `oci`), or, without an image, the
//! project's lock as `requirements` or `pylock`. The format follows what is named: an image
//! exports as a docker-archive unless told otherwise, a lock as a requirements file.

use std::path::{Path, PathBuf};

use crate::error::Result;

use super::image::ImageFormat;
use super::lockfile::LockFormat;
use super::{ExitStatus, Printer, UserError, image, lockfile};

#[derive(Debug, clap::Args)]
pub(super) struct ExportArgs {
    /// The image to export; without one, the project's `mlpack.lock` is exported.
    image: Option<String>,
    /// The file to write (an image needs one; a lock goes to stdout without).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// `docker`: a docker-archive for `docker load`; `oci`: an oci-archive for skopeo, umoci
    /// and podman; `requirements`: a hash-pinned requirements.txt for
    /// `pip install --require-hashes -r`; `pylock`: a PEP 751 `pylock.toml`.
    #[arg(long, value_enum)]
    format: Option<ExportFormat>,
    /// The project whose lock to export [default: the `-C` directory].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    Docker,
    Oci,
    Requirements,
    Pylock,
}

pub(super) fn run(args: &ExportArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let format = args.format.unwrap_or(if args.image.is_some() {
        ExportFormat::Docker
    } else {
        ExportFormat::Requirements
    });
    match (format, &args.image) {
        (ExportFormat::Docker | ExportFormat::Oci, Some(image)) => {
            let output = args.output.as_deref().ok_or_else(|| UserError::new("exporting an image needs `-o FILE`").hint(format!("mlpack export {image} -o image.tar")))?;
            let format = if format == ExportFormat::Docker { ImageFormat::Docker } else { ImageFormat::Oci };
            image::export(image, format, output, printer)
        }
        (ExportFormat::Docker | ExportFormat::Oci, None) => Err(UserError::new("`--format docker` and `--format oci` export an image; name one")
            .hint("mlpack export NAME:TAG -o image.tar")
            .into()),
        (ExportFormat::Requirements | ExportFormat::Pylock, Some(image)) => Err(UserError::new(format!("`--format requirements` and `--format pylock` export the project's lock, not the image `{image}`"))
            .hint("drop the image name: `mlpack export --format requirements`")
            .into()),
        (ExportFormat::Requirements | ExportFormat::Pylock, None) => {
            let format = if format == ExportFormat::Pylock { LockFormat::Pylock } else { LockFormat::Requirements };
            lockfile::export(format, args.output.as_deref(), args.dir.as_deref(), directory, printer)
        }
    }
}
