//! The set of packages a base needs: the `Pre-Depends` + `Depends` closure of the requested
//! packages ([Debian Policy §7.2]), chosen the way a plain `apt-get install --no-install-recommends`
//! would for a fresh root, without apt's scoring:
//!
//! 1. A group (`a | b`) already satisfied by a selected package (by name, or through its
//!    `Provides`) adds nothing.
//! 2. Otherwise its alternatives are tried in order; for each, the highest version of a real
//!    package of that name that meets the version constraint wins, and failing that a provider
//!    whose `Provides` meets it, preferring `Priority: required` over `important`, `standard`
//!    and `optional`, then the name.
//! 3. Requested packages are all selected before any dependency, so they satisfy groups first.
//!
//! `Recommends`, `Suggests`, `Conflicts` and `Breaks` are not followed, and `Essential`
//! packages are not added implicitly: the caller lists what the base must contain.
//!
//! [Debian Policy §7.2]: https://www.debian.org/doc/debian-policy/ch-relationships.html#binary-dependencies-depends-recommends-suggests-enhances-pre-depends

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::DebianError;
use super::packages::{DebPackage, PackageIndex};
use super::relation::{Relation, group_text};
use super::version::DebianVersion;

impl PackageIndex {
    /// The dependency closure of `roots` (package names, or `name=version` pins), sorted by
    /// name. Errors name the unsatisfiable dependency and the chain of packages that led to it.
    pub fn closure(&self, roots: &[String]) -> Result<Vec<DebPackage>, DebianError> {
        let mut closure = Closure {
            index: self,
            selected: BTreeMap::new(),
            parent: HashMap::new(),
            queue: VecDeque::new(),
        };
        for root in roots {
            let chosen = self.resolve_root(root)?;
            let name = &self.entries[chosen].package.name;
            match closure.selected.get(name) {
                Some(&other) if other != chosen => {
                    return Err(DebianError::InvalidRequest {
                        request: root.clone(),
                        message: format!(
                            "`{name}` is also requested as version `{}`",
                            self.entries[other].package.version
                        ),
                    });
                }
                Some(_) => {}
                None => closure.select(chosen, None),
            }
        }
        while let Some(current) = closure.queue.pop_front() {
            for group in &self.entries[current].dependencies {
                if closure.satisfied(group) {
                    continue;
                }
                match closure.choose(group) {
                    Ok(chosen) => closure.select(chosen, Some(current)),
                    Err(reason) => {
                        return Err(DebianError::Unsatisfiable {
                            chain: closure.chain(current),
                            dependency: group_text(group),
                            reason,
                        });
                    }
                }
            }
        }
        Ok(closure
            .selected
            .values()
            .map(|&index| self.entries[index].package.clone())
            .collect())
    }

    /// The entry a requested package names: `name` (the highest version, or the preferred
    /// provider of a virtual package) or `name=version`.
    fn resolve_root(&self, request: &str) -> Result<usize, DebianError> {
        let invalid = |message: &str| DebianError::InvalidRequest {
            request: request.to_string(),
            message: message.to_string(),
        };
        let (name, pin) = match request.split_once('=') {
            Some((name, version)) => (name.trim(), Some(version.trim())),
            None => (request.trim(), None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
        {
            return Err(invalid(
                "expected a Debian package name (lowercase letters, digits, `+`, `-`, `.`), optionally with `=version`",
            ));
        }
        let versions = self
            .by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(pin) = pin {
            let wanted = DebianVersion::parse(pin).map_err(|error| invalid(&error))?;
            return versions
                .iter()
                .copied()
                .find(|&index| self.entries[index].version == wanted)
                .ok_or_else(|| DebianError::PinNotFound {
                    name: name.to_string(),
                    version: pin.to_string(),
                    available: self.versions_text(name),
                    suite: self.suite.clone(),
                });
        }
        if let Some(&highest) = versions.first() {
            return Ok(highest);
        }
        let relation = Relation {
            name: name.to_string(),
            constraint: None,
        };
        self.preferred_provider(&relation, |_| true)
            .ok_or_else(|| DebianError::UnknownPackage {
                name: name.to_string(),
                suite: self.suite.clone(),
                suggestion: self.similar_name(name),
            })
    }

    /// The provider of `relation`'s name whose `Provides` meets its constraint, by priority,
    /// then name, then highest version; `allowed` filters candidates.
    fn preferred_provider(
        &self,
        relation: &Relation,
        allowed: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        self.providers
            .get(&relation.name)?
            .iter()
            .copied()
            .filter(|&index| allowed(index) && self.provides(index, relation))
            .min_by(|&a, &b| {
                let (left, right) = (&self.entries[a], &self.entries[b]);
                priority_rank(&left.package.priority)
                    .cmp(&priority_rank(&right.package.priority))
                    .then_with(|| left.package.name.cmp(&right.package.name))
                    .then_with(|| right.version.cmp(&left.version))
            })
    }

    /// Whether entry `index` provides `relation`: an unversioned `Provides` satisfies only an
    /// unversioned dependency (Policy §7.5).
    fn provides(&self, index: usize, relation: &Relation) -> bool {
        self.entries[index]
            .provides
            .iter()
            .filter(|provided| provided.name == relation.name)
            .any(
                |provided| match (&relation.constraint, &provided.constraint) {
                    (None, _) => true,
                    (Some(_), Some((_, version))) => relation.allows(version),
                    (Some(_), None) => false,
                },
            )
    }

    fn versions_text(&self, name: &str) -> String {
        match self.by_name.get(name) {
            Some(indexes) if !indexes.is_empty() => indexes
                .iter()
                .map(|&index| format!("`{}`", self.entries[index].package.version))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "none".to_string(),
        }
    }

    /// The package name closest to `name`, if one is close enough to be a likely typo.
    fn similar_name(&self, name: &str) -> Option<String> {
        self.by_name
            .keys()
            .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
            .filter(|(score, _)| *score >= 0.85)
            .max_by(|(a, left), (b, right)| a.total_cmp(b).then_with(|| right.cmp(left)))
            .map(|(_, candidate)| candidate.clone())
    }
}

/// `Priority` as a preference: lower is preferred.
fn priority_rank(priority: &str) -> u8 {
    match priority {
        "required" => 0,
        "important" => 1,
        "standard" => 2,
        "optional" => 3,
        "extra" => 4,
        _ => 5,
    }
}

struct Closure<'a> {
    index: &'a PackageIndex,
    /// Selected entries by package name: one version of each.
    selected: BTreeMap<String, usize>,
    /// The entry whose dependency selected each entry; roots have none.
    parent: HashMap<usize, usize>,
    queue: VecDeque<usize>,
}

impl Closure<'_> {
    fn select(&mut self, index: usize, parent: Option<usize>) {
        let name = self.index.entries[index].package.name.clone();
        self.selected.insert(name, index);
        if let Some(parent) = parent {
            self.parent.insert(index, parent);
        }
        self.queue.push_back(index);
    }

