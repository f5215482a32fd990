//! The install itself, in the order of the wheel spec's "Installing a wheel" section
//! (<https://packaging.python.org/en/latest/specifications/binary-distribution-format/#installing-a-wheel-distribution-1-0-py32-none-any-whl>).
//!
//! Everything that can be checked without writing is checked first (names, `WHEEL`, `RECORD`
//! coverage, entry points), so a bad wheel usually fails before the tree is touched; hashes can
//! only be checked while extracting, and a failure then removes what was written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use pep508_rs::PackageName;
use zip::ZipArchive;

use super::dist_info::{self, Metadata, WheelFile};
use super::entry_points;
use super::error::WheelError;
use super::record::{self, HashAlgorithm, RecordEntry};
use super::scheme::{self, InstallScheme};
use super::scripts;
use super::top_level;
use super::write::Runs;
use crate::elf::DynamicInfo;
use crate::fs_tree::{StagingError, UnsafePath, entry_path};

/// What the installer writes into `INSTALLER` ([PEP 376]): "the name of the tool used".
///
/// [PEP 376]: https://peps.python.org/pep-0376/#installer
const INSTALLER: &str = "mlpack\n";

/// `.dist-info` files larger than this are refused rather than read into memory (the largest
/// `RECORD` on PyPI, of a TensorFlow or PyTorch wheel, is a few MB).
const METADATA_LIMIT: u64 = 64 * 1024 * 1024;

/// Signature files, which sign `RECORD` and so cannot be listed in it with a hash. They are not
/// installed: they would sign a `RECORD` that the install replaces.
const SIGNATURES: [&str; 2] = ["RECORD.jws", "RECORD.p7s"];

/// Mode of `.data/scripts` files, entry-point launchers and files stored executable.
const EXECUTABLE: u32 = 0o755;
pub(super) const REGULAR: u32 = 0o644;

/// File types in the high bits of a zip entry's Unix mode, as in `stat.h`.
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;

/// Installs wheels into a staging tree that becomes an image layer. No `.pyc` is compiled
/// (spec step 2.f): the layer stays smaller and byte-for-byte reproducible, and Python writes
/// the cache at run time where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelInstaller {
    /// Where each part of a wheel goes, as paths inside the image.
    pub scheme: InstallScheme,
    /// The interpreter inside the image, for `#!` lines (`/usr/bin/python3`).
    pub python: String,
}

/// What one install wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledWheel {
    /// The distribution name as `METADATA` writes it (`MarkupSafe`).
    pub name: String,
    pub version: String,
    /// The image path of the installed `.dist-info` directory.
    pub dist_info: String,
    /// Every image path written, sorted, `RECORD` and `INSTALLER` included. A path another
    /// wheel wrote before was overwritten: compare lists to find such clashes.
    pub files: Vec<String>,
    /// Top-level import names the wheel installed (`markupsafe`, `six`), sorted, taken from
    /// the files under purelib and platlib.
    pub top_level: Vec<String>,
    /// The ELF files with a dynamic section among the files under shared-object names, for
    /// any machine, each as its archive member (`torch/lib/libc10.so`) with what that section
    /// says; see [`InstalledWheel::shared_objects`].
    pub elf_files: Vec<(String, DynamicInfo)>,
}

impl WheelInstaller {
    /// Installs the wheel file at `wheel` into the staging tree `root` (image paths are joined
    /// under it). On error, what this install wrote is removed again; a file it had replaced
    /// (from an earlier wheel) stays removed.
    pub fn install(&self, wheel: &Path, root: &Path) -> Result<InstalledWheel, WheelError> {
        self.install_in_runs(wheel, root, Runs::default())
    }

