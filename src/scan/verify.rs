//! Imports that no table maps, verified against the index: for an import `x`, the few projects
//! a user would try (`x`, then `python-x`, `x-python`, `py-x`, `pyx`; `_` and `-` are the same
//! in a project name), and one is taken only when its newest wheel really installs the
//! top-level module `x` (its zip directory says so; a name alone, or PEP 658 metadata, does
//! not). So `import comet_ml` becomes `comet-ml`. An import that the offline tables matched
//! only by name (a popular project called `x`, marked `~`) is checked the same way: confirmed,
//! or, when that project's wheel installs no `x` (PyPI's `google` for `google.colab`),
//! unresolved again.
//!
//! Verdicts, found and not found, are cached per index for as long as the index's own pages
//! (PyPI's simple pages say `max-age=600`); offline, a cached verdict of any age is used and
//! nothing is asked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};

use super::mapping::Reason;
use super::report::{Choice, DistributionUse, ScanReport, ScanWarning, UnresolvedImport};
use crate::atomic_file::{self, Durability};
use crate::network::Network;
use crate::pypi::{IndexClient, WheelLookup};
use crate::sha256::sha256_hex;

/// How long a verdict stands: the lifetime PyPI gives its simple pages.
const FRESH_FOR: Duration = Duration::from_mins(10);

/// The index, as the verification asks it: many projects at once (the caller decides how to
/// reach the network; this module stays free of it).
pub trait WheelIndex {
    /// The index's URL, which keys the cache.
    fn url(&self) -> &str;
    /// For each name, what the index says of its newest wheel, or why it could not be asked.
    fn lookup(&self, names: &[PackageName]) -> Vec<Result<WheelLookup, String>>;
}

/// The real index, asked through `client` on `network`.
pub struct IndexWheels<'a> {
    pub network: &'a Network,
    pub client: &'a IndexClient,
    pub url: String,
}

/// Which imports a verification settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The unresolved imports and those matched only by a popular project's name: what
    /// `mlpack scan` shows.
    Scan,
    /// The unresolved imports only: what `mlpack lock` adds to its roots. The lock records
    /// each verdict it used, so that `--locked` and `--check` agree without the network; a
    /// same-name match stays as the tables give it, as every earlier lock has it.
    Lock,
}

/// What a verification settled: each import it mapped to a distribution, and warnings for
/// what could not be asked.
#[derive(Debug, Default)]
pub struct Verified {
    pub imports: BTreeMap<String, PackageName>,
    pub warnings: Vec<String>,
}

/// Verify `report`'s imports in `scope` against the index at `url` (or, `offline`, the
/// cached verdicts).
pub fn verify_on_index(
    report: &mut ScanReport,
    url: String,
    offline: bool,
    network: &Network,
    scope: Scope,
) -> Verified {
    let cache = VerdictCache::new(crate::dirs::cache_dir().ok(), offline);
    let client = match IndexClient::builder().offline(offline).build() {
        Ok(client) => client,
        Err(error) => {
            return Verified {
                imports: BTreeMap::new(),
                warnings: vec![format!("could not check the index: {error}")],
            };
        }
    };
    let index = IndexWheels {
        network,
        client: &client,
        url,
    };
    let (imports, warnings) = verify_unresolved(report, &index, &cache, scope);
    Verified {
        imports,
        warnings: warnings.iter().map(ToString::to_string).collect(),
    }
}

impl WheelIndex for IndexWheels<'_> {
    fn url(&self) -> &str {
        &self.url
    }

    fn lookup(&self, names: &[PackageName]) -> Vec<Result<WheelLookup, String>> {
        self.network
            .block_on(self.client.wheel_modules_all(&self.url, names))
            .into_iter()
            .map(|answer| answer.map_err(|error| error.to_string()))
            .collect()
    }
}

