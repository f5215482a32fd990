//! Comparing two images as Docker sees them: every path of the final file system (type, mode,
//! owner, size, link target, content hash) from `docker create` + `docker export`, and the
//! config's user-facing keys from `docker inspect`. Both images go through the same dump, so
//! what `docker create` adds (`/.dockerenv`, `/etc/hosts`, mount points) is on both sides.
//! A mismatch is reported as a readable diff.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::{Command, Stdio};

use super::docker::{DOCKER, docker_ok};

/// Trees whose content is not the image's own product, with why they are left out.
const IGNORED_TREES: &[(&str, &str)] = &[
    ("/var/log", "logs carry the build's times"),
    ("/var/cache/apt", "apt's caches are fetched at build time"),
    (
        "/var/lib/apt/lists",
        "apt's package lists are fetched at build time",
    ),
    // Two `docker build`s of the same Dockerfile differ here too.
    (
        "/var/cache/ldconfig/aux-cache",
        "ldconfig's cache of the libraries it read, keyed by their inodes and ctimes",
    ),
];

/// Why `path` is left out of the comparison, if it is.
pub(crate) fn ignored(path: &str) -> Option<&'static str> {
    let under = |tree: &str| {
        path == tree
            || path
                .strip_prefix(tree)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if let Some((_, why)) = IGNORED_TREES.iter().find(|(tree, _)| under(tree)) {
        return Some(why);
    }
    if path.contains("/__pycache__/")
        || path.ends_with("/__pycache__")
        || std::path::Path::new(path)
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("pyc"))
    {
        return Some("byte-compiled caches embed their source's mtime");
    }
    let backup = path.ends_with("-old")
        && (path.starts_with("/var/cache/debconf/") || path.starts_with("/var/lib/dpkg/"));
    backup.then_some("debconf's and dpkg's backups of their previous state")
}

/// An image as compared: path → `TYPE MODE UID:GID SIZE TARGET-OR-SHA256`, and the config.
#[derive(Debug)]
pub(crate) struct ImageDump {
    pub(crate) files: BTreeMap<String, String>,
    pub(crate) config: BTreeMap<String, serde_json::Value>,
}

/// The config keys a user sees, as `docker inspect` shows them under `Config`.
const CONFIG_KEYS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
];

/// `image` (in Docker) dumped.
pub(crate) fn dump(image: &str) -> ImageDump {
    ImageDump {
        files: filesystem(image),
        config: config(image),
    }
}

fn config(image: &str) -> BTreeMap<String, serde_json::Value> {
    let inspected = docker_ok(&["image", "inspect", "--format", "{{json .Config}}", image]);
    let config: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    CONFIG_KEYS
        .iter()
        .map(|key| {
            let value = config.get(*key).cloned().unwrap_or_default();
            // `null`, `""`, `[]` and `{}` all mean unset.
            let unset = match &value {
                serde_json::Value::Null => true,
                serde_json::Value::String(text) => text.is_empty(),
                serde_json::Value::Array(items) => items.is_empty(),
                serde_json::Value::Object(map) => map.is_empty(),
                _ => false,
            };
            let value = if unset {
                serde_json::Value::Null
            } else {
                value
            };
            ((*key).to_string(), value)
        })
        .collect()
}

