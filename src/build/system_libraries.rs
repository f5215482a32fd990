//! The system-libraries layer: Debian packages for the libraries the wheels' shared objects
//! need (`DT_NEEDED`) that neither the wheels nor the base provide, found from the suite's
//! `Contents` index, pinned into `[system-libraries]` in `mlpack.lock`, and installed in a
//! layer between the base and the wheels. Spec for what the loader searches: [ld.so(8)].
//!
//! A needed name counts as provided, in this order:
//! 1. by the wheels: some shared object in any locked wheel has that file name or soname.
//!    Whether the loader reaches it through `RPATH`/`RUNPATH` (`$ORIGIN/../opencv_python.libs`,
//!    torch's `$ORIGIN/../../nvidia/cublas/lib`), because a library already loaded by soname
//!    satisfies later requests (auditwheel's `<name>.libs`), or because Python code preloads
//!    it with `ctypes` (torch's CUDA libraries), a Debian package would be the wrong fix, so
//!    any wheel's copy is taken as reachable;
//! 2. by the base: a file (or a symlink to one) of that name in the loader's directories
//!    (see `ImageTree::library_names`);
//! 3. by the dynamic loader itself (`ld-linux-x86-64.so.2`);
//! 4. by the host's NVIDIA driver, which `mlpack run --gpus` mounts (`libcuda.so.1`): not in
//!    the image, only reported.
//!
//! Anything else must come from a Debian package that ships it in a loader directory.
//!
//! [ld.so(8)]: https://manpages.debian.org/bookworm/manpages/ld.so.8.en.html

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rayon::prelude::*;

use crate::debian::{self, DebPackage, Suite};
use crate::error::FromIo;
use crate::lock::{LockedDeb, LockedSystemLibraries, Lockfile, NeededLibrary, ProjectLock};
use crate::wheel::{InstalledWheel, SharedObject};

use super::fetch::Fetcher;
use super::inspect::{ImageTree, InspectError};
use super::sdist::SdistWheels;
use super::{BuildError, BuildRequest, Builder, StagedLayer, base, cache};

/// Changes whenever the rules above change what a scan finds, so old pins are redone.
const FORMAT: &str = "mlpack-system-libraries-v1";

/// The dynamic loaders, which every dynamically linked object names and none ships.
const LOADERS: &[&str] = &["ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"];

/// The base's pins as hash inputs: a Debian base's package sha256s (sorted), or an image's
/// digest. Pins the build records on top of the base (system libraries, system packages) are
/// kept for them.
pub(super) fn base_pins(lock: &Lockfile) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(base) = lock.debian_base() {
        let mut hashes: Vec<String> = base
            .packages
            .iter()
            .map(|package| format!("deb {}", package.sha256))
            .collect();
        hashes.sort();
        parts.extend(hashes);
    }
    if let Some(image) = lock.image_base() {
        parts.push(format!("image {}", image.digest));
    }
    parts
}

/// The hash the pins are kept for: the scan's rules, the target, the base's pins (a Debian
/// base's package sha256s, or an image's digest) and every locked wheel's sha256.
pub(crate) fn inputs_sha256(lock: &Lockfile) -> String {
    let mut parts = vec![format!("arch {}", lock.target.arch.as_str())];
    parts.extend(base_pins(lock));
    // The system packages are part of the base the scan looks at (only when there are some,
    // so the pins of a lock without them hold).
    if let Some(pins) = &lock.system_packages {
        let mut hashes: Vec<String> = pins
            .packages
            .iter()
            .map(|package| format!("system package {}", package.sha256))
            .collect();
        hashes.sort();
        parts.extend(hashes);
    }
    let built = lock
        .packages
        .iter()
        .filter_map(|package| package.build.as_ref()?.wheel.as_ref())
        .map(|wheel| &wheel.sha256);
    let mut wheels: Vec<String> = lock
        .packages
        .iter()
        .flat_map(|package| &package.wheels)
        .map(|wheel| &wheel.hashes.sha256)
        .chain(built)
        .map(|sha256| format!("wheel {sha256}"))
        .collect();
    wheels.sort();
    parts.extend(wheels);
    cache::key(FORMAT, &parts)
}

/// The shared objects of one locked package's wheels.
#[derive(Debug, Clone)]
pub(crate) struct WheelScan {
    pub(crate) package: String,
    pub(crate) objects: Vec<SharedObject>,
}

impl WheelScan {
    /// The scans of `wheels` (each with its package) from what their installs found.
    pub(super) fn installed(
        wheels: super::fetch::Wheels,
        installed: Vec<InstalledWheel>,
        arch: crate::arch::Arch,
    ) -> impl Iterator<Item = Self> {
        wheels
            .into_iter()
            .zip(installed)
            .map(move |((package, _), wheel)| Self {
                package,
                objects: wheel.shared_objects(arch),
            })
    }
}

