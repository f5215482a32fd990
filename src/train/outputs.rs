//! What a job left in its run directory, read as untrusted input: the job chose every name,
//! type and size there. Links are never followed (a `metrics.json -> /dev/zero` would have
//! `train` read forever), FIFOs, sockets and devices are never opened (a FIFO blocks the
//! reader), and every read is capped. What is not read is listed with the reason, so the run
//! record says what it does not cover.
//!
//! The job has exited when this runs: its container's PID namespace ended with it, so
//! nothing inside changes the tree during the walk.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::record::{METRICS, RUN_RECORD, TRAIN_LOG};

/// The most of `metrics.json` that is parsed: metrics are a few numbers, not a data set.
const METRICS_LIMIT: u64 = 1 << 20;
/// The largest output file hashed. Checkpoints are sharded well below it (safetensors shards
/// are usually under 10 GB); a larger file is listed as not hashed rather than read for
/// minutes (a sparse `truncate -s 1T` costs the job nothing and the reader everything).
const HASH_LIMIT: u64 = 64 << 30;
/// The most bytes hashed for one run, all files together.
const TOTAL_HASH_LIMIT: u64 = 256 << 30;
/// The most entries walked: past it, the record would be larger than the outputs are useful.
const ENTRY_LIMIT: usize = 100_000;

/// What was read of a run directory.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Regular file (relative to the run directory) → sha256.
    pub hashes: BTreeMap<String, String>,
    /// Entries not hashed → why (a link and its target, a FIFO, a file over a limit).
    pub skipped: BTreeMap<String, String>,
    /// The job's `metrics.json`, when it is a regular file of valid JSON within the limit.
    pub metrics: Option<serde_json::Value>,
    /// Why `metrics` is empty although the job left something named `metrics.json`.
    pub metrics_skipped: Option<String>,
}

/// Hash every regular file the job wrote in `run_dir` (not mlpack's own `run.json` and
/// `train.log`) and read its metrics; never fails: a problem becomes a `skipped` entry.
pub fn read_outputs(run_dir: &Path) -> Outputs {
    let mut outputs = Outputs::default();
    let mut budget = TOTAL_HASH_LIMIT;
    let mut pending = vec![run_dir.to_path_buf()];
    let mut walked = 0;
    while let Some(dir) = pending.pop() {
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                outputs
                    .skipped
                    .insert(relative(run_dir, &dir), format!("not listed: {error}"));
                continue;
            }
        };
        for entry in entries {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(error) => {
                    let key = relative(run_dir, &dir);
                    outputs.skipped.insert(key, format!("not listed: {error}"));
                    break;
                }
            };
            walked += 1;
            if walked > ENTRY_LIMIT {
                outputs.skipped.insert(
                    relative(run_dir, &dir),
                    format!("the walk stopped after {ENTRY_LIMIT} entries"),
                );
                pending.clear();
                break;
            }
            let name = relative(run_dir, &path);
            if name == RUN_RECORD || name == TRAIN_LOG {
                continue;
            }
            match visit(&path, &mut budget) {
                Visit::Dir => pending.push(path),
                Visit::Hashed(sha256) => {
                    outputs.hashes.insert(name, sha256);
                }
                Visit::Skipped(reason) => {
                    outputs.skipped.insert(name, reason);
                }
            }
        }
    }
    match read_metrics(&run_dir.join(METRICS)) {
        Ok(metrics) => outputs.metrics = metrics,
        Err(reason) => outputs.metrics_skipped = Some(reason),
    }
    outputs
}

enum Visit {
    Dir,
    Hashed(String),
    Skipped(String),
}

/// One entry, looked at without following it.
fn visit(path: &Path, budget: &mut u64) -> Visit {
    let metadata = match fs_err::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => return Visit::Skipped(format!("not read: {error}")),
    };
    let kind = metadata.file_type();
    if kind.is_dir() {
        return Visit::Dir;
    }
    if !kind.is_file() {
        return Visit::Skipped(not_a_file(path, kind));
    }
    let limit = HASH_LIMIT.min(*budget);
    match open_regular(path)
        .map_err(Unread::Io)
        .and_then(|file| hash_capped(file, limit))
    {
        Ok((sha256, size)) => {
            *budget -= size;
            Visit::Hashed(sha256)
        }
        Err(Unread::TooLarge) if limit < HASH_LIMIT => Visit::Skipped(format!(
            "not hashed: the run's outputs passed {} in total",
            crate::byte_size::binary_size(TOTAL_HASH_LIMIT)
        )),
        Err(Unread::TooLarge) => Visit::Skipped(format!(
            "not hashed: larger than {}",
            crate::byte_size::binary_size(HASH_LIMIT)
        )),
        Err(Unread::Io(error)) => Visit::Skipped(format!("not read: {error}")),
    }
}

/// Why a non-regular entry is left alone.
fn not_a_file(path: &Path, kind: std::fs::FileType) -> String {
    if kind.is_symlink() {
        return match fs_err::read_link(path) {
            Ok(target) => format!("a symlink to `{}`, not followed", target.display()),
            Err(_) => "a symlink, not followed".to_string(),
        };
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    };
    format!("{what}, not read")
}

