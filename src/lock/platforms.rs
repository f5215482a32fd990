//! A lock for several architectures (`[python] platforms`): each platform is resolved on its
//! own, and the resolutions are merged the way pylock.toml and uv's universal lock record
//! several environments. A package that every platform resolved alike appears once, its
//! `wheels` holding each platform's wheel (the wheel's tags say which platform it is for);
//! one that they resolved differently (another version, other dependencies, on one platform
//! only) appears once per group, marked `platforms = [...]`. The first platform's target,
//! base, hardware and system libraries stay where a lock of one platform has them; each other
//! platform's are under `[platform.<arch>]`. A build works on its platform's view of the lock
//! and writes what it pins back there, so an aarch64 build never touches `x86_64`'s pins.
//! Specs: <https://packaging.python.org/en/latest/specifications/pylock-toml/> (`marker`,
//! `environments`), <https://docs.astral.sh/uv/concepts/resolution/#universal-resolution>.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    BuiltWheel, LockError, LockedHardware, LockedPackage, LockedSystemLibraries,
    LockedSystemPackages, LockedWheel, Lockfile, MULTI_PLATFORM_LOCK_VERSION, PinnedBase,
};
use crate::arch::Arch;
use crate::resolve::Target;
use crate::resolve::tags::{Tags, WheelFilename};

/// The architectures a command locks for, and the one it builds for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platforms {
    /// In the order `[python] platforms` names them (the first is the lock's `[target]`).
    pub all: Vec<Arch>,
    /// `--arch`, else this machine's when it is one of them, else the first.
    pub selected: Arch,
}

impl Platforms {
    /// The platforms `[python] platforms` names (by default, this machine's), and the one
    /// `--arch` asks for, which must be among them: a lock for another would drop theirs.
    pub fn settle(configured: &[Arch], requested: Option<Arch>) -> Result<Self, LockError> {
        let mut all: Vec<Arch> = Vec::new();
        for arch in configured {
            if !all.contains(arch) {
                all.push(*arch);
            }
        }
        if all.is_empty() {
            all.push(Arch::host());
        }
        let selected = match requested {
            Some(arch) if all.contains(&arch) => arch,
            Some(arch) => {
                return Err(LockError::NotAPlatform {
                    arch,
                    platforms: all,
                    configured: !configured.is_empty(),
                });
            }
            None if all.contains(&Arch::host()) => Arch::host(),
            None => all[0],
        };
        Ok(Self { all, selected })
    }
}

/// `x86_64, this machine's` or `x86_64 and aarch64`, for [`LockError::NotAPlatform`].
pub(super) fn describe(platforms: &[Arch], configured: bool) -> String {
    let names: Vec<&str> = platforms.iter().map(|arch| arch.as_str()).collect();
    if configured {
        names.join(" and ")
    } else {
        format!(
            "{}, this machine's, since `[python] platforms` is not set",
            names.join(" and ")
        )
    }
}

/// ``add it in `mlpack.toml`: `[python] platforms = ["x86_64", "aarch64"]` ``.
pub(super) fn add_hint(arch: Arch, platforms: &[Arch]) -> String {
    let names: Vec<String> = platforms
        .iter()
        .chain(std::iter::once(&arch))
        .map(|arch| format!("\"{arch}\""))
        .collect();
    format!(
        "add it in `mlpack.toml` and lock again: `[python] platforms = [{}]`",
        names.join(", ")
    )
}

/// What a platform after the first has of its own in a lock of several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlatformLock {
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<LockedHardware>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PinnedBase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_libraries: Option<LockedSystemLibraries>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_packages: Option<LockedSystemPackages>,
    /// The wheel `mlpack build` made from each sdist for this platform, by package name (the
    /// first platform's are in each package's `[packages.build]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub built_wheels: BTreeMap<String, BuiltWheel>,
}

