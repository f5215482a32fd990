//! Unpacking a `.deb` into a root without running its maintainer scripts. The format is
//! [deb(5)]: an `ar` archive of `debian-binary` (`2.0`), `control.tar[.gz|.xz|.zst]` and
//! `data.tar[.gz|.xz|.zst]`; members whose names start with `_` are ignored.
//!
//! The archive is untrusted input, so every entry is checked before anything is written:
//!
//! 1. Its path, less a leading `./`, must be relative and free of `..`.
//! 2. Its parent directory is found one component at a time with `lstat`, never letting the
//!    kernel follow a symlink. A symlink met on the way (such as a merged-`/usr` `bin ->
//!    usr/bin`) is resolved by this code inside the root, as `chroot` would (an absolute
//!    target starts again at the root); one that leads above the root is refused, and
//!    directories are only created for components the entry itself names.
//! 3. Regular files are created with `O_EXCL` after removing what was there, so an existing
//!    symlink is replaced, never written through. Symlinks whose relative target climbs above
//!    the root and hard links to anything but a regular file inside the root are refused.
//!    Device nodes and FIFOs are skipped and noted: a container gets its `/dev` at run time.
//!
//! [deb(5)]: https://manpages.debian.org/bookworm/dpkg-dev/deb.5.en.html

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DebianError;
use super::control::paragraphs;
use crate::compression::Compression;
use crate::fs_tree::{self, Root, RootError, entry_path};
use crate::read_ahead::read_ahead;

/// The most the decompressed `control.tar` may hold: big packages have ~1 MB `md5sums`.
const MAX_CONTROL_BYTES: u64 = 64 << 20;

/// What extracting a `.deb` installed, and what its control archive says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    /// `Package`, `Version` and `Architecture` of the `control` file.
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// The `control` file as shipped: the package's full control paragraph.
    pub control: String,
    /// Every path installed, as dpkg lists them (`/.`, `/usr`, `/usr/bin/python3.11`, …),
    /// in archive order.
    pub paths: Vec<String>,
    /// The `conffiles` list: configuration files dpkg would track.
    pub conffiles: Vec<String>,
    /// The `md5sums` file, if the package has one.
    pub md5sums: Option<String>,
    /// The maintainer scripts the package has (`preinst`, `postinst`, …) by name, none of
    /// which ran; [`finish_base`](super::finish_base) reads their `update-alternatives` lines.
    pub maintainer_scripts: BTreeMap<String, String>,
    /// Entries not created, with why (device nodes, FIFOs).
    pub skipped: Vec<String>,
}

/// The control archive members that are maintainer scripts (deb-postinst(5) and friends).
const MAINTAINER_SCRIPTS: &[&str] = &["preinst", "postinst", "prerm", "postrm", "config"];

/// Extracts the data archive of `deb` into `root`, which must exist; see the module
/// documentation for what is refused.
pub fn extract(deb: &Path, root: &Path) -> Result<Extracted, DebianError> {
    let bad = |message: String| DebianError::BadDeb {
        deb: deb.to_path_buf(),
        message,
    };
    let root = Root::open(root)?;
    let mut archive = ar::Archive::new(fs_err::File::open(deb)?);
    let mut seen_version = false;
    let mut control: Option<Extracted> = None;
    let mut installed = false;
    while let Some(member) = archive.next_entry() {
        let mut member =
            member.map_err(|error| bad(format!("unreadable `ar` archive: {error}")))?;
        let name = String::from_utf8_lossy(member.header().identifier())
            .trim_end_matches(['/', ' '])
            .to_string();
        if !seen_version {
            if name != "debian-binary" {
                return Err(bad(format!(
                    "its first member is `{name}`, not `debian-binary`"
                )));
            }
            let mut version = String::new();
            (&mut member)
                .take(64)
                .read_to_string(&mut version)
                .map_err(|error| bad(format!("unreadable `debian-binary`: {error}")))?;
            if !version.starts_with("2.") {
                return Err(bad(format!(
                    "format version `{}` is not supported (only 2.x is)",
                    version.trim()
                )));
            }
            seen_version = true;
        } else if name.starts_with('_') || installed {
            // deb(5): members starting with `_` are ignored, and so is anything after data.
        } else if let Some(compression) = name.strip_prefix("control.tar") {
            if control.is_some() {
                return Err(bad("it has two control archives".to_string()));
            }
            let reader = decompressor(compression, member).map_err(&bad)?;
            control = Some(read_control(reader.take(MAX_CONTROL_BYTES)).map_err(&bad)?);
        } else if let Some(compression) = name.strip_prefix("data.tar") {
            let Some(extracted) = control.as_mut() else {
                return Err(bad(
                    "its data archive comes before its control archive".to_string()
                ));
            };
            let reader = decompressor(compression, member).map_err(&bad)?;
            let mut unpacker = Installer {
                root: root.clone(),
                package: extracted.package.clone(),
                deb: deb.to_path_buf(),
                entry: String::new(),
                extracted,
            };
            // Decompressing (xz, mostly) and creating the files take turns otherwise.
            let (done, _) = read_ahead(reader, |reader| unpacker.install(reader));
            done?;
            installed = true;
        } else {
            return Err(bad(format!("unexpected member `{name}`")));
        }
    }
    match control {
        Some(extracted) if installed => Ok(extracted),
        Some(_) => Err(bad("it has no data archive".to_string())),
        None => Err(bad("it has no control archive".to_string())),
    }
}

