//! The lock against uv's: every requirement set in `tests/data/differential/` (real ML
//! repositories' requirements: torch, transformers, jax, tensorflow, boosting, notebook,
//! hydra and sdist-heavy stacks) is locked by `mlpack lock` and by `uv pip compile` for the
//! same interpreter, platform and upload cutoff, and the two must name the same packages at
//! the same versions. Needs `uv` on `PATH` (`.ci/run` installs it with pip).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::common::{TestContext, repo_root};

/// Files uploaded after this are ignored by both tools, so the sets do not move with PyPI.
const CUTOFF: &str = "2026-11-01T00:00:00Z";

/// `name==version`, with the name normalized as PEP 503 says.
fn pin(name: &str, version: &str) -> String {
    let mut normalized = String::new();
    for part in name
        .to_ascii_lowercase()
        .split(['-', '_', '.'])
        .filter(|part| !part.is_empty())
    {
        if !normalized.is_empty() {
            normalized.push('-');
        }
        normalized.push_str(part);
    }
    format!("{normalized}=={version}")
}

fn mlpack_set(requirements: &Path) -> Result<BTreeSet<String>, String> {
    let context = TestContext::new();
    fs_err::copy(requirements, context.project.join("requirements.txt")).unwrap();
    context.write(
        "mlpack.toml",
        "[python]\nversion = \"3.11\"\nrequirements-file = \"requirements.txt\"\n",
    );
    let mut command = context.mlpack(&["lock", "--exclude-newer", CUTOFF]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let output = command.output().unwrap();
    if !output.status.success() {
        return Err(context.render(&output));
    }
    let lock: toml::Table = toml::from_str(&context.read("mlpack.lock")).unwrap();
    Ok(lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            pin(
                package["name"].as_str().unwrap(),
                package["version"].as_str().unwrap(),
            )
        })
        .collect())
}

fn uv_set(requirements: &Path) -> Result<BTreeSet<String>, String> {
    let output = Command::new("uv")
        .args(["pip", "compile"])
        .arg(requirements)
        .args([
            "--python-version",
            "3.11.2",
            "--python-platform",
            "x86_64-manylinux_2_36",
            "--exclude-newer",
            CUTOFF,
            "--no-header",
            "--no-annotate",
            "--quiet",
        ])
        .env("UV_CACHE_DIR", repo_root().join("target/uv-test-cache"))
        .output()
        .map_err(|error| format!("could not run `uv` ({error}); install it: `pip install uv`"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with(' ') && !line.is_empty())
        .filter_map(|line| line.split_once("=="))
        .map(|(name, version)| pin(name, version.trim()))
        .collect())
}

#[cfg(target_arch = "x86_64")]
#[test]
fn mlpack_locks_the_same_packages_as_uv_on_real_requirement_sets() {
    let mut sets: Vec<_> = fs_err::read_dir(repo_root().join("tests/data/differential"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    sets.sort();
    assert!(sets.len() >= 30, "{} requirement sets", sets.len());
    let mut differences = Vec::new();
    for set in &sets {
        let name = set.file_stem().unwrap().to_string_lossy();
        match (mlpack_set(set), uv_set(set)) {
            (Ok(ours), Ok(theirs)) if ours == theirs => {}
            (Ok(ours), Ok(theirs)) => differences.push(format!(
                "{name}: only mlpack {:?}, only uv {:?}",
                ours.difference(&theirs).collect::<Vec<_>>(),
                theirs.difference(&ours).collect::<Vec<_>>()
            )),
            (ours, theirs) => differences.push(format!(
                "{name}: mlpack {:?}, uv {:?}",
                ours.err(),
                theirs.err()
            )),
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
