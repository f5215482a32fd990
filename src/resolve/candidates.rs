//! A project's versions as the resolver sees them: for each release, the best wheel for the
//! target and its sdist, or why there is neither (wheels for other platforms, wrong Python).
//!
//! Local version labels (`2.5.0+cpu` on the PyTorch index) are folded into their public
//! version: PEP 440 ignores them for `==2.5.0`, so the solver works on `2.5.0` and the best
//! file of any local variant is kept.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

use super::tags::{Tags, WheelFilename};
use super::target::Target;
use crate::pypi::{DistFile, ProjectFiles};

/// One public version of a project.
#[derive(Debug, Clone, Default)]
pub(crate) struct Release {
    /// The best-fitting wheel and its tag priority (lower is better).
    pub(crate) wheel: Option<(usize, DistFile)>,
    /// The best yanked wheel: usable only when a requirement pins this version exactly.
    pub(crate) yanked_wheel: Option<(usize, DistFile)>,
    /// The sdist, built when no wheel fits (a `.tar.gz` is preferred over a `.zip`).
    pub(crate) sdist: Option<DistFile>,
    /// Wheels exist, but none for the target.
    pub(crate) has_other_wheels: bool,
    /// Every file of this version is yanked.
    pub(crate) yanked: bool,
    /// Every file of this version requires another Python.
    pub(crate) wrong_python: bool,
}

/// All releases of one project, newest last.
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    pub(crate) releases: BTreeMap<Version, Release>,
}

impl Candidates {
    pub(crate) fn new(project: &ProjectFiles, target: &Target, tags: &Tags) -> Self {
        let python = Version::from_str(&target.python_full).ok();
        let mut releases: BTreeMap<Version, Release> = BTreeMap::new();
        let mut all_yanked: BTreeMap<Version, bool> = BTreeMap::new();
        let mut all_wrong_python: BTreeMap<Version, bool> = BTreeMap::new();
        for file in &project.files {
            let Some((version, wheel)) = classify(&file.filename, project) else {
                continue;
            };
            let public = version.clone().without_local();
            let release = releases.entry(public.clone()).or_default();
            let fits_python = file.requires_python.as_deref().is_none_or(|spec| {
                VersionSpecifiers::from_str(spec)
                    .ok()
                    .zip(python.as_ref())
                    .is_none_or(|(spec, python)| spec.contains(python))
            });
            *all_wrong_python.entry(public.clone()).or_insert(true) &= !fits_python;
            *all_yanked.entry(public.clone()).or_insert(true) &= file.yanked.is_some();
            if !fits_python {
                continue;
            }
            match wheel {
                None if file.yanked.is_none() => {
                    let better = release.sdist.as_ref().is_none_or(|best| {
                        std::path::Path::new(&best.filename)
                            .extension()
                            .is_some_and(|extension| extension.eq_ignore_ascii_case("zip"))
                    });
                    if better {
                        release.sdist = Some(file.clone());
                    }
                }
                None => {}
                Some(wheel) => match tags.priority(&wheel) {
                    Some(priority) => {
                        let slot = if file.yanked.is_some() {
                            &mut release.yanked_wheel
                        } else {
                            &mut release.wheel
                        };
                        if slot.as_ref().is_none_or(|(best, _)| priority < *best) {
                            *slot = Some((priority, file.clone()));
                        }
                    }
                    None => release.has_other_wheels = true,
                },
            }
        }
        for (version, release) in &mut releases {
            release.yanked = all_yanked.get(version).copied().unwrap_or(false);
            release.wrong_python = all_wrong_python.get(version).copied().unwrap_or(false);
        }
        Self { releases }
    }
}

/// The version of a file and its parsed wheel name (`None` for an sdist); `None` for files that
/// are neither (`.exe`, `.egg`, a different project's file).
fn classify(filename: &str, project: &ProjectFiles) -> Option<(Version, Option<WheelFilename>)> {
    if Path::new(filename)
        .extension()
        .is_some_and(|extension| extension == "whl")
    {
        let wheel = WheelFilename::from_str(filename).ok()?;
        return (wheel.name == project.name).then(|| (wheel.version.clone(), Some(wheel)));
    }
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    let (_, version) = stem.rsplit_once('-')?;
    Some((Version::from_str(version).ok()?, None))
}