    /// [`Self::install`], the archive's files extracted in `runs`.
    pub(super) fn install_in_runs(
        &self,
        wheel: &Path,
        root: &Path,
        runs: Runs,
    ) -> Result<InstalledWheel, WheelError> {
        let wheel_name = wheel.file_name().map_or_else(
            || wheel.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let scheme = self.scheme.normalized()?;
        scripts::check_interpreter(&self.python)?;
        let distribution = dist_info::filename_distribution(&wheel_name)?;

        let file = fs_err::File::open(wheel).map_err(|source| WheelError::Open {
            wheel: wheel_name.clone(),
            source,
        })?;
        let file = Arc::new(file.into_parts().0);
        let install = Install {
            wheel: &wheel_name,
            scheme: &scheme,
            python: &self.python,
            runs,
        };
        let mut archive = install.open(&file)?;
        let plan = install.plan(&mut archive, &distribution)?;
        let written = install.write(&plan, &mut archive, &file, root)?;
        Ok(InstalledWheel {
            top_level: top_level::import_names(&written.files, &scheme, &plan.dist_info),
            name: plan.metadata.name,
            version: plan.metadata.version,
            dist_info: scheme::join(&plan.lib, std::slice::from_ref(&plan.dist_info)),
            files: written.files,
            elf_files: written.shared_objects,
        })
    }
}

/// One install's fixed inputs.
pub(super) struct Install<'a> {
    pub(super) wheel: &'a str,
    scheme: &'a InstallScheme,
    pub(super) python: &'a str,
    /// How the archive's files are cut among threads.
    pub(super) runs: Runs,
}

/// A zip entry, its name checked.
struct Entry {
    index: usize,
    /// The name as in the archive and `RECORD`, without a directory's trailing `/`.
    name: String,
    components: Vec<String>,
    directory: bool,
    executable: bool,
}

/// Everything the install will write, decided before writing anything.
pub(super) struct Plan {
    metadata: Metadata,
    /// `name-1.0.dist-info`.
    pub(super) dist_info: String,
    /// The image directory the root of the archive (and `.dist-info`) goes to.
    pub(super) lib: String,
    /// Destination image path → what goes there. Sorted, so the install is deterministic.
    pub(super) files: BTreeMap<String, Source>,
}

pub(super) enum Source {
    /// A verified copy of an archive entry.
    Archive(ArchiveFile),
    /// Written by the installer: launchers and `INSTALLER`.
    Generated { contents: Vec<u8>, mode: u32 },
}

/// An archive entry to extract, with what `RECORD` says of it.
pub(super) struct ArchiveFile {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) algorithm: HashAlgorithm,
    /// The urlsafe-base64 digest `RECORD` gives.
    pub(super) digest: String,
    pub(super) size: Option<u64>,
    pub(super) mode: u32,
    /// A `.data/scripts` file: `#!python` is rewritten.
    pub(super) script: bool,
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Self::Archive(file) => file.name.clone(),
            Self::Generated { .. } => "a file mlpack generates".to_string(),
        }
    }
}

