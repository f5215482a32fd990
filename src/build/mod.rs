//! `mlpack build`: from `mlpack.lock` to an OCI image in the store, without Docker.
//!
//! The layer plan (see [`plan`]): a base (a Debian base pinned in the lock, or a registry
//! image's layers as they are), the locked wheels in groups from least to most often changed,
//! and the project's code at `/app`. Every layer but the code is cached by what went into it,
//! so an unchanged group is never rebuilt, and every layer is a reproducible tar, so two
//! machines building the same lock get the same digests.

mod base;
mod bytecode;
pub use self::bytecode::BYTECODE_LABEL;
mod cache;
mod code;
mod config;
mod container;
mod dockerfile_build;
pub use self::dockerfile_build::{
    DockerfileBuildError, DockerfileBuildRequest, DockerfileReport, build_dockerfile,
};
mod dockerfile_export;
mod error;
pub use self::dockerfile_export::{
    DockerfileError, DockerfileExport, DockerfileRequest, export_dockerfile,
};
pub use self::error::BuildError;
mod fetch;
pub use self::config::git_state;
mod image_base;
mod inspect;
pub use self::inspect::InspectError;
mod pipeline;
pub use self::pipeline::{
    BuildOptions, LockOutcome, PipelineReporter, build_project, ensure_locked, lock_project,
    plan_project,
};
pub use self::sdist::{SDIST_LOGS_DIR, SdistBuildFailure, SdistMetadata};
mod plan;
mod prefetch;
mod progress;
pub use self::progress::{Step, StepEvent, StepKind};
mod python;
mod sdist;
mod steps;
pub use self::steps::{CACHE_MOUNTS_DIR, STEP_LOGS_DIR, StepFailure};
mod system_libraries;
mod system_packages;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use self::cache::LayerCache;
use crate::compression::Compression;
use crate::debian::Suite;
use crate::lock::{LockedBase, LockedImage, Lockfile, NeededLibrary, ProjectLock};
use crate::manifest::Manifest;
use crate::oci::{
    self, Descriptor, HistoryEntry, ImageReference, ImageSpec, Layer, LayerWriter, ResolvedImage,
    Store, StoreLock, TempTree,
};
use crate::pypi::PypiError;
use crate::runtime::SyncedTree;

use self::fetch::Fetcher;
use self::system_libraries::WheelScan;

/// What to build, and how.
pub struct BuildRequest<'a> {
    pub project: &'a Path,
    pub manifest: &'a Manifest,
    pub project_name: &'a str,
    /// The name to give the image in the store (`iris` means `iris:latest`).
    pub reference: &'a ImageReference,
    pub compression: Compression,
    pub offline: bool,
    /// Fail instead of pinning the base into `mlpack.lock` (for CI).
    pub locked: bool,
    /// Told what the build is doing, for progress display.
    pub reporter: &'a dyn BuildReporter,
}

/// What a build tells its user while it works; the CLI shows it as a progress line and byte
/// bars.
pub trait BuildReporter: Sync {
    /// The layer `layer` is now doing `phase` (`downloading`, `unpacking`, `compressing`).
    fn phase(&self, layer: &str, phase: &str);

    /// A counted step (downloads, a layer written) started, advanced or finished.
    fn step(&self, _event: StepEvent<'_>) {}
}

/// A reporter that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl BuildReporter for NoReporter {
    fn phase(&self, _layer: &str, _phase: &str) {}
}

/// One layer of the built image.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltLayer {
    pub description: String,
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    /// Taken from the layer cache instead of written.
    pub reused: bool,
    pub seconds: f64,
}

