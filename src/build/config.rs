//! What the image says about itself: environment, working directory, command, user, exposed
//! ports, and labels
//! (the OCI standard ones, the lock's sha256, the git commit and dirty flag, the CUDA
//! version the image needs). `created` never comes from the clock, so a rebuild of the same
//! commit is bit-for-bit the same.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::hardware::{CUDA_LABEL, DRIVER_LABEL};
use crate::lock::Lockfile;
use crate::manifest::Manifest;

pub(crate) const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// When the image was made, as RFC 3339: `SOURCE_DATE_EPOCH`, else the time of the last
/// commit of `project` when its git tree is clean (`git` is [`git_state`]'s answer), else the
/// layers' fixed mtime. Never the clock, so two builds of the same commit agree, yet
/// `mlpack images` shows when the code was last changed. Spec:
/// <https://reproducible-builds.org/specs/source-date-epoch/>.
pub(crate) fn created(
    project: Option<&Path>,
    git: Option<&(String, bool)>,
) -> Result<String, crate::oci::OciError> {
    let seconds = match crate::oci::source_date_epoch()? {
        Some(seconds) => i64::try_from(seconds).unwrap_or(i64::MAX),
        None => project
            .filter(|_| matches!(git, Some((_, false))))
            .and_then(commit_time)
            .unwrap_or(DEFAULT_CREATED),
    };
    Ok(jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string())
}

#[allow(clippy::cast_possible_wrap)]
const DEFAULT_CREATED: i64 = crate::oci::DEFAULT_MTIME as i64;

/// The committer time of `HEAD` in `project`, in seconds since 1970.
fn commit_time(project: &Path) -> Option<i64> {
    let output = Command::new("git")
        .arg("-C")
        .arg(project)
        .args(["log", "-1", "--format=%ct"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// The commit checked out in `project` and whether the work tree differs from it; `None`
/// outside a git repository or without git.
pub fn git_state(project: &Path) -> Option<(String, bool)> {
    let run = |args: &[&str]| {
        let output = Command::new("git")
            .arg("-C")
            .arg(project)
            .args(args)
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let commit = run(&["rev-parse", "HEAD"])?;
    let dirty = !run(&["status", "--porcelain"])?.is_empty();
    Some((commit, dirty))
}

/// The image's labels.
pub(crate) fn labels(
    manifest: &Manifest,
    project_name: &str,
    lock: &Lockfile,
    lock_sha256: &str,
    git: Option<&(String, bool)>,
    created: &str,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            project_name.to_string(),
        ),
        (
            "org.opencontainers.image.created".to_string(),
            created.to_string(),
        ),
        (
            "org.opencontainers.image.base.name".to_string(),
            manifest.base.image.clone(),
        ),
        (
            "dev.mlpack.lock.sha256".to_string(),
            lock_sha256.to_string(),
        ),
        (
            "dev.mlpack.python".to_string(),
            lock.target.python_full.clone(),
        ),
    ]);
    if super::bytecode::compiles_for(lock.target.arch) {
        labels.insert(
            super::BYTECODE_LABEL.to_string(),
            "unchecked-hash".to_string(),
        );
    }
    if let Some(image) = lock.image_base() {
        labels.insert(
            "org.opencontainers.image.base.digest".to_string(),
            image.digest.clone(),
        );
    }
    if let Some(description) = &manifest.project.description {
        labels.insert(
            "org.opencontainers.image.description".to_string(),
            description.clone(),
        );
    }
    if let Some((commit, dirty)) = git {
        labels.insert(
            "org.opencontainers.image.revision".to_string(),
            commit.clone(),
        );
        labels.insert("dev.mlpack.git.commit".to_string(), commit.clone());
        labels.insert("dev.mlpack.git.dirty".to_string(), dirty.to_string());
    }
    if let Some(cuda) = crate::lock::cuda_release(lock) {
        labels.insert(CUDA_LABEL.to_string(), cuda.to_string());
        if let Some(driver) = crate::hardware::min_driver_for(cuda) {
            labels.insert(DRIVER_LABEL.to_string(), driver.to_string());
        }
    }
    labels.extend(manifest.image.labels.clone());
    labels
}

/// The image's environment: a standard `PATH`, UTF-8, and unbuffered Python output so logs
/// stream as the job writes them.
pub(crate) fn env() -> Vec<String> {
    vec![
        PATH.to_string(),
        "LANG=C.UTF-8".to_string(),
        "PYTHONUNBUFFERED=1".to_string(),
    ]
}

/// `env` with `[image.env]` applied last, so the project's values win (`PATH` included).
pub(crate) fn with_image_env(
    env: Vec<String>,
    image_env: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut env: Vec<String> = env
        .into_iter()
        .filter(|entry| {
            let name = entry
                .split_once('=')
                .map_or(entry.as_str(), |(name, _)| name);
            !image_env.contains_key(name)
        })
        .collect();
    env.extend(
        image_env
            .iter()
            .map(|(name, value)| format!("{name}={value}")),
    );
    env
}

/// The base's exposed ports and `[image] expose`, each once, sorted.
pub(crate) fn exposed_ports(base: &oci_spec::image::Config, manifest: &Manifest) -> Vec<String> {
    let mut ports = base.exposed_ports().clone().unwrap_or_default();
    ports.extend(manifest.exposed_ports());
    ports.sort();
    ports.dedup();
    ports
}