/// What the wheels need beyond themselves and the base, each with the first (package, file)
/// that needs it, in name order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    pub(crate) missing: Vec<NeededLibrary>,
    pub(crate) host_driver: Vec<NeededLibrary>,
}

/// Apply the module's rules to `scans`, given the names the base's loader directories hold.
pub(crate) fn needs(scans: &[WheelScan], base_libraries: &BTreeSet<String>) -> Needs {
    let from_wheels: BTreeSet<&str> = scans
        .iter()
        .flat_map(|scan| &scan.objects)
        .flat_map(SharedObject::names)
        .collect();
    // soname → the first (package, file) to need it, so the report is the same every time.
    let mut first: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for scan in scans {
        for object in &scan.objects {
            for soname in &object.needed {
                let candidate = (scan.package.as_str(), object.path.as_str());
                first
                    .entry(soname.as_str())
                    .and_modify(|current| *current = (*current).min(candidate))
                    .or_insert(candidate);
            }
        }
    }
    let mut needs = Needs::default();
    for (soname, (package, file)) in first {
        if from_wheels.contains(soname)
            || base_libraries.contains(soname)
            || LOADERS.contains(&soname)
        {
            continue;
        }
        let library = NeededLibrary {
            soname: soname.to_string(),
            wheel: package.to_string(),
            file: file.to_string(),
            package: String::new(),
        };
        if crate::hardware::is_driver_library(soname) {
            needs.host_driver.push(library);
        } else {
            needs.missing.push(library);
        }
    }
    needs
}

/// The base's files, read from its layers the first time a step needs them (the scan, or
/// staging the layer), so a build that does both reads the base once.
pub(super) struct BaseTree<'a> {
    store: &'a crate::oci::Store,
    image: &'a str,
    pub(super) layers: &'a [StagedLayer],
    tree: std::cell::OnceCell<ImageTree>,
}

impl<'a> BaseTree<'a> {
    pub(super) fn new(
        store: &'a crate::oci::Store,
        image: &'a str,
        layers: &'a [StagedLayer],
    ) -> Self {
        Self {
            store,
            image,
            layers,
            tree: std::cell::OnceCell::new(),
        }
    }

    pub(super) fn get(&self) -> Result<&ImageTree, BuildError> {
        if let Some(tree) = self.tree.get() {
            return Ok(tree);
        }
        let mut tree = ImageTree::default();
        for (_, layer) in self.layers {
            let reader = self.store.open_layer(&layer.descriptor())?;
            tree.apply_layer(reader)
                .map_err(|source| InspectError::Read {
                    image: self.image.to_string(),
                    layer: layer.digest.to_string(),
                    source,
                })?;
        }
        Ok(self.tree.get_or_init(|| tree))
    }
}

/// Where each missing library comes from, from the suite's `Contents` index; every library
/// no package ships is an error, all named at once.
fn choose_packages(
    index: &debian::LibraryIndex,
    missing: Vec<NeededLibrary>,
) -> Result<Vec<NeededLibrary>, BuildError> {
    let mut unresolved = Vec::new();
    let mut chosen = Vec::new();
    for mut library in missing {
        match index.package_for(&library.soname) {
            Some(package) => {
                library.package = package.to_string();
                chosen.push(library);
            }
            None => unresolved.push(library),
        }
    }
    if unresolved.is_empty() {
        Ok(chosen)
    } else {
        Err(BuildError::UnresolvedLibraries {
            libraries: unresolved,
        })
    }
}

/// Whether the system libraries are still to be pinned: the lock has no pins for these
/// inputs. An error where the build may not pin them (`--locked`, `--offline`).
pub(super) fn unpinned(request: &BuildRequest<'_>, lock: &ProjectLock) -> Result<bool, BuildError> {
    let recorded = lock
        .system_libraries
        .as_ref()
        .map(|pins| &pins.inputs_sha256);
    super::must_pin(
        recorded,
        &inputs_sha256(lock),
        request,
        BuildError::LockedSystemLibraries,
        BuildError::OfflineSystemLibraries,
    )
}