fn filesystem(image: &str) -> BTreeMap<String, String> {
    let container = docker_ok(&["create", image]).trim().to_string();
    let mut export = Command::new(DOCKER)
        .args(["export", &container])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(export.stdout.take().unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let path = format!("/{}", path.trim_start_matches("./").trim_end_matches('/'));
        if path == "/" || ignored(&path).is_some() {
            continue;
        }
        let header = entry.header();
        let mode = header.mode().unwrap() & 0o7777;
        let owner = format!("{}:{}", header.uid().unwrap(), header.gid().unwrap());
        let link_target = entry
            .link_name()
            .unwrap()
            .map(|target| target.to_string_lossy().into_owned());
        let kind = entry.header().entry_type();
        let line = match kind {
            tar::EntryType::Directory => format!("dir {mode:04o} {owner}"),
            tar::EntryType::Symlink => {
                format!(
                    "symlink {mode:04o} {owner} -> {}",
                    link_target.clone().unwrap_or_default()
                )
            }
            // A hard link is the file it links to: whether the builder linked or copied
            // is not the image's content.
            tar::EntryType::Link => {
                let target = format!(
                    "/{}",
                    link_target
                        .clone()
                        .unwrap_or_default()
                        .trim_start_matches("./")
                );
                let linked: String = files.get(&target).cloned().unwrap_or_default();
                let content = linked.rsplit(' ').take(2).collect::<Vec<_>>();
                format!(
                    "file {mode:04o} {owner} {} {}",
                    content.get(1).copied().unwrap_or("?"),
                    content.first().copied().unwrap_or("?")
                )
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                format!(
                    "file {mode:04o} {owner} {} sha256:{}",
                    content.len(),
                    mlpack::sha256::sha256_hex(&content)
                )
            }
            other => format!("{other:?} {mode:04o} {owner}"),
        };
        files.insert(path, line);
    }
    let _ = export.wait();
    docker_ok(&["rm", &container]);
    files
}

/// The differences between `left` and `right` (named `left_name` and `right_name`), one
/// readable line per path or config key; empty when they match.
pub(crate) fn differences(
    left_name: &str,
    left: &ImageDump,
    right_name: &str,
    right: &ImageDump,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, value) in &left.config {
        let other = right.config.get(key).cloned().unwrap_or_default();
        if *value != other {
            lines.push(format!(
                "config {key}:\n    {left_name}: {value}\n    {right_name}: {other}"
            ));
        }
    }
    let paths: std::collections::BTreeSet<&String> =
        left.files.keys().chain(right.files.keys()).collect();
    for path in paths {
        match (left.files.get(path), right.files.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => lines.push(format!(
                "{path}:\n    {left_name}: {a}\n    {right_name}: {b}"
            )),
            (Some(a), None) => lines.push(format!("{path}: only in {left_name} ({a})")),
            (None, Some(b)) => lines.push(format!("{path}: only in {right_name} ({b})")),
            (None, None) => {}
        }
    }
    lines
}

/// Panic with a readable diff when `left` and `right` differ.
pub(crate) fn assert_same(
    what: &str,
    left_name: &str,
    left: &ImageDump,
    right_name: &str,
    right: &ImageDump,
) {
    let lines = differences(left_name, left, right_name, right);
    report(what, left, right, &lines);
}

/// Panic with `problems` (the first 80), if there are any, about the images `left` and
/// `right`.
pub(crate) fn report(what: &str, left: &ImageDump, right: &ImageDump, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let shown: Vec<&str> = problems.iter().take(80).map(String::as_str).collect();
    panic!(
        "{what}: {} differences (images of {} and {} paths){}:\n{}",
        problems.len(),
        left.files.len(),
        right.files.len(),
        if problems.len() > shown.len() {
            ", the first 80"
        } else {
            ""
        },
        shown.join("\n")
    );
}

#[test]
fn what_the_comparison_leaves_out() {
    for (path, left_out) in [
        ("/usr/lib/python3/dist-packages/six/__pycache__", true),
        (
            "/usr/local/lib/python3.11/dist-packages/__pycache__/six.cpython-311.pyc",
            true,
        ),
        ("/var/log/apt/history.log", true),
        ("/var/log", true),
        ("/var/logs", false),
        ("/var/lib/apt/lists/lock", true),
        ("/var/cache/debconf/config.dat-old", true),
        ("/var/lib/dpkg/status-old", true),
        ("/var/lib/dpkg/status", false),
        ("/etc/hold-old", false),
        ("/root/.cache/pip", false),
        ("/usr/local/lib/python3.11/dist-packages/six.py", false),
    ] {
        assert_eq!(ignored(path).is_some(), left_out, "{path}");
    }
}
