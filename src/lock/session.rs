//! The lock while a command works with it. `lock` is the only module that writes
//! `mlpack.lock`: it decides whether the existing lock holds (and what `--check` and
//! `--locked` refuse), when a registry base is pinned anew, and it records what a build pins
//! later (a Debian base's packages, the system libraries, the wheels built from sdists), each
//! written at once, so a build that fails afterwards keeps what it learned.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use super::{
    BuiltWheel, LockError, LockPlan, LockedBase, LockedImage, LockedSystemLibraries,
    LockedSystemPackages, Lockfile, PinnedBase,
};
use crate::arch::Arch;
use crate::error::FromIo;
use crate::manifest::Manifest;

/// What the existing lock says of the base `[base] image` names.
#[derive(Debug)]
pub enum BasePin {
    /// The base is a Debian base mlpack builds (its packages are pinned by the build).
    Debian,
    /// The lock pins `[base] image` for the target's architecture.
    Pinned(Box<LockedImage>),
    /// A registry image the lock does not pin (or pins for another image or architecture).
    Unpinned,
}

impl BasePin {
    pub fn of(manifest: &Manifest, existing: Option<&Lockfile>, arch: Arch) -> Self {
        if !manifest.base.is_registry_image() {
            return Self::Debian;
        }
        existing
            .and_then(Lockfile::image_base)
            .filter(|image| {
                image.image == manifest.base.image && image.arch.parse::<Arch>() == Ok(arch)
            })
            .map_or(Self::Unpinned, |image| {
                Self::Pinned(Box::new(image.clone()))
            })
    }

    /// The pin `mlpack lock --check` compares against: the lock's, without pinning anew.
    pub fn for_check(
        self,
        lock_path: &Path,
        image: &str,
    ) -> Result<Option<LockedImage>, LockError> {
        match self {
            Self::Pinned(image) => Ok(Some(*image)),
            Self::Debian => Ok(None),
            Self::Unpinned => Err(LockError::CheckUnpinnedBase {
                path: lock_path.to_path_buf(),
                image: image.to_string(),
            }),
        }
    }

    /// The pinned base to lock with: the lock's pin while it holds (and no upgrade was asked
    /// for), else what `pin` pulls and reads, which `--locked` refuses. `None` for a Debian
    /// base.
    pub fn or_pin<E: From<LockError>>(
        self,
        upgrade: bool,
        locked: bool,
        lock_path: &Path,
        image: &str,
        pin: impl FnOnce() -> Result<LockedImage, E>,
    ) -> Result<Option<LockedImage>, E> {
        match self {
            Self::Debian => Ok(None),
            Self::Pinned(pinned) if !upgrade => Ok(Some(*pinned)),
            Self::Pinned(_) | Self::Unpinned if locked => Err(LockError::LockedUnpinnedBase {
                path: lock_path.to_path_buf(),
                image: image.to_string(),
            }
            .into()),
            Self::Pinned(_) | Self::Unpinned => pin().map(Some),
        }
    }
}