impl Lockfile {
    /// One lock from the locks of each platform, `first`'s target first. With no others,
    /// `first` as it is, so a lock of one platform reads as it always did.
    pub fn merge(first: Self, others: Vec<Self>) -> Self {
        if others.is_empty() {
            return first;
        }
        let arches: Vec<Arch> = std::iter::once(&first)
            .chain(&others)
            .map(|lock| lock.target.arch)
            .collect();
        let mut packages = Vec::new();
        let mut build_packages = Vec::new();
        for lock in std::iter::once(&first).chain(&others) {
            add_platform(&mut packages, &lock.packages, lock.target.arch);
            add_platform(&mut build_packages, &lock.build_packages, lock.target.arch);
        }
        let other_platforms = others
            .into_iter()
            .map(|lock| {
                let built_wheels = built_wheels(&lock);
                let platform = PlatformLock {
                    target: lock.target,
                    hardware: lock.hardware,
                    base: lock.base,
                    system_libraries: lock.system_libraries,
                    system_packages: lock.system_packages,
                    built_wheels,
                };
                (platform.target.arch, platform)
            })
            .collect();
        let mut build_packages = marked(build_packages, &arches);
        build_packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Self {
            lock_version: MULTI_PLATFORM_LOCK_VERSION.to_string(),
            platforms: arches.clone(),
            packages: marked(packages, &arches),
            build_packages,
            other_platforms,
            ..first
        }
    }

    /// The lock as a lock of `arch` alone: its target and pins, its packages, each with its
    /// wheel for `arch`. `None` when the lock holds no resolution for `arch`.
    pub fn for_platform(&self, arch: Arch) -> Option<Self> {
        if self.platforms.is_empty() {
            return (self.target.arch == arch).then(|| self.clone());
        }
        let mut view = Self {
            lock_version: super::LOCK_VERSION.to_string(),
            platforms: Vec::new(),
            other_platforms: BTreeMap::new(),
            ..self.clone()
        };
        if arch != self.target.arch {
            let platform = self.other_platforms.get(&arch)?;
            view.target = platform.target.clone();
            view.hardware.clone_from(&platform.hardware);
            view.base.clone_from(&platform.base);
            view.system_libraries.clone_from(&platform.system_libraries);
            view.system_packages.clone_from(&platform.system_packages);
            for package in &mut view.packages {
                if let Some(build) = &mut package.build {
                    build.wheel = platform.built_wheels.get(&package.name).cloned();
                }
            }
        }
        let tags = Tags::for_target(&view.target);
        for packages in [&mut view.packages, &mut view.build_packages] {
            packages.retain(|package| is_for(package, arch));
            for package in packages.iter_mut() {
                package.platforms.clear();
                package.wheels = best_wheel(&tags, &package.wheels).into_iter().collect();
            }
        }
        Some(view)
    }

    /// The lock as this machine's platform sees it, else as its first platform's: what
    /// `tree`, `why` and `export` show of a lock of several platforms.
    #[must_use]
    pub fn for_this_machine(self) -> Self {
        self.for_platform(Arch::host())
            .or_else(|| self.for_platform(self.target.arch))
            .unwrap_or(self)
    }

    /// Take what a build pinned in `view`, the lock for `arch` alone (see
    /// [`Lockfile::for_platform`]): the base, the system libraries, the built wheels.
    pub(super) fn record_platform(&mut self, arch: Arch, view: &Self) {
        if self.platforms.is_empty() || arch == self.target.arch {
            self.base.clone_from(&view.base);
            self.system_libraries.clone_from(&view.system_libraries);
            self.system_packages.clone_from(&view.system_packages);
            for package in &mut self.packages {
                let applies = is_for(package, arch);
                let built = view
                    .package(&package.name)
                    .and_then(|built| built.build.as_ref());
                if let (Some(build), Some(built), true) = (&mut package.build, built, applies) {
                    build.wheel.clone_from(&built.wheel);
                }
            }
        } else if let Some(platform) = self.other_platforms.get_mut(&arch) {
            platform.base.clone_from(&view.base);
            platform.system_libraries.clone_from(&view.system_libraries);
            platform.system_packages.clone_from(&view.system_packages);
            platform.built_wheels = built_wheels(view);
        }
    }
}