/// The outcome of a build.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub reference: ImageReference,
    pub manifest_digest: String,
    pub layers: Vec<BuiltLayer>,
    pub seconds: f64,
    /// The base's Debian packages were pinned into `mlpack.lock` by this build.
    pub pinned_base: bool,
    /// The system libraries were scanned for and pinned into `mlpack.lock` by this build
    /// (else the lock's pins were current and no wheel was read).
    pub pinned_system_libraries: bool,
    /// `[build] system-packages` were resolved and pinned into `mlpack.lock` by this build.
    pub pinned_system_packages: bool,
    /// Each library the wheels need that a Debian package in the system-libraries layer
    /// provides (`libGL.so.1` for `opencv-python`, from `libgl1`).
    pub system_libraries: Vec<NeededLibrary>,
    /// Libraries the host's NVIDIA driver provides at run time with `--gpus`.
    pub host_driver_libraries: Vec<NeededLibrary>,
    /// The wheels built from sdists (or taken from the cache of built wheels).
    pub sdists: Vec<BuiltSdist>,
}

/// A wheel made from a package's sdist.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltSdist {
    pub package: String,
    pub wheel: String,
    /// How long its build took; `None` when the cached wheel was used.
    pub seconds: Option<f64>,
}

/// Whether pins a build records in the lock (system libraries, system packages) must be made
/// anew: not while the inputs they were made from (`recorded`) are `inputs`; refused with
/// `locked` under `--locked` and `offline` under `--offline`, which may not change the lock.
fn must_pin(
    recorded: Option<&String>,
    inputs: &str,
    request: &BuildRequest<'_>,
    locked: BuildError,
    offline: BuildError,
) -> Result<bool, BuildError> {
    if recorded.is_some_and(|recorded| recorded == inputs) {
        Ok(false)
    } else if request.locked {
        Err(locked)
    } else if request.offline {
        Err(offline)
    } else {
        Ok(true)
    }
}

/// Check, before anything is locked or fetched, that the base can give the project its Python
/// (a Debian base), or that nothing asks a registry image for Debian packages.
pub fn check_base(manifest: &Manifest) -> Result<(), BuildError> {
    if manifest.base.is_registry_image() {
        if manifest.base.packages.is_empty() {
            return Ok(());
        }
        return Err(BuildError::PackagesOnImage {
            image: manifest.base.image.clone(),
        });
    }
    base::check_python(manifest)
}

