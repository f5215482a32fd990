//! Several wheels into one tree, side by side: each is installed into a tree of its own (one
//! install per CPU at a time), and the trees are then merged into the target in the order the
//! wheels were given ([`fs_tree::merge`]), so the result is the one installing them one after
//! the other gives, a path two wheels write holding the later one's file, whatever order the
//! installs finished in. The merge renames whole directories where it can (a wheel's packages
//! are usually its own), so it costs a few `rename`s per wheel.
//!
//! The wheels need not all be there at the start: [`WheelInstaller::install_arriving`] takes
//! each as its download finishes, so a build installs the first CUDA wheels while the rest of
//! them are still on the wire.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{InstalledWheel, WheelError, WheelInstaller};
use crate::fs_tree::{self, StagingError};

/// What became of one wheel: its file, and its tree with what was installed there.
type Outcome = (
    PathBuf,
    Result<(tempfile::TempDir, InstalledWheel), WheelError>,
);

impl WheelInstaller {
    /// Installs the wheel files `wheels` into the staging tree `root`, as [`Self::install`]
    /// would one after the other, but on all CPUs, the largest wheels first. On error, `root`
    /// is left as it was or partly merged (the caller discards it, as after a failed
    /// [`Self::install`]).
    pub fn install_all(
        &self,
        wheels: &[PathBuf],
        root: &Path,
    ) -> Result<Vec<InstalledWheel>, WheelError> {
        let mut order: Vec<usize> = (0..wheels.len()).collect();
        order.sort_by_cached_key(|index| {
            std::cmp::Reverse(fs_err::metadata(&wheels[*index]).map_or(0, |m| m.len()))
        });
        let arrivals = order
            .into_iter()
            .map(|index| (index, wheels[index].clone()));
        self.install_arriving(wheels.len(), arrivals, root)
    }

    /// Installs `count` wheels into `root` as [`Self::install_all`] does, taking each as
    /// `arrivals` hands it over: its position in the install order, and its file. Each
    /// install starts as soon as its wheel arrives and a CPU is free; the merge waits for all.
    /// A position `arrivals` never hands over is [`WheelError::NotArrived`]; the first error
    /// in the install order wins.
    pub fn install_arriving(
        &self,
        count: usize,
        arrivals: impl Iterator<Item = (usize, PathBuf)> + Send,
        root: &Path,
    ) -> Result<Vec<InstalledWheel>, WheelError> {
        let parent = root.parent().filter(|_| count > 1);
        let Some(parent) = parent else {
            return self.install_in_order(count, arrivals, root);
        };
        let outcomes = self.install_each(count, arrivals, parent);
        let mut installed = Vec::with_capacity(count);
        for (position, outcome) in outcomes.into_iter().enumerate() {
            let (wheel, outcome) = outcome.ok_or(WheelError::NotArrived { position, count })?;
            let (tree, wheel_installed) = outcome?;
            if installed.is_empty() {
                fs_err::create_dir_all(root).map_err(|source| write_error(&wheel, source))?;
            }
            fs_tree::merge(tree.path(), root).map_err(|error| match error {
                StagingError::Unsafe { path, reason } => WheelError::UnsafeDestination {
                    wheel: file_name(&wheel),
                    path,
                    reason: reason.to_string(),
                },
                StagingError::Io(source) => write_error(&wheel, source),
            })?;
            installed.push(wheel_installed);
        }
        Ok(installed)
    }

    /// All of `arrivals` straight into `root`, one after the other in their positions'
    /// order (for a single wheel, or a root without a parent to hold the side trees).
    fn install_in_order(
        &self,
        count: usize,
        arrivals: impl Iterator<Item = (usize, PathBuf)>,
        root: &Path,
    ) -> Result<Vec<InstalledWheel>, WheelError> {
        let mut wheels: Vec<Option<PathBuf>> = vec![None; count];
        for (position, wheel) in arrivals {
            if let Some(slot) = wheels.get_mut(position) {
                *slot = Some(wheel);
            }
        }
        wheels
            .into_iter()
            .enumerate()
            .map(|(position, wheel)| {
                let wheel = wheel.ok_or(WheelError::NotArrived { position, count })?;
                self.install(&wheel, root)
            })
            .collect()
    }

    /// Each wheel of `arrivals` installed into a tree of its own in `parent`, as it arrives,
    /// on all CPUs; per position, what became of it (`None`: it never arrived).
    fn install_each(
        &self,
        count: usize,
        arrivals: impl Iterator<Item = (usize, PathBuf)> + Send,
        parent: &Path,
    ) -> Vec<Option<Outcome>> {
        let arrivals = Mutex::new(arrivals);
        let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..count).map(|_| None).collect());
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(count);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    // The lock is held while waiting for the next arrival: a worker that
                    // finds it taken would only wait for the same arrival.
                    while let Some((position, wheel)) =
                        arrivals.lock().ok().and_then(|mut a| a.next())
                    {
                        let outcome = self.install_into_tree(&wheel, parent);
                        if let Ok(mut outcomes) = outcomes.lock()
                            && let Some(slot) = outcomes.get_mut(position)
                        {
                            *slot = Some((wheel, outcome));
                        }
                    }
                });
            }
        });
        outcomes
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `wheel` installed into a fresh tree in `parent`.
    fn install_into_tree(
        &self,
        wheel: &Path,
        parent: &Path,
    ) -> Result<(tempfile::TempDir, InstalledWheel), WheelError> {
        let tree = tempfile::Builder::new()
            .prefix(".wheel-install-")
            .tempdir_in(parent)
            .map_err(|source| write_error(wheel, source))?;
        let installed = self.install(wheel, tree.path())?;
        Ok((tree, installed))
    }
}

fn file_name(wheel: &Path) -> String {
    wheel.file_name().map_or_else(
        || wheel.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

fn write_error(wheel: &Path, source: std::io::Error) -> WheelError {
    WheelError::Write {
        wheel: file_name(wheel),
        source,
    }
}