impl Builder<'_> {
    /// Pin the system libraries into the lock (when [`unpinned`]): scan every wheel (see
    /// [`Builder::scan_wheels`] for `built` and `installed`), then find the Debian packages of
    /// what the image lacks. `base` holds the image's layers below them.
    pub(super) fn pin_system_libraries(
        &self,
        request: &BuildRequest<'_>,
        suite: Option<&Suite>,
        base: &BaseTree<'_>,
        (built, installed): (&SdistWheels, Vec<WheelScan>),
        lock: &mut ProjectLock,
    ) -> Result<(), BuildError> {
        let inputs = inputs_sha256(lock);
        self.reporter.phase("system libraries", "scanning wheels");
        let scans = self.scan_wheels(lock, built, installed)?;
        let tree = base.get()?;
        let triplet = lock.target.arch.triplet();
        let Needs {
            missing,
            host_driver,
        } = needs(&scans, &tree.library_names(triplet));
        let (needed, packages) = if missing.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let Some(suite) = base_suite(suite, tree, request.manifest, lock) else {
                return Err(BuildError::LibrariesOnImage {
                    image: request.manifest.base.image.clone(),
                    libraries: missing,
                });
            };
            self.reporter
                .phase("system libraries", "finding Debian packages");
            let have = installed_packages(tree.text_at("var/lib/dpkg/status").unwrap_or_default());
            resolve(&self.fetch, &suite, missing, &have)?
        };
        lock.pin_system_libraries(LockedSystemLibraries {
            inputs_sha256: inputs,
            needed,
            host_driver,
            packages,
        })?;
        Ok(())
    }

    /// Every locked wheel's shared objects: those of the wheels this build installed
    /// (`installed`, found as the installs wrote them), and those of the others (in layers
    /// taken from the layer cache) read from their zips in parallel, fetched into the wheel
    /// cache first (most are there already).
    fn scan_wheels(
        &self,
        lock: &Lockfile,
        built: &SdistWheels,
        mut installed: Vec<WheelScan>,
    ) -> Result<Vec<WheelScan>, BuildError> {
        let have: HashSet<&str> = installed.iter().map(|scan| scan.package.as_str()).collect();
        let packages: Vec<&crate::lock::LockedPackage> = lock
            .packages
            .iter()
            .filter(|package| !have.contains(package.name.as_str()))
            .collect();
        if packages.is_empty() {
            return Ok(installed);
        }
        let wheels = self
            .fetch
            .wheels(&packages, built, "the system-library scan")?;
        let arch = lock.target.arch;
        let scanned: Vec<WheelScan> = wheels
            .into_par_iter()
            .map(|(package, path)| {
                let objects = crate::wheel::shared_objects(&path, arch).map_err(Box::new)?;
                Ok(WheelScan { package, objects })
            })
            .collect::<Result<_, BuildError>>()?;
        installed.extend(scanned);
        Ok(installed)
    }

    /// The layer of the pinned system libraries, or `None` when there are none (then the
    /// image is what it was before this layer existed). `suite` is a Debian base's; an
    /// image's comes from its `/etc/os-release`.
    pub(super) fn system_libraries_layer(
        &self,
        request: &BuildRequest<'_>,
        suite: Option<&Suite>,
        base: &BaseTree<'_>,
        lock: &Lockfile,
    ) -> Result<Option<StagedLayer>, BuildError> {
        let Some(pins) = lock
            .system_libraries
            .as_ref()
            .filter(|pins| !pins.packages.is_empty())
        else {
            return Ok(None);
        };
        let mut parts: Vec<String> = pins
            .packages
            .iter()
            .map(|package| package.sha256.clone())
            .collect();
        parts.sort();
        // The layer's dpkg status file includes the base's, so the base is part of the key.
        parts.extend(
            base.layers
                .iter()
                .map(|(_, layer)| layer.diff_id.digest().to_string()),
        );
        let key = cache::key("mlpack-system-libraries-layer-v1", &parts);
        let names: BTreeSet<&str> = pins
            .needed
            .iter()
            .map(|library| library.package.as_str())
            .collect();
        let description = format!(
            "system libraries: {} ({} Debian packages)",
            names.into_iter().collect::<Vec<_>>().join(", "),
            pins.packages.len()
        );
        let image = &request.manifest.base.image;
        let layer = self.cached_layer(&key, description.clone(), |dir| {
            let tree = base.get()?;
            let suite = base_suite(suite, tree, request.manifest, lock).ok_or_else(|| {
                BuildError::LibrariesOnImage {
                    image: image.clone(),
                    libraries: pins.needed.clone(),
                }
            })?;
            self.reporter.phase(&description, "downloading");
            let debs = self
                .fetch
                .debs(&suite, &pins.packages, "system libraries")?;
            self.reporter.phase(&description, "unpacking");
            stage_debs(dir, tree, &pins.packages, &debs)
        })?;
        Ok(Some(layer))
    }
}

