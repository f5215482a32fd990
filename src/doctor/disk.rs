//! Space: the host's `/dev/shm`, and free disk where the store and the download cache live.
//! Sizes come from `statvfs(3)`; nothing is walked, so this is instant on any store.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sys::statvfs::statvfs;

use super::{Check, Status, gib};
use crate::error::Diagnostic;

const SHM: &str = "/dev/shm";
/// PyTorch's `DataLoader` workers pass batches through shared memory; Docker's 64 MiB default
/// is the classic "bus error", and 1 GiB is a floor for real batches.
const SHM_MINIMUM: u64 = 1 << 30;
/// A framework layer alone (torch with CUDA) is several GiB, and a build holds it twice
/// (cache and store) for a moment.
const FREE_WARN: u64 = 10 << 30;
/// Below this even a small build or pull will run out.
const FREE_FAIL: u64 = 1 << 30;

pub(super) fn shm() -> Check {
    const NAME: &str = "shm";
    const CONTAINERS: &str =
        "containers get their own `/dev/shm` (half the RAM by default, `--shm-size` to change)";
    let Ok(stat) = statvfs(SHM) else {
        return Check::warn(
            NAME,
            format!("the host has no `{SHM}`; {CONTAINERS}"),
            "only programs run on the host itself need it",
        );
    };
    let size = stat.blocks().saturating_mul(stat.fragment_size());
    if size < SHM_MINIMUM {
        return Check::warn(
            NAME,
            format!("host `{SHM}` is {}; {CONTAINERS}", gib(size)),
            format!(
                "for PyTorch data loading on the host itself, grow it: `mount -o remount,size=8G {SHM}`"
            ),
        );
    }
    Check::ok(NAME, format!("host `{SHM}` is {}; {CONTAINERS}", gib(size)))
}

pub(super) fn free_space() -> Check {
    const NAME: &str = "disk";
    let mut places = Vec::new();
    match crate::oci::default_root() {
        Ok(root) => places.push(("store", root)),
        Err(error) => {
            return Check::fail(
                NAME,
                error.to_string(),
                error.hints().into_iter().next().unwrap_or_default(),
            );
        }
    }
    if let Ok(cache) = crate::dirs::cache_dir() {
        places.push(("cache", cache));
    }
    let mut measured: Vec<Place> = Vec::new();
    for (role, path) in places {
        match measure(&path) {
            Ok((device, free)) => match measured.iter_mut().find(|seen| seen.device == device) {
                Some(seen) => seen.dirs.push((role, path)),
                None => measured.push(Place {
                    dirs: vec![(role, path)],
                    device,
                    free,
                }),
            },
            Err(message) => {
                return Check::warn(
                    NAME,
                    format!(
                        "could not measure the {role} `{}`: {message}",
                        path.display()
                    ),
                    "check that the directory (or its parent) exists and is readable",
                );
            }
        }
    }
    summarise(&measured)
}

/// One file system holding one or more of mlpack's directories.
struct Place {
    /// What lives there (`store`, `cache`) and where.
    dirs: Vec<(&'static str, PathBuf)>,
    device: u64,
    free: u64,
}

fn summarise(places: &[Place]) -> Check {
    const NAME: &str = "disk";
    let described: Vec<String> = places
        .iter()
        .map(|place| {
            let dirs: Vec<String> = place
                .dirs
                .iter()
                .map(|(role, path)| format!("{role} `{}`", path.display()))
                .collect();
            format!("{}: {} free", dirs.join(" and "), gib(place.free))
        })
        .collect();
    let least = places
        .iter()
        .map(|place| place.free)
        .min()
        .unwrap_or(u64::MAX);
    let status = free_status(least);
    let summary = described.join("; ");
    let hint = "free some space: `mlpack prune` deletes blobs no image uses, or point `MLPACK_HOME` and `XDG_CACHE_HOME` at a larger disk";
    match status {
        Status::Ok => Check::ok(NAME, summary),
        Status::Warn => Check::warn(NAME, format!("under 10 GiB free: {summary}"), hint),
        Status::Fail => Check::fail(NAME, format!("under 1 GiB free: {summary}"), hint),
    }
}

fn free_status(free: u64) -> Status {
    if free < FREE_FAIL {
        Status::Fail
    } else if free < FREE_WARN {
        Status::Warn
    } else {
        Status::Ok
    }
}

/// The device and the free space for unprivileged writers of the file system that holds
/// `path`, or would hold it once created (its nearest existing ancestor).
fn measure(path: &Path) -> Result<(u64, u64), String> {
    let existing = path
        .ancestors()
        .find(|dir| dir.exists())
        .ok_or_else(|| "no part of it exists".to_string())?;
    let stat = statvfs(existing).map_err(|error| error.to_string())?;
    let device = fs_err::metadata(existing)
        .map_err(|error| error.to_string())?
        .dev();
    let free = stat.blocks_available().saturating_mul(stat.fragment_size());
    Ok((device, free))
}

/// `$XDG_CACHE_HOME/mlpack` (when absolute), else `~/.cache/mlpack`: where `build` keeps
/// wheels and `.deb`s (the same rule as `build::cache_dir` and the index client's).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(free_status(0), Status::Fail);
        assert_eq!(free_status((1 << 30) - 1), Status::Fail);
        assert_eq!(free_status(1 << 30), Status::Warn);
        assert_eq!(free_status(10 << 30), Status::Ok);
    }

    #[test]
    fn measures_a_directory_not_yet_made() {
        let temp = tempfile::tempdir().unwrap();
        let (device, _) = measure(&temp.path().join("not/yet")).unwrap();
        assert_eq!(device, fs_err::metadata(temp.path()).unwrap().dev());
    }

    #[test]
    fn one_line_per_file_system() {
        let both = Place {
            dirs: vec![
                ("store", PathBuf::from("/data/mlpack")),
                ("cache", PathBuf::from("/data/cache")),
            ],
            device: 1,
            free: 5 << 30,
        };
        let check = summarise(&[both]);
        assert_eq!(check.status, Status::Warn);
        assert_eq!(
            check.summary,
            "under 10 GiB free: store `/data/mlpack` and cache `/data/cache`: 5.0 GiB free"
        );
        let apart = |role, free| Place {
            dirs: vec![(role, PathBuf::from("/x"))],
            device: free,
            free,
        };
        let check = summarise(&[apart("store", 20 << 30), apart("cache", 1 << 20)]);
        assert_eq!(check.status, Status::Fail);
        assert_eq!(
            check.summary,
            "under 1 GiB free: store `/x`: 20.0 GiB free; cache `/x`: 1.0 MiB free"
        );
    }
}