impl Install<'_> {
    /// 1. Unpack, 2. Spread: every decision, with no side effect.
    fn plan<R: Read + std::io::Seek>(
        &self,
        archive: &mut ZipArchive<R>,
        distribution: &PackageName,
    ) -> Result<Plan, WheelError> {
        let entries = self.entries(archive)?;
        let dist_info = self.dist_info_dir(&entries, distribution)?;
        let by_name: HashMap<&str, &Entry> = entries
            .iter()
            .map(|entry| (entry.name.as_str(), entry))
            .collect();
        let mut read_required = |file: &str| {
            let path = format!("{dist_info}/{file}");
            self.read_text(archive, &by_name, &path)?
                .map(|text| (path.clone(), text))
                .ok_or_else(|| WheelError::MissingMetadata {
                    wheel: self.wheel.to_string(),
                    file: path,
                })
        };

        // "a. Parse distribution-1.0.dist-info/WHEEL.
        //  b. Check that installer is compatible with Wheel-Version. Warn if minor version is
        //     greater, abort if major version is greater."
        let (path, text) = read_required("WHEEL")?;
        let wheel_file = WheelFile::parse(self.wheel, &path, &text)?;
        let (path, text) = read_required("METADATA")?;
        let metadata = Metadata::parse(self.wheel, &path, &text)?;
        let (record_path, text) = read_required("RECORD")?;
        let record = self.record(&record_path, &text)?;
        let entry_points_path = format!("{dist_info}/entry_points.txt");
        let entry_points = self.read_text(archive, &by_name, &entry_points_path)?;

        // "c. If Root-Is-Purelib == 'true', unpack archive into purelib (site-packages).
        //  d. Else unpack archive into platlib (site-packages)."
        let lib = if wheel_file.root_is_purelib {
            self.scheme.purelib.clone()
        } else {
            self.scheme.platlib.clone()
        };
        let data_dir = format!(
            "{}.data",
            dist_info.strip_suffix(".dist-info").unwrap_or(&dist_info)
        );
        let mut plan = Plan {
            metadata,
            dist_info,
            lib,
            files: BTreeMap::new(),
        };

        // "2. Spread. a. Unpacked archive includes distribution-1.0.dist-info/ and (if there is
        //  data) distribution-1.0.data/. b. Move each subtree of distribution-1.0.data/ onto its
        //  destination path. Each subdirectory of distribution-1.0.data/ is a key into a dict of
        //  destination directories, such as distribution-1.0.data/(purelib|platlib|headers|
        //  scripts|data)." The tree is written once, spread, so step "e. Remove empty
        //  distribution-1.0.data directory" has nothing to do.
        let skipped: BTreeSet<String> =
            [record_path.clone(), format!("{}/INSTALLER", plan.dist_info)]
                .into_iter()
                .chain(
                    SIGNATURES
                        .iter()
                        .map(|name| format!("{}/{name}", plan.dist_info)),
                )
                .collect();
        for entry in &entries {
            if entry.directory {
                self.check_directory(entry, &data_dir)?;
                continue;
            }
            if skipped.contains(&entry.name) {
                continue;
            }
            let (destination, script) = self.destination(entry, &plan, &data_dir)?;
            let ((algorithm, digest), size) = self.expected(entry, &record)?;
            let mode = if script || entry.executable {
                EXECUTABLE
            } else {
                REGULAR
            };
            let source = Source::Archive(ArchiveFile {
                index: entry.index,
                name: entry.name.clone(),
                algorithm,
                digest,
                size,
                mode,
                script,
            });
            self.insert(&mut plan.files, destination, source)?;
        }
        self.check_record_covered(&record, &by_name, &skipped)?;

        // Launchers for `console_scripts` and `gui_scripts`. Like pip, a launcher replaces a
        // `.data/scripts` file of the same name.
        if let Some(text) = entry_points {
            for entry in entry_points::script_entry_points(self.wheel, &text)? {
                let destination =
                    scheme::join(&self.scheme.scripts, std::slice::from_ref(&entry.name));
                let contents = scripts::launcher(self.python, &entry).into_bytes();
                plan.files.insert(
                    destination,
                    Source::Generated {
                        contents,
                        mode: EXECUTABLE,
                    },
                );
            }
        }
        let installer = scheme::join(&plan.lib, &[plan.dist_info.clone(), "INSTALLER".into()]);
        let generated = Source::Generated {
            contents: INSTALLER.as_bytes().to_vec(),
            mode: REGULAR,
        };
        self.insert(&mut plan.files, installer, generated)?;
        let record = scheme::join(&plan.lib, &[plan.dist_info.clone(), "RECORD".into()]);
        if let Some(source) = plan.files.get(&record) {
            return Err(self.duplicate(record, &source.describe(), "RECORD"));
        }
        Ok(plan)
    }

    /// Every entry of the archive, its name and type checked.
    fn entries<R: Read + std::io::Seek>(
        &self,
        archive: &ZipArchive<R>,
    ) -> Result<Vec<Entry>, WheelError> {
        if archive.has_duplicate_names() {
            return Err(WheelError::DuplicateNames {
                wheel: self.wheel.to_string(),
            });
        }
        (0..archive.len())
            .map(|index| {
                let data = archive
                    .by_index_data(index)
                    .map_err(|source| self.zip_error(source))?;
                let raw_name = data.name().map_err(|source| self.zip_error(source))?;
                let unsafe_entry = |reason: &str| self.unsafe_entry(&raw_name, reason);
                let file_type = data.unix_mode().map_or(0, |mode| mode & S_IFMT);
                let directory = match file_type {
                    S_IFLNK => return Err(unsafe_entry("it is a symlink")),
                    S_IFDIR => true,
                    0 | S_IFREG => raw_name.ends_with('/'),
                    _ => return Err(unsafe_entry("it is not a regular file or directory")),
                };
                let name = raw_name.strip_suffix('/').unwrap_or(&raw_name).to_string();
                let components = entry_path::zip_entry(&name)
                    .map_err(|error: UnsafePath| unsafe_entry(&error.reason("it")))?
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                Ok(Entry {
                    index,
                    name,
                    components,
                    directory,
                    executable: data.unix_mode().is_some_and(|mode| mode & 0o111 != 0),
                })
            })
            .collect()
    }

    /// The one `.dist-info` directory at the root, which must be for `distribution`.
    fn dist_info_dir(
        &self,
        entries: &[Entry],
        distribution: &PackageName,
    ) -> Result<String, WheelError> {
        let found: BTreeSet<&str> = entries
            .iter()
            .map(|entry| entry.components[0].as_str())
            .filter(|first| first.ends_with(".dist-info"))
            .collect();
        let mut found = found.into_iter();
        let (Some(dist_info), None) = (found.next(), found.next()) else {
            let all: Vec<String> = entries
                .iter()
                .map(|entry| entry.components[0].as_str())
                .filter(|first| first.ends_with(".dist-info"))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|name| format!("`{name}`"))
                .collect();
            return Err(WheelError::DistInfoCount {
                wheel: self.wheel.to_string(),
                found: if all.is_empty() {
                    "none".to_string()
                } else {
                    all.join(", ")
                },
            });
        };
        let stem = dist_info.strip_suffix(".dist-info").unwrap_or(dist_info);
        if !dist_info::is_for(stem, distribution) {
            return Err(WheelError::DistInfoName {
                wheel: self.wheel.to_string(),
                dist_info: dist_info.to_string(),
            });
        }
        Ok(dist_info.to_string())
    }

    /// Reads a small text file of the archive, if present.
    fn read_text<R: Read + std::io::Seek>(
        &self,
        archive: &mut ZipArchive<R>,
        by_name: &HashMap<&str, &Entry>,
        path: &str,
    ) -> Result<Option<String>, WheelError> {
        let Some(entry) = by_name.get(path).filter(|entry| !entry.directory) else {
            return Ok(None);
        };
        let file = archive
            .by_index(entry.index)
            .map_err(|source| self.zip_error(source))?;
        let mut bytes = Vec::new();
        file.take(METADATA_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| WheelError::ReadEntry {
                wheel: self.wheel.to_string(),
                entry: path.to_string(),
                source,
            })?;
        let invalid = |message: &str| WheelError::InvalidMetadata {
            wheel: self.wheel.to_string(),
            file: path.to_string(),
            line: 0,
            message: message.to_string(),
        };
        if bytes.len() as u64 > METADATA_LIMIT {
            return Err(invalid("it is larger than 64 MiB"));
        }
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| invalid("it is not UTF-8"))
    }

    /// `RECORD`, by path; directories (`pkg/`), which some tools list, are left out.
    fn record(&self, path: &str, text: &str) -> Result<BTreeMap<String, RecordEntry>, WheelError> {
        let invalid = |line: usize, message: String| WheelError::InvalidMetadata {
            wheel: self.wheel.to_string(),
            file: path.to_string(),
            line,
            message,
        };
        let mut record: BTreeMap<String, RecordEntry> = BTreeMap::new();
        for entry in record::parse(text).map_err(|(line, message)| invalid(line, message))? {
            if entry.path.ends_with('/') {
                continue;
            }
            if let Some(earlier) = record.get(&entry.path) {
                if earlier.hash != entry.hash || earlier.size != entry.size {
                    return Err(invalid(
                        entry.line,
                        format!(
                            "`{}` is listed twice, differently (first at line {})",
                            entry.path, earlier.line
                        ),
                    ));
                }
                continue;
            }
            record.insert(entry.path.clone(), entry);
        }
        Ok(record)
    }

    /// A directory entry creates nothing (parents are made as files need them), but it may
    /// not be another distribution's `.data`.
    fn check_directory(&self, entry: &Entry, data_dir: &str) -> Result<(), WheelError> {
        let first = &entry.components[0];
        if is_data_directory(first) && first != data_dir {
            return Err(self.unsafe_entry(
                &entry.name,
                "it is in another distribution's `.data` directory",
            ));
        }
        Ok(())
    }

    /// Where a file entry goes, and whether it is a `.data/scripts` script.
    fn destination(
        &self,
        entry: &Entry,
        plan: &Plan,
        data_dir: &str,
    ) -> Result<(String, bool), WheelError> {
        let components = &entry.components;
        let first = &components[0];
        if first != data_dir {
            if is_data_directory(first) {
                return Err(self.unsafe_entry(
                    &entry.name,
                    "it is in another distribution's `.data` directory",
                ));
            }
            return Ok((scheme::join(&plan.lib, components), false));
        }
        let [_, key, rest @ ..] = components.as_slice() else {
            return Err(self.unsafe_entry(&entry.name, "it is not in a `.data` subdirectory"));
        };
        if rest.is_empty() {
            return Err(self.unsafe_entry(&entry.name, "it is not in a `.data` subdirectory"));
        }
        let destination = match key.as_str() {
            "purelib" => scheme::join(&self.scheme.purelib, rest),
            "platlib" => scheme::join(&self.scheme.platlib, rest),
            "scripts" => scheme::join(&self.scheme.scripts, rest),
            "data" => scheme::join(&self.scheme.data, rest),
            "headers" => {
                let mut path = vec![plan.metadata.name.clone()];
                path.extend(rest.iter().cloned());
                scheme::join(&self.scheme.headers, &path)
            }
            _ => {
                return Err(self.unsafe_entry(
                    &entry.name,
                    &format!(
                        "`{key}` is not a `.data` directory an installer knows (`purelib`, `platlib`, `scripts`, `data`, `headers`)"
                    ),
                ));
            }
        };
        Ok((destination, key == "scripts"))
    }

    /// The hash and size `RECORD` gives for a file entry.
    fn expected(
        &self,
        entry: &Entry,
        record: &BTreeMap<String, RecordEntry>,
    ) -> Result<((HashAlgorithm, String), Option<u64>), WheelError> {
        let listed = record
            .get(&entry.name)
            .ok_or_else(|| WheelError::NotInRecord {
                wheel: self.wheel.to_string(),
                entry: entry.name.clone(),
            })?;
        let (algorithm, digest) = listed.hash.as_ref().ok_or_else(|| WheelError::NoHash {
            wheel: self.wheel.to_string(),
            entry: entry.name.clone(),
        })?;
        let algorithm =
            HashAlgorithm::from_name(algorithm).ok_or_else(|| WheelError::UnsupportedHash {
                wheel: self.wheel.to_string(),
                entry: entry.name.clone(),
                algorithm: algorithm.clone(),
            })?;
        Ok(((algorithm, digest.clone()), listed.size))
    }

    /// Every file `RECORD` lists is in the archive.
    fn check_record_covered(
        &self,
        record: &BTreeMap<String, RecordEntry>,
        by_name: &HashMap<&str, &Entry>,
        skipped: &BTreeSet<String>,
    ) -> Result<(), WheelError> {
        let mut listed: Vec<&RecordEntry> = record.values().collect();
        listed.sort_by_key(|entry| entry.line);
        for entry in listed {
            let present = by_name
                .get(entry.path.as_str())
                .is_some_and(|found| !found.directory);
            if !present && !skipped.contains(&entry.path) {
                return Err(WheelError::MissingFromArchive {
                    wheel: self.wheel.to_string(),
                    entry: entry.path.clone(),
                });
            }
        }
        Ok(())
    }

    fn insert(
        &self,
        files: &mut BTreeMap<String, Source>,
        destination: String,
        source: Source,
    ) -> Result<(), WheelError> {
        if let Some(first) = files.get(&destination) {
            return Err(self.duplicate(destination, &first.describe(), &source.describe()));
        }
        files.insert(destination, source);
        Ok(())
    }

    fn duplicate(&self, path: String, first: &str, second: &str) -> WheelError {
        WheelError::DuplicateDestination {
            wheel: self.wheel.to_string(),
            path,
            first: first.to_string(),
            second: second.to_string(),
        }
    }

    fn unsafe_entry(&self, entry: &str, reason: &str) -> WheelError {
        WheelError::UnsafeEntry {
            wheel: self.wheel.to_string(),
            entry: entry.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(super) fn staging_error(&self, error: StagingError) -> WheelError {
        match error {
            StagingError::Unsafe { path, reason } => WheelError::UnsafeDestination {
                wheel: self.wheel.to_string(),
                path,
                reason: reason.to_string(),
            },
            StagingError::Io(source) => WheelError::Write {
                wheel: self.wheel.to_string(),
                source,
            },
        }
    }

    pub(super) fn zip_error(&self, source: zip::result::ZipError) -> WheelError {
        WheelError::Zip {
            wheel: self.wheel.to_string(),
            source,
        }
    }
}

/// Whether a top-level name is a `.data` directory. Case matters, as it does for pip.
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "a directory suffix from the wheel spec, not a file extension"
)]
fn is_data_directory(name: &str) -> bool {
    name.ends_with(".data")
}