/// The job's `metrics.json`: `Ok(None)` when there is none, `Err(why)` when it is there but
/// was not used.
fn read_metrics(path: &Path) -> Result<Option<serde_json::Value>, String> {
    match fs_err::symlink_metadata(path) {
        Ok(metadata) if !metadata.is_file() => {
            return Err(not_a_file(path, metadata.file_type()));
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("not read: {error}")),
    }
    let mut bytes = Vec::new();
    open_regular(path)
        .and_then(|file| file.take(METRICS_LIMIT + 1).read_to_end(&mut bytes))
        .map_err(|error| format!("not read: {error}"))?;
    if bytes.len() as u64 > METRICS_LIMIT {
        return Err(format!(
            "not read: larger than {}",
            crate::byte_size::binary_size(METRICS_LIMIT)
        ));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| format!("not valid JSON: {error}"))
}

enum Unread {
    TooLarge,
    Io(io::Error),
}

/// Open `path` only if it is a regular file now: `O_NOFOLLOW` refuses a link swapped in since
/// it was listed, `O_NONBLOCK` keeps a FIFO from blocking the open, and `fstat` on the open
/// file decides.
pub(super) fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// The sha256 and size of `file`, refusing (before reading) one larger than `limit`, and
/// stopping at `limit` should it grow while being read.
fn hash_capped(file: File, limit: u64) -> Result<(String, u64), Unread> {
    if file.metadata().map_err(Unread::Io)?.len() > limit {
        return Err(Unread::TooLarge);
    }
    let mut hasher = Sha256::new();
    let mut reader = file.take(limit + 1);
    let mut buffer = vec![0_u8; 1 << 20];
    let mut size = 0_u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(Unread::Io(error)),
        };
        size += read as u64;
        if size > limit {
            return Err(Unread::TooLarge);
        }
        hasher.update(&buffer[..read]);
    }
    Ok((crate::sha256::hex(&hasher.finalize()), size))
}

fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    if relative.as_os_str().is_empty() {
        ".".to_string()
    } else {
        relative.to_string_lossy().into_owned()
    }
}

/// Write `bytes` as `run_dir/name` by a new file renamed over the name, so that whatever the
/// job left there (a link to a host file, a FIFO) is replaced, never written through; a
/// directory the job made there is removed first.
pub fn write_replacing(run_dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    use std::io::Write as _;
    let path = run_dir.join(name);
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(run_dir)?;
    temp.write_all(bytes)?;
    if fs_err::symlink_metadata(&path).is_ok_and(|metadata| metadata.is_dir()) {
        // `remove_dir_all` does not follow links inside (std's fix for CVE-2022-21658).
        fs_err::remove_dir_all(&path)?;
    }
    temp.persist(&path).map_err(|error| error.error)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_large_files_are_listed_not_read() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        fs_err::create_dir(dir.join("sub")).unwrap();
        fs_err::write(dir.join("sub/model.bin"), "weights").unwrap();
        fs_err::write(dir.join(RUN_RECORD), "{}").unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join(METRICS)).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
        nix::unistd::mkfifo(&dir.join("pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let huge = fs_err::File::create(dir.join("huge")).unwrap();
        huge.set_len(HASH_LIMIT + 1).unwrap();

        let outputs = read_outputs(dir);
        assert_eq!(outputs.hashes.keys().collect::<Vec<_>>(), ["sub/model.bin"]);
        let skipped: Vec<String> = outputs
            .skipped
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect();
        insta::assert_snapshot!(skipped.join("\n"), @"
        etc: a symlink to `/etc`, not followed
        huge: not hashed: larger than 64.0 GiB
        metrics.json: a symlink to `/dev/zero`, not followed
        pipe: a FIFO, not read
        ");
        assert_eq!(outputs.metrics, None);
        assert_eq!(
            outputs.metrics_skipped.as_deref(),
            Some("a symlink to `/dev/zero`, not followed")
        );
    }

    #[test]
    fn metrics_over_the_limit_or_invalid_are_skipped_with_the_reason() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(METRICS);
        fs_err::write(&path, r#"{"loss": 0.5}"#).unwrap();
        assert_eq!(
            read_metrics(&path),
            Ok(Some(serde_json::json!({"loss": 0.5})))
        );
        fs_err::write(&path, "{").unwrap();
        assert!(
            read_metrics(&path)
                .unwrap_err()
                .starts_with("not valid JSON")
        );
        fs_err::File::create(&path)
            .unwrap()
            .set_len(METRICS_LIMIT + 1)
            .unwrap();
        assert_eq!(
            read_metrics(&path),
            Err("not read: larger than 1.0 MiB".to_string())
        );
        fs_err::remove_file(&path).unwrap();
        assert_eq!(read_metrics(&path), Ok(None));
    }

    #[test]
    fn the_record_replaces_a_link_or_directory_the_job_left() {
        let temp = tempfile::tempdir().unwrap();
        let (dir, victim) = (temp.path().join("run"), temp.path().join("victim"));
        fs_err::create_dir(&dir).unwrap();
        fs_err::write(&victim, "host file").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(RUN_RECORD)).unwrap();
        write_replacing(&dir, RUN_RECORD, b"record").unwrap();
        assert_eq!(fs_err::read_to_string(&victim).unwrap(), "host file");
        assert_eq!(
            fs_err::read_to_string(dir.join(RUN_RECORD)).unwrap(),
            "record"
        );

        fs_err::remove_file(dir.join(RUN_RECORD)).unwrap();
        fs_err::create_dir_all(dir.join(RUN_RECORD).join("inner")).unwrap();
        write_replacing(&dir, RUN_RECORD, b"record").unwrap();
        assert!(dir.join(RUN_RECORD).is_file());
    }
}