/// Build the image for `lock` into `store` and tag it. Pins the base into the lock file first
/// when it is not pinned for these inputs yet.
pub fn build(
    network: &crate::network::Network,
    store: &Store,
    request: &BuildRequest<'_>,
    lock: &mut ProjectLock,
) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    check_base(request.manifest)?;
    // Held from the first blob to the tag, so a concurrent `mlpack prune` cannot remove
    // blobs this build wrote but has not tagged yet.
    let mut store_lock = Some(store.lock()?);
    let builder = Builder::new(
        network,
        store,
        request.compression,
        request.offline,
        request.project,
        request.reporter,
    )?;
    let on_image = request.manifest.base.is_registry_image();
    let (pinned_base, base_image, suite, mut layers) = if on_image {
        let image = lock
            .image_base()
            .filter(|image| image.image == request.manifest.base.image)
            .ok_or_else(|| BuildError::UnpinnedImage {
                image: request.manifest.base.image.clone(),
            })?;
        let (resolved, layers) = builder.image_layers(image, request.offline)?;
        (false, Some(resolved), None, layers)
    } else {
        let suite = base::suite(
            request.manifest,
            &request.manifest.base.image,
            lock.target.arch,
        )?;
        let pinned = builder.pin_base(request, &suite, lock)?;
        let layer =
            builder.base_layer(&suite, lock.debian_base().ok_or(BuildError::OfflineBase)?)?;
        let stdlib = builder.stdlib_layer(lock, &layer.1, &mut store_lock)?;
        (
            pinned,
            None,
            Some(suite),
            [Some(layer), stdlib].into_iter().flatten().collect(),
        )
    };
    let (pinned_system_packages, system_packages_layer) = builder.system_packages_layer(
        request,
        suite.as_ref(),
        &system_libraries::BaseTree::new(store, &request.manifest.base.image, &layers),
        lock,
    )?;
    layers.extend(system_packages_layer);
    let base = system_libraries::BaseTree::new(store, &request.manifest.base.image, &layers);
    let built = builder.sdist_wheels(request, suite.as_ref(), &base, lock, &mut store_lock)?;
    let pins_system_libraries = system_libraries::unpinned(request, lock)?;
    // The wheel layers are made before the system libraries' layer that goes below them:
    // they do not depend on it (their bytecode compiles on the base alone), and so the
    // pinning's scan of every wheel is made by their installs, as they write each shared
    // object, instead of decompressing all of them again before the first layer.
    let base_layers: Vec<Layer> = layers.iter().map(|(_, layer)| layer.clone()).collect();
    let (wheel_layers, scans) =
        builder.wheel_layers(lock, &built, (&base_layers, &layers), &mut store_lock)?;
    if pins_system_libraries {
        let wheels = (&built, scans);
        builder.pin_system_libraries(request, suite.as_ref(), &base, wheels, lock)?;
    }
    let system_libraries_layer =
        builder.system_libraries_layer(request, suite.as_ref(), &base, lock)?;
    layers.extend(system_libraries_layer);
    layers.extend(wheel_layers);
    let env = image_env(request.manifest, base_image.as_ref());
    let step_settings = steps::StepSettings {
        env: &env,
        arch: lock.target.arch,
    };
    builder.build_steps(request, &step_settings, false, &mut layers, &mut store_lock)?;
    layers.push(builder.code_layer(request)?);
    builder.build_steps(request, &step_settings, true, &mut layers, &mut store_lock)?;
    let descriptor = write_image(store, request, lock, base_image.as_ref(), &layers)?;
    store.tag(request.reference, &descriptor)?;
    drop(store_lock);
    Ok(BuildReport {
        reference: request.reference.clone(),
        manifest_digest: descriptor.digest().to_string(),
        layers: layers.into_iter().map(|(built, _)| built).collect(),
        seconds: started.elapsed().as_secs_f64(),
        pinned_base,
        pinned_system_libraries: pins_system_libraries,
        pinned_system_packages,
        system_libraries: lock
            .system_libraries
            .as_ref()
            .map(|pins| pins.needed.clone())
            .unwrap_or_default(),
        host_driver_libraries: lock
            .system_libraries
            .as_ref()
            .map(|pins| pins.host_driver.clone())
            .unwrap_or_default(),
        sdists: built
            .iter()
            .map(|(package, wheel)| BuiltSdist {
                package: package.clone(),
                wheel: wheel
                    .path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                seconds: wheel.seconds,
            })
            .collect(),
    })
}

type StagedLayer = (BuiltLayer, Layer);

/// The handles every step of one build shares.
struct Builder<'a> {
    fetch: Fetcher<'a>,
    store: &'a Store,
    writer: LayerWriter,
    /// What besides the inputs decides a layer's bytes: the compression and the mtime. Part
    /// of every cache key, so a gzip build never reuses a zstd layer.
    layer_format: String,
    cache: LayerCache,
    cache_dir: PathBuf,
    reporter: &'a dyn BuildReporter,
}

impl<'a> Builder<'a> {
    fn new(
        network: &'a crate::network::Network,
        store: &'a Store,
        compression: Compression,
        offline: bool,
        project: &Path,
        reporter: &'a dyn BuildReporter,
    ) -> Result<Self, BuildError> {
        let cache_dir = crate::dirs::cache_dir().map_err(PypiError::from)?;
        Ok(Self {
            fetch: Fetcher::new(network, offline, project, cache_dir.clone(), reporter)?,
            store,
            writer: LayerWriter::from_env()?.compression(compression),
            layer_format: format!(
                "{} mtime {}",
                // Only zstd and gzip get here: the choices a user has.
                compression.layer_media_type().unwrap_or_default(),
                crate::oci::source_date_epoch()?.unwrap_or(crate::oci::DEFAULT_MTIME)
            ),
            cache: LayerCache::new(store),
            cache_dir,
            reporter,
        })
    }