/// Unpack `packages` (their `.deb`s in `debs`) into `dir` as a layer over the base `tree`:
/// the base's `/usr` links first, then the files, then dpkg's status with the base's.
pub(super) fn stage_debs(
    dir: &std::path::Path,
    tree: &ImageTree,
    packages: &[LockedDeb],
    debs: &[std::path::PathBuf],
) -> Result<(), BuildError> {
    let status = tree.text_at("var/lib/dpkg/status").unwrap_or_default();
    link_like_base(dir, tree)?;
    let mut installed = Vec::new();
    for (package, deb) in packages.iter().zip(debs) {
        let extracted = debian::extract(deb, dir)?;
        installed.push((base::deb_package(package), extracted));
    }
    debian::write_dpkg_additions(dir, status, &installed)?;
    Ok(())
}

/// The suite to take packages from: a Debian base's, else a registry image's when its
/// `/etc/os-release` says it is a Debian release mlpack knows (`python:3.11-slim` is
/// bookworm); `[base] mirror` applies to both.
pub(super) fn base_suite(
    suite: Option<&Suite>,
    tree: &ImageTree,
    manifest: &crate::manifest::Manifest,
    lock: &Lockfile,
) -> Option<Suite> {
    if let Some(suite) = suite {
        return Some(suite.clone());
    }
    let release = tree.text_at("etc/os-release")?;
    let field = |name: &str| {
        release.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
    };
    if field("ID")? != "debian" {
        return None;
    }
    base::suite(
        manifest,
        &format!("debian:{}", field("VERSION_CODENAME")?),
        lock.target.arch,
    )
    .ok()
}

/// The names of the packages dpkg's status file says are installed.
pub(super) fn installed_packages(status: &str) -> BTreeSet<String> {
    status
        .split("\n\n")
        .filter(|paragraph| {
            paragraph
                .lines()
                .any(|line| line.starts_with("Status:") && line.ends_with(" installed"))
        })
        .filter_map(|paragraph| {
            let name = paragraph
                .lines()
                .find_map(|line| line.strip_prefix("Package:"))?;
            Some(name.trim().to_string())
        })
        .collect()
}

/// The base's top-level links into `/usr` (merged `/usr`: `lib` → `usr/lib`), made again in
/// `dir`, so that files a package still ships under `/lib` land in `/usr/lib` as in the base,
/// instead of in a `lib` directory that would hide the base's link. A base with real
/// directories there keeps them: the layer's merge into them.
fn link_like_base(dir: &std::path::Path, tree: &ImageTree) -> Result<(), BuildError> {
    for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let Some(target) = tree.link_target(name) else {
            continue;
        };
        let relative = target.trim_start_matches('/');
        // A link that leaves `/` (or is empty) is the image's oddity; it stays the image's.
        if relative.is_empty() || relative.split('/').any(|part| part == "..") {
            continue;
        }
        let io = |path: std::path::PathBuf| move |source| BuildError::io("write", path, source);
        let directory = dir.join(relative);
        fs_err::create_dir_all(&directory).map_err(io(directory.clone()))?;
        let link = dir.join(name);
        fs_err::os::unix::fs::symlink(target, &link).map_err(io(link.clone()))?;
    }
    Ok(())
}