    fn is_selected(&self, index: usize) -> bool {
        self.selected.get(&self.index.entries[index].package.name) == Some(&index)
    }

    fn satisfied(&self, group: &[Relation]) -> bool {
        group.iter().any(|relation| {
            let by_name = self
                .selected
                .get(&relation.name)
                .is_some_and(|&index| relation.allows(&self.index.entries[index].version));
            by_name
                || self
                    .index
                    .providers
                    .get(&relation.name)
                    .is_some_and(|providers| {
                        providers.iter().any(|&index| {
                            self.is_selected(index) && self.index.provides(index, relation)
                        })
                    })
        })
    }

    /// The entry to select for an unsatisfied group, or why there is none.
    fn choose(&self, group: &[Relation]) -> Result<usize, String> {
        let index = self.index;
        let mut reasons = Vec::new();
        for relation in group {
            if let Some(&selected) = self.selected.get(&relation.name) {
                reasons.push(format!(
                    "`{}` {} is already selected",
                    relation.name, index.entries[selected].package.version
                ));
                continue;
            }
            let real = index.by_name.get(&relation.name).and_then(|versions| {
                versions
                    .iter()
                    .copied()
                    .find(|&candidate| relation.allows(&index.entries[candidate].version))
            });
            if let Some(real) = real {
                return Ok(real);
            }
            let unselected_name = |candidate: usize| {
                !self
                    .selected
                    .contains_key(&index.entries[candidate].package.name)
            };
            if let Some(provider) = index.preferred_provider(relation, unselected_name) {
                return Ok(provider);
            }
            reasons.push(if index.by_name.contains_key(&relation.name) {
                format!(
                    "`{}` has only {}",
                    relation.name,
                    index.versions_text(&relation.name)
                )
            } else if index.providers.contains_key(&relation.name) {
                format!(
                    "no provider of `{}` matches (or one is selected at another version)",
                    relation.name
                )
            } else {
                format!("there is no package `{}` in {}", relation.name, index.suite)
            });
        }
        Err(reasons.join("; "))
    }

    /// The names from a root down to `index`.
    fn chain(&self, mut index: usize) -> Vec<String> {
        let mut chain = vec![self.index.entries[index].package.name.clone()];
        while let Some(&parent) = self.parent.get(&index) {
            chain.push(self.index.entries[parent].package.name.clone());
            index = parent;
            if chain.len() > self.index.entries.len() {
                break;
            }
        }
        chain.reverse();
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    fn package(name: &str, version: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: amd64\n{extra}\
             Filename: pool/{name}_{version}.deb\nSize: 1\n\
             SHA256: 0000000000000000000000000000000000000000000000000000000000000000\n\n"
        )
    }