    /// Pin the base into the lock file unless it is pinned for these inputs already.
    fn pin_base(
        &self,
        request: &BuildRequest<'_>,
        suite: &Suite,
        lock: &mut ProjectLock,
    ) -> Result<bool, BuildError> {
        let inputs = base::inputs_sha256(request.manifest, suite);
        if lock
            .debian_base()
            .is_some_and(|base| base.inputs_sha256 == inputs)
        {
            return Ok(false);
        }
        if request.locked {
            return Err(BuildError::LockedBase);
        }
        if request.offline {
            return Err(BuildError::OfflineBase);
        }
        self.reporter.phase("base", "resolving Debian packages");
        lock.pin_debian_base(base::pin(&self.fetch, request.manifest, suite)?)?;
        Ok(true)
    }

    /// A fresh staging tree inside the store, so layer files and blobs share a file system;
    /// owned by this process, so a killed build's tree is removed by the next store open.
    fn staging(&self) -> Result<TempTree, BuildError> {
        Ok(self.store.temp_tree("build-")?)
    }

    /// Reuse the cached layer for `key`, or stage and write it.
    fn cached_layer(
        &self,
        key: &str,
        description: String,
        stage: impl FnOnce(&Path) -> Result<(), BuildError>,
    ) -> Result<StagedLayer, BuildError> {
        match self.stage_layer(key, description, stage)? {
            PendingLayer::Reused(layer) => Ok(layer),
            PendingLayer::Staged(staged) => self.write_staged(staged),
        }
    }

    /// The cached layer for `key`, or its tree staged by `stage`, to be written by
    /// [`Builder::write_staged`] (on another thread, while the next layer is staged).
    fn stage_layer(
        &self,
        key: &str,
        description: String,
        stage: impl FnOnce(&Path) -> Result<(), BuildError>,
    ) -> Result<PendingLayer, BuildError> {
        let started = Instant::now();
        let key = self.format_key(key);
        if let Some(layer) = self.cache.get(&key, self.store) {
            let built = built(description, &layer, true, started);
            return Ok(PendingLayer::Reused((built, layer)));
        }
        let dir = self.staging()?;
        stage(dir.path())?;
        Ok(PendingLayer::Staged(StagedTree {
            key,
            description,
            dir,
            started,
        }))
    }

    /// Write a staged tree as its layer, hand the tree to the layer cache and cache the layer.
    fn write_staged(&self, staged: StagedTree) -> Result<StagedLayer, BuildError> {
        self.reporter.phase(&staged.description, "compressing");
        let name = step_name(&staged.description);
        let layer = self.write_adopted(staged.dir, false, |dir| self.write_layer(name, dir))?;
        self.cache.put(&staged.key, &layer);
        let built = built(staged.description, &layer, false, staged.started);
        Ok((built, layer))
    }

    /// Reuse the cached layer for `key`, or `make` it and cache it.
    fn cached_or_made(
        &self,
        key: &str,
        description: String,
        make: impl FnOnce() -> Result<Layer, BuildError>,
    ) -> Result<StagedLayer, BuildError> {
        let started = Instant::now();
        let key = self.format_key(key);
        let key = key.as_str();
        let (layer, reused) = if let Some(layer) = self.cache.get(key, self.store) {
            (layer, true)
        } else {
            let layer = make()?;
            self.cache.put(key, &layer);
            (layer, false)
        };
        Ok((built(description, &layer, reused, started), layer))
    }

    /// The layer cache's key for a layer's inputs `key` in this build's layer format.
    fn format_key(&self, key: &str) -> String {
        cache::key(
            "mlpack-layer-format-v1",
            &[key.to_string(), self.layer_format.clone()],
        )
    }

