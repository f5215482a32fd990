//! What a build fetches. Each function here is one blocking call into the async network
//! modules (`pypi`, `debian`, `oci::registry`), and the only place `build` enters the
//! runtime: the downloads overlap inside the call, and the CPU work (closures, unpacking,
//! installing) runs after it, on what it returned.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::debian::{LibraryIndex, PackageIndex, Suite};
use crate::lock::{LockedDeb, LockedPackage, LockedWheel};
use crate::network::Network;
use crate::oci::registry::{self, PullReport, RegistryClient, TransferProgress};
use crate::oci::{ImageReference, Store};
use crate::pypi::{DistFile, IndexClient, SdistInfo};

use super::progress::{Step, StepKind, Tally, file_size};
use super::sdist::SdistWheels;
use super::{BuildError, BuildReporter, base, python};

/// Wheels on disk, each with the name of the package it belongs to.
pub(super) type Wheels = Vec<(String, PathBuf)>;

/// The clients of one build.
pub(super) struct Fetcher<'a> {
    network: &'a Network,
    client: IndexClient,
    http: reqwest::Client,
    cache_dir: PathBuf,
    /// Told the bytes of each batch of downloads.
    reporter: &'a dyn BuildReporter,
}

impl<'a> Fetcher<'a> {
    /// `project` is what relative direct references are relative to; `cache_dir` holds the
    /// downloads (`$XDG_CACHE_HOME/mlpack`).
    pub(super) fn new(
        network: &'a Network,
        offline: bool,
        project: &Path,
        cache_dir: PathBuf,
        reporter: &'a dyn BuildReporter,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            network,
            client: IndexClient::builder()
                .offline(offline)
                .base_dir(project.to_path_buf())
                .cache_dir(cache_dir.clone())
                .build()?,
            http: crate::debian::http_client()?,
            cache_dir,
            reporter,
        })
    }

    /// `suite`'s verified `Packages` index.
    pub(super) fn debian_index(&self, suite: &Suite) -> Result<PackageIndex, BuildError> {
        let index = crate::debian::fetch_index(&self.http, suite, &self.cache_dir);
        Ok(self.network.block_on(index)?)
    }

    /// `suite`'s index of which package ships which shared library.
    pub(super) fn library_index(&self, suite: &Suite) -> Result<LibraryIndex, BuildError> {
        let index = crate::debian::fetch_library_index(&self.http, suite, &self.cache_dir);
        Ok(self.network.block_on(index)?)
    }

    /// The `.deb`s of `packages`, verified against the lock (from the cache when there), the
    /// downloads overlapping and counted as the step `name`.
    pub(super) fn debs(
        &self,
        suite: &Suite,
        packages: &[LockedDeb],
        name: &str,
    ) -> Result<Vec<PathBuf>, BuildError> {
        let wanted: Vec<_> = packages.iter().map(base::deb_package).collect();
        let tally = self.tally(
            StepKind::Debs,
            name,
            packages.iter().map(|deb| Some(deb.size)),
        );
        let downloaded = |position: usize| tally.advance(packages[position].size);
        let downloads =
            crate::debian::download_all(&self.http, suite, &wanted, &self.cache_dir, &downloaded);
        let paths = self
            .network
            .block_on(downloads)
            .map_err(|(position, error)| base::lock_mismatch(error, &packages[position]))?;
        tally.finish(None);
        Ok(paths)
    }

    /// A step of downloads of `sizes`, started.
    fn tally<'s>(
        &'s self,
        kind: StepKind,
        name: &'s str,
        sizes: impl Iterator<Item = Option<u64>>,
    ) -> Tally<'s> {
        let sizes: Vec<Option<u64>> = sizes.collect();
        let step = Step {
            kind,
            name,
            count: sizes.len(),
        };
        // Known beforehand only when the lock gives every file's size.
        let total = sizes.iter().copied().sum::<Option<u64>>();
        Tally::start(self.reporter, step, total)
    }

    /// Every wheel of `packages` on disk with the package it belongs to, in the packages'
    /// order: the index's (the downloads overlapping, counted as the step `name`) or the one
    /// built from its sdist.
    pub(super) fn wheels(
        &self,
        packages: &[&LockedPackage],
        built: &SdistWheels,
        name: &str,
    ) -> Result<Wheels, BuildError> {
        let downloaded = self
            .network
            .block_on(self.wheel_downloads(packages, name, &|_, _| {}))?;
        paired(packages, downloaded, built)
    }

    /// [`Fetcher::wheels`], each wheel also handed to `arrived` (its position in what this
    /// returns, and its file) as soon as it is on disk: the built ones at once, the others as
    /// their downloads finish. Given up (`None`, the downloads cut short) as soon as `stop`'s
    /// sender is dropped.
    pub(super) fn wheels_unless_stopped(
        &self,
        packages: &[&LockedPackage],
        built: &SdistWheels,
        name: &str,
        stop: &tokio::sync::watch::Receiver<()>,
        arrived: &(dyn Fn(usize, &Path) + Sync),
    ) -> Option<Result<Wheels, BuildError>> {
        let positions = match WheelPositions::new(packages, built) {
            Ok(positions) => positions,
            Err(error) => return Some(Err(error)),
        };
        for (position, wheel) in &positions.built {
            arrived(*position, wheel);
        }
        let downloaded =
            |download: usize, path: &Path| arrived(positions.downloads[download], path);
        let mut stop = stop.clone();
        let downloads = self.wheel_downloads(packages, name, &downloaded);
        let downloaded = self.network.block_on(async {
            tokio::select! {
                downloaded = downloads => Some(downloaded),
                // Nothing is ever sent: this ends when the sender is dropped.
                _ = stop.changed() => None,
            }
        })?;
        Some(downloaded.and_then(|downloaded| paired(packages, downloaded, built)))
    }

    /// The index's wheels of `packages` on disk, in order, the downloads counted as the step
    /// `name`; `arrived` is told of each file's position and path as it is there.
    async fn wheel_downloads(
        &self,
        packages: &[&LockedPackage],
        name: &str,
        arrived: &(dyn Fn(usize, &Path) + Sync),
    ) -> Result<Vec<PathBuf>, BuildError> {
        let mut files = Vec::new();
        let mut entries = Vec::new();
        for package in packages {
            for wheel in &package.wheels {
                files.push(python::dist_file(wheel));
                entries.push(format!(
                    "the wheel `{}` of `{}` {}",
                    wheel.name, package.name, package.version
                ));
            }
        }
        self.download_counted(&files, StepKind::Wheels, name, arrived)
            .await
            .map_err(|(position, error)| {
                python::locked_error(error, std::mem::take(&mut entries[position]))
            })
    }

    /// A locked sdist on disk (checked against the lock's sha256, which `entry` names), and
    /// what it states about itself; its download is counted as the step `name`.
    pub(super) fn sdist(
        &self,
        locked: &LockedWheel,
        entry: String,
        name: &str,
    ) -> Result<(PathBuf, Arc<SdistInfo>), BuildError> {
        let file = python::dist_file(locked);
        let path = self
            .network
            .block_on(self.download_counted(
                std::slice::from_ref(&file),
                StepKind::Sdist,
                name,
                &|_, _| {},
            ))
            .map_err(|(_, error)| python::locked_error(error, entry))?
            .remove(0);
        let info = self.network.block_on(self.client.sdist_info(&file))?;
        Ok((path, info))
    }

    /// The `files` on disk, in order, their downloads overlapping and counted as the step
    /// `name`, `arrived` told of each file's position and path as it is there; a failure
    /// names the file's position.
    async fn download_counted(
        &self,
        files: &[DistFile],
        kind: StepKind,
        name: &str,
        arrived: &(dyn Fn(usize, &Path) + Sync),
    ) -> Result<Vec<PathBuf>, (usize, crate::pypi::PypiError)> {
        let tally = self.tally(kind, name, files.iter().map(|file| file.size));
        let fetched = |position: usize, path: &Path| {
            tally.advance(file_size(files[position].size, path));
            arrived(position, path);
        };
        let paths = self.client.fetch_files(files, &fetched).await?;
        tally.finish(None);
        Ok(paths)
    }

    /// A resolved file on disk.
    pub(super) fn file(&self, file: &DistFile) -> Result<PathBuf, BuildError> {
        Ok(self.network.block_on(self.client.fetch_file(file))?)
    }

    /// See [`pull`].
    pub(super) fn pull(
        &self,
        client: &RegistryClient,
        store: &Store,
        source: &ImageReference,
        platform: (&str, &str),
        local_name: &ImageReference,
    ) -> Result<PullReport, BuildError> {
        pull(
            self.network,
            client,
            store,
            source,
            platform,
            local_name,
            &registry::NoProgress,
        )
    }
}

