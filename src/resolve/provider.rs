//! The PubGrub dependency provider: answers the solver's questions (which versions, which
//! dependencies) from the index, on the solver's own thread.
//!
//! The solver is synchronous; the index client is async. Each question blocks on the runtime
//! `Handle`, while the tasks it spawns prefetch what the solver is likely to ask next: the
//! project pages of new dependencies and the metadata of their best candidates. Requests for
//! the same page or file are shared inside the client, so a prefetch is never wasted.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::{ExtraName, MarkerEnvironment, PackageName, VersionOrUrl};
use pubgrub::{Dependencies, DependencyProvider, PackageResolutionStatistics, Ranges};
use tokio::runtime::Handle;

use super::candidates::{Candidates, Release};
use super::package::ResolvePackage;
use super::tags::Tags;
use super::{DynamicSdist, ResolveError, ResolveOptions, RootRequirement};
use crate::pypi::{DistFile, IndexClient, PypiError, SdistInfo, SharedMetadata};

/// Whether a requirement's specifiers name a pre-release, which admits pre-releases (PEP 440).
fn names_prerelease(requirement: &pep508_rs::Requirement) -> bool {
    match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers
            .iter()
            .any(|specifier| specifier.version().any_prerelease()),
        _ => false,
    }
}

/// One package's dependencies while they are being gathered.
type Constraints = BTreeMap<ResolvePackage, Ranges<Version>>;

/// What the provider learned about packages that had no usable version, for the explanation.
#[derive(Debug, Default, Clone)]
pub(crate) struct Unusable {
    /// Versions in range that have only an sdist, or wheels for other platforms.
    pub(crate) no_wheel: HashMap<PackageName, BTreeSet<Version>>,
    /// Versions in range that are skipped as pre-releases.
    pub(crate) prerelease_only: HashSet<PackageName>,
}

pub(crate) struct Provider<'a> {
    client: IndexClient,
    runtime: Handle,
    options: &'a ResolveOptions,
    roots: &'a [RootRequirement],
    tags: Tags,
    markers: MarkerEnvironment,
    candidates: RefCell<HashMap<PackageName, Arc<Candidates>>>,
    /// Discovery order, so ties in priority resolve breadth-first and deterministically.
    discovered: RefCell<HashMap<PackageName, usize>>,
    /// Packages some requirement names with a pre-release version (`==0.66b2`): PEP 440
    /// admits pre-releases for them.
    explicit_prerelease: RefCell<HashSet<PackageName>>,
    /// Packages named directly by a root requirement.
    direct: HashSet<PackageName>,
    pub(crate) unusable: RefCell<Unusable>,
}

impl<'a> Provider<'a> {
    pub(crate) fn new(
        client: IndexClient,
        runtime: Handle,
        options: &'a ResolveOptions,
        roots: &'a [RootRequirement],
    ) -> Self {
        let direct = roots
            .iter()
            .map(|root| root.requirement.name.clone())
            .collect();
        let explicit_prerelease = roots
            .iter()
            .filter(|root| names_prerelease(&root.requirement))
            .map(|root| root.requirement.name.clone())
            .collect();
        Self {
            client,
            runtime,
            options,
            roots,
            tags: Tags::for_target(&options.target),
            markers: options.target.marker_environment(),
            candidates: RefCell::new(HashMap::new()),
            discovered: RefCell::new(HashMap::new()),
            explicit_prerelease: RefCell::new(explicit_prerelease),
            direct,
            unusable: RefCell::new(Unusable::default()),
        }
    }

    fn candidates(&self, name: &PackageName) -> Result<Arc<Candidates>, ResolveError> {
        if let Some(found) = self.candidates.borrow().get(name) {
            return Ok(found.clone());
        }
        let index = self.options.indexes.index_for(name).to_string();
        let project = self
            .runtime
            .block_on(self.client.project(&index, name))
            .map_err(|error| match error {
                PypiError::NotFound { .. } => ResolveError::not_found(name, &index, self.roots),
                other => ResolveError::Index(other),
            })?;
        let candidates = Arc::new(Candidates::new(&project, &self.options.target, &self.tags));
        self.candidates
            .borrow_mut()
            .insert(name.clone(), candidates.clone());
        Ok(candidates)
    }