    /// Write the staged tree `staging` as a layer with `write` and hand the tree to the
    /// runtime's cache of unpacked layers, so the first `mlpack run` or `train` after the
    /// build unpacks nothing: the tree's owners, modes and times are first set as the tar has
    /// them (only the times with `keep_owners`, for a layer written with its owners and modes
    /// as they are: a Dockerfile's `COPY`), and after the write it is renamed into
    /// `layers/<diffID>/` (unless the cache has the layer already, or unpacking would not
    /// recreate the tree as it is; the first run then unpacks the blob, as before). The tar
    /// is the same for the normalized tree, since it records those owners, modes and times
    /// whatever the tree has; the file system's sync that the rename needs (seconds after GBs
    /// of wheels) runs while the layer is written, which only reads the tree.
    fn write_adopted(
        &self,
        staging: TempTree,
        keep_owners: bool,
        write: impl FnOnce(&Path) -> Result<Layer, BuildError>,
    ) -> Result<Layer, BuildError> {
        let normalized = if keep_owners {
            self.writer
                .normalize_as_unpacked_keeping_owners(staging.path())?
        } else {
            self.writer.normalize_as_unpacked(staging.path())?
        };
        if !normalized {
            return write(staging.path());
        }
        let dir = staging.path().to_path_buf();
        let (layer, synced) = std::thread::scope(|scope| {
            let synced = scope.spawn(|| SyncedTree::sync(staging));
            let layer = write(&dir);
            let synced = synced
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (layer, synced)
        });
        let layer = layer?;
        let layers = crate::runtime::LayerCache::for_store(self.store);
        layers
            .adopt(synced.map_err(adopt_error)?, &layer.diff_id)
            .map_err(adopt_error)?;
        Ok(layer)
    }

    /// Write the tree at `dir` as a layer, its bytes counted as the step `name`.
    fn write_layer(&self, name: &str, dir: &Path) -> Result<Layer, BuildError> {
        let step = Step {
            kind: StepKind::Layer,
            name,
            count: 1,
        };
        let tally = progress::Tally::start(self.reporter, step, None);
        let layer = self
            .writer
            .write_dir_counted(self.store, dir, &|bytes| tally.advance(bytes))?;
        tally.finish(Some(layer.size));
        Ok(layer)
    }

    fn base_layer(&self, suite: &Suite, base: &LockedBase) -> Result<StagedLayer, BuildError> {
        let mut hashes: Vec<String> = base
            .packages
            .iter()
            .map(|package| package.sha256.clone())
            .collect();
        hashes.sort();
        let key = cache::key("mlpack-base-v1", &hashes);
        let description = format!(
            "base {} ({} Debian packages)",
            base.image,
            base.packages.len()
        );
        self.cached_layer(&key, description.clone(), |dir| {
            self.reporter.phase(&description, "downloading");
            let debs = self
                .fetch
                .debs(suite, &base.packages, step_name(&description))?;
            self.reporter.phase(&description, "unpacking");
            base::stage(suite, base, &debs, dir)
        })
    }

    /// The bytecode of the Debian base layer `base`'s standard library, as a layer of its own
    /// (see [`bytecode`]); none where the image's interpreter cannot run on this machine.
    fn stdlib_layer(
        &self,
        lock: &Lockfile,
        base: &Layer,
        store_lock: &mut Option<StoreLock>,
    ) -> Result<Option<StagedLayer>, BuildError> {
        if !bytecode::compiles_for(lock.target.arch) {
            return Ok(None);
        }
        let installer = python::installer(lock);
        let key = bytecode::stdlib_key(base, &installer.python);
        let stdlib = format!("/usr/lib/python{}", lock.target.python);
        let description = format!("python standard library bytecode ({stdlib})");
        let mut compiler =
            bytecode::Compiler::new(self, &installer, vec![base.clone()], lock.target.arch);
        let layer = self.cached_layer(&key, description.clone(), |dir| {
            self.reporter.phase(&description, "compiling bytecode");
            compiler.compile_stdlib(&stdlib, dir, store_lock)
        })?;
        Ok(Some(layer))
    }