/// Pull `source` for `platform` into the store as `local_name`.
pub(super) fn pull(
    network: &Network,
    client: &RegistryClient,
    store: &Store,
    source: &ImageReference,
    platform: (&str, &str),
    local_name: &ImageReference,
    progress: &dyn TransferProgress,
) -> Result<PullReport, BuildError> {
    let pull = registry::pull(client, store, source, platform, local_name, progress);
    Ok(network.block_on(pull)?)
}

/// Where each wheel of `packages` sits in what [`paired`] gives: per index download, in order,
/// its position, and the wheels built from sdists with theirs.
struct WheelPositions {
    downloads: Vec<usize>,
    built: Vec<(usize, PathBuf)>,
}

impl WheelPositions {
    fn new(packages: &[&LockedPackage], built: &SdistWheels) -> Result<Self, BuildError> {
        let mut positions = Self {
            downloads: Vec::new(),
            built: Vec::new(),
        };
        for package in packages {
            for _ in &package.wheels {
                positions.downloads.push(positions.len());
            }
            if package.sdist.is_some() {
                let wheel = built_wheel(built, package)?;
                positions.built.push((positions.len(), wheel));
            }
        }
        Ok(positions)
    }

    fn len(&self) -> usize {
        self.downloads.len() + self.built.len()
    }
}

/// How many wheels `packages` install: each of the index's, and one per sdist.
pub(super) fn wheel_count(packages: &[&LockedPackage]) -> usize {
    packages
        .iter()
        .map(|package| package.wheels.len() + usize::from(package.sdist.is_some()))
        .sum()
}

/// The wheel built from `package`'s sdist.
fn built_wheel(built: &SdistWheels, package: &LockedPackage) -> Result<PathBuf, BuildError> {
    built
        .get(&package.name)
        .map(|wheel| wheel.path.clone())
        .ok_or_else(|| BuildError::Unbuilt {
            package: package.name.clone(),
        })
}

/// The wheels of `packages` with the package each belongs to, in the packages' order: the
/// index's, `downloaded` in that order, or the one built from its sdist.
fn paired(
    packages: &[&LockedPackage],
    downloaded: Vec<PathBuf>,
    built: &SdistWheels,
) -> Result<Wheels, BuildError> {
    let mut downloaded = downloaded.into_iter();
    let mut wheels = Vec::new();
    for package in packages {
        for path in downloaded.by_ref().take(package.wheels.len()) {
            wheels.push((package.name.clone(), path));
        }
        if package.sdist.is_some() {
            wheels.push((package.name.clone(), built_wheel(built, package)?));
        }
    }
    Ok(wheels)
}
