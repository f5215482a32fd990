//! Model images (`mlpack package`): the training image plus one layer holding a run's outputs
//! (the model files and `run.json`) at the path the job wrote them, with the manifest's
//! `[serve]` (or `[predict]`) command as the default. It is what a team pushes to share a
//! trained model; it runs with `mlpack run` and, exported, with Docker.

use std::path::Path;

use oci_spec::image::Descriptor;

use super::record::{RunRecord, TRAIN_LOG};
use super::{RunId, TrainError};
use crate::error::FromIo;
use crate::manifest::{CommandLine, Manifest};
use crate::oci::{self, Derivation, HistoryEntry, ImageReference, LayerWriter, OciError, Store};
use crate::project::Project;

/// Label naming the run a model image holds.
pub const RUN_LABEL: &str = "dev.mlpack.run.id";

/// A model image written by [`package_run`].
#[derive(Debug)]
pub struct Packaged {
    pub reference: ImageReference,
    pub digest: String,
    pub run: RunId,
}

/// `mlpack package`: the model image of run `id` (default: the latest that exited 0), named
/// `tag` (default: `<image name>-model:<run id>`), running `cmd` split on whitespace (default:
/// `[serve]`, else `[predict]`).
pub fn package_run(
    store: &Store,
    project: &Project,
    id: Option<&str>,
    tag: Option<&str>,
    cmd: Option<&str>,
) -> Result<Packaged, TrainError> {
    let manifest = project.manifest();
    let cmd = model_command(cmd, manifest)?;
    let outputs = project.outputs_dir();
    let record = match id {
        Some(id) => super::find_run(&outputs, id)?,
        None => super::latest_successful_run(&outputs)?,
    };
    let reference = match tag {
        Some(tag) => ImageReference::parse_name(tag).map_err(OciError::from)?,
        None => model_reference(&record)?,
    };
    let descriptor = package(
        store,
        &outputs.join(record.id.as_str()),
        &record,
        &manifest.outputs.target,
        cmd,
        &reference,
    )?;
    Ok(Packaged {
        reference,
        digest: descriptor.digest().to_string(),
        run: record.id,
    })
}

/// `cmd`, else `[serve]` (or `[predict]`). Without either the image would keep the training
/// image's command and retrain, failing for want of the data, so it is refused.
fn model_command(cmd: Option<&str>, manifest: &Manifest) -> Result<Vec<String>, TrainError> {
    let command = match cmd {
        Some(line) => CommandLine::Line(line.to_string()).args(),
        None => manifest
            .serve
            .as_ref()
            .or(manifest.predict.as_ref())
            .map(|section| section.command.args())
            .unwrap_or_default(),
    };
    if command.is_empty() {
        return Err(TrainError::NoModelCommand);
    }
    Ok(command)
}

/// The model image's default name: the training image's name, registry and path included,
/// with `-model` added and the run's ID as the tag (`localhost:5000/team/img:tag` gives
/// `localhost:5000/team/img-model:<run id>`).
pub fn model_reference(record: &RunRecord) -> Result<ImageReference, OciError> {
    let training: ImageReference = record.image.reference.parse()?;
    Ok(format!("{}-model:{}", training.name(), record.id).parse()?)
}

/// Write the model image for `record` (whose directory is `run_dir`) and tag it `reference`.
/// `target` is where the job saw its outputs (`[outputs] target`); `cmd` is the image's command.
pub fn package(
    store: &Store,
    run_dir: &Path,
    record: &RunRecord,
    target: &str,
    cmd: Vec<String>,
    reference: &ImageReference,
) -> Result<Descriptor, OciError> {
    let reference = reference.clone().into_name()?;
    let base = store.resolve(&record.image.digest)?;
    let staging = store.temp_tree("package-")?;
    let inside = staging.path().join(target.trim_start_matches('/'));
    copy_outputs(run_dir, &inside)?;
    let layer = LayerWriter::from_env()?.write_dir(store, staging.path())?;
    let derivation = Derivation {
        cmd: Some(cmd),
        labels: [(RUN_LABEL.to_string(), record.id.to_string())].into(),
        created: oci::created_now()?,
        history: Some(HistoryEntry {
            created_by: format!("mlpack package {}", record.id),
            comment: format!("outputs of training run {}", record.id),
            empty_layer: false,
        }),
    };
    let descriptor = oci::derive_image(store, &base, layer, derivation)?;
    let _lock = store.lock()?;
    store.tag(&reference, &descriptor)?;
    Ok(descriptor)
}

/// The run's files and `run.json` (not its log) into `to`.
fn copy_outputs(from: &Path, to: &Path) -> Result<(), OciError> {
    fs_err::create_dir_all(to).map_err(|source| OciError::io("create", to, source))?;
    let entries = fs_err::read_dir(from).map_err(|source| OciError::io("list", from, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| OciError::io("list", from, source))?;
        let (path, name) = (entry.path(), entry.file_name());
        if name == TRAIN_LOG {
            continue;
        }
        let metadata = fs_err::symlink_metadata(&path)
            .map_err(|source| OciError::io("read", &path, source))?;
        if metadata.is_dir() {
            copy_outputs(&path, &to.join(&name))?;
        } else if metadata.is_file() {
            fs_err::copy(&path, to.join(&name))
                .map_err(|source| OciError::io("copy", &path, source))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(reference: &str) -> RunRecord {
        serde_json::from_value(serde_json::json!({
            "id": "20261205-041510-b44b", "started": "s", "finished": "f", "seconds": 1.0,
            "exit_code": 0, "command": [], "lock_sha256": null, "git": null, "datasets": [],
            "outputs": {}, "metrics": null,
            "image": {"reference": reference, "digest": "sha256:00", "layers": []},
            "host": {"hostname": "h", "kernel": "k", "cpu": "c", "cpus": 1, "memory_bytes": 1,
                     "gpu_driver": null},
        }))
        .unwrap()
    }

    #[test]
    fn the_model_image_is_named_after_the_whole_training_image_name() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        for (training, model) in [
            ("demo:latest", "demo-model:20261205-041510-b44b"),
            ("demo", "demo-model:20261205-041510-b44b"),
            (
                "localhost:5000/team/img:tag",
                "localhost:5000/team/img-model:20261205-041510-b44b",
            ),
            (
                &format!("ghcr.io/org/img@{digest}"),
                "ghcr.io/org/img-model:20261205-041510-b44b",
            ),
        ] {
            let name = model_reference(&record(training)).unwrap();
            assert_eq!(name.to_string(), model, "{training}");
        }
    }
}