/// Whether `package` of a merged lock is for `arch`.
fn is_for(package: &LockedPackage, arch: Arch) -> bool {
    package.platforms.is_empty() || package.platforms.contains(&arch)
}

/// The wheels a build made from sdists, by package name.
fn built_wheels(lock: &Lockfile) -> BTreeMap<String, BuiltWheel> {
    lock.packages
        .iter()
        .filter_map(|package| Some((package.name.clone(), package.build.as_ref()?.wheel.clone()?)))
        .collect()
}

/// Add one platform's packages to the merged entries: into an entry resolved alike (its
/// wheels and reasons joined), else as an entry of its own.
fn add_platform(
    merged: &mut Vec<(LockedPackage, Vec<Arch>)>,
    packages: &[LockedPackage],
    arch: Arch,
) {
    for package in packages {
        match merged.iter_mut().find(|(entry, _)| alike(entry, package)) {
            Some((entry, arches)) => {
                for wheel in &package.wheels {
                    if !entry.wheels.iter().any(|known| known.name == wheel.name) {
                        entry.wheels.push(wheel.clone());
                    }
                }
                for why in &package.why {
                    if !entry.why.contains(why) {
                        entry.why.push(why.clone());
                    }
                }
                arches.push(arch);
            }
            None => merged.push((package.clone(), vec![arch])),
        }
    }
}

/// Whether two platforms resolved a package alike: all but the wheels, the reasons and the
/// wheel built from the sdist (each platform builds its own).
fn alike(a: &LockedPackage, b: &LockedPackage) -> bool {
    let without_built = |package: &LockedPackage| {
        package.build.clone().map(|mut build| {
            build.wheel = None;
            build
        })
    };
    (
        &a.name,
        &a.version,
        &a.index,
        &a.extras,
        &a.dependencies,
        &a.sdist,
    ) == (
        &b.name,
        &b.version,
        &b.index,
        &b.extras,
        &b.dependencies,
        &b.sdist,
    ) && without_built(a) == without_built(b)
}

/// The merged entries, each marked with its platforms unless it is for all of them.
fn marked(merged: Vec<(LockedPackage, Vec<Arch>)>, all: &[Arch]) -> Vec<LockedPackage> {
    merged
        .into_iter()
        .map(|(mut package, arches)| {
            if arches.len() < all.len() {
                package.platforms = arches;
            }
            package
        })
        .collect()
}

/// The wheel among `wheels` that the target takes: the one whose tags it ranks best, as the
/// resolver chose it (a platform's own wheel before a pure one).
fn best_wheel(tags: &Tags, wheels: &[LockedWheel]) -> Option<LockedWheel> {
    wheels
        .iter()
        .filter_map(|wheel| {
            let filename: WheelFilename = wheel.name.parse().ok()?;
            Some((tags.priority(&filename)?, wheel))
        })
        .min_by_key(|(priority, _)| *priority)
        .map(|(_, wheel)| wheel.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_default_to_this_machine_and_refuse_another() {
        let host = Arch::host();
        let other = if host == Arch::X86_64 {
            Arch::Aarch64
        } else {
            Arch::X86_64
        };
        assert_eq!(
            Platforms::settle(&[], None).unwrap(),
            Platforms {
                all: vec![host],
                selected: host
            }
        );
        let refused = Platforms::settle(&[], Some(other)).unwrap_err();
        assert!(refused.to_string().contains("this machine's"), "{refused}");
        let both = Platforms::settle(&[other, host, other], Some(other)).unwrap();
        assert_eq!((both.all, both.selected), (vec![other, host], other));
        assert_eq!(
            Platforms::settle(&[other], None).unwrap().selected,
            other,
            "the first, when this machine is not among them"
        );
        insta::assert_snapshot!(
            add_hint(Arch::Aarch64, &[Arch::X86_64]),
            @r#"add it in `mlpack.toml` and lock again: `[python] platforms = ["x86_64", "aarch64"]`"#
        );
    }
}