/// What the index said of one import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Verdict {
    /// The project whose newest wheel installs the module, and that wheel.
    provided_by: Option<(PackageName, String)>,
    /// What the project of exactly the import's name is.
    same_name: SameName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SameName {
    Missing,
    /// It has no wheel, so nothing says what it installs.
    NoWheel,
    /// Its newest wheel was read.
    Wheel,
}

#[derive(Serialize, Deserialize)]
struct CachedVerdict {
    checked_at: u64,
    verdict: Verdict,
}

/// Where verdicts are kept: `scan-verdicts-v1/<index key>/<import>.json` in the cache.
pub struct VerdictCache {
    dir: Option<PathBuf>,
    offline: bool,
}

impl VerdictCache {
    /// `cache_root` is mlpack's cache directory; `None` keeps nothing.
    pub fn new(cache_root: Option<PathBuf>, offline: bool) -> Self {
        Self {
            dir: cache_root.map(|root| root.join("scan-verdicts-v1")),
            offline,
        }
    }

    fn path(&self, index: &str, import: &str) -> Option<PathBuf> {
        let index_key = &sha256_hex(index.as_bytes())[..16];
        Some(
            self.dir
                .as_ref()?
                .join(index_key)
                .join(format!("{import}.json")),
        )
    }

    fn get(&self, index: &str, import: &str) -> Option<Verdict> {
        let bytes = fs_err::read(self.path(index, import)?).ok()?;
        let cached: CachedVerdict = serde_json::from_slice(&bytes).ok()?;
        let age = now().saturating_sub(cached.checked_at);
        (self.offline || age < FRESH_FOR.as_secs()).then_some(cached.verdict)
    }

