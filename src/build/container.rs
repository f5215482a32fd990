//! What every container a build runs shares (the sdist builds, the `[build] run` steps): a
//! temporary image of some layers, tagged while the container runs so a concurrent `prune`
//! keeps its layers, and `mlpack run` re-executed to run it, since namespaces are made in a
//! process that never had tokio threads.

use std::path::Path;
use std::process::Command;

use crate::error::FromIo;
use crate::oci::{self, HistoryEntry, ImageSpec, OciError};

use super::{BuildError, Builder};

/// The config of a temporary image: its environment and working directory.
pub(super) struct ContainerConfig<'a> {
    /// `sdist`, `step`: names the image (`mlpack-sdist-build:KEY`) and its history.
    pub(super) purpose: &'a str,
    /// Makes the tag unique to what runs in it.
    pub(super) key: &'a str,
    pub(super) env: Vec<String>,
    pub(super) working_dir: &'a str,
}

impl Builder<'_> {
    /// A temporary image of `layers`, tagged; the caller untags it when the container is done.
    pub(super) fn container_image(
        &self,
        layers: Vec<oci::Layer>,
        arch: crate::arch::Arch,
        config: &ContainerConfig<'_>,
    ) -> Result<String, BuildError> {
        let history = layers
            .iter()
            .map(|_| HistoryEntry {
                created_by: format!("mlpack build: {} build container", config.purpose),
                comment: String::new(),
                empty_layer: false,
            })
            .collect();
        let spec = ImageSpec {
            history,
            env: config.env.clone(),
            working_dir: config.working_dir.to_string(),
            ..ImageSpec::new(layers, arch.oci(), super::config::created(None, None)?)
        };
        let descriptor = oci::write_image(self.store, &spec)?;
        let image = format!("mlpack-{}-build:{}", config.purpose, &config.key[..16]);
        self.store
            .tag(&image.parse().map_err(OciError::from)?, &descriptor)?;
        Ok(image)
    }
}

/// `mlpack run` of this executable, on the build's store; the caller adds the options, the
/// image and the command.
pub(super) fn mlpack_run(store: &oci::Store) -> Result<Command, BuildError> {
    let exe = std::env::current_exe()
        .map_err(|source| BuildError::io("read", Path::new("/proc/self/exe"), source))?;
    let mut command = Command::new(exe);
    command
        .env("MLPACK_HOME", store.root())
        .args(["run", "--pull", "never"]);
    Ok(command)
}
