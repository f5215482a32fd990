//! The project's files and its own module graph.
//!
//! Which files are scanned, in order of precedence:
//! 1. `.mlpackignore` at the project root (gitignore syntax, like `.dockerignore`) excludes paths;
//! 2. hidden entries (`.git`, `.ipynb_checkpoints`, `.venv`) are skipped;
//! 3. junk directories are skipped: virtualenvs (any directory with `pyvenv.cfg`), conda
//!    environments (`conda-meta`), `site-packages`, `node_modules`, `__pycache__`, `build`,
//!    `dist`, `*.egg-info`, and the manifest's outputs directory.
//!
//! A module is local when Python itself would find it in the project: beside the importing file
//! (the script's directory is `sys.path[0]`), at the project root, under `src/`, or beside the
//! outermost package that contains the importing file (code inside `django/` imports `django`
//! from the directory that holds it). Packages, namespace packages (directories of Python files
//! without `__init__.py`) and extension modules count; a file that merely shares the name
//! somewhere deeper in the tree does not. A namespace package is only a candidate: Python
//! prefers a regular package installed anywhere on `sys.path` over it, so a directory of
//! example scripts named `xgboost/` does not hide the real xgboost (see [`Local`]).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

const JUNK_DIRS: &[&str] = &["site-packages", "node_modules", "__pycache__"];
/// Build output, junk only at the project root: deeper, `dist` can be a real package
/// (ansible's `ansible_collections/python/dist`).
const ROOT_JUNK_DIRS: &[&str] = &["build", "dist"];
const MODULE_EXTENSIONS: &[&str] = &["py", "pyi", "so", "pyd"];

/// The files to scan and the module names the project itself provides.
#[derive(Debug, Default)]
pub(crate) struct ProjectFiles {
    pub(crate) sources: Vec<PathBuf>,
    /// Entries that could not be read (a broken link, a directory without permission), and why.
    pub(crate) unreadable: Vec<(PathBuf, String)>,
    /// Directories with an `__init__.py`: regular packages.
    packages: HashSet<PathBuf>,
    /// Every module the project provides, by (directory, name): files and directories.
    modules: HashSet<(PathBuf, String)>,
    /// The modules that are files (`train.py`, an extension module), not directories.
    module_files: HashSet<(PathBuf, String)>,
    root: PathBuf,
}

impl ProjectFiles {
    /// Walk `root`, honouring `.mlpackignore` and skipping junk and `skip_dirs` (project-relative).
    pub(crate) fn discover(root: &Path, skip_dirs: &[PathBuf]) -> Result<Self, ignore::Error> {
        let skip: Vec<PathBuf> = skip_dirs.iter().map(|dir| root.join(dir)).collect();
        let mut builder = ignore::WalkBuilder::new(root);
        builder
            .standard_filters(false)
            .hidden(true)
            .follow_links(true)
            .sort_by_file_name(OsStr::cmp)
            .filter_entry(move |entry| !is_junk_dir(entry, &skip));
        let ignore_file = root.join(".mlpackignore");
        if ignore_file.is_file()
            && let Some(error) = builder.add_ignore(&ignore_file)
        {
            return Err(error);
        }
        let mut files = Self {
            root: root.to_path_buf(),
            ..Self::default()
        };
        for entry in builder.build() {
            match entry {
                Ok(entry) if entry.file_type().is_some_and(|kind| kind.is_file()) => {
                    files.add(&entry.into_path());
                }
                Ok(_) => {}
                Err(error) => files.unreadable.push(unreadable(root, &error)),
            }
        }
        Ok(files)
    }

    fn add(&mut self, path: &Path) {
        let extension = path.extension().and_then(OsStr::to_str).unwrap_or_default();
        if matches!(extension, "py" | "ipynb") {
            self.sources.push(path.to_path_buf());
        }
        if !MODULE_EXTENSIONS.contains(&extension) {
            return;
        }
        if name_is_init(path)
            && let Some(dir) = path.parent()
        {
            self.packages.insert(dir.to_path_buf());
        }
        let Some(name) = module_name(path) else {
            return;
        };
        let mut dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.module_files.insert((dir.clone(), name.clone()));
        self.modules.insert((dir.clone(), name));
        // Every directory between the file and the root is a package or namespace package.
        while dir != self.root {
            let (Some(parent), Some(package)) =
                (dir.parent(), dir.file_name().and_then(OsStr::to_str))
            else {
                break;
            };
            if !self
                .modules
                .insert((parent.to_path_buf(), package.to_string()))
            {
                break;
            }
            dir = parent.to_path_buf();
        }
    }