    /// A registry image's layers, as they are (pulled by digest if the store lacks them).
    fn image_layers(
        &self,
        image: &LockedImage,
        offline: bool,
    ) -> Result<(ResolvedImage, Vec<StagedLayer>), BuildError> {
        let started = Instant::now();
        self.reporter
            .phase(&format!("base {}", image.image), "checking");
        let resolved = image_base::ensure(&self.fetch, self.store, image, offline)?;
        let layers = image_base::layers(&resolved)?;
        let count = layers.len();
        let staged = layers
            .into_iter()
            .enumerate()
            .map(|(index, layer)| {
                let description = format!("base {} ({}/{count})", image.image, index + 1);
                (built(description, &layer, true, started), layer)
            })
            .collect();
        Ok((resolved, staged))
    }

    /// The layers of locked wheels, each with its bytecode compiled (see [`bytecode`]) by
    /// the interpreter of the `base` layers; `below` are the layers under them. The wheels of
    /// every layer not in the layer cache are downloaded ahead, in layer order, and each is
    /// installed as soon as it is on disk (see [`prefetch`]). Each layer is written
    /// (compressed and hashed) on a thread of its own while the next one's wheels are
    /// installed, the two together keeping the cores busy where either alone leaves one idle
    /// (a single large wheel such as torch installs on one core). Returns the layers, and the
    /// shared objects of the wheels it installed.
    fn wheel_layers(
        &self,
        lock: &Lockfile,
        built: &sdist::SdistWheels,
        (base, below): (&[Layer], &[StagedLayer]),
        store_lock: &mut Option<StoreLock>,
    ) -> Result<(Vec<StagedLayer>, Vec<WheelScan>), BuildError> {
        let installer = python::installer(lock);
        let mut compiler =
            bytecode::Compiler::new(self, &installer, base.to_vec(), lock.target.arch);
        let groups: Vec<(String, String, plan::WheelGroup)> = plan::wheel_groups(lock)
            .into_iter()
            .map(|group| {
                let wheels_key = python::key(&group.packages, &installer, built);
                let key = bytecode::key(&wheels_key, &installer, lock.target.arch);
                let names: Vec<&str> = group
                    .packages
                    .iter()
                    .map(|package| package.name.as_str())
                    .collect();
                let description = format!("{}: {}", group.description, names.join(", "));
                (key, description, group)
            })
            .collect();
        let wanted = groups
            .iter()
            .map(|(key, _, group)| {
                let cached = self.cache.get(&self.format_key(key), self.store).is_some();
                (!cached).then_some(prefetch::Wanted {
                    packages: &group.packages,
                    name: &group.description,
                })
            })
            .collect();
        std::thread::scope(|scope| {
            let mut prefetch = prefetch::WheelPrefetch::start(scope, &self.fetch, built, wanted);
            let mut layers: Vec<StagedLayer> = Vec::new();
            let mut scans = Vec::new();
            let mut writing = None;
            for (index, (key, description, group)) in groups.iter().enumerate() {
                let pending = self.stage_layer(key, description.clone(), |dir| {
                    let (wheels, written) = if let Some(arriving) = prefetch.take(index) {
                        self.reporter.phase(description, "installing as downloaded");
                        let count = fetch::wheel_count(&group.packages);
                        arriving.install(&installer, count, dir)?
                    } else {
                        self.reporter.phase(description, "downloading");
                        let wheels =
                            self.fetch
                                .wheels(&group.packages, built, &group.description)?;
                        self.reporter.phase(description, "installing");
                        let written = python::stage(&installer, &wheels, dir)?;
                        (wheels, written)
                    };
                    scans.extend(WheelScan::installed(wheels, written, lock.target.arch));
                    // The store lock is released while the compile runs: the layer being
                    // written must be done, so that the compile's keep image holds its blob.
                    layers.extend(finish_writing(writing.take())?);
                    self.reporter.phase(description, "compiling bytecode");
                    let written = below.iter().chain(&layers).map(|(_, layer)| layer.clone());
                    compiler.compile(dir, written.collect(), store_lock)
                })?;
                layers.extend(finish_writing(writing.take())?);
                match pending {
                    PendingLayer::Reused(layer) => layers.push(layer),
                    PendingLayer::Staged(staged) => {
                        writing = Some(scope.spawn(|| self.write_staged(staged)));
                    }
                }
            }
            layers.extend(finish_writing(writing.take())?);
            Ok((layers, scans))
        })
    }