    /// Best effort: a verdict that cannot be kept is asked again next time.
    fn put(&self, index: &str, import: &str, verdict: &Verdict) {
        let Some(path) = self.path(index, import) else {
            return;
        };
        let cached = CachedVerdict {
            checked_at: now(),
            verdict: verdict.clone(),
        };
        let Ok(bytes) = serde_json::to_vec(&cached) else {
            return;
        };
        let written = path
            .parent()
            .map(fs_err::create_dir_all)
            .transpose()
            .and_then(|_| atomic_file::write(&path, &bytes, Durability::Cached));
        drop(written);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The projects a user would try for `import`, most likely first.
fn candidates(import: &str) -> Vec<PackageName> {
    let mut names: Vec<PackageName> = [
        import.to_string(),
        format!("python-{import}"),
        format!("{import}-python"),
        format!("py-{import}"),
        format!("py{import}"),
    ]
    .iter()
    .filter_map(|name| PackageName::from_str(name).ok())
    .collect();
    names.dedup();
    names
}

/// Asks the index about every unresolved import and, in [`Scope::Scan`], every import matched
/// only by name (or, offline, the cache), and updates the report with what the wheels say.
/// Returns the unresolved imports it mapped, and warnings for look-ups that failed.
pub fn verify_unresolved(
    report: &mut ScanReport,
    index: &dyn WheelIndex,
    cache: &VerdictCache,
    scope: Scope,
) -> (BTreeMap<String, PackageName>, Vec<ScanWarning>) {
    let url = index.url().to_string();
    let same_name = report
        .distributions
        .iter()
        .filter(|_| scope == Scope::Scan)
        .filter_map(|used| {
            let choice = used.choice.as_ref()?;
            (choice.reason == Reason::SameName).then(|| choice.import.clone())
        });
    let imports: Vec<String> = report
        .unresolved
        .iter()
        .map(|unresolved| unresolved.name.clone())
        .chain(same_name)
        .collect();
    let mut verdicts: BTreeMap<String, Verdict> = BTreeMap::new();
    let mut unknown = Vec::new();
    for import in imports {
        match cache.get(&url, &import) {
            Some(verdict) => {
                verdicts.insert(import, verdict);
            }
            None if !cache.offline => unknown.push(import),
            None => {}
        }
    }
    let (asked, warnings) = ask(index, &unknown);
    for (import, verdict) in asked {
        cache.put(&url, &import, &verdict);
        verdicts.insert(import, verdict);
    }
    let mapped = report
        .unresolved
        .iter()
        .filter_map(|unresolved| {
            let verdict = verdicts.get(&unresolved.name)?;
            let (distribution, _) = verdict.provided_by.as_ref()?;
            Some((unresolved.name.clone(), distribution.clone()))
        })
        .collect();
    apply_to_same_name(report, &verdicts);
    apply_to_unresolved(report, &verdicts);
    (mapped, warnings)
}

/// Look-ups in two batches: each import's own name first (the usual answer), then the other
/// candidates of the imports it did not settle. An import with a failed look-up and no wheel
/// that provides it gets no verdict.
fn ask(index: &dyn WheelIndex, imports: &[String]) -> (Vec<(String, Verdict)>, Vec<ScanWarning>) {
    let per_import: Vec<Vec<PackageName>> = imports.iter().map(|i| candidates(i)).collect();
    let mut answers: Vec<Vec<(PackageName, Result<WheelLookup, String>)>> =
        vec![Vec::new(); imports.len()];
    let first: Vec<PackageName> = per_import
        .iter()
        .filter_map(|c| c.first().cloned())
        .collect();
    for ((answer, names), result) in answers
        .iter_mut()
        .zip(&per_import)
        .filter(|(_, names)| !names.is_empty())
        .zip(index.lookup(&first))
    {
        answer.push((names[0].clone(), result));
    }
    let settled = |import: &str, answer: &[(PackageName, Result<WheelLookup, String>)]| {
        provider(import, answer).is_some()
    };
    let rest: Vec<(usize, PackageName)> = per_import
        .iter()
        .enumerate()
        .filter(|(at, _)| !settled(&imports[*at], &answers[*at]))
        .flat_map(|(at, names)| names.iter().skip(1).map(move |name| (at, name.clone())))
        .collect();
    let names: Vec<PackageName> = rest.iter().map(|(_, name)| name.clone()).collect();
    for ((at, name), result) in rest.into_iter().zip(index.lookup(&names)) {
        answers[at].push((name, result));
    }
    let mut verdicts = Vec::new();
    let mut warnings = Vec::new();
    for (import, answer) in imports.iter().zip(answers) {
        match verdict(import, &answer) {
            Ok(verdict) => verdicts.push((import.clone(), verdict)),
            Err(failures) => warnings.extend(failure_warning(import, &failures)),
        }
    }
    (verdicts, warnings)
}

/// One warning for an import whose look-ups failed: the first failure, and how many more
/// (each candidate name failing alike when the index is down would say the same thing five
/// times).
fn failure_warning(import: &str, failures: &[String]) -> Option<ScanWarning> {
    let first = failures.first()?;
    let more = match failures.len() {
        1 => String::new(),
        n => format!(" (and {} more of its candidate names)", n - 1),
    };
    Some(ScanWarning {
        path: import.to_string(),
        message: format!("could not check the index for this import: {first}{more}"),
    })
}

/// The first candidate whose wheel installs `import`, with that wheel.
fn provider(
    import: &str,
    answer: &[(PackageName, Result<WheelLookup, String>)],
) -> Option<(PackageName, String)> {
    answer.iter().find_map(|(name, result)| match result {
        Ok(WheelLookup::Wheel(wheel)) if wheel.modules.contains(import) => {
            Some((name.clone(), wheel.filename.clone()))
        }
        _ => None,
    })
}

fn verdict(
    import: &str,
    answer: &[(PackageName, Result<WheelLookup, String>)],
) -> Result<Verdict, Vec<String>> {
    let provided_by = provider(import, answer);
    let failures: Vec<String> = answer.iter().filter_map(|(_, r)| r.clone().err()).collect();
    if provided_by.is_none() && !failures.is_empty() {
        return Err(failures);
    }
    let same_name = match answer.first().map(|(_, result)| result) {
        Some(Ok(WheelLookup::Wheel(_))) => SameName::Wheel,
        Some(Ok(WheelLookup::NoWheel)) => SameName::NoWheel,
        _ => SameName::Missing,
    };
    Ok(Verdict {
        provided_by,
        same_name,
    })
}

/// An import matched only by name is confirmed by its wheel, handed to the project whose
/// wheel does provide it, or, when the named project's wheel does not, unresolved again.
fn apply_to_same_name(report: &mut ScanReport, verdicts: &BTreeMap<String, Verdict>) {
    let mut kept = Vec::new();
    for used in std::mem::take(&mut report.distributions) {
        let Some(verdict) = used
            .choice
            .as_ref()
            .filter(|choice| choice.reason == Reason::SameName)
            .and_then(|choice| verdicts.get(&choice.import))
        else {
            kept.push(used);
            continue;
        };
        match (&verdict.provided_by, verdict.same_name) {
            (Some(_), _) | (None, SameName::Wheel) => {
                let import = used.choice.as_ref().map(|c| c.import.clone());
                report.unresolved.push(UnresolvedImport {
                    name: import.unwrap_or_else(|| used.name.to_string()),
                    required: used.required,
                    evidence: used.evidence,
                    on_pypi: Some(true),
                });
            }
            (None, _) => kept.push(used),
        }
    }
    report.distributions = kept;
}

/// Moves each import a wheel provides from `unresolved` to `distributions`; notes the rest.
fn apply_to_unresolved(report: &mut ScanReport, verdicts: &BTreeMap<String, Verdict>) {
    let mut still_unresolved = Vec::new();
    for mut unresolved in std::mem::take(&mut report.unresolved) {
        let Some(verdict) = verdicts.get(&unresolved.name) else {
            still_unresolved.push(unresolved);
            continue;
        };
        if let Some((distribution, wheel)) = &verdict.provided_by {
            add_distribution(report, unresolved, distribution, wheel);
        } else {
            unresolved.on_pypi = Some(verdict.same_name != SameName::Missing);
            still_unresolved.push(unresolved);
        }
    }
    still_unresolved.sort_by(|a, b| a.name.cmp(&b.name));
    report.unresolved = still_unresolved;
    report.distributions.sort_by(|a, b| a.name.cmp(&b.name));
}

fn add_distribution(
    report: &mut ScanReport,
    unresolved: UnresolvedImport,
    distribution: &PackageName,
    wheel: &str,
) {
    if let Some(used) = report
        .distributions
        .iter_mut()
        .find(|used| used.name == *distribution)
    {
        used.required |= unresolved.required;
        used.imports.push(unresolved.name);
        used.imports.sort();
        used.evidence.extend(unresolved.evidence);
        used.evidence.sort();
        return;
    }
    let choice = Choice {
        import: unresolved.name.clone(),
        reason: Reason::Verified {
            wheel: wheel.to_string(),
        },
        alternatives: Vec::new(),
    };
    report.distributions.push(DistributionUse {
        name: distribution.clone(),
        required: unresolved.required,
        imports: vec![unresolved.name],
        evidence: unresolved.evidence,
        choice: Some(choice),
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::pypi::WheelModules;

    /// An index that knows a few projects' wheels, and counts what it is asked.
    struct FixedIndex {
        projects: Vec<(&'static str, Option<&'static [&'static str]>)>,
        asked: std::cell::RefCell<Vec<String>>,
    }

    impl WheelIndex for FixedIndex {
        fn url(&self) -> &'static str {
            "https://index.example/simple"
        }

        fn lookup(&self, names: &[PackageName]) -> Vec<Result<WheelLookup, String>> {
            names
                .iter()
                .map(|name| {
                    self.asked.borrow_mut().push(name.to_string());
                    let project = self.projects.iter().find(|(p, _)| *p == name.as_ref());
                    Ok(match project {
                        None => WheelLookup::NoProject,
                        Some((_, None)) => WheelLookup::NoWheel,
                        Some((project, Some(modules))) => WheelLookup::Wheel(WheelModules {
                            filename: format!("{project}-1.0-py3-none-any.whl"),
                            modules: modules.iter().map(|m| (*m).to_string()).collect(),
                        }),
                    })
                })
                .collect()
        }
    }

    fn report(imports: &[&str]) -> ScanReport {
        ScanReport {
            python: crate::python::PythonVersion::DEFAULT,
            files_scanned: 1,
            distributions: Vec::new(),
            unresolved: imports
                .iter()
                .map(|name| UnresolvedImport {
                    name: (*name).to_string(),
                    required: true,
                    evidence: Vec::new(),
                    on_pypi: None,
                })
                .collect(),
            local_modules: Vec::new(),
            stdlib_modules: Vec::new(),
            notebook_host_modules: Vec::new(),
            excluded: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_wheel_must_provide_the_module() {
        let index = FixedIndex {
            projects: vec![
                ("comet-ml", Some(&["comet_ml"])),
                ("google", Some(&["googlesearch"])),
                ("python-levenshtein", Some(&["Levenshtein"])),
                ("onlysdist", None),
                ("python-onlysdist", Some(&["onlysdist"])),
            ],
            asked: std::cell::RefCell::default(),
        };
        let cache = tempfile::tempdir().unwrap();
        let cache = VerdictCache::new(Some(cache.path().to_path_buf()), false);
        let mut report = report(&["comet_ml", "google", "onlysdist", "nothing_here"]);
        let (_, warnings) = verify_unresolved(&mut report, &index, &cache, Scope::Scan);
        assert!(warnings.is_empty());
        let found: Vec<(&str, &[String])> = report
            .distributions
            .iter()
            .map(|used| (used.name.as_ref(), used.imports.as_slice()))
            .collect();
        assert_eq!(
            found,
            [
                ("comet-ml", &["comet_ml".to_string()][..]),
                ("python-onlysdist", &["onlysdist".to_string()][..])
            ]
        );
        let left: BTreeSet<(&str, Option<bool>)> = report
            .unresolved
            .iter()
            .map(|u| (u.name.as_str(), u.on_pypi))
            .collect();
        assert_eq!(
            left,
            BTreeSet::from([("google", Some(true)), ("nothing_here", Some(false))])
        );
    }

    #[test]
    fn verdicts_are_cached_both_ways_and_used_offline() {
        let index = FixedIndex {
            projects: vec![("comet-ml", Some(&["comet_ml"]))],
            asked: std::cell::RefCell::default(),
        };
        let dir = tempfile::tempdir().unwrap();
        let online = VerdictCache::new(Some(dir.path().to_path_buf()), false);
        verify_unresolved(
            &mut report(&["comet_ml", "nope"]),
            &index,
            &online,
            Scope::Scan,
        );
        let asked = index.asked.borrow().len();
        assert!(asked > 0);
        let mut again = report(&["comet_ml", "nope"]);
        verify_unresolved(&mut again, &index, &online, Scope::Scan);
        assert_eq!(
            index.asked.borrow().len(),
            asked,
            "fresh verdicts are not asked again"
        );
        let offline = VerdictCache::new(Some(dir.path().to_path_buf()), true);
        let mut cached = report(&["comet_ml", "nope", "never_seen"]);
        verify_unresolved(&mut cached, &index, &offline, Scope::Scan);
        assert_eq!(index.asked.borrow().len(), asked, "offline asks nothing");
        assert_eq!(cached.distributions.len(), 1);
        let left: Vec<(&str, Option<bool>)> = cached
            .unresolved
            .iter()
            .map(|u| (u.name.as_str(), u.on_pypi))
            .collect();
        assert_eq!(left, [("never_seen", None), ("nope", Some(false))]);
    }
}
