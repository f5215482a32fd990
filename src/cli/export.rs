//! `mlpack export`: an image as an archive (`docker`, `oci`), or, without an image, the
//! project's lock as `requirements` or `pylock`, or the project as a Docker build context
//! (`dockerfile`). The format follows what is named: an image exports as a docker-archive
//! unless told otherwise, a lock as a requirements file.

use std::path::{Path, PathBuf};

use crate::atomic_file::{self, Durability};
use crate::error::Result;

use super::{ExitStatus, Printer, UserError};
use crate::context::Context;
use crate::lock::Lockfile;
use crate::oci::{self, Store};

#[derive(Debug, clap::Args)]
pub(super) struct ExportArgs {
    /// The image to export; without one, the project's `mlpack.lock` is exported.
    image: Option<String>,
    /// The file to write (an image needs one; a lock goes to stdout without).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// `docker`: a docker-archive for `docker load`; `oci`: an oci-archive for skopeo, umoci
    /// and podman; `requirements`: a hash-pinned requirements.txt for
    /// `pip install --require-hashes -r`; `pylock`: a PEP 751 `pylock.toml`; `dockerfile`: a
    /// directory (`-o DIR`) with a Dockerfile, requirements.txt and the code, for
    /// `docker build`.
    #[arg(long, value_enum)]
    format: Option<ExportFormat>,
    /// The layers' compression in an image archive [default: `gzip` for `docker`, which
    /// Docker 20.10 and later load; the store's (`zstd`) for `oci`].
    #[arg(long, value_enum)]
    compression: Option<crate::compression::Compression>,
    /// The project whose lock to export [default: the `-C` directory].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// With `--format dockerfile`: the `FROM` image, instead of the base the lock names
    /// (a mirror's copy of `debian:bookworm`, say).
    #[arg(long, value_name = "IMAGE")]
    base_image: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    Docker,
    Oci,
    Requirements,
    Pylock,
    Dockerfile,
}

pub(super) fn run(
    args: &ExportArgs,
    directory: &Path,
    context: &Context,
    printer: Printer,
) -> Result<ExitStatus> {
    let format = args.format.unwrap_or(if args.image.is_some() {
        ExportFormat::Docker
    } else {
        ExportFormat::Requirements
    });
    match (format, &args.image) {
        (ExportFormat::Docker | ExportFormat::Oci, Some(image)) => {
            let output = args.output.as_deref().ok_or_else(|| UserError::new("exporting an image needs `-o FILE`").hint(format!("mlpack export {image} -o image.tar")))?;
            export_image(context.store()?, image, (format, args.compression), output, printer)
        }
        (ExportFormat::Docker | ExportFormat::Oci, None) => Err(UserError::new("`--format docker` and `--format oci` export an image; name one")
            .hint("mlpack export NAME:TAG -o image.tar")
            .into()),
        (ExportFormat::Requirements | ExportFormat::Pylock, Some(image)) => Err(UserError::new(format!("`--format requirements` and `--format pylock` export the project's lock, not the image `{image}`"))
            .hint("drop the image name: `mlpack export --format requirements`")
            .into()),
        (ExportFormat::Requirements | ExportFormat::Pylock, None) => {
            export_lock(args, directory, format, printer)
        }
        (ExportFormat::Dockerfile, Some(image)) => Err(UserError::new(format!("`--format dockerfile` exports the project, not the image `{image}`"))
            .hint("drop the image name: `mlpack export --format dockerfile -o docker/`")
            .into()),
        (ExportFormat::Dockerfile, None) => export_dockerfile(args, directory, printer),
    }
}

fn export_image(
    store: &Store,
    image: &str,
    (format, compression): (ExportFormat, Option<crate::compression::Compression>),
    output: &Path,
    printer: Printer,
) -> Result<ExitStatus> {
    let resolved = store.resolve(image)?;
    let tag = resolved
        .reference
        .clone()
        .unwrap_or_else(|| image.to_string());
    match (format, compression) {
        (ExportFormat::Docker, compression) => {
            let compression = compression.unwrap_or(crate::compression::Compression::Gzip);
            oci::export_docker_archive(store, &resolved, &tag, output, compression)?;
        }
        (_, Some(compression)) => {
            oci::export_oci_archive_with_compression(store, &resolved, &tag, output, compression)?;
        }
        (_, None) => oci::export_oci_archive(store, &resolved, &tag, output)?,
    }
    printer.status(&format!("Wrote `{tag}` to `{}`", output.display()));
    Ok(ExitStatus::Success)
}

fn export_lock(
    args: &ExportArgs,
    directory: &Path,
    format: ExportFormat,
    printer: Printer,
) -> Result<ExitStatus> {
    let lock = Lockfile::read_existing(&crate::project::lock_path(
        args.dir.as_deref().unwrap_or(directory),
    ))?
    .for_this_machine();
    let text = if format == ExportFormat::Pylock {
        lock.pylock()
    } else {
        lock.requirements_txt()
    };
    match &args.output {
        Some(path) => {
            atomic_file::write(path, text.as_bytes(), Durability::Synced)
                .map_err(|source| crate::error::IoError::new("write", path, source))?;
            printer.status(&format!(
                "Wrote `{}` ({} packages)",
                path.display(),
                lock.packages.len()
            ));
        }
        None => printer.result(&text)?,
    }
    Ok(ExitStatus::Success)
}

fn export_dockerfile(args: &ExportArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let output = args.output.as_deref().ok_or_else(|| {
        UserError::new("`--format dockerfile` writes a directory; name it with `-o DIR`")
            .hint("mlpack export --format dockerfile -o docker/")
    })?;
    let project = crate::project::Project::load(args.dir.as_deref().unwrap_or(directory))?;
    let lock = Lockfile::read_existing(&project.lock_path)?;
    let written = crate::build::export_dockerfile(&crate::build::DockerfileRequest {
        project: &project.dir,
        manifest: project.manifest(),
        lock: &lock,
        base_image: args.base_image.as_deref(),
        output,
    })?;
    printer.status(&format!(
        "Wrote `{}` (FROM {}, {} Debian and {} Python packages, {} code files); build it with `docker build --network host {}`",
        written.dockerfile.display(),
        written.from,
        written.debian_packages,
        written.python_packages,
        written.code_files,
        output.display()
    ));
    Ok(ExitStatus::Success)
}