    /// Whether the dotted `module`, imported from a file in `importer_dir`, is the project's own.
    pub(crate) fn is_local(&self, module: &str, importer_dir: &Path) -> Local {
        let mut parts = module.split('.');
        let top_level = parts.next().unwrap_or(module);
        let submodule = parts.next();
        [
            importer_dir.to_path_buf(),
            self.root.clone(),
            self.root.join("src"),
            self.package_root(importer_dir),
        ]
        .into_iter()
        .map(|dir| self.provides(dir, top_level, submodule))
        .max()
        .unwrap_or(Local::No)
    }

    /// How `dir` provides the top-level module `name` to an import that goes on to `submodule`.
    fn provides(&self, dir: PathBuf, name: &str, submodule: Option<&str>) -> Local {
        let key = (dir, name.to_string());
        if !self.modules.contains(&key) {
            return Local::No;
        }
        let path = key.0.join(name);
        if self.module_files.contains(&key) || self.packages.contains(&path) {
            return Local::Yes;
        }
        // A namespace package has nothing of its own to import: the import is the project's
        // only when it reaches a module inside the directory (`from models import resnet`).
        match submodule {
            Some(sub) if self.modules.contains(&(path, sub.to_string())) => Local::Yes,
            _ => Local::NamespaceOnly,
        }
    }

    /// The directory holding the outermost regular package (`__init__.py` in every level)
    /// that contains `dir`; `dir` itself when it is not inside a package.
    fn package_root(&self, dir: &Path) -> PathBuf {
        let mut current = dir;
        while self.packages.contains(current)
            && let Some(parent) = current.parent()
            && current != self.root
        {
            current = parent;
        }
        current.to_path_buf()
    }
}

/// Whether an import names one of the project's own modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Local {
    No,
    /// Only a namespace package (a directory without `__init__.py`) of that name, and the import
    /// does not reach a module inside it (`import xgboost as xgb`, `from dask import array`):
    /// Python takes a regular package of that name from anywhere on `sys.path` before it, so
    /// this is the project's own only when no distribution is known to provide the name.
    NamespaceOnly,
    Yes,
}

/// The path an entry error is about, and the reason without the path repeated.
fn unreadable(root: &Path, error: &ignore::Error) -> (PathBuf, String) {
    let mut error = error;
    let mut path = root.to_path_buf();
    loop {
        match error {
            ignore::Error::WithPath { path: inner, err } => {
                path.clone_from(inner);
                error = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                error = err;
            }
            ignore::Error::Io(io) => {
                return (path, format!("skipped: could not read it: {}", io.kind()));
            }
            other => return (path, format!("skipped: {other}")),
        }
    }
}

fn name_is_init(path: &Path) -> bool {
    path.file_stem().is_some_and(|stem| stem == "__init__")
}

/// `train` for `train.py`, `_speedups` for `_speedups.cpython-311-x86_64-linux-gnu.so`.
fn module_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = file.split('.').next()?;
    (!stem.is_empty()).then(|| stem.to_string())
}

fn is_junk_dir(entry: &ignore::DirEntry, skip: &[PathBuf]) -> bool {
    if !entry.file_type().is_some_and(|kind| kind.is_dir()) || entry.depth() == 0 {
        return false;
    }
    let name = entry.file_name().to_str().unwrap_or_default();
    JUNK_DIRS.contains(&name)
        || (entry.depth() == 1 && ROOT_JUNK_DIRS.contains(&name))
        || name.ends_with(".egg-info")
        || skip.iter().any(|dir| dir == entry.path())
        || entry.path().join("pyvenv.cfg").exists()
        || entry.path().join("conda-meta").is_dir()
}
