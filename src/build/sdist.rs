//! Wheels from sdists ([PEP 517]), built in mlpack's own runtime.
//!
//! Each build runs in a container of the project's base, plus a C toolchain from Debian
//! (`build-essential`, and `python3-dev` on a Debian base) when the sdist has native sources,
//! plus the locked build environment installed at `/mlpack/build-env`; with no network, the
//! sdist mounted read-only and a fixed `SOURCE_DATE_EPOCH`. The container image is temporary
//! (tagged while the build runs, then untagged); the toolchain never reaches the project's
//! image. Each wheel is cached by what decides its bytes: the sdist's sha256, the base's
//! layers, the interpreter, the build environment's wheels, the backend and the toolchain; so
//! an unchanged sdist is built once per machine and shared by every project.
//!
//! [PEP 517]: https://peps.python.org/pep-0517/

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use rayon::prelude::*;

use crate::debian::Suite;
use crate::error::{Diagnostic, FromIo};
use crate::lock::{
    BuiltWheel, LockError, LockedDeb, LockedPackage, Lockfile, MetadataBuilder, MetadataRequest,
    ProjectLock,
};
use crate::manifest::Manifest;
use crate::oci::{self, Store, StoreLock};
use crate::pypi::SdistInfo;
use crate::wheel::{InstallScheme, WheelInstaller};

use super::container::{ContainerConfig, mlpack_run};
use super::system_libraries::{BaseTree, base_suite, installed_packages, stage_debs};
use super::{BuildError, BuildReporter, BuildRequest, Builder, StagedLayer, base, cache, python};

/// The frontend that runs inside the build container.
const FRONTEND: &str = include_str!("sdist_frontend.py");
/// Where the build environment is installed inside the build container.
const BUILD_ENV: &str = "/mlpack/build-env";
/// How many lines of a failed build's log the error shows.
const LOG_TAIL_LINES: usize = 25;

/// Under the cache directory: the logs of failed sdist builds, kept for the error that names
/// them.
pub const SDIST_LOGS_DIR: &str = "sdist-logs";

/// A wheel built from a package's sdist.
#[derive(Debug, Clone)]
pub(crate) struct SdistWheel {
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    /// How long this build took to make it; `None` when it came from the cache.
    pub(crate) seconds: Option<f64>,
}

/// The built wheels, by package name.
pub(crate) type SdistWheels = BTreeMap<String, SdistWheel>;

/// A build that failed: the package, the backend, and the log's last lines.
#[derive(Debug, thiserror::Error)]
#[error(
    "building `{package}` {version} from its sdist failed ({status}) with the backend `{backend}`; the log's last lines:\n{tail}\n\nthe whole log: `{}`",
    log.display()
)]
pub struct SdistBuildFailure {
    pub package: String,
    pub version: String,
    pub backend: String,
    pub status: String,
    pub tail: String,
    pub log: PathBuf,
}

impl Diagnostic for SdistBuildFailure {
    fn hints(&self) -> Vec<String> {
        vec![format!(
            "if `{package}` needs a system library or tool to build, add its Debian package to `[base] packages`; or pin a version of `{package}` that has a wheel for the target",
            package = self.package
        )]
    }

    /// The project asks for a package that does not build on its base.
    fn is_user_error(&self) -> bool {
        true
    }
}

/// One sdist of the lock, fetched and read.
struct Sdist<'a> {
    package: &'a LockedPackage,
    path: PathBuf,
    info: Arc<SdistInfo>,
    /// The cache key of its wheel.
    key: String,
}

/// What the frontend does in a build container.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Build the wheel.
    Wheel,
    /// Compute the metadata (`prepare_metadata_for_build_wheel`).
    Metadata,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Wheel => "wheel",
            Self::Metadata => "metadata",
        }
    }
}

/// One build container to run: the sdist, its backend, and the temporary image.
struct Job {
    name: String,
    version: String,
    /// The sdist on the host, and its file name.
    path: PathBuf,
    filename: String,
    backend: String,
    backend_path: Vec<String>,
    image: String,
    python: String,
}

/// What one sdist of the lock needs: nothing (its wheel is cached), or a build (its wheel's
/// cache key, and the job).
enum Step {
    Cached(SdistWheel),
    Build(String, Job),
}

/// A finished container run: its exit status, and its work dir (holding `out/` and the log).
struct Run {
    status: std::process::ExitStatus,
    work: tempfile::TempDir,
}

impl Run {
    fn out(&self) -> PathBuf {
        self.work.path().join("out")
    }