/// Choose a package for each missing library, and pin their closure less what the base has.
fn resolve(
    fetch: &Fetcher<'_>,
    suite: &Suite,
    missing: Vec<NeededLibrary>,
    base_packages: &BTreeSet<String>,
) -> Result<(Vec<NeededLibrary>, Vec<LockedDeb>), BuildError> {
    let contents = fetch.library_index(suite)?;
    let needed = choose_packages(&contents, missing)?;
    let roots: BTreeSet<String> = needed
        .iter()
        .map(|library| library.package.clone())
        .collect();
    let index = fetch.debian_index(suite)?;
    let roots: Vec<String> = roots.into_iter().collect();
    let closure: Vec<DebPackage> = index.closure(&roots)?;
    let packages = closure
        .into_iter()
        .filter(|package| !base_packages.contains(&package.name))
        .map(base::locked_deb)
        .collect();
    Ok((needed, packages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    fn object(path: &str, soname: Option<&str>, needed: &[&str]) -> SharedObject {
        SharedObject {
            path: path.to_string(),
            soname: soname.map(str::to_string),
            needed: needed.iter().map(|name| (*name).to_string()).collect(),
        }
    }

    /// The shape of the real wheels: opencv-python bundles most of its libraries in
    /// `opencv_python.libs` (found through `$ORIGIN`), torch finds CUDA in the nvidia wheels
    /// through its `RPATH`, lightgbm needs the system's OpenMP.
    fn scans() -> Vec<WheelScan> {
        vec![
            WheelScan {
                package: "opencv-python".to_string(),
                objects: vec![
                    object(
                        "cv2/cv2.abi3.so",
                        None,
                        &["libQt5Core-8a6fe3b6.so.5.15.19", "libz.so.1", "libc.so.6"],
                    ),
                    object(
                        "opencv_python.libs/libQt5Core-8a6fe3b6.so.5.15.19",
                        Some("libQt5Core-8a6fe3b6.so.5.15.19"),
                        &["libglib-2.0.so.0", "libGL.so.1", "ld-linux-x86-64.so.2"],
                    ),
                    object(
                        "cv2/qt/plugins/platforms/libqxcb.so",
                        None,
                        &["libGL.so.1", "libxcb.so.1"],
                    ),
                ],
            },
            WheelScan {
                package: "torch".to_string(),
                objects: vec![object(
                    "torch/lib/libtorch_cuda.so",
                    Some("libtorch_cuda.so"),
                    &[
                        "libcublas.so.12",
                        "libcuda.so.1",
                        "libnvidia-ml.so.1",
                        "libc.so.6",
                    ],
                )],
            },
            WheelScan {
                package: "nvidia-cublas-cu12".to_string(),
                objects: vec![object(
                    "nvidia/cublas/lib/libcublas.so.12",
                    Some("libcublas.so.12"),
                    &["libc.so.6"],
                )],
            },
            WheelScan {
                package: "lightgbm".to_string(),
                objects: vec![object(
                    "lightgbm/lib/lib_lightgbm.so",
                    None,
                    &["libgomp.so.1"],
                )],
            },
        ]
    }

    fn library(soname: &str, wheel: &str, file: &str) -> NeededLibrary {
        NeededLibrary {
            soname: soname.to_string(),
            wheel: wheel.to_string(),
            file: file.to_string(),
            package: String::new(),
        }
    }

    #[test]
    fn what_the_wheels_the_base_the_loader_and_the_driver_provide_is_not_needed() {
        let base: BTreeSet<String> = ["libc.so.6", "libz.so.1", "libstdc++.so.6"]
            .into_iter()
            .map(str::to_string)
            .collect();
        let needs = needs(&scans(), &base);
        assert_eq!(
            needs.missing,
            [
                library(
                    "libGL.so.1",
                    "opencv-python",
                    "cv2/qt/plugins/platforms/libqxcb.so"
                ),
                library(
                    "libglib-2.0.so.0",
                    "opencv-python",
                    "opencv_python.libs/libQt5Core-8a6fe3b6.so.5.15.19"
                ),
                library("libgomp.so.1", "lightgbm", "lightgbm/lib/lib_lightgbm.so"),
                library(
                    "libxcb.so.1",
                    "opencv-python",
                    "cv2/qt/plugins/platforms/libqxcb.so"
                ),
            ]
        );
        assert_eq!(
            needs.host_driver,
            [
                library("libcuda.so.1", "torch", "torch/lib/libtorch_cuda.so"),
                library("libnvidia-ml.so.1", "torch", "torch/lib/libtorch_cuda.so"),
            ]
        );
    }

    #[test]
    fn the_base_has_what_dpkg_says_is_installed() {
        let status = "Package: bash\nStatus: install ok installed\n\n\
                      Package: gone\nStatus: deinstall ok config-files\n\n\
                      Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n";
        let names: Vec<String> = installed_packages(status).into_iter().collect();
        assert_eq!(names, ["bash", "libc6"]);
    }

    #[test]
    fn a_library_no_package_ships_is_an_error_naming_the_wheel_and_file() {
        let index = debian::LibraryIndex::parse(
            "usr/lib/x86_64-linux-gnu/libGL.so.1 libs/libgl1\n".as_bytes(),
            "x86_64-linux-gnu",
        )
        .unwrap();
        let chosen = choose_packages(
            &index,
            vec![library("libGL.so.1", "opencv-python", "cv2/cv2.abi3.so")],
        )
        .unwrap();
        assert_eq!(chosen[0].package, "libgl1");
        let error = choose_packages(
            &index,
            vec![library("libfoo.so.3", "foo", "foo/_native.so")],
        )
        .unwrap_err();
        insta::assert_snapshot!(error.to_string(), @"no Debian package ships `libfoo.so.3` (needed by `foo/_native.so` in `foo`)");
        insta::assert_snapshot!(error.hints().join("\n"), @"if a Debian package installs it elsewhere (through alternatives, say), add that package to `[base] packages`; else use a wheel that bundles it (a manylinux wheel repaired by auditwheel)");
    }
}
