//! A hermetic environment for running the `mlpack` binary: its own HOME and XDG dirs, a
//! temporary project, and output with temporary paths masked for snapshots.

#[cfg(feature = "test-docker")]
pub(crate) mod docker;
#[cfg(feature = "test-docker")]
pub(crate) mod image_diff;
pub(crate) mod images;
pub(crate) mod index;
#[cfg(feature = "test-registry")]
pub(crate) mod registry;
#[cfg(feature = "test-root")]
pub(crate) mod slurm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) struct TestContext {
    pub(crate) temp: tempfile::TempDir,
    pub(crate) project: PathBuf,
}

impl TestContext {
    pub(crate) fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let project = temp.path().join("project");
        fs_err::create_dir_all(&project).unwrap();
        Self { temp, project }
    }

    /// A context whose project is a copy of `examples/ml/NAME`, less what git ignores there:
    /// the `outputs/` and bytecode the README's commands leave in the example.
    pub(crate) fn example(name: &str) -> Self {
        let context = Self::new();
        copy_tree(
            &repo_root().join("examples/ml").join(name),
            &context.project,
        );
        context
    }

    pub(crate) fn write(&self, path: &str, contents: &str) -> &Self {
        let path = self.project.join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, contents).unwrap();
        self
    }

    /// `mlpack ARGS` run in the project directory, offline unless a test opts in.
    pub(crate) fn mlpack(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mlpack"));
        command
            .args(args)
            .current_dir(&self.project)
            .env("HOME", self.temp.path().join("home"))
            .env("XDG_DATA_HOME", self.temp.path().join("data"))
            .env("XDG_CACHE_HOME", self.temp.path().join("cache"))
            .env("MLPACK_HOME", self.temp.path().join("store"))
            .env("MLPACK_OFFLINE", "1")
            .env_remove("UV_INDEX_URL")
            .env_remove("PIP_INDEX_URL");
        command
    }

    /// Run and render exit code, stdout and stderr, with the temporary directory masked.
    pub(crate) fn run(&self, args: &[&str]) -> String {
        let output = self.mlpack(args).output().unwrap();
        self.render(&output)
    }

    /// Like `run`, but allowed to use the network (an index the test serves, or PyPI).
    pub(crate) fn run_online(&self, args: &[&str]) -> String {
        let output = self
            .mlpack(args)
            .env_remove("MLPACK_OFFLINE")
            .output()
            .unwrap();
        self.render(&output)
    }

    /// Share downloads (Debian packages, wheels, index pages) with every other test that
    /// opts in: they are verified by hash on use, so sharing is safe, and CI fetches once.
    pub(crate) fn shared_cache(command: &mut Command) -> &mut Command {
        command.env(
            "XDG_CACHE_HOME",
            repo_root().join("target").join("mlpack-test-cache"),
        )
    }

    pub(crate) fn read(&self, path: &str) -> String {
        fs_err::read_to_string(self.project.join(path)).unwrap()
    }

    pub(crate) fn render(&self, output: &Output) -> String {
        let text = format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            output
                .status
                .code()
                .map_or("signal".to_string(), |code| code.to_string()),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        text.replace(&self.temp.path().display().to_string(), "[TEMP]")
    }
}

pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copy `from` to `to`, skipping what the repository's `.gitignore` files name (read even
/// outside a git checkout).
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    let walk = ignore::WalkBuilder::new(from)
        .hidden(false)
        .require_git(false)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build();
    for entry in walk {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_some_and(|kind| kind.is_dir()) {
            fs_err::create_dir_all(&target).unwrap();
        } else {
            fs_err::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Whether this host has an NVIDIA driver (then `accelerator = "auto"` means CUDA), found
/// the way `auto` finds it.
pub(crate) fn has_nvidia_driver() -> bool {
    matches!(mlpack::hardware::NvidiaDriver::detect(), Ok(Some(_)))
}

#[test]
fn an_example_is_copied_without_what_git_ignores() {
    let from = tempfile::tempdir().unwrap();
    for (path, contents) in [
        (".gitignore", "outputs/\n__pycache__/\n"),
        (".mlpackignore", "notes/\n"),
        ("train.py", "print(1)\n"),
        ("outputs/20260101-000000-aaaa/run.json", "{}"),
        ("__pycache__/train.cpython-311.pyc", ""),
    ] {
        let path = from.path().join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, contents).unwrap();
    }
    let to = tempfile::tempdir().unwrap();
    copy_tree(from.path(), to.path());
    let mut copied: Vec<String> = walkdir::WalkDir::new(to.path())
        .min_depth(1)
        .into_iter()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    copied.sort();
    assert_eq!(copied, [".gitignore", ".mlpackignore", "train.py"]);
}