    fn log(&self) -> PathBuf {
        self.work.path().join("build.log")
    }
}

impl Builder<'_> {
    /// Every sdist of `lock` as a wheel, built where the cache lacks it, and recorded in the
    /// lock. `store_lock` is released while the containers run (each is an `mlpack run`,
    /// which takes the store's lock itself) and held again afterwards; the temporary images
    /// are tagged meanwhile, so a concurrent `prune` leaves their layers alone.
    pub(super) fn sdist_wheels(
        &self,
        request: &BuildRequest<'_>,
        suite: Option<&Suite>,
        base: &BaseTree<'_>,
        lock: &mut ProjectLock,
        store_lock: &mut Option<StoreLock>,
    ) -> Result<SdistWheels, BuildError> {
        let mut wheels = SdistWheels::new();
        let mut jobs = Vec::new();
        for package in lock
            .packages
            .iter()
            .filter(|package| package.sdist.is_some())
        {
            let step = self.sdist(package, lock, base).and_then(|sdist| {
                match cached_wheel(&self.wheel_dir(&sdist.key))? {
                    Some(wheel) => Ok(Step::Cached(wheel)),
                    None => Ok(Step::Build(
                        sdist.key.clone(),
                        self.prepare(request, suite, base, lock, &sdist)?,
                    )),
                }
            });
            match step {
                Ok(Step::Build(key, job)) => jobs.push((key, job)),
                Ok(Step::Cached(wheel)) => {
                    wheels.insert(package.name.clone(), wheel);
                }
                Err(error) => {
                    // No temporary image outlives a failed build.
                    for (_, job) in &jobs {
                        self.store.untag(&job.image)?;
                    }
                    return Err(error);
                }
            }
        }
        if jobs.is_empty() {
            return Self::record(lock, wheels);
        }
        drop(store_lock.take());
        // Each build is a process of its own, mostly waiting on the backend: run them side by
        // side, one per core.
        let results: Vec<_> = jobs
            .par_iter()
            .map(|(key, job)| self.build_wheel(job, key))
            .collect();
        *store_lock = Some(self.store.lock()?);
        for (_, job) in &jobs {
            self.store.untag(&job.image)?;
        }
        for ((_, job), result) in jobs.iter().zip(results) {
            wheels.insert(job.name.clone(), result?);
        }
        Self::record(lock, wheels)
    }

    /// Fetch and read the sdist of `package` (verified against the lock's sha256).
    fn sdist<'a>(
        &self,
        package: &'a LockedPackage,
        lock: &Lockfile,
        base: &BaseTree<'_>,
    ) -> Result<Sdist<'a>, BuildError> {
        let locked = package.sdist.as_ref().ok_or_else(|| BuildError::Unbuilt {
            package: package.name.clone(),
        })?;
        let entry = format!(
            "the sdist `{}` of `{}` {}",
            locked.name, package.name, package.version
        );
        let (path, info) = self.fetch.sdist(locked, entry, &package.name)?;
        let installer = python::installer(lock);
        let mut parts = vec![
            format!("sdist {}", locked.hashes.sha256),
            format!(
                "interpreter {} {}",
                installer.python,
                lock.target.describe()
            ),
            format!("toolchain {}", info.native_sources),
        ];
        parts.extend(
            base.layers
                .iter()
                .map(|(_, layer)| format!("base {}", layer.diff_id.digest())),
        );
        if let Some(build) = &package.build {
            parts.push(format!(
                "backend {} {:?}",
                build.backend, build.backend_path
            ));
        }
        parts.extend(
            lock.build_environment(package)
                .iter()
                .flat_map(|entry| &entry.wheels)
                .map(|wheel| format!("build wheel {}", wheel.hashes.sha256)),
        );
        Ok(Sdist {
            package,
            path,
            info,
            key: cache::key("mlpack-sdist-wheel-v1", &parts),
        })
    }

    fn wheel_dir(&self, key: &str) -> PathBuf {
        self.cache_dir.join("sdist-wheels-v1").join(key)
    }

    /// The build container of a locked sdist: the base, the toolchain when it has native
    /// sources, and its build environment.
    fn prepare(
        &self,
        request: &BuildRequest<'_>,
        suite: Option<&Suite>,
        base: &BaseTree<'_>,
        lock: &Lockfile,
        sdist: &Sdist<'_>,
    ) -> Result<Job, BuildError> {
        let mut layers: Vec<oci::Layer> =
            base.layers.iter().map(|(_, layer)| layer.clone()).collect();
        if sdist.info.native_sources
            && let Some((_, layer)) = self.toolchain_layer(request.manifest, suite, base, lock)?
        {
            layers.push(layer);
        }
        let python = python::installer(lock).python;
        let package = sdist.package;
        let environment = lock.build_environment(package);
        layers.push(
            self.environment_layer(&package.name, &environment, &python)?
                .1,
        );
        let build = package.build.as_ref();
        Ok(Job {
            name: package.name.clone(),
            version: package.version.clone(),
            path: sdist.path.clone(),
            filename: package
                .sdist
                .as_ref()
                .map_or_else(String::new, |file| file.name.clone()),
            backend: build.map_or_else(
                || sdist.info.build_system.backend.clone(),
                |build| build.backend.clone(),
            ),
            backend_path: build.map_or_else(
                || sdist.info.build_system.backend_path.clone(),
                |build| build.backend_path.clone(),
            ),
            image: self.sdist_image(layers, lock.target.arch, &sdist.key)?,
            python,
        })
    }

    /// A temporary image of `layers` with the build environment's variables, tagged so a
    /// concurrent `prune` keeps it while the container runs.
    fn sdist_image(
        &self,
        layers: Vec<oci::Layer>,
        arch: crate::arch::Arch,
        key: &str,
    ) -> Result<String, BuildError> {
        let env = vec![
            format!(
                "PATH={BUILD_ENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            ),
            format!("PYTHONPATH={BUILD_ENV}/lib"),
            format!(
                "SOURCE_DATE_EPOCH={}",
                oci::source_date_epoch()?.unwrap_or(oci::DEFAULT_MTIME)
            ),
            "HOME=/tmp".to_string(),
            "PYTHONDONTWRITEBYTECODE=1".to_string(),
        ];
        let config = ContainerConfig {
            purpose: "sdist",
            key,
            env,
            working_dir: "/tmp",
        };
        self.container_image(layers, arch, &config)
    }

    /// The build environment of `name`, installed under `/mlpack/build-env` for `python`.
    fn environment_layer(
        &self,
        name: &str,
        environment: &[&LockedPackage],
        python: &str,
    ) -> Result<StagedLayer, BuildError> {
        let installer = WheelInstaller {
            scheme: InstallScheme {
                purelib: format!("{BUILD_ENV}/lib"),
                platlib: format!("{BUILD_ENV}/lib"),
                scripts: format!("{BUILD_ENV}/bin"),
                data: BUILD_ENV.to_string(),
                headers: format!("{BUILD_ENV}/include"),
            },
            python: python.to_string(),
        };
        let none = SdistWheels::new();
        let key = python::key(environment, &installer, &none);
        let description = format!("build environment of {name}");
        self.cached_layer(&key, description.clone(), |dir| {
            self.reporter.phase(&description, "downloading");
            let wheels = self.fetch.wheels(environment, &none, &description)?;
            python::stage(&installer, &wheels, dir).map(drop)
        })
    }

    /// A C toolchain from the base's Debian release, or `None` when the base is an image
    /// mlpack cannot add Debian packages to (its own compiler, if any, is used).
    fn toolchain_layer(
        &self,
        manifest: &crate::manifest::Manifest,
        suite: Option<&Suite>,
        base: &BaseTree<'_>,
        lock: &Lockfile,
    ) -> Result<Option<StagedLayer>, BuildError> {
        let tree = base.get()?;
        let Some(suite) = base_suite(suite, tree, manifest, lock) else {
            return Ok(None);
        };
        // A registry image's interpreter brings its own headers; Debian's needs its -dev.
        let mut roots = vec!["build-essential".to_string()];
        if lock.image_base().is_none() {
            roots.push("python3-dev".to_string());
        }
        let have = installed_packages(tree.text_at("var/lib/dpkg/status").unwrap_or_default());
        let packages: Vec<LockedDeb> = self
            .fetch
            .debian_index(&suite)?
            .closure(&roots)?
            .into_iter()
            .filter(|package| !have.contains(&package.name))
            .map(base::locked_deb)
            .collect();
        let mut parts: Vec<String> = packages.iter().map(|deb| deb.sha256.clone()).collect();
        parts.sort();
        parts.extend(
            base.layers
                .iter()
                .map(|(_, layer)| layer.diff_id.digest().to_string()),
        );
        let key = cache::key("mlpack-toolchain-layer-v1", &parts);
        let description = format!("build toolchain ({} Debian packages)", packages.len());
        let layer = self.cached_layer(&key, description.clone(), |dir| {
            self.reporter.phase(&description, "downloading");
            let debs = self.fetch.debs(&suite, &packages, "build toolchain")?;
            self.reporter.phase(&description, "unpacking");
            stage_debs(dir, tree, &packages, &debs)
        })?;
        Ok(Some(layer))
    }

    /// Build one sdist's wheel in its container; the wheel lands in the cache only when the
    /// build succeeded, so a failed build leaves the cache as it was.
    fn build_wheel(&self, job: &Job, key: &str) -> Result<SdistWheel, BuildError> {
        let started = std::time::Instant::now();
        let run = self.run_frontend(job, Mode::Wheel)?;
        let out = run.out();
        let built = match cached_wheel(&out)? {
            Some(built) if run.status.success() => built,
            _ => return Err(self.failure(job, &run)),
        };
        let file_name = built
            .path
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        let log = run.log();
        fs_err::rename(&log, out.join("build.log")).map_err(io_error(&log))?;
        let dir = self.wheel_dir(key);
        // Another build of the same sdist may have finished first: its wheel is as good.
        if fs_err::rename(&out, &dir).is_err() && !dir.is_dir() {
            return Err(BuildError::io(
                "write",
                dir,
                std::io::Error::other("could not move the built wheel into the cache"),
            ));
        }
        Ok(SdistWheel {
            path: dir.join(file_name),
            sha256: built.sha256,
            seconds: Some(started.elapsed().as_secs_f64()),
        })
    }

    /// `mlpack run` the frontend in the job's container (no network, the sdist read-only),
    /// its output into the run's log.
    fn run_frontend(&self, job: &Job, mode: Mode) -> Result<Run, BuildError> {
        self.reporter.phase(
            &format!("sdist {} {}", job.name, job.version),
            mode.as_str(),
        );
        let parent = self.cache_dir.join("sdist-wheels-v1");
        fs_err::create_dir_all(&parent).map_err(io_error(&parent))?;
        let work = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&parent)
            .map_err(io_error(&parent))?;
        let run = Run {
            status: std::process::ExitStatus::default(),
            work,
        };
        let out = run.out();
        fs_err::create_dir(&out).map_err(io_error(&out))?;
        let frontend = run.work.path().join("frontend.py");
        fs_err::write(&frontend, FRONTEND).map_err(io_error(&frontend))?;
        let log = run.log();
        let log_file = fs_err::File::create(&log).map_err(io_error(&log))?;
        let log_copy = log_file.try_clone().map_err(io_error(&log))?;
        let inside = format!("/mlpack/sdist/{}", job.filename);
        let status = mlpack_run(self.store)?
            .args(["--rm", "--network", "none", "-v"])
            .arg(format!("{}:{inside}:ro", job.path.display()))
            .arg("-v")
            .arg(format!("{}:/mlpack/frontend.py:ro", frontend.display()))
            .arg("-v")
            .arg(format!("{}:/mlpack/out", out.display()))
            .arg(&job.image)
            .args([job.python.as_str(), "/mlpack/frontend.py", mode.as_str()])
            .args([inside.as_str(), "/mlpack/out", job.backend.as_str()])
            .args(&job.backend_path)
            .stdin(Stdio::null())
            .stdout(log_file.into_parts().0)
            .stderr(log_copy.into_parts().0)
            .status()
            .map_err(io_error(&log))?;
        Ok(Run { status, ..run })
    }

    /// The error for a failed build: the package, the backend, and the log's last lines; the
    /// whole log is kept where the error says.
    fn failure(&self, job: &Job, run: &Run) -> BuildError {
        let kept = self
            .cache_dir
            .join(SDIST_LOGS_DIR)
            .join(format!("{}-{}.log", job.name, job.version));
        let log = run.log();
        let kept = fs_err::create_dir_all(kept.parent().unwrap_or(Path::new(".")))
            .and_then(|()| fs_err::copy(&log, &kept))
            .map_or(log.clone(), |_| kept);
        BuildError::SdistBuild(Box::new(SdistBuildFailure {
            package: job.name.clone(),
            version: job.version.clone(),
            backend: job.backend.clone(),
            status: run.status.code().map_or_else(
                || "a signal".to_string(),
                |code| format!("exit status {code}"),
            ),
            tail: log_tail(&log),
            log: kept,
        }))
    }

    /// Record each built wheel in the lock (written unless `--locked`).
    fn record(lock: &mut ProjectLock, wheels: SdistWheels) -> Result<SdistWheels, BuildError> {
        lock.record_built_wheels(|name| {
            wheels.get(name).map(|wheel| BuiltWheel {
                name: wheel
                    .path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256: wheel.sha256.clone(),
            })
        })?;
        Ok(wheels)
    }
}