/// What locking tells its user as it goes; the CLI words it.
#[derive(Debug)]
pub enum LockEvent<'a> {
    /// An import maps to no distribution, so it is not locked.
    Unresolved(&'a str),
    /// Unmapped imports could not be checked on the index (why, in words).
    VerifyFailed(&'a str),
    /// The registry base was pulled and pinned anew.
    PinnedBase(&'a LockedImage),
    /// The lock was resolved and written.
    Resolved {
        plan: &'a LockPlan,
        lock: &'a Lockfile,
        seconds: f64,
    },
}

/// Told of each [`LockEvent`].
pub trait LockReporter {
    fn event(&self, event: LockEvent<'_>);
}

impl LockPlan {
    /// Warn of the imports the lock leaves out, and of why some could not be checked.
    pub fn report_unresolved(&self, reporter: &dyn LockReporter) {
        for warning in &self.verify_warnings {
            reporter.event(LockEvent::VerifyFailed(warning));
        }
        for name in &self.inputs.unresolved {
            reporter.event(LockEvent::Unresolved(name));
        }
    }

    /// `mlpack lock --check`: whether the existing lock was written from these inputs.
    pub fn check(&self) -> Result<(), LockError> {
        let path = self.lock_path.clone();
        match (&self.existing, self.is_fresh()) {
            (Some(_), true) => Ok(()),
            (None, _) => Err(LockError::CheckMissing { path }),
            (Some(_), false) => Err(LockError::Stale { path }),
        }
    }

    /// The existing lock when it holds, as the selected platform sees it; `--locked`
    /// refuses any other.
    pub fn fresh(&self, locked: bool) -> Result<Option<ProjectLock>, LockError> {
        if let (true, Some(lock)) = (self.is_fresh(), &self.existing) {
            return ProjectLock::new(&self.lock_path, lock.clone(), self.selected, locked)
                .map(Some);
        }
        if locked {
            return Err(LockError::LockedStale {
                path: self.lock_path.clone(),
            });
        }
        Ok(None)
    }

    /// Write `lock`, freshly resolved from this plan.
    pub fn write(&self, lock: Lockfile) -> Result<ProjectLock, LockError> {
        lock.write(&self.lock_path)?;
        ProjectLock::new(&self.lock_path, lock, self.selected, false)
    }
}

/// `mlpack.lock` as a build for one platform uses it; reads go through [`Deref`] to that
/// platform's view (see [`Lockfile::for_platform`]), changes through the methods below, which
/// write them into the platform's part of the file.
#[derive(Debug)]
pub struct ProjectLock {
    path: PathBuf,
    /// The whole lock, every platform's.
    file: Lockfile,
    arch: Arch,
    /// The lock for `arch` alone.
    lock: Lockfile,
    /// `--locked`: what the build learns is used but not written.
    locked: bool,
}

impl ProjectLock {
    pub(super) fn new(
        path: &Path,
        file: Lockfile,
        arch: Arch,
        locked: bool,
    ) -> Result<Self, LockError> {
        let lock = file
            .for_platform(arch)
            .ok_or_else(|| LockError::NoPlatform {
                path: path.to_path_buf(),
                arch,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            arch,
            lock,
            locked,
        })
    }

    /// Pin a Debian base's packages.
    pub fn pin_debian_base(&mut self, base: LockedBase) -> Result<(), LockError> {
        self.lock.base = Some(PinnedBase::Debian(base));
        self.save()
    }

    /// Pin the Debian packages `[build] system-packages` names.
    pub fn pin_system_packages(&mut self, pins: LockedSystemPackages) -> Result<(), LockError> {
        self.lock.system_packages = Some(pins);
        self.save()
    }

    /// Drop the system packages' pins once the manifest names none (not written with
    /// `--locked`).
    pub fn forget_system_packages(&mut self) -> Result<(), LockError> {
        if self.lock.system_packages.take().is_some() && !self.locked {
            self.save()?;
        }
        Ok(())
    }

    /// Pin the Debian packages of the libraries the wheels need.
    pub fn pin_system_libraries(&mut self, pins: LockedSystemLibraries) -> Result<(), LockError> {
        self.lock.system_libraries = Some(pins);
        self.save()
    }

    /// Write what this platform's view learned into the file, leaving other platforms' parts
    /// as they are.
    fn save(&mut self) -> Result<(), LockError> {
        self.file.record_platform(self.arch, &self.lock);
        self.file.write(&self.path)
    }

    /// Record the wheel built from each sdist (`built` gives it by package name), and write
    /// the lock when that changed anything (never with `--locked`).
    pub fn record_built_wheels(
        &mut self,
        wheel_of: impl Fn(&str) -> Option<BuiltWheel>,
    ) -> Result<(), LockError> {
        let mut changed = false;
        for package in &mut self.lock.packages {
            let (Some(wheel), Some(build)) = (wheel_of(&package.name), package.build.as_mut())
            else {
                continue;
            };
            if build.wheel.as_ref() != Some(&wheel) {
                build.wheel = Some(wheel);
                changed = true;
            }
        }
        if changed && !self.locked {
            self.save()?;
        }
        Ok(())
    }

    /// The sha256 of the file as it is on disk (the image's label names it).
    pub fn file_sha256(&self) -> Result<String, LockError> {
        crate::sha256::file_sha256(&self.path)
            .map_err(|source| LockError::io("read", &self.path, source))
    }

    /// The whole lock, every platform's.
    pub fn into_lockfile(self) -> Lockfile {
        self.file
    }
}

impl Deref for ProjectLock {
    type Target = Lockfile;

    fn deref(&self) -> &Lockfile {
        &self.lock
    }
}
