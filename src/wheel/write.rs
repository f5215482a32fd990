//! Writing an install's plan into its staging tree: each archive file extracted and checked
//! against `RECORD` as it streams, the files mlpack generates (launchers, `INSTALLER`), then
//! (the spec's step "d. Update distribution-1.0.dist-info/RECORD with the installed paths") a
//! new `RECORD`. A large wheel is extracted by several threads, since one wheel can be most of
//! a layer (torch: 1.2 GB of files in one wheel) and would otherwise hold a build to one core:
//! each thread takes a contiguous run of the plan's files in its sorted order, with its own
//! reader of the archive over the one open file and its own [`StagingTree`] on the one root
//! (which several writers may share). What is written, and which error is reported when
//! several files are bad (the first in the plan's order), is the same as with one thread.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use zip::ZipArchive;

use super::error::WheelError;
use super::install::{ArchiveFile, Install, Plan, REGULAR, Source};
use super::record::{self, ContentHasher};
use super::scheme;
use super::scripts;
use super::shared_objects::looks_like_shared_object;
use crate::elf::DynamicInfo;
use crate::fs_tree::StagingTree;

/// How a wheel's files are cut into runs, one per thread.
#[derive(Debug, Clone, Copy)]
pub(super) struct Runs {
    /// Below this many bytes of files (as `RECORD` gives their sizes), one run: another reader
    /// of the archive and another thread would cost more than they save.
    pub(super) min_bytes: u64,
    pub(super) threads: usize,
}

impl Default for Runs {
    /// 256 MiB, one run per CPU.
    fn default() -> Self {
        Self {
            min_bytes: 256 << 20,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        }
    }
}

/// The wheel file, read by offset, so that several readers share the one open file (the one
/// that was planned, not whatever its path names later), each at its own position.
#[derive(Debug, Clone)]
pub(super) struct PositionedReader {
    file: Arc<std::fs::File>,
    position: u64,
}

impl PositionedReader {
    pub(super) fn new(file: Arc<std::fs::File>) -> Self {
        Self { file, position: 0 }
    }
}

impl Read for PositionedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read_at(buf, self.position)?;
        self.position += read as u64;
        Ok(read)
    }
}

impl Seek for PositionedReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, offset) = match to {
            SeekFrom::Start(position) => (position, 0),
            SeekFrom::End(offset) => (self.file.metadata()?.len(), offset),
            SeekFrom::Current(offset) => (self.position, offset),
        };
        self.position = base.checked_add_signed(offset).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a seek outside the wheel")
        })?;
        Ok(self.position)
    }
}

/// A wheel's archive as an install reads it.
pub(super) type Archive = ZipArchive<BufReader<PositionedReader>>;

/// An archive file of the plan, with the image path it goes to.
pub(super) type Extraction<'p> = (&'p str, &'p ArchiveFile);

/// What extracting one file gave: its `RECORD` row's hash field and size, and for a shared
/// object, what its dynamic section says (read back from the file just written, whose pages
/// are still cached, instead of decompressing the member a second time for the build's
/// system-library scan).
#[derive(Default)]
struct Installed {
    hash: String,
    size: u64,
    elf: Option<DynamicInfo>,
}

/// What [`Install::write`] wrote: every image path, sorted, and the shared objects among
/// them, each with the archive member it came from, in the plan's order.
pub(super) struct Written {
    pub(super) files: Vec<String>,
    pub(super) shared_objects: Vec<(String, DynamicInfo)>,
}