    /// The wheel the lock will name for `name` at `version`.
    pub(crate) fn wheel(&self, name: &PackageName, version: &Version) -> Option<DistFile> {
        let candidates = self.candidates.borrow().get(name)?.clone();
        let release = candidates.releases.get(version)?;
        release
            .wheel
            .as_ref()
            .or(release.yanked_wheel.as_ref())
            .map(|(_, file)| file.clone())
    }

    /// The sdist the lock will name for `name` at `version`, when no wheel fits.
    pub(crate) fn sdist(&self, name: &PackageName, version: &Version) -> Option<DistFile> {
        let candidates = self.candidates.borrow().get(name)?.clone();
        let release = candidates.releases.get(version)?;
        if release.wheel.is_some() || release.yanked_wheel.is_some() {
            return None;
        }
        release.sdist.clone()
    }

    /// What the sdist of `name` at `version` states (fetched once).
    pub(crate) fn sdist_info(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<Arc<SdistInfo>>, ResolveError> {
        let Some(file) = self.sdist(name, version) else {
            return Ok(None);
        };
        self.runtime
            .block_on(self.client.sdist_info(&file))
            .map(Some)
            .map_err(ResolveError::Index)
    }

    /// The dependencies of `name` at `version`: its wheel's metadata, else what its sdist
    /// states.
    pub(crate) fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<SharedMetadata, ResolveError> {
        if let Some(file) = self.wheel(name, version) {
            return self
                .runtime
                .block_on(self.client.metadata(&file))
                .map_err(ResolveError::Index);
        }
        let info = self.sdist_info(name, version)?.ok_or_else(|| {
            ResolveError::Internal(format!("no wheel or sdist recorded for `{name}` {version}"))
        })?;
        if let Some(metadata) = &info.metadata {
            return Ok(Arc::new(metadata.clone()));
        }
        let file = self.sdist(name, version).ok_or_else(|| {
            ResolveError::Internal(format!("no sdist recorded for `{name}` {version}"))
        })?;
        if let Some(metadata) = self
            .client
            .built_metadata(&file, &self.options.target.interpreter_key())
        {
            return Ok(Arc::new(metadata));
        }
        Err(ResolveError::DynamicMetadata(Box::new(DynamicSdist {
            name: name.clone(),
            version: version.clone(),
            file,
            build_system: info.build_system.clone(),
        })))
    }

    fn allows_prerelease(&self, name: &PackageName) -> bool {
        self.options.prerelease || self.explicit_prerelease.borrow().contains(name)
    }

    /// The newest version in `range` with a wheel for the target; a preference (the current
    /// lock's version) wins when it still fits.
    fn pick(
        &self,
        name: &PackageName,
        range: &Ranges<Version>,
        candidates: &Candidates,
        with_prereleases: bool,
    ) -> Option<Version> {
        let exact = range.as_singleton();
        let usable = |version: &Version, release: &Release| {
            (with_prereleases || !version.any_prerelease())
                && (release.wheel.is_some()
                    || (exact == Some(version) && release.yanked_wheel.is_some())
                    || (!self.options.no_build && release.sdist.is_some()))
        };
        if let Some(preferred) = self.options.preferences.get(name)
            && range.contains(preferred)
            && candidates
                .releases
                .get(preferred)
                .is_some_and(|release| usable(preferred, release))
        {
            return Some(preferred.clone());
        }
        candidates
            .releases
            .iter()
            .rev()
            .filter(|(version, _)| range.contains(version))
            .find(|(version, release)| usable(version, release))
            .map(|(version, _)| version.clone())
    }

    fn record_unusable(
        &self,
        name: &PackageName,
        range: &Ranges<Version>,
        candidates: &Candidates,
    ) {
        let mut unusable = self.unusable.borrow_mut();
        for (version, release) in candidates
            .releases
            .range(..)
            .filter(|(version, _)| range.contains(version))
        {
            if release.wheel.is_none() && (release.sdist.is_some() || release.has_other_wheels) {
                unusable
                    .no_wheel
                    .entry(name.clone())
                    .or_default()
                    .insert(version.clone());
            }
            if release.wheel.is_some() && version.any_prerelease() {
                unusable.prerelease_only.insert(name.clone());
            }
        }
    }

    fn discover(&self, name: &PackageName) {
        let mut discovered = self.discovered.borrow_mut();
        let next = discovered.len();
        if discovered.contains_key(name) {
            return;
        }
        discovered.insert(name.clone(), next);
        drop(discovered);
        self.prefetch(name.clone());
    }

    /// Fetch `name`'s page and its newest fitting wheel's metadata in the background.
    fn prefetch(&self, name: PackageName) {
        let client = self.client.clone();
        let index = self.options.indexes.index_for(&name).to_string();
        let target = self.options.target.clone();
        let tags = self.tags.clone();
        self.runtime.spawn(async move {
            let Ok(project) = client.project(&index, &name).await else {
                return;
            };
            let candidates = Candidates::new(&project, &target, &tags);
            let newest =
                candidates.releases.iter().rev().find(|(version, release)| {
                    !version.any_prerelease() && release.wheel.is_some()
                });
            if let Some((
                _,
                Release {
                    wheel: Some((_, file)),
                    ..
                },
            )) = newest
            {
                let _ = client.metadata(file).await;
            }
        });
    }

    fn root_dependencies(&self) -> Dependencies<ResolvePackage, Ranges<Version>, String> {
        let mut constraints = Constraints::new();
        // The project's own requirements carry markers too (`tomli; python_version < "3.11"`):
        // one that does not apply to the target is no requirement at all.
        for root in self
            .roots
            .iter()
            .filter(|root| root.requirement.marker.evaluate(&self.markers, &[]))
        {
            match self.requirement_range(&root.requirement) {
                Ok(range) => self.add_requirement(&mut constraints, &root.requirement, &range),
                Err(reason) => return Dependencies::Unavailable(reason),
            }
        }
        Dependencies::Available(constraints.into_iter().collect())
    }

    fn package_dependencies(
        &self,
        name: &PackageName,
        extra: Option<&ExtraName>,
        version: &Version,
    ) -> Result<Dependencies<ResolvePackage, Ranges<Version>, String>, ResolveError> {
        let metadata = match self.metadata(name, version) {
            Ok(metadata) => metadata,
            // A broken old release is one unusable version, not a failed resolution.
            Err(ResolveError::Index(
                error @ (PypiError::InvalidMetadata { .. } | PypiError::InvalidSdist { .. }),
            )) => {
                return Ok(Dependencies::Unavailable(format!(
                    "because its metadata is invalid ({error})"
                )));
            }
            Err(error @ ResolveError::DynamicMetadata(_)) if self.options.build_metadata => {
                return Err(error);
            }
            Err(ResolveError::DynamicMetadata(_)) => {
                return Ok(Dependencies::Unavailable(
                    "because it has no wheel for the target and its sdist does not state its dependencies (its build backend computes them)".to_string(),
                ));
            }
            Err(error) => return Err(error),
        };
        if let Some(requires_python) = &metadata.requires_python
            && let Ok(python) = self.options.target.python_full.parse::<Version>()
            && !requires_python.contains(&python)
        {
            return Ok(Dependencies::Unavailable(format!(
                "because it requires Python {requires_python}"
            )));
        }
        let mut constraints = Constraints::new();
        let extras: Vec<ExtraName> = extra.cloned().into_iter().collect();
        if let Some(extra) = extra {
            // `name[extra]` is `name` at the same version plus the extra's requirements.
            constraints.insert(
                ResolvePackage::package(name.clone(), None),
                Ranges::singleton(version.clone()),
            );
            if !metadata.provides_extra.contains(extra) {
                return Ok(Dependencies::Available(constraints.into_iter().collect()));
            }
        }
        for requirement in &metadata.requires_dist {
            if !requirement.marker.evaluate(&self.markers, &extras) {
                continue;
            }
            match self.requirement_range(requirement) {
                Ok(range) => self.add_requirement(&mut constraints, requirement, &range),
                Err(reason) => return Ok(Dependencies::Unavailable(reason)),
            }
        }
        Ok(Dependencies::Available(constraints.into_iter().collect()))
    }

    fn requirement_range(
        &self,
        requirement: &pep508_rs::Requirement,
    ) -> Result<Ranges<Version>, String> {
        let range = match &requirement.version_or_url {
            None => Ranges::full(),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => Ranges::from(specifiers.clone()),
            Some(VersionOrUrl::Url(url)) => {
                return Err(format!(
                    "because it names `{}` by URL ({url}), which mlpack cannot lock",
                    requirement.name
                ));
            }
        };
        let range = match self.options.constraints.get(&requirement.name) {
            Some(constraint) => range.intersection(constraint),
            None => range,
        };
        match self.options.limits.get(&requirement.name) {
            Some(limit) if range.intersection(&limit.range) == Ranges::empty() => Err(format!(
                "because it needs `{}` {range}, but {}",
                requirement.name, limit.reason
            )),
            Some(limit) => Ok(range.intersection(&limit.range)),
            None => Ok(range),
        }
    }

    fn add_requirement_prerelease(&self, requirement: &pep508_rs::Requirement) {
        if names_prerelease(requirement) {
            self.explicit_prerelease
                .borrow_mut()
                .insert(requirement.name.clone());
        }
    }

    fn add_requirement(
        &self,
        constraints: &mut Constraints,
        requirement: &pep508_rs::Requirement,
        range: &Ranges<Version>,
    ) {
        self.discover(&requirement.name);
        self.add_requirement_prerelease(requirement);
        let mut add = |package: ResolvePackage| {
            let merged = match constraints.get(&package) {
                Some(existing) => existing.intersection(range),
                None => range.clone(),
            };
            constraints.insert(package, merged);
        };
        add(ResolvePackage::package(requirement.name.clone(), None));
        for extra in &requirement.extras {
            add(ResolvePackage::package(
                requirement.name.clone(),
                Some(extra.clone()),
            ));
        }
    }
}

impl DependencyProvider for Provider<'_> {
    type P = ResolvePackage;
    type V = Version;
    type VS = Ranges<Version>;
    type M = String;
    type Err = ResolveError;
    /// Decided first: the root, exact pins, packages in many conflicts, then
    /// the earliest discovered.
    type Priority = (u8, u32, Reverse<usize>);

