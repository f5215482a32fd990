//! Commands on images in the store: `images`, `inspect`, `history`, `tag`, `rmi`, `prune`.

use std::fmt::Write as _;

use crate::error::Result;

use super::{ExitStatus, Printer};
use crate::byte_size::human_size;
use crate::gc;
use crate::oci::{self, Store};

#[derive(Debug, clap::Args)]
pub(super) struct ImageArgs {
    /// The image: `NAME[:TAG]`, or a manifest digest (a unique prefix of 12 or more hex digits).
    pub(super) image: String,
}

#[derive(Debug, clap::Args)]
pub(super) struct ImagesArgs {
    /// Show whole digests, and the digests registries hold each image under (its pushes
    /// and pulls, as Docker's `RepoDigests`: a push with gzip layers has another digest
    /// than the local image).
    #[arg(long)]
    digests: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct RmiArgs {
    /// The image: `NAME[:TAG]` removes that name; a digest (or a unique prefix) removes all
    /// of the image's names.
    image: String,
    /// Remove the last name even when containers use the image (they keep it until removed).
    #[arg(short, long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct PruneArgs {
    /// Also let go of the images kept only for recorded training runs (`mlpack reproduce`
    /// needs them).
    #[arg(long)]
    runs: bool,
    /// Also remove the named volumes no container mounts (kept otherwise).
    #[arg(long)]
    volumes: bool,
    /// Also empty the build steps' `cache` mounts (pip's and apt's caches of `[build] run`
    /// and Dockerfile `RUN --mount=type=cache`), as `docker builder prune` does.
    #[arg(long)]
    build_cache: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct TagArgs {
    /// The image to tag.
    source: String,
    /// The new `NAME[:TAG]`.
    target: String,
}

/// `mlpack images`: every tagged image with its size, the sum of its layers' descriptors
/// (checked against the blobs when the image is read). An image that cannot be read is listed
/// without a size, with a warning, rather than hiding the others.
pub(super) fn images(args: &ImagesArgs, store: &Store, printer: Printer) -> Result<ExitStatus> {
    let mut rows = Vec::new();
    for (reference, descriptor) in store.images()? {
        let digest = descriptor.digest().to_string();
        let repo_digests = oci::Digest::from_oci(descriptor.digest())
            .map(|local| store.push_record(&local).repo_digests)
            .unwrap_or_default();
        match store.resolve(&reference) {
            Ok(image) => {
                let size: u64 = image
                    .manifest
                    .layers()
                    .iter()
                    .map(oci::Descriptor::size)
                    .sum();
                let created = image.config.created().clone().unwrap_or_default();
                rows.push((reference, digest, repo_digests, created, Ok(size)));
            }
            Err(error) => {
                printer.status(&format!("warning: `{reference}` cannot be read: {error}"));
                let error = Err(error.to_string());
                rows.push((reference, digest, repo_digests, String::new(), error));
            }
        }
    }
    if printer.json {
        let images: Vec<_> = rows
            .iter()
            .map(|(reference, digest, repo_digests, created, size)| match size {
                Ok(size) => serde_json::json!({"reference": reference, "digest": digest, "repo_digests": repo_digests, "created": created, "size": size}),
                Err(error) => serde_json::json!({"reference": reference, "digest": digest, "repo_digests": repo_digests, "size": null, "error": error}),
            })
            .collect();
        printer.json(&images)?;
        return Ok(ExitStatus::Success);
    }
    let now = jiff::Timestamp::now();
    let mut header = vec!["IMAGE".to_string(), "DIGEST".to_string()];
    if args.digests {
        header.push("REPO DIGESTS".to_string());
    }
    header.extend(["CREATED".to_string(), "SIZE".to_string()]);
    let mut table = vec![header];
    for (reference, digest, repo_digests, created, size) in rows {
        let mut row = vec![reference];
        if args.digests {
            row.push(digest);
            row.push(if repo_digests.is_empty() {
                "-".to_string()
            } else {
                repo_digests.join(", ")
            });
        } else {
            row.push(digest[..digest.len().min(19)].to_string());
        }
        row.push(super::table::ago(&created, now));
        row.push(size.map_or_else(|_| "?".to_string(), human_size));
        table.push(row);
    }
    let size_column = table[0].len() - 1;
    let text = super::table::render(&table, &[size_column]);
    printer.result(&text)?;
    Ok(ExitStatus::Success)
}

pub(super) fn inspect(args: &ImageArgs, store: &Store, printer: Printer) -> Result<ExitStatus> {
    let image = store.resolve(&args.image)?;
    let record = store.push_record(&image.manifest_digest()?);
    let document = serde_json::json!({
        "reference": image.reference,
        "digest": image.manifest_descriptor.digest().to_string(),
        "repo_digests": record.repo_digests,
        "manifest": image.manifest,
        "config": image.config,
    });
    printer.json(&document)?;
    Ok(ExitStatus::Success)
}

pub(super) fn history(args: &ImageArgs, store: &Store, printer: Printer) -> Result<ExitStatus> {
    let image = store.resolve(&args.image)?;
    let layers = image.manifest.layers();
    let history = image.config.history().clone().unwrap_or_default();
    let created_by = history
        .iter()
        .filter(|entry| !entry.empty_layer().unwrap_or(false))
        .map(|entry| entry.created_by().clone().unwrap_or_default());
    let rows: Vec<(String, u64, String)> = layers
        .iter()
        .zip(created_by)
        .map(|(layer, by)| (layer.digest().to_string(), layer.size(), by))
        .collect();
    if printer.json {
        let json: Vec<_> = rows.iter().map(|(digest, size, by)| serde_json::json!({"digest": digest, "size": size, "created_by": by})).collect();
        printer.json(&json)?;
        return Ok(ExitStatus::Success);
    }
    let mut text = format!("{:<19} {:>10}  {}\n", "LAYER", "SIZE", "CREATED BY");
    for (digest, size, by) in rows {
        let _ = writeln!(
            text,
            "{:<19} {:>10}  {by}",
            &digest[..digest.len().min(19)],
            human_size(size)
        );
    }
    printer.result(&text)?;
    Ok(ExitStatus::Success)
}

pub(super) fn tag(args: &TagArgs, store: &Store, printer: Printer) -> Result<ExitStatus> {
    let image = store.resolve(&args.source)?;
    let target = oci::ImageReference::parse_name(&args.target)?;
    store.tag(&target, &image.manifest_descriptor)?;
    printer.status(&format!("Tagged `{}` as `{target}`", args.source));
    Ok(ExitStatus::Success)
}

pub(super) fn rmi(args: &RmiArgs, store: &Store, printer: Printer) -> Result<ExitStatus> {
    let removed = gc::remove_image(store, &args.image, args.force)?;
    let names = removed
        .untagged
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.is_empty() {
        printer.status(&format!(
            "`{}` has no name; `mlpack prune` removes it once nothing uses it",
            removed.digest
        ));
    } else if removed.kept_for.is_empty() {
        printer.status(&format!(
            "Untagged {names}; `mlpack prune` frees its layers once nothing else uses them"
        ));
    } else {
        printer.status(&format!(
            "Untagged {names}; the image stays for {}",
            removed.kept_for.join(", ")
        ));
    }
    Ok(ExitStatus::Success)
}

pub(super) fn prune(args: &PruneArgs, store: &Store, printer: Printer) -> Result<ExitStatus> {
    let report = gc::prune(
        store,
        gc::PruneOptions {
            runs: args.runs,
            volumes: args.volumes,
            build_cache: args.build_cache,
        },
    )?;
    if printer.json {
        printer.json(&report)?;
        return Ok(ExitStatus::Success);
    }
    let parts: Vec<String> = [
        (report.blobs_removed, "blob", "blobs"),
        (report.layers_removed, "unpacked layer", "unpacked layers"),
        (report.caches_removed, "bytecode cache", "bytecode caches"),
        (
            report.temp_removed,
            "temp file or tree",
            "temp files and trees",
        ),
        (report.build_logs_removed, "build log", "build logs"),
        (
            report.build_caches_removed,
            "build cache mount",
            "build cache mounts",
        ),
        (report.run_roots_removed, "run root", "run roots"),
        (report.volumes_removed, "volume", "volumes"),
    ]
    .into_iter()
    .filter(|(count, one, _)| *count > 0 || *one == "blob")
    .map(|(count, one, many)| match count {
        1 => format!("1 {one}"),
        _ => format!("{count} {many}"),
    })
    .collect();
    printer.status(&format!(
        "Removed {}; freed {}",
        parts.join(", "),
        human_size(report.bytes_freed)
    ));
    Ok(ExitStatus::Success)
}
