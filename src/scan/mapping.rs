//! Import name → PyPI distribution.
//!
//! Keys are dotted prefixes, so namespace packages map right (`google.protobuf` → `protobuf`,
//! `google.cloud.storage` → `google-cloud-storage`); the longest prefix that matches wins.
//! At that prefix, in order of precedence:
//! 1. the project's own pin in `mlpack.toml` (`[python.imports] cv2 = "opencv-python"`);
//! 2. a distribution the project installs explicitly (`%pip install opencv-python`);
//! 3. the curated override in `data/import-overrides.tsv` (the container-appropriate choice);
//! 4. the generated map `data/import-map.tsv` (from real wheels' file lists, by
//!    `scripts/gen-import-map.py`), most-downloaded candidate first;
//! 5. failing all prefixes: a top-5000 PyPI project (`data/top-pypi.tsv`) whose name is the
//!    top-level import, reported as such since no wheel confirmed it.
//!
//! Whenever other candidates exist, the choice and the alternatives are reported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::LazyLock;

use pep508_rs::PackageName;
use serde::Serialize;

const GENERATED: &str = include_str!("../../data/import-map.tsv");
const OVERRIDES: &str = include_str!("../../data/import-overrides.tsv");
const TOP_PROJECTS: &str = include_str!("../../data/top-pypi.tsv");

struct Tables {
    /// Prefix → candidates, most downloaded first.
    generated: HashMap<&'static str, Vec<&'static str>>,
    /// Prefix → (distribution, why).
    overrides: HashMap<&'static str, (&'static str, &'static str)>,
    /// The most downloaded projects' names.
    top: HashSet<&'static str>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut generated: HashMap<&str, Vec<(u32, &str)>> = HashMap::new();
    for [prefix, distribution, rank] in rows(GENERATED) {
        let rank = rank.parse().unwrap_or(u32::MAX);
        generated
            .entry(prefix)
            .or_default()
            .push((rank, distribution));
    }
    let generated = generated
        .into_iter()
        .map(|(prefix, mut candidates)| {
            candidates.sort_unstable();
            candidates.dedup_by_key(|(_, name)| *name);
            (
                prefix,
                candidates.into_iter().map(|(_, name)| name).collect(),
            )
        })
        .collect();
    let overrides = rows(OVERRIDES)
        .map(|[prefix, distribution, note]| (prefix, (distribution, note)))
        .collect();
    let top = TOP_PROJECTS
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split('\t').nth(1))
        .collect();
    Tables {
        generated,
        overrides,
        top,
    }
});

fn rows(table: &'static str) -> impl Iterator<Item = [&'static str; 3]> {
    table
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            Some([
                fields.next()?,
                fields.next()?,
                fields.next().unwrap_or_default(),
            ])
        })
}

/// Why a distribution was chosen for an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// Pinned by the project in `mlpack.toml`.
    Pinned,
    /// The project installs it explicitly (`%pip install`).
    Installed,
    /// mlpack's curated choice, with its note.
    Curated { note: String },
    /// The most downloaded of the candidates.
    MostDownloaded,
    /// No wheel says so, but a top-5000 PyPI project has exactly the import's name.
    SameName,
    /// No table knows the import, but the index has a project of a similar name whose newest
    /// wheel installs the module (`scan::verify`).
    Verified { wheel: String },
}

impl Reason {
    pub fn describe(&self) -> String {
        match self {
            Self::Pinned => "pinned in mlpack.toml".to_string(),
            Self::Installed => "installed explicitly with pip in the project".to_string(),
            Self::Curated { note } => note.clone(),
            Self::MostDownloaded => "the most downloaded candidate".to_string(),
            Self::SameName => {
                "a popular PyPI project has this exact name; no wheel's file list confirmed it"
                    .to_string()
            }
            Self::Verified { wheel } => format!("verified: the wheel `{wheel}` provides it"),
        }
    }
}

/// The distribution that provides an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// The dotted prefix that matched (`google.cloud.storage`, `cv2`).
    pub(crate) key: String,
    pub(crate) distribution: PackageName,
    /// Other distributions that install the same import, when there are any.
    pub(crate) alternatives: Vec<PackageName>,
    pub(crate) reason: Reason,
}

/// The mapping with the project's own pins and explicit installs on top.
pub(crate) struct ImportMap<'a> {
    pins: &'a BTreeMap<String, PackageName>,
    installed: HashSet<PackageName>,
}

impl<'a> ImportMap<'a> {
    pub(crate) fn new(
        pins: &'a BTreeMap<String, PackageName>,
        installed: HashSet<PackageName>,
    ) -> Self {
        Self { pins, installed }
    }

    /// The distribution for a dotted module, or `None` if no table knows any prefix of it.
    pub(crate) fn resolve(&self, module: &str) -> Option<Resolution> {
        prefixes(module)
            .find_map(|prefix| self.resolve_prefix(prefix))
            .or_else(|| same_name(module))
    }

    fn resolve_prefix(&self, prefix: &str) -> Option<Resolution> {
        let tables = &*TABLES;
        let mut candidates: Vec<PackageName> = tables
            .generated
            .get(prefix)
            .into_iter()
            .flatten()
            .filter_map(|name| PackageName::from_str(name).ok())
            .collect();
        let curated = tables.overrides.get(prefix);
        let (distribution, reason) = if let Some(pin) = self.pins.get(prefix) {
            (pin.clone(), Reason::Pinned)
        } else if let Some(installed) = candidates
            .iter()
            .find(|name| self.installed.contains(*name))
        {
            (installed.clone(), Reason::Installed)
        } else if let Some((name, note)) = curated {
            let name = PackageName::from_str(name).ok()?;
            (
                name,
                Reason::Curated {
                    note: (*note).to_string(),
                },
            )
        } else {
            (candidates.first()?.clone(), Reason::MostDownloaded)
        };
        candidates.retain(|name| *name != distribution);
        Some(Resolution {
            key: prefix.to_string(),
            distribution,
            alternatives: candidates,
            reason,
        })
    }
}

fn same_name(module: &str) -> Option<Resolution> {
    let top_level = module.split('.').next()?;
    let name = PackageName::from_str(top_level).ok()?;
    TABLES.top.contains(name.as_ref()).then(|| Resolution {
        key: top_level.to_string(),
        distribution: name,
        alternatives: Vec::new(),
        reason: Reason::SameName,
    })
}

/// The popular PyPI project whose name is closest to `name`, for "did you mean" hints.
pub(crate) fn similar_project(name: &str) -> Option<String> {
    TABLES
        .top
        .iter()
        .filter(|candidate| **candidate != name)
        .map(|candidate| (strsim::jaro_winkler(name, candidate), *candidate))
        .filter(|(score, _)| *score > 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, best)| best.to_string())
}

/// `a.b.c`, `a.b`, `a`: longest first.
fn prefixes(module: &str) -> impl Iterator<Item = &str> {
    std::iter::once(module).chain(
        module
            .rmatch_indices('.')
            .map(move |(index, _)| &module[..index]),
    )
}

#[cfg(test)]
mod tests;