    fn prioritize(
        &self,
        package: &ResolvePackage,
        range: &Ranges<Version>,
        statistics: &PackageResolutionStatistics,
    ) -> Self::Priority {
        match package {
            ResolvePackage::Root => (3, 0, Reverse(0)),
            ResolvePackage::Package { name, .. } => {
                let order = self
                    .discovered
                    .borrow()
                    .get(name)
                    .copied()
                    .unwrap_or(usize::MAX);
                let class = if range.as_singleton().is_some() { 2 } else { 1 };
                (class, statistics.conflict_count(), Reverse(order))
            }
        }
    }

    fn choose_version(
        &self,
        package: &ResolvePackage,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ResolveError> {
        let ResolvePackage::Package { name, .. } = package else {
            // The root exists at one version, 0.
            let only = Version::new([0]);
            return Ok(range.contains(&only).then_some(only));
        };
        let candidates = self.candidates(name)?;
        let mut chosen = self.pick(name, range, &candidates, self.allows_prerelease(name));
        // Pre-releases are allowed when only they satisfy a requirement of the project, or
        // when the project has nothing else (`opentelemetry-semantic-conventions`).
        let only_prereleases = candidates.releases.keys().all(Version::any_prerelease);
        if chosen.is_none() && (self.direct.contains(name) || only_prereleases) {
            chosen = self.pick(name, range, &candidates, true);
        }
        if chosen.is_none() {
            self.record_unusable(name, range, &candidates);
        }
        Ok(chosen)
    }

    fn get_dependencies(
        &self,
        package: &ResolvePackage,
        version: &Version,
    ) -> Result<Dependencies<ResolvePackage, Ranges<Version>, String>, ResolveError> {
        match package {
            ResolvePackage::Root => Ok(self.root_dependencies()),
            ResolvePackage::Package { name, extra } => {
                self.package_dependencies(name, extra.as_ref(), version)
            }
        }
    }
}