/// A reader that decompresses according to a member name's suffix.
fn decompressor<'a>(suffix: &str, reader: impl Read + 'a) -> Result<impl Read + 'a, String> {
    let compression = Compression::from_suffix(suffix)
        .ok_or_else(|| format!("compression `{suffix}` is not supported"))?;
    compression
        .reader(io::BufReader::new(reader))
        .map_err(|error| format!("cannot start {}: {error}", compression.name()))
}

/// Reads `control`, `conffiles`, `md5sums` and the maintainer scripts.
fn read_control(reader: impl Read) -> Result<Extracted, String> {
    let mut archive = tar::Archive::new(reader);
    let mut control = None;
    let mut conffiles = Vec::new();
    let mut md5sums = None;
    let mut scripts = BTreeMap::new();
    let entries = archive
        .entries()
        .map_err(|error| format!("unreadable control archive: {error}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| format!("unreadable control archive: {error}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = path.trim_start_matches("./").to_string();
        let wanted = matches!(name.as_str(), "control" | "conffiles" | "md5sums")
            || MAINTAINER_SCRIPTS.contains(&name.as_str());
        if !wanted {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|error| format!("unreadable control member `{name}`: {error}"))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "control" => control = Some(text),
            "conffiles" => {
                conffiles = text
                    .lines()
                    // Newer dpkg allows flags before the path (`remove-on-upgrade /etc/x`).
                    .filter_map(|line| line.split_whitespace().last())
                    .filter(|path| path.starts_with('/'))
                    .map(str::to_string)
                    .collect();
            }
            "md5sums" => md5sums = Some(text),
            _ => {
                scripts.insert(name, text);
            }
        }
    }
    let control = control.ok_or("its control archive has no `control` file")?;
    let parsed = paragraphs(&control)
        .map_err(|(line, message)| format!("its `control` file, line {line}: {message}"))?;
    let [paragraph] = parsed.as_slice() else {
        return Err("its `control` file is not one paragraph".to_string());
    };
    let field = |name: &str| {
        paragraph
            .get(name)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("its `control` file has no `{name}`"))
    };
    let package = field("Package")?;
    let architecture = field("Architecture")?;
    // The name ends up in `/var/lib/dpkg/info/<name>.list`: hold it to Policy §5.6.1.
    let valid = |text: &str, extra: &str| {
        text.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c))
    };
    if !valid(&package, "+-.") || package.starts_with(['-', '.', '+']) {
        return Err(format!("invalid package name `{package}`"));
    }
    if !valid(&architecture, "-") {
        return Err(format!("invalid architecture `{architecture}`"));
    }
    Ok(Extracted {
        version: field("Version")?,
        package,
        architecture,
        control,
        paths: Vec::new(),
        conffiles,
        md5sums,
        maintainer_scripts: scripts,
        skipped: Vec::new(),
    })
}

/// Installs the entries of one data archive.
struct Installer<'a> {
    root: Root,
    package: String,
    deb: PathBuf,
    /// The entry being installed, as the archive names it, for errors.
    entry: String,
    extracted: &'a mut Extracted,
}

