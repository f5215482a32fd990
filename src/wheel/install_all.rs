//! Several wheels into one tree, side by side: each is installed into a tree of its own (one
//! install per CPU at a time, the largest wheels first), and the trees are then merged into the
//! target in the order the wheels were given ([`fs_tree::merge`]), so the result is the one
//! installing them one after the other gives, a path two wheels write holding the later one's
//! file, whatever order the installs finished in. The merge renames whole directories where it
//! can (a wheel's packages are usually its own), so it costs a few `rename`s per wheel.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{InstalledWheel, WheelError, WheelInstaller};
use crate::fs_tree::{self, StagingError};

impl WheelInstaller {
    /// Installs the wheel files `wheels` into the staging tree `root`, as [`Self::install`]
    /// would one after the other, but on all CPUs. On error, `root` is left as it was or
    /// partly merged (the caller discards it, as after a failed [`Self::install`]).
    pub fn install_all(
        &self,
        wheels: &[PathBuf],
        root: &Path,
    ) -> Result<Vec<InstalledWheel>, WheelError> {
        let parent = root.parent().filter(|_| wheels.len() > 1);
        let Some(parent) = parent else {
            return wheels
                .iter()
                .map(|wheel| self.install(wheel, root))
                .collect();
        };
        fs_err::create_dir_all(root).map_err(|source| write_error(&wheels[0], source))?;
        let trees = (0..wheels.len())
            .map(|_| {
                tempfile::Builder::new()
                    .prefix(".wheel-install-")
                    .tempdir_in(parent)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| write_error(&wheels[0], source))?;
        let installed = self.install_each(wheels, &trees)?;
        for (wheel, tree) in wheels.iter().zip(&trees) {
            fs_tree::merge(tree.path(), root).map_err(|error| match error {
                StagingError::Unsafe { path, reason } => WheelError::UnsafeDestination {
                    wheel: file_name(wheel),
                    path,
                    reason: reason.to_string(),
                },
                StagingError::Io(source) => write_error(wheel, source),
            })?;
        }
        Ok(installed)
    }

    /// Installs `wheels[i]` into `trees[i]`, the largest wheels first, on all CPUs; the first
    /// error in the wheels' order wins.
    fn install_each(
        &self,
        wheels: &[PathBuf],
        trees: &[tempfile::TempDir],
    ) -> Result<Vec<InstalledWheel>, WheelError> {
        let mut order: Vec<usize> = (0..wheels.len()).collect();
        order.sort_by_cached_key(|index| {
            std::cmp::Reverse(fs_err::metadata(&wheels[*index]).map_or(0, |m| m.len()))
        });
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<InstalledWheel, WheelError>>>> =
            Mutex::new((0..wheels.len()).map(|_| None).collect());
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(wheels.len());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let result = self.install(&wheels[index], trees[index].path());
                        if let Ok(mut results) = results.lock() {
                            results[index] = Some(result);
                        }
                    }
                });
            }
        });
        let results = results
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        results
            .into_iter()
            .zip(wheels)
            .map(|(result, wheel)| {
                result.unwrap_or_else(|| {
                    Err(write_error(
                        wheel,
                        std::io::Error::other("the install thread stopped"),
                    ))
                })
            })
            .collect()
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