    fn code_layer(&self, request: &BuildRequest<'_>) -> Result<StagedLayer, BuildError> {
        let started = Instant::now();
        let dir = self.staging()?;
        let manifest = request.manifest;
        let mut skip = code::left_out(manifest);
        skip.extend(code::inside(request.project, self.store.root()));
        skip.extend(code::inside(request.project, &self.cache_dir));
        let files = code::stage(request.project, &skip, dir.path(), &manifest.train.workdir)?;
        let name = format!("project code at {}", manifest.train.workdir);
        let layer = self.write_adopted(dir, false, |dir| self.write_layer(&name, dir))?;
        let description = format!("{name} ({files} files)");
        Ok((built(description, &layer, false, started), layer))
    }
}

/// A layer's name in progress lines: its description up to the first `:` or ` (` (`python
/// packages`, not the list of them).
fn step_name(description: &str) -> &str {
    let end = [description.find(": "), description.find(" (")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(description.len());
    &description[..end]
}

/// A failed hand-over of a written layer's tree to the layer cache (its sync or rename).
fn adopt_error(error: crate::runtime::LayerError) -> BuildError {
    BuildError::Runtime(error.into())
}

/// A layer of the build on its way: taken from the cache, or staged and not yet written.
enum PendingLayer {
    Reused(StagedLayer),
    Staged(StagedTree),
}

/// A layer's tree, staged, with what writing it needs.
struct StagedTree {
    /// The layer cache's key (see [`Builder::format_key`]).
    key: String,
    description: String,
    dir: TempTree,
    started: Instant,
}

/// The layer a writer thread made, once it has; none without one.
fn finish_writing(
    writing: Option<std::thread::ScopedJoinHandle<'_, Result<StagedLayer, BuildError>>>,
) -> Result<Option<StagedLayer>, BuildError> {
    writing
        .map(|thread| {
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .transpose()
}

fn built(description: String, layer: &Layer, reused: bool, started: Instant) -> BuiltLayer {
    BuiltLayer {
        description,
        digest: layer.digest.to_string(),
        diff_id: layer.diff_id.digest().to_string(),
        size: layer.size,
        reused,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Write the image's config and manifest: a registry base's config (environment, entrypoint,
/// labels, history) under mlpack's, as a `FROM` would leave it.
fn write_image(
    store: &Store,
    request: &BuildRequest<'_>,
    lock: &ProjectLock,
    base: Option<&ResolvedImage>,
    layers: &[StagedLayer],
) -> Result<Descriptor, BuildError> {
    let git = config::git_state(request.project);
    let created = config::created(Some(request.project), git.as_ref())?;
    let base_config = base
        .and_then(|image| image.config.config().clone())
        .unwrap_or_default();
    let mut labels: std::collections::BTreeMap<String, String> = base_config
        .labels()
        .clone()
        .map(|labels| labels.into_iter().collect())
        .unwrap_or_default();
    labels.extend(config::labels(
        request.manifest,
        request.project_name,
        lock,
        &lock.file_sha256()?,
        git.as_ref(),
        &created,
    ));
    let mut history = base
        .map(|image| image_base::history(image, &request.manifest.base.image))
        .unwrap_or_default();
    let base_layers = history.iter().filter(|step| !step.empty_layer).count();
    history.extend(layers[base_layers..].iter().map(|(built, _)| HistoryEntry {
        created_by: format!("mlpack build: {}", built.description),
        comment: String::new(),
        empty_layer: false,
    }));
    let spec = ImageSpec {
        layers: layers.iter().map(|(_, layer)| layer.clone()).collect(),
        env: image_env(request.manifest, base),
        working_dir: request.manifest.train.workdir.clone(),
        cmd: request.manifest.train.command.args(),
        entrypoint: match &request.manifest.image.entrypoint {
            Some(entrypoint) => entrypoint.args(),
            None => base_config.entrypoint().clone().unwrap_or_default(),
        },
        user: match &request.manifest.image.user {
            Some(user) => user.get_ref().clone(),
            None => base_config.user().clone().unwrap_or_default(),
        },
        exposed_ports: config::exposed_ports(&base_config, request.manifest),
        volumes: base_config.volumes().clone().unwrap_or_default(),
        stop_signal: base_config.stop_signal().clone().unwrap_or_default(),
        labels,
        created: created.clone(),
        architecture: lock.target.arch.oci().to_string(),
        os: "linux".to_string(),
        history,
    };
    Ok(oci::write_image(store, &spec)?)
}

/// The image's environment: a registry base's, mlpack's own over it, then `[image] env`.
fn image_env(manifest: &Manifest, base: Option<&ResolvedImage>) -> Vec<String> {
    let base_env = base
        .and_then(|image| image.config.config().as_ref())
        .and_then(|config| config.env().clone())
        .unwrap_or_default();
    config::with_image_env(
        image_base::env(&base_env, &config::env()),
        &manifest.image.env,
    )
}

/// One layer above the base as the plan has it, before anything is fetched.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedLayer {
    /// `system libraries`, `hardware libraries (1/2)`, `framework torch`, `python packages`.
    pub description: String,
    /// Debian packages for the system libraries, else distributions.
    pub packages: Vec<String>,
    /// The `.deb`s' or wheels' compressed size, as the index gave it.
    pub download_bytes: u64,
}

/// The layers between the base and the code that `lock` gives, in image order, for `mlpack
/// build --dry-run`. The system libraries are known only where the lock pins them for its
/// current wheels; otherwise the build finds them by scanning the wheels.
pub fn planned_layers(lock: &Lockfile) -> Vec<PlannedLayer> {
    let mut layers = Vec::new();
    if let Some(pins) = lock
        .system_packages
        .as_ref()
        .filter(|pins| !pins.packages.is_empty())
    {
        layers.push(PlannedLayer {
            description: format!("system packages ({})", pins.requested.join(", ")),
            packages: pins.packages.iter().map(|deb| deb.name.clone()).collect(),
            download_bytes: pins.packages.iter().map(|deb| deb.size).sum(),
        });
    }
    match &lock.system_libraries {
        Some(pins) if pins.inputs_sha256 == system_libraries::inputs_sha256(lock) => {
            if !pins.packages.is_empty() {
                layers.push(PlannedLayer {
                    description: "system libraries".to_string(),
                    packages: pins.packages.iter().map(|deb| deb.name.clone()).collect(),
                    download_bytes: pins.packages.iter().map(|deb| deb.size).sum(),
                });
            }
        }
        _ => layers.push(PlannedLayer {
            description: "system libraries (not pinned for these wheels yet: the build scans them)"
                .to_string(),
            packages: Vec::new(),
            download_bytes: 0,
        }),
    }
    layers.extend(plan::wheel_groups(lock).into_iter().map(|group| {
        PlannedLayer {
            description: group.description,
            packages: group
                .packages
                .iter()
                .map(|package| package.name.clone())
                .collect(),
            download_bytes: group
                .packages
                .iter()
                .filter_map(|package| package.locked_file().and_then(|file| file.size))
                .sum(),
        }
    }));
    layers
}
