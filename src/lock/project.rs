//! Locking a project: settle the inputs and target, decide whether the existing lock still
//! holds, and otherwise resolve on the solver thread. Shared by `mlpack lock` and by the
//! commands that lock on the way (`mlpack build`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep508_rs::PackageName;

use super::{LOCK_FILE, LockError, LockInputs, Lockfile};
use crate::manifest::{LoadedManifest, project_path};
use crate::pypi::{IndexClient, IndexMap};
use crate::python::PythonVersion;
use crate::resolve::{self, Arch, ResolveError, ResolveOptions, Target};
use crate::scan::{self, ScanOptions};

/// How to lock, from the command line.
#[derive(Debug, Clone, Default)]
pub struct LockSettings {
    pub python: Option<PythonVersion>,
    pub arch: Option<Arch>,
    pub prerelease: bool,
    pub exclude_newer: Option<String>,
    pub offline: bool,
    pub upgrade: bool,
    pub upgrade_packages: Vec<PackageName>,
}

/// Everything the lock depends on, settled before any network access.
#[derive(Debug)]
pub struct LockPlan {
    pub lock_path: PathBuf,
    pub inputs: LockInputs,
    pub target: Target,
    pub indexes: IndexMap,
    /// The inputs' hash: equal to the existing lock's when nothing that matters changed.
    pub hash: String,
    pub existing: Option<Lockfile>,
}

impl LockPlan {
    pub fn new(
        project: &Path,
        loaded: &LoadedManifest,
        settings: &LockSettings,
    ) -> Result<Self, LockError> {
        let manifest = &loaded.manifest;
        let python = settings.python.unwrap_or_else(|| manifest.python_version());
        let options = ScanOptions {
            python,
            pins: pins(loaded)?,
            skip_dirs: vec![manifest.outputs.dir.clone()],
        };
        let report = scan::scan(project, &options)?;
        let inputs = LockInputs::gather(project, loaded, &report)?;
        let target = Target::for_base(
            &manifest.base.image,
            python,
            settings.arch.unwrap_or_else(Arch::host),
        );
        let indexes = index_map(loaded)?;
        let resolver_settings = [
            ("prerelease", settings.prerelease.to_string()),
            (
                "exclude-newer",
                settings.exclude_newer.clone().unwrap_or_default(),
            ),
        ];
        let hash = inputs.hash(&target, &indexes, &resolver_settings);
        let lock_path = project_path(project, Path::new(LOCK_FILE));
        let existing = Lockfile::read(&lock_path)?;
        Ok(Self {
            lock_path,
            inputs,
            target,
            indexes,
            hash,
            existing,
        })
    }

    /// Whether the existing lock was computed from these very inputs.
    pub fn is_fresh(&self) -> bool {
        self.existing
            .as_ref()
            .is_some_and(|lock| lock.inputs.sha256 == self.hash)
    }

    /// Resolve anew, keeping the existing lock's versions where they still fit (unless told to
    /// upgrade), and carry over the base's pins.
    pub fn resolve(&self, settings: &LockSettings) -> Result<Lockfile, LockError> {
        let mut preferences = match (&self.existing, settings.upgrade) {
            (Some(lock), false) => lock.preferences(),
            _ => HashMap::new(),
        };
        for name in &settings.upgrade_packages {
            preferences.remove(name);
        }
        let options = ResolveOptions {
            target: self.target.clone(),
            indexes: self.indexes.clone(),
            preferences,
            constraints: self.inputs.constraint_ranges(),
            prerelease: settings.prerelease,
        };
        let client = IndexClient::builder()
            .offline(settings.offline)
            .exclude_newer(settings.exclude_newer.clone())
            .build()?;
        let roots = self.inputs.roots.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(LockError::Runtime)?;
        let handle = runtime.handle().clone();
        // PubGrub is synchronous: it runs on its own thread and blocks on this runtime, which
        // the main thread drives (running the prefetches too) until the answer arrives.
        let resolution = runtime.block_on(async move {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let _ = sender.send(resolve::resolve(client, handle, &roots, &options));
            });
            receiver.await.unwrap_or_else(|_| {
                Err(ResolveError::Internal(
                    "the resolver thread stopped".to_string(),
                ))
            })
        })?;
        let mut lock =
            Lockfile::from_resolution(&resolution, &self.inputs, &self.target, self.hash.clone())?;
        // The base's pins are `mlpack build`'s; it re-checks them against their own inputs.
        lock.base = self
            .existing
            .as_ref()
            .and_then(|existing| existing.base.clone());
        Ok(lock)
    }
}

/// `+ numpy 2.1.0`, `- six 1.16.0`, `~ torch 2.4.0 -> 2.5.1`: what a new lock changed.
pub fn changes(old: Option<&Lockfile>, new: &Lockfile) -> Vec<String> {
    let versions = |lock: &Lockfile| -> BTreeMap<String, String> {
        lock.packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    };
    let before = old.map(versions).unwrap_or_default();
    let after = versions(new);
    let mut lines = Vec::new();
    for (name, version) in &after {
        match before.get(name) {
            None => lines.push(format!("+ {name} {version}")),
            Some(old) if old != version => lines.push(format!("~ {name} {old} -> {version}")),
            Some(_) => {}
        }
    }
    lines.extend(
        before
            .iter()
            .filter(|(name, _)| !after.contains_key(*name))
            .map(|(name, version)| format!("- {name} {version}")),
    );
    lines
}

fn pins(loaded: &LoadedManifest) -> Result<BTreeMap<String, PackageName>, LockError> {
    loaded
        .manifest
        .python
        .imports
        .iter()
        .map(|(import, name)| Ok((import.clone(), package_name(loaded, name)?)))
        .collect()
}

fn index_map(loaded: &LoadedManifest) -> Result<IndexMap, LockError> {
    let python = &loaded.manifest.python;
    let mut bound = BTreeMap::new();
    for index in &python.indexes {
        for name in &index.packages {
            bound.insert(
                package_name(loaded, name)?,
                index.url.trim_end_matches('/').to_string(),
            );
        }
    }
    Ok(IndexMap {
        default: IndexClient::index_url(python.index_url.as_deref())
            .trim_end_matches('/')
            .to_string(),
        bound,
    })
}

fn package_name(
    loaded: &LoadedManifest,
    name: &toml::Spanned<String>,
) -> Result<PackageName, LockError> {
    PackageName::from_str(name.get_ref()).map_err(|_| LockError::InvalidName {
        location: loaded.location(name),
        name: name.get_ref().clone(),
    })
}
