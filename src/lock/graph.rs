//! The lock as a graph: roots, parents and paths, for `mlpack tree` and `mlpack why`.

use std::collections::{BTreeMap, BTreeSet};

use super::Lockfile;

/// Dependency edges between locked packages, by name.
pub struct LockGraph<'a> {
    lock: &'a Lockfile,
    children: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> LockGraph<'a> {
    pub fn new(lock: &'a Lockfile) -> Self {
        let children = lock
            .packages
            .iter()
            .map(|package| {
                (
                    package.name.as_str(),
                    package
                        .dependencies
                        .iter()
                        .map(|dependency| dependency.name.as_str())
                        .collect(),
                )
            })
            .collect();
        Self { lock, children }
    }

    /// Packages a root requirement asked for (their `why` names an origin, not a parent).
    pub fn roots(&self) -> Vec<&'a str> {
        self.lock
            .packages
            .iter()
            .filter(|package| {
                package
                    .why
                    .iter()
                    .any(|why| !why.starts_with(DEPENDENCY_OF))
            })
            .map(|package| package.name.as_str())
            .collect()
    }

    /// Where the project asks for `name`: the `why` entries that name an origin, not a parent.
    pub fn origins(&self, name: &str) -> Vec<&'a str> {
        self.lock
            .package(name)
            .into_iter()
            .flat_map(|package| &package.why)
            .filter(|why| !why.starts_with(DEPENDENCY_OF))
            .map(String::as_str)
            .collect()
    }

    pub fn children(&self, name: &str) -> &[&'a str] {
        self.children.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every path from a root to `target`, shortest first, each without cycles.
    pub fn paths_to(&self, target: &str) -> Vec<Vec<&'a str>> {
        let mut paths = Vec::new();
        for root in self.roots() {
            let mut path = vec![root];
            self.walk(target, &mut path, &mut paths);
        }
        paths.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        paths
    }

    fn walk(&self, target: &str, path: &mut Vec<&'a str>, paths: &mut Vec<Vec<&'a str>>) {
        let Some(&last) = path.last() else { return };
        if last == target {
            paths.push(path.clone());
            return;
        }
        for &child in self.children(last) {
            if !path.contains(&child) {
                path.push(child);
                self.walk(target, path, paths);
                path.pop();
            }
        }
    }

    /// Each package's parents within the lock.
    pub fn parents(&self) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
        let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (&parent, children) in &self.children {
            for &child in children {
                parents.entry(child).or_default().insert(parent);
            }
        }
        parents
    }
}

/// The `why` prefix of a package that is there for another.
pub const DEPENDENCY_OF: &str = "dependency of ";