    fn index() -> PackageIndex {
        let text = [
            package(
                "app",
                "1.0",
                "Depends: lib (>= 2), awk, shell | bash, python3:any\n",
            ),
            package("lib", "1.0", ""),
            package("lib", "2.1", "Pre-Depends: libc6 (>= 2.36)\n"),
            package("libc6", "2.36-9", "Depends: libgcc-s1\n"),
            package("libgcc-s1", "12.2.0-14", "Depends: libc6 (>= 2.35)\n"),
            package("gawk", "1:5.2.1-2", "Priority: optional\nProvides: awk\n"),
            package("mawk", "1.3.4", "Priority: required\nProvides: awk\n"),
            package("dash", "0.5.12", "Priority: required\nProvides: shell\n"),
            package("bash", "5.2.15", "Priority: required\n"),
            package("python3", "3.11.2-1", "Provides: python3-api (= 3.11)\n"),
            package("python3-api", "3.9", "Priority: optional\n"),
            package("tool", "1", "Depends: python3-api (>= 3.10)\n"),
            package("top", "1", "Depends: middle\n"),
            package("middle", "1", "Depends: leaf\n"),
            package("leaf", "1", "Depends: lib (<< 2) | missing (>= 1)\n"),
        ]
        .concat();
        PackageIndex::parse(&text, "Packages", "Debian `test` (amd64)").unwrap()
    }

    fn names_and_versions(packages: &[DebPackage]) -> Vec<String> {
        packages
            .iter()
            .map(|package| format!("{}={}", package.name, package.version))
            .collect()
    }

    fn roots(names: &[&str]) -> Vec<String> {
        names.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn alternatives_virtuals_and_versions() {
        let closure = index().closure(&roots(&["app"])).unwrap();
        // `lib (>= 2)` takes 2.1, which pre-depends on libc6; `awk` goes to the required
        // provider; `shell | bash` to the first alternative that exists (virtual `shell`).
        insta::assert_debug_snapshot!(names_and_versions(&closure), @r#"
        [
            "app=1.0",
            "dash=0.5.12",
            "lib=2.1",
            "libc6=2.36-9",
            "libgcc-s1=12.2.0-14",
            "mawk=1.3.4",
            "python3=3.11.2-1",
        ]
        "#);
    }

    #[test]
    fn selected_packages_satisfy_groups_first() {
        // A requested `bash` satisfies `shell | bash`, and a requested gawk provides `awk`.
        let closure = index().closure(&roots(&["app", "bash", "gawk"])).unwrap();
        let names = names_and_versions(&closure);
        assert!(names.contains(&"bash=5.2.15".to_string()));
        assert!(names.contains(&"gawk=1:5.2.1-2".to_string()));
        assert!(!names.iter().any(|name| name.starts_with("dash=")));
        assert!(!names.iter().any(|name| name.starts_with("mawk=")));
    }

    #[test]
    fn versioned_virtual_prefers_a_matching_provider() {
        // The real `python3-api` 3.9 is too old; `python3` provides `python3-api (= 3.11)`.
        let closure = index().closure(&roots(&["tool"])).unwrap();
        assert_eq!(names_and_versions(&closure), ["python3=3.11.2-1", "tool=1"]);
    }

    #[test]
    fn pins_and_virtual_roots() {
        let closure = index().closure(&roots(&["lib=1.0", "awk"])).unwrap();
        assert_eq!(names_and_versions(&closure), ["lib=1.0", "mawk=1.3.4"]);
        let error = index().closure(&roots(&["lib=3"])).unwrap_err();
        insta::assert_snapshot!(error, @"Debian `test` (amd64) has no `lib` version `3`; it has `2.1`, `1.0`");
    }

    #[test]
    fn unsatisfiable_chain() {
        let error = index().closure(&roots(&["lib=2.1", "top"])).unwrap_err();
        insta::assert_snapshot!(error, @"cannot satisfy `lib (<< 2) | missing (>= 1)`, needed by `top` → `middle` → `leaf`: `lib` 2.1 is already selected; there is no package `missing` in Debian `test` (amd64)");
        insta::assert_snapshot!(error.hints().join("\n"), @"the mirror may be in the middle of an update (retry later), or a pinned version is too old for what depends on it");
    }

    #[test]
    fn unknown_roots() {
        let error = index().closure(&roots(&["pyhton3"])).unwrap_err();
        insta::assert_snapshot!(error, @"there is no package `pyhton3` in Debian `test` (amd64)");
        insta::assert_snapshot!(error.hints().join("\n"), @"did you mean `python3`?");
        let error = index().closure(&roots(&["Bad Name"])).unwrap_err();
        insta::assert_snapshot!(error, @"invalid Debian package request `Bad Name`: expected a Debian package name (lowercase letters, digits, `+`, `-`, `.`), optionally with `=version`");
        let error = index()
            .closure(&roots(&["lib=1.0", "lib=2.1"]))
            .unwrap_err();
        insta::assert_snapshot!(error, @"invalid Debian package request `lib=2.1`: `lib` is also requested as version `1.0`");
    }
}