impl Installer<'_> {
    fn install(&mut self, reader: impl Read) -> Result<(), DebianError> {
        let mut archive = tar::Archive::new(reader);
        let entries = archive.entries().map_err(|error| self.bad_data(&error))?;
        for entry in entries {
            let mut entry = entry.map_err(|error| self.bad_data(&error))?;
            self.entry = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            self.install_entry(&mut entry)?;
        }
        Ok(())
    }

    fn install_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), DebianError> {
        let components = self.components(&self.entry.clone())?;
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let Some((name, parents)) = components.split_last() else {
            if kind.is_dir() {
                self.extracted.paths.push("/.".to_string());
                return Ok(());
            }
            return Err(self.refuse("a file at the root itself"));
        };
        let display = format!("/{}", components.join("/"));
        match kind {
            tar::EntryType::Directory => self.directory(parents, name, mode)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.file(parents, name, mode, entry)?;
            }
            tar::EntryType::Symlink => {
                let target = self.link_target(entry)?;
                self.symlink(parents, name, &target)?;
            }
            tar::EntryType::Link => {
                let target = self.link_target(entry)?;
                let target = self.components(&target)?;
                self.hard_link(parents, name, &target)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                self.extracted.skipped.push(format!(
                    "`{display}`: a {} is not created (a container gets its devices at run time)",
                    match kind {
                        tar::EntryType::Fifo => "FIFO",
                        _ => "device node",
                    }
                ));
                return Ok(());
            }
            other => {
                return Err(self.refuse(&format!("unsupported entry type {other:?}")));
            }
        }
        self.extracted.paths.push(display);
        Ok(())
    }

    /// An archive path's components below the root; see [`entry_path::tar_entry`].
    fn components(&self, path: &str) -> Result<Vec<String>, DebianError> {
        let components = entry_path::tar_entry(path)
            .map_err(|error| self.refuse(&error.reason(&format!("`{path}`"))))?;
        Ok(components.into_iter().map(str::to_string).collect())
    }

    fn link_target<R: Read>(&self, entry: &tar::Entry<'_, R>) -> Result<String, DebianError> {
        let target = entry
            .link_name_bytes()
            .ok_or_else(|| self.refuse("a link without a target"))?;
        let target = std::str::from_utf8(&target)
            .map_err(|_| self.refuse("a link target that is not UTF-8"))?;
        if target.is_empty() {
            return Err(self.refuse("a link with an empty target"));
        }
        Ok(target.to_string())
    }

    fn directory(&self, parents: &[String], name: &str, mode: u32) -> Result<(), DebianError> {
        let path = self.resolve_directory(parents, true)?.join(name);
        match fs_err::symlink_metadata(&path) {
            Ok(metadata) if metadata.is_dir() => Ok(fs_tree::set_mode(&path, mode)?),
            // A symlink to a directory stays (merged `/usr`: `bin -> usr/bin`), as with dpkg,
            // but only one that resolves to a directory inside the root.
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let mut all = parents.to_vec();
                all.push(name.to_string());
                self.resolve_directory(&all, false).map(|_| ())
            }
            Ok(_) => Err(self.refuse(&format!(
                "`{}` is a file, but the package has a directory there",
                path.display()
            ))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                fs_err::create_dir(&path)?;
                Ok(fs_tree::set_mode(&path, mode)?)
            }
            Err(error) => Err(error.into()),
        }
    }

    fn file(
        &self,
        parents: &[String],
        name: &str,
        mode: u32,
        content: &mut impl Read,
    ) -> Result<(), DebianError> {
        let path = self.resolve_directory(parents, true)?.join(name);
        let mut file = fs_tree::create_file(&path, mode).map_err(|error| self.root_error(error))?;
        io::copy(content, &mut file)?;
        Ok(())
    }

    fn symlink(&self, parents: &[String], name: &str, target: &str) -> Result<(), DebianError> {
        let directory = self.resolve_directory(parents, true)?;
        if !target.starts_with('/') {
            // Where the link really is decides where a relative target leads.
            let mut depth = self.root.depth(&directory);
            for component in target.split('/') {
                match component {
                    "" | "." => {}
                    ".." if depth == 0 => {
                        return Err(self.refuse(&format!(
                            "its symlink target `{target}` leads outside the root"
                        )));
                    }
                    ".." => depth -= 1,
                    _ => depth += 1,
                }
            }
        }
        let path = directory.join(name);
        self.clear(&path)?;
        fs_err::os::unix::fs::symlink(target, &path)?;
        Ok(())
    }

    fn hard_link(
        &self,
        parents: &[String],
        name: &str,
        target: &[String],
    ) -> Result<(), DebianError> {
        let Some((target_name, target_parents)) = target.split_last() else {
            return Err(self.refuse("a hard link to the root"));
        };
        let source = self
            .resolve_directory(target_parents, false)?
            .join(target_name);
        match fs_err::symlink_metadata(&source) {
            Ok(metadata) if metadata.is_file() => {}
            _ => {
                return Err(self.refuse(&format!(
                    "its hard link target `/{}` is not a regular file inside the root",
                    target.join("/")
                )));
            }
        }
        let path = self.resolve_directory(parents, true)?.join(name);
        self.clear(&path)?;
        fs_err::hard_link(&source, &path)?;
        Ok(())
    }

    /// Removes a file or symlink at `path` so that a new entry can take its place.
    fn clear(&self, path: &Path) -> Result<(), DebianError> {
        fs_tree::clear(path).map_err(|error| self.root_error(error))
    }

    /// The real directory inside the root for `components`; see [`Root::directory`].
    fn resolve_directory(
        &self,
        components: &[String],
        create: bool,
    ) -> Result<PathBuf, DebianError> {
        self.root
            .directory(components, create)
            .map_err(|error| self.root_error(error))
    }

    fn root_error(&self, error: RootError) -> DebianError {
        match error {
            RootError::Refused(reason) => self.refuse(&reason),
            RootError::Io(error) => DebianError::Io(error),
        }
    }

    fn refuse(&self, reason: &str) -> DebianError {
        DebianError::UnsafeEntry {
            package: self.package.clone(),
            deb: self.deb.clone(),
            entry: self.entry.clone(),
            reason: reason.to_string(),
        }
    }

    fn bad_data(&self, error: &io::Error) -> DebianError {
        DebianError::BadDeb {
            deb: self.deb.clone(),
            message: format!("unreadable data archive: {error}"),
        }
    }
}

#[cfg(test)]
mod tests;