impl Install<'_> {
    /// Opens the wheel `file` as an archive.
    pub(super) fn open(&self, file: &Arc<std::fs::File>) -> Result<Archive, WheelError> {
        ZipArchive::new(BufReader::new(PositionedReader::new(Arc::clone(file))))
            .map_err(|source| self.zip_error(source))
    }

    /// Writes the plan into the tree at `root` (see the module doc); `archive` is `file`
    /// opened. On error, what was written is removed again; a file it had replaced (from an
    /// earlier wheel) stays removed.
    pub(super) fn write(
        &self,
        plan: &Plan,
        archive: &mut Archive,
        file: &Arc<std::fs::File>,
        root: &Path,
    ) -> Result<Written, WheelError> {
        let mut tree = self.tree(root)?;
        let mut others = Vec::new();
        let written = self
            .extract_all(plan, (archive, file), root, &mut tree, &mut others)
            .and_then(|installed| self.write_generated(plan, installed, &mut tree));
        if written.is_err() {
            StagingTree::rollback(std::iter::once(tree).chain(others));
        }
        written
    }

    fn tree(&self, root: &Path) -> Result<StagingTree, WheelError> {
        StagingTree::new(root).map_err(|source| WheelError::Write {
            wheel: self.wheel.to_string(),
            source,
        })
    }

    /// Extracts the plan's archive files, in runs on several threads for a large wheel (the
    /// first run into `tree` with `archive`, each other into a tree of its own, added to
    /// `others`, with the archive opened anew from `file`).
    fn extract_all<'p>(
        &self,
        plan: &'p Plan,
        (archive, file): (&mut Archive, &Arc<std::fs::File>),
        root: &Path,
        tree: &mut StagingTree,
        others: &mut Vec<StagingTree>,
    ) -> Result<HashMap<&'p str, Installed>, WheelError> {
        let files: Vec<Extraction<'p>> = plan
            .files
            .iter()
            .filter_map(|(destination, source)| match source {
                Source::Archive(file) => Some((destination.as_str(), file)),
                Source::Generated { .. } => None,
            })
            .collect();
        let runs = self.runs.cut(&files);
        let Some((first, rest)) = runs.split_first() else {
            return Ok(HashMap::new());
        };
        for _ in rest {
            others.push(self.tree(root)?);
        }
        std::thread::scope(|scope| {
            let threads: Vec<_> = rest
                .iter()
                .zip(others.iter_mut())
                .map(|(run, tree)| {
                    scope.spawn(move || self.extract_run(run, &mut self.open(file)?, tree))
                })
                .collect();
            let mut installed = self.extract_run(first, archive, tree);
            // Joined in the runs' order: the first bad file in the plan's order is reported.
            for thread in threads {
                let more = thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                installed = installed.and_then(|mut installed| {
                    installed.extend(more?);
                    Ok(installed)
                });
            }
            installed
        })
    }

    /// Extracts one run of files, in order, stopping at the first that fails.
    fn extract_run<'p>(
        &self,
        run: &[Extraction<'p>],
        archive: &mut Archive,
        tree: &mut StagingTree,
    ) -> Result<HashMap<&'p str, Installed>, WheelError> {
        let mut buffer = vec![0; 64 * 1024];
        run.iter()
            .map(|&(destination, file)| {
                let installed = self.extract(archive, file, destination, tree, &mut buffer)?;
                Ok((destination, installed))
            })
            .collect()
    }

    /// Writes the generated files, then `RECORD`: a row for each file in the plan's order,
    /// the archive's from what `installed` says of them.
    fn write_generated(
        &self,
        plan: &Plan,
        mut installed: HashMap<&str, Installed>,
        tree: &mut StagingTree,
    ) -> Result<Written, WheelError> {
        let mut rows = Vec::with_capacity(plan.files.len() + 1);
        let mut shared_objects = Vec::new();
        for (destination, source) in &plan.files {
            let (hash, size) = match source {
                Source::Generated { contents, mode } => {
                    tree.write_file(destination, *mode, contents)
                        .map_err(|error| self.staging_error(error))?;
                    (record::sha256_field(contents), contents.len() as u64)
                }
                Source::Archive(file) => {
                    let extracted = installed.remove(destination.as_str()).unwrap_or_default();
                    if let Some(info) = extracted.elf {
                        shared_objects.push((file.name.clone(), info));
                    }
                    (extracted.hash, extracted.size)
                }
            };
            rows.push((
                scheme::relative(&plan.lib, destination),
                hash,
                size.to_string(),
            ));
        }
        // "RECORD … the RECORD file itself … must have empty hash and size."
        let record = scheme::join(&plan.lib, &[plan.dist_info.clone(), "RECORD".into()]);
        rows.push((
            scheme::relative(&plan.lib, &record),
            String::new(),
            String::new(),
        ));
        tree.write_file(&record, REGULAR, record::write(&mut rows).as_bytes())
            .map_err(|error| self.staging_error(error))?;

        let mut files: Vec<String> = plan.files.keys().cloned().collect();
        files.push(record);
        files.sort();
        Ok(Written {
            files,
            shared_objects,
        })
    }

    /// Copies one archive entry to `destination`, checking its size and hash against `RECORD`
    /// as it streams.
    fn extract(
        &self,
        archive: &mut Archive,
        file: &ArchiveFile,
        destination: &str,
        tree: &mut StagingTree,
        buffer: &mut [u8],
    ) -> Result<Installed, WheelError> {
        let read_error = |source| WheelError::ReadEntry {
            wheel: self.wheel.to_string(),
            entry: file.name.clone(),
            source,
        };
        let entry = archive
            .by_index(file.index)
            .map_err(|source| self.zip_error(source))?;
        // Read one byte past the expected size, so a longer entry is caught without reading
        // (or writing) all of it.
        let limit = file.size.unwrap_or_else(|| entry.size());
        let mut reader = entry.take(limit.saturating_add(1));
        let mut hasher = ContentHasher::new(file.algorithm);

        let installed = if file.script {
            let mut contents = Vec::new();
            reader.read_to_end(&mut contents).map_err(read_error)?;
            hasher.update(&contents);
            let digests = hasher.finish();
            self.verify(file, limit, &digests)?;
            let contents = scripts::rewrite_shebang(self.python, contents);
            tree.write_file(destination, file.mode, &contents)
                .map_err(|error| self.staging_error(error))?;
            Installed {
                hash: record::sha256_field(&contents),
                size: contents.len() as u64,
                elf: None,
            }
        } else {
            use std::io::Write as _;
            let mut output = tree
                .create_file(destination, file.mode)
                .map_err(|error| self.staging_error(error))?;
            loop {
                let read = match reader.read(buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(read_error(error)),
                };
                hasher.update(&buffer[..read]);
                output
                    .write_all(&buffer[..read])
                    .map_err(|source| WheelError::Write {
                        wheel: self.wheel.to_string(),
                        source,
                    })?;
            }
            let digests = hasher.finish();
            self.verify(file, limit, &digests)?;
            // Only the headers and the dynamic and string tables are read back.
            let elf = looks_like_shared_object(&file.name)
                .then(|| crate::elf::dynamic_info(&object::ReadCache::new(output.file())))
                .flatten();
            Installed {
                hash: format!("sha256={}", digests.sha256),
                size: digests.size,
                elf,
            }
        };
        Ok(installed)
    }

    /// Checks what was read of `file` (at most `limit` + 1 bytes) against `RECORD`.
    fn verify(
        &self,
        file: &ArchiveFile,
        limit: u64,
        hashes: &record::ContentHashes,
    ) -> Result<(), WheelError> {
        let name = &file.name;
        match file.size {
            Some(size) if size != hashes.size => {
                return Err(WheelError::SizeMismatch {
                    wheel: self.wheel.to_string(),
                    entry: name.clone(),
                    expected: size,
                    actual: hashes.size,
                });
            }
            None if hashes.size > limit => {
                return Err(WheelError::ReadEntry {
                    wheel: self.wheel.to_string(),
                    entry: name.clone(),
                    source: std::io::Error::other("the entry is larger than its zip header says"),
                });
            }
            _ => {}
        }
        if hashes.verify != file.digest {
            let algorithm = file.algorithm.name();
            return Err(WheelError::HashMismatch {
                wheel: self.wheel.to_string(),
                entry: name.clone(),
                expected: format!("{algorithm}={}", file.digest),
                actual: format!("{algorithm}={}", hashes.verify),
            });
        }
        Ok(())
    }
}

impl Runs {
    /// The plan's archive files cut into contiguous runs of about equal bytes, one per thread
    /// for a wheel of at least `min_bytes`, else one run.
    pub(super) fn cut<'p>(self, files: &[Extraction<'p>]) -> Vec<Vec<Extraction<'p>>> {
        let bytes = |(_, file): &Extraction<'_>| file.size.unwrap_or(0);
        let total: u64 = files.iter().map(bytes).sum();
        if total < self.min_bytes || self.threads < 2 {
            return vec![files.to_vec()];
        }
        let share = total.div_ceil(self.threads as u64);
        let mut runs = vec![Vec::new()];
        let mut filled = 0;
        for file in files {
            if filled >= share {
                runs.push(Vec::new());
                filled = 0;
            }
            filled += bytes(file);
            if let Some(run) = runs.last_mut() {
                run.push(*file);
            }
        }
        runs
    }
}