/// Computes sdists' metadata for `mlpack lock` with the same containers as the build: the
/// project's base (pinned for the purpose, not written to the lock) and the sdist's build
/// environment, without a toolchain (a backend computes metadata without compiling).
pub struct SdistMetadata<'a> {
    pub store: &'a Store,
    /// What relative direct references are relative to.
    pub project: &'a Path,
    pub manifest: &'a Manifest,
    pub offline: bool,
    pub reporter: &'a dyn BuildReporter,
}

impl MetadataBuilder for SdistMetadata<'_> {
    fn prepare_metadata(
        &self,
        network: &crate::network::Network,
        request: &MetadataRequest<'_>,
    ) -> Result<String, LockError> {
        self.prepare(network, request)
            .map_err(|error| LockError::SdistMetadata {
                package: request.sdist.name.to_string(),
                version: request.sdist.version.to_string(),
                hints: error.hints(),
                message: error.to_string(),
            })
    }
}

impl SdistMetadata<'_> {
    fn prepare(
        &self,
        network: &crate::network::Network,
        request: &MetadataRequest<'_>,
    ) -> Result<String, BuildError> {
        let builder = Builder::new(
            network,
            self.store,
            crate::compression::Compression::Zstd,
            self.offline,
            self.project,
            self.reporter,
        )?;
        let sdist = request.sdist;
        let mut store_lock = Some(self.store.lock()?);
        let mut layers: Vec<oci::Layer> = self
            .base_layers(&builder, request)?
            .into_iter()
            .map(|(_, layer)| layer)
            .collect();
        let python = python::interpreter(request.base_image);
        let environment: Vec<&LockedPackage> = request.environment.iter().collect();
        layers.push(
            builder
                .environment_layer(sdist.name.as_ref(), &environment, &python)?
                .1,
        );
        let path = builder.fetch.file(&sdist.file)?;
        let sha256 = sdist.file.sha256.clone().unwrap_or_default();
        let key = cache::key("mlpack-sdist-metadata-v1", &[sha256]);
        let job = Job {
            name: sdist.name.to_string(),
            version: sdist.version.to_string(),
            path,
            filename: sdist.file.filename.clone(),
            backend: sdist.build_system.backend.clone(),
            backend_path: sdist.build_system.backend_path.clone(),
            image: builder.sdist_image(layers, request.target.arch, &key)?,
            python,
        };
        drop(store_lock.take());
        let run = builder.run_frontend(&job, Mode::Metadata);
        store_lock = Some(self.store.lock()?);
        self.store.untag(&job.image)?;
        drop(store_lock);
        let run = run?;
        let metadata = run.out().join("METADATA");
        match fs_err::read(&metadata) {
            Ok(bytes) if run.status.success() => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            _ => Err(builder.failure(&job, &run)),
        }
    }

    /// The base's layers: a registry image's as they are, or a Debian base pinned afresh.
    fn base_layers(
        &self,
        builder: &Builder<'_>,
        request: &MetadataRequest<'_>,
    ) -> Result<Vec<StagedLayer>, BuildError> {
        if let Some(image) = request.base_image {
            return Ok(builder.image_layers(image, self.offline)?.1);
        }
        let suite = base::suite(
            self.manifest,
            &self.manifest.base.image,
            request.target.arch,
        )?;
        let pinned = base::pin(&builder.fetch, self.manifest, &suite)?;
        Ok(vec![builder.base_layer(&suite, &pinned)?])
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + use<> {
    let path = path.to_path_buf();
    move |source| BuildError::io("write", path, source)
}

/// The one wheel in `dir`, with its sha256, if there is one.
fn cached_wheel(dir: &Path) -> Result<Option<SdistWheel>, BuildError> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Ok(None);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|extension| extension == "whl") {
            let sha256 = crate::sha256::file_sha256(&path)
                .map_err(|source| BuildError::io("read", &path, source))?;
            return Ok(Some(SdistWheel {
                path,
                sha256,
                seconds: None,
            }));
        }
    }
    Ok(None)
}

/// The last lines of the log (at most 64 KiB of it are read).
pub(super) fn log_tail(log: &Path) -> String {
    let Ok(mut file) = fs_err::File::open(log) else {
        return String::new();
    };
    let length = file.metadata().map_or(0, |metadata| metadata.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}
