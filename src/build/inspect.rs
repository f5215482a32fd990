//! What a base image from a registry offers, read from its layers without running it: the
//! interpreter (path and version), where packages go, and the glibc that decides which
//! manylinux wheels fit (PEP 600: <https://peps.python.org/pep-0600/>).
//!
//! Layers are applied bottom-up as the OCI spec describes, whiteouts included
//! (<https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md#whiteouts>), but only as
//! a map of paths: file contents are kept just for the few files that answer a question.

use std::collections::BTreeMap;
use std::io::Read;

use crate::error::Diagnostic;
use crate::fs_tree::whiteout::EntryName;
use crate::fs_tree::{PathWalk, Step, entry_path};

/// Where an interpreter is looked for, in order: python.org builds (the official `python:`
/// images) install to `/usr/local`, distributions to `/usr`.
pub(crate) const INTERPRETERS: &[&str] = &["/usr/local/bin/python3", "/usr/bin/python3"];

/// Files that answer a question are read up to this size (a big image's dpkg status is a few
/// MB, glibc's `libc.so.6` about 2 MB).
const MAX_TEXT_BYTES: u64 = 64 << 20;

/// What the image offers the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageFacts {
    /// The interpreter's path as looked up (`/usr/local/bin/python3`).
    pub(crate) python: String,
    /// `3.11.9`, or `3.11` when the image does not say.
    pub(crate) python_version: String,
    /// `/usr/local`: scripts go to `<prefix>/bin`.
    pub(crate) prefix: String,
    pub(crate) site_packages: String,
    pub(crate) glibc: (u16, u16),
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(
        "the base image `{image}` has no Python: none of {} is in it",
        looked_for(INTERPRETERS)
    )]
    NoPython { image: String },
    #[error(
        "the base image `{image}` has `{interpreter}`, but mlpack cannot tell its version (it resolves to `{resolved}`, and no single `lib/python3.X` directory is beside it)"
    )]
    UnknownPythonVersion {
        image: String,
        interpreter: String,
        resolved: String,
    },
    #[error(
        "the base image `{image}` uses musl (`{loader}`); musllinux wheels are not supported yet"
    )]
    Musl { image: String, loader: String },
    #[error("the base image `{image}` has no glibc: no `libc.so.6` whose version mlpack can read")]
    NoGlibc { image: String },
    #[error("could not read layer {layer} of the base image `{image}`")]
    Read {
        image: String,
        layer: String,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for InspectError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::NoPython { .. } | Self::UnknownPythonVersion { .. } => vec![
                "use an image with CPython 3 at `/usr/local/bin/python3` or `/usr/bin/python3`, like `python:3.11-slim`".to_string(),
            ],
            Self::Musl { .. } | Self::NoGlibc { .. } => vec![
                "use a glibc-based image, like `python:3.11-slim` (Debian) instead of `python:3.11-alpine`".to_string(),
            ],
            Self::Read { .. } => Vec::new(),
        }
    }
}

fn looked_for(paths: &[&str]) -> String {
    paths
        .iter()
        .map(|path| format!("`{path}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One path of the image, as the layers so far leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Directory,
    File {
        /// The text of a file that answers a question (see [`keeps_text`]).
        text: Option<String>,
        /// The glibc version a `libc.so.6` names.
        glibc: Option<(u16, u16)>,
    },
    Symlink(String),
    Other,
}

/// The image's file tree, as paths relative to `/` without a trailing `/`.
#[derive(Debug, Default)]
pub(crate) struct ImageTree {
    nodes: BTreeMap<String, Node>,
}

/// What one tar entry does to the tree.
enum Change {
    Add(String, Node),
    /// A hard link to a path of the image (this layer's or a lower one's).
    Link(String, String),
    /// `.wh.<name>`: the path and everything under it are gone.
    Delete(String),
    /// `.wh..wh..opq`: the directory keeps only what this layer puts in it.
    Opaque(String),
}

impl ImageTree {
    /// Apply one layer's uncompressed tar on top of the tree.
    pub(crate) fn apply_layer(&mut self, reader: impl Read) -> std::io::Result<()> {
        let mut archive = tar::Archive::new(reader);
        let mut changes = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let Some(path) = normalize(&entry.path()?.to_string_lossy()) else {
                continue;
            };
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            match EntryName::parse(name) {
                EntryName::Plain(_) => {}
                EntryName::Deletes(deleted) => {
                    changes.push(Change::Delete(join(parent, deleted)));
                    continue;
                }
                EntryName::Opaque => {
                    changes.push(Change::Opaque(parent.to_string()));
                    continue;
                }
                EntryName::AufsMetadata => continue,
            }
            let kind = entry.header().entry_type();
            let link = || {
                entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|link| link.to_string_lossy().into_owned())
            };
            let change = if kind.is_dir() {
                Change::Add(path, Node::Directory)
            } else if kind.is_symlink() {
                Change::Add(path, Node::Symlink(link().unwrap_or_default()))
            } else if kind.is_hard_link() {
                match link().as_deref().and_then(normalize) {
                    Some(target) => Change::Link(path, target),
                    None => continue,
                }
            } else if kind.is_file() || kind == tar::EntryType::Continuous {
                let node = read_file(&path, &mut entry)?;
                Change::Add(path, node)
            } else {
                Change::Add(path, Node::Other)
            };
            changes.push(change);
        }
        // Whiteouts hide what the layers below have, whatever their place in this tar.
        for change in &changes {
            match change {
                Change::Delete(path) => self.remove_tree(path, true),
                Change::Opaque(path) => self.remove_tree(path, false),
                _ => {}
            }
        }
        for change in changes {
            match change {
                Change::Add(path, node) => {
                    self.nodes.insert(path, node);
                }
                Change::Link(path, target) => {
                    if let Some(node) = self.nodes.get(&target).cloned() {
                        self.nodes.insert(path, node);
                    }
                }
                Change::Delete(_) | Change::Opaque(_) => {}
            }
        }
        Ok(())
    }

    /// Remove everything under `path`, and `path` itself when `itself`.
    fn remove_tree(&mut self, path: &str, itself: bool) {
        if itself {
            self.nodes.remove(path);
        }
        let (start, end) = if path.is_empty() {
            (String::new(), String::from("\u{10ffff}"))
        } else {
            // Everything starting with `path/`: `/` is followed by `0` in ASCII.
            (format!("{path}/"), format!("{path}0"))
        };
        let doomed: Vec<String> = self
            .nodes
            .range(start..end)
            .map(|(key, _)| key.clone())
            .collect();
        for key in doomed {
            self.nodes.remove(&key);
        }
    }

    /// The path `path` names after following symlinks inside the image, if it exists and is
    /// not a symlink. Directories the tar never listed count as present.
    fn resolve(&self, path: &str) -> Option<String> {
        let mut walk = PathWalk::new(path.split('/'));
        let mut resolved: Vec<String> = Vec::new();
        while let Some(step) = walk.next_step() {
            let Step::Name { name, .. } = step else {
                // `..` at the root stays there, as in `chroot`.
                resolved.pop();
                continue;
            };
            let candidate = join(&resolved.join("/"), &name);
            match self.nodes.get(&candidate) {
                Some(Node::Symlink(target)) => {
                    if walk.follow(target).ok()? {
                        resolved.clear();
                    }
                }
                None if walk.is_done() => return None,
                _ => resolved.push(name),
            }
        }
        Some(resolved.join("/"))
    }

    fn file(&self, path: &str) -> Option<&Node> {
        self.nodes
            .get(path)
            .filter(|node| matches!(node, Node::File { .. }))
    }

    fn text(&self, path: &str) -> Option<&str> {
        match self.nodes.get(path) {
            Some(Node::File {
                text: Some(text), ..
            }) => Some(text),
            _ => None,
        }
    }

    /// The text of the file at `path` (relative to `/`, symlinks followed), if the tree kept
    /// it (see [`keeps_text`]).
    pub(crate) fn text_at(&self, path: &str) -> Option<&str> {
        self.text(&self.resolve(path)?)
    }

    /// Where the symlink at `path` points, if `path` is one.
    pub(crate) fn link_target(&self, path: &str) -> Option<&str> {
        match self.nodes.get(path) {
            Some(Node::Symlink(target)) => Some(target),
            _ => None,
        }
    }

    /// The file names the dynamic loader finds without help from the executable: those in
    /// its default directories (`[usr/]lib`, `[usr/]lib64`, their `triplet` subdirectory),
    /// `/usr/local/lib`, and the directories `/etc/ld.so.conf` and `ld.so.conf.d/*.conf`
    /// list (which an image's `ld.so.cache` covers). Dangling symlinks do not count.
    pub(crate) fn library_names(&self, triplet: &str) -> std::collections::BTreeSet<String> {
        let mut directories: Vec<String> = ["lib", "usr/lib", "lib64", "usr/lib64"]
            .iter()
            .flat_map(|dir| [(*dir).to_string(), format!("{dir}/{triplet}")])
            .chain(["usr/local/lib".to_string()])
            .collect();
        let configured = self
            .nodes
            .range("etc/ld.so.conf".to_string().."etc/ld.so.conf/".to_string())
            .filter_map(|(path, _)| self.text(path))
            .flat_map(str::lines)
            .map(str::trim)
            .filter(|line| line.starts_with('/'));
        directories.extend(configured.filter_map(normalize));
        let mut names = std::collections::BTreeSet::new();
        for directory in directories {
            // A directory the tar never listed is there if files are in it.
            let real = self.resolve(&directory).unwrap_or(directory);
            let prefix = format!("{real}/");
            let children = self
                .nodes
                .range(prefix.clone()..format!("{real}0"))
                .filter_map(|(path, _)| path.strip_prefix(&prefix))
                .filter(|name| !name.contains('/'));
            for name in children {
                let path = format!("{prefix}{name}");
                if self
                    .resolve(&path)
                    .is_some_and(|target| self.file(&target).is_some())
                {
                    names.insert(name.to_string());
                }
            }
        }
        names
    }

    /// Everything the build needs to know about the image `image` (named in errors).
    pub(crate) fn facts(&self, image: &str) -> Result<ImageFacts, InspectError> {
        let (python, resolved) = INTERPRETERS
            .iter()
            .find_map(|python| {
                let resolved = self.resolve(python)?;
                self.file(&resolved)?;
                Some(((*python).to_string(), resolved))
            })
            .ok_or_else(|| InspectError::NoPython {
                image: image.to_string(),
            })?;
        // `…/bin/python3.11` → the prefix `…`, whose `lib/python3.11` is the standard library.
        let (directory, name) = resolved.rsplit_once('/').unwrap_or(("", &resolved));
        let prefix = directory.strip_suffix("/bin").unwrap_or(directory);
        let minor = name
            .strip_prefix("python3.")
            .and_then(|rest| rest.parse::<u16>().ok())
            .or_else(|| self.only_library_version(prefix))
            .ok_or_else(|| InspectError::UnknownPythonVersion {
                image: image.to_string(),
                interpreter: python.clone(),
                resolved: format!("/{resolved}"),
            })?;
        let glibc = self.glibc(image)?;
        let short = format!("3.{minor}");
        let python_version = self
            .patch_level(prefix, &short)
            .unwrap_or_else(|| short.clone());
        let (prefix, site_packages) =
            if prefix == "usr" && self.file("etc/debian_version").is_some() {
                // Debian's interpreter reads `/usr/local/lib/python3/dist-packages`'s versioned
                // twin, where `pip install` as root puts packages (`posix_local`).
                (
                    "/usr/local".to_string(),
                    format!("/usr/local/lib/python{short}/dist-packages"),
                )
            } else {
                (
                    format!("/{prefix}"),
                    format!("/{prefix}/lib/python{short}/site-packages"),
                )
            };
        Ok(ImageFacts {
            python,
            python_version,
            prefix,
            site_packages,
            glibc,
        })
    }

    /// The minor version of the one `<prefix>/lib/python3.X/os.py` there is.
    fn only_library_version(&self, prefix: &str) -> Option<u16> {
        let start = format!("{prefix}/lib/python3.");
        let versions: Vec<u16> = self
            .nodes
            .range(start.clone()..)
            .take_while(|(path, _)| path.starts_with(&start))
            .filter_map(|(path, _)| {
                let (minor, rest) = path[start.len()..].split_once('/')?;
                (rest == "os.py").then(|| minor.parse().ok())?
            })
            .collect();
        match versions.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    /// The exact version: `PY_VERSION` from the headers (python.org builds ship them), else
    /// the `python3.X` package dpkg knows (Debian's own interpreter).
    fn patch_level(&self, prefix: &str, short: &str) -> Option<String> {
        let header = format!("{prefix}/include/python{short}/patchlevel.h");
        let from_header = self.text(&header).and_then(|text| {
            text.lines().find_map(|line| {
                let rest = line.trim().strip_prefix("#define")?.trim();
                let value = rest.strip_prefix("PY_VERSION")?.trim();
                Some(value.trim_matches('"').trim_end_matches('+').to_string())
            })
        });
        let from_dpkg = || {
            let status = self.text("var/lib/dpkg/status")?;
            let package = format!("python{short}");
            status.split("\n\n").find_map(|paragraph| {
                let field = |name: &str| {
                    paragraph
                        .lines()
                        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                        .map(str::trim)
                };
                if field("Package")? != package {
                    return None;
                }
                let version = field("Version")?;
                let version = version.split_once(':').map_or(version, |(_, rest)| rest);
                Some(version.split(['-', '+', '~']).next()?.to_string())
            })
        };
        from_header
            .or_else(from_dpkg)
            .filter(|version| version.starts_with(&format!("{short}.")))
    }

    /// The glibc version, from the `libc.so.6` of the image's own architecture when there
    /// are several; musl is named in the error.
    fn glibc(&self, image: &str) -> Result<(u16, u16), InspectError> {
        let mut candidates: Vec<&String> = self
            .nodes
            .keys()
            .filter(|path| path.rsplit('/').next() == Some("libc.so.6"))
            .collect();
        candidates.sort_by_key(|path| (!path.contains("-linux-gnu/"), !path.contains("lib64/")));
        for candidate in candidates {
            let Some(resolved) = self.resolve(candidate) else {
                continue;
            };
            let name = resolved.rsplit('/').next().unwrap_or_default();
            if let Some(version) = versioned_libc_name(name) {
                return Ok(version);
            }
            if let Some(Node::File {
                glibc: Some(version),
                ..
            }) = self.nodes.get(&resolved)
            {
                return Ok(*version);
            }
        }
        if let Some(loader) = self.nodes.keys().find(|path| {
            let name = path.rsplit('/').next().unwrap_or_default();
            name.starts_with("ld-musl-") || name.starts_with("libc.musl-")
        }) {
            return Err(InspectError::Musl {
                image: image.to_string(),
                loader: format!("/{loader}"),
            });
        }
        Err(InspectError::NoGlibc {
            image: image.to_string(),
        })
    }
}

/// Whether a file's text answers a question the facts ask.
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "`ldconfig` reads `*.conf` only"
)]
fn keeps_text(path: &str) -> bool {
    path == "etc/debian_version"
        || path == "var/lib/dpkg/status"
        || path == "etc/ld.so.conf"
        || path == "etc/os-release"
        || path == "usr/lib/os-release"
        || (path.starts_with("etc/ld.so.conf.d/") && path.ends_with(".conf"))
        || (path.ends_with("/patchlevel.h") && path.contains("/include/python3."))
}

/// Whether a file may be glibc's `libc.so.6` (or the `libc-2.31.so` it links to).
fn may_be_libc(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name == "libc.so.6" || versioned_libc_name(name).is_some()
}

fn read_file(path: &str, entry: &mut impl Read) -> std::io::Result<Node> {
    let mut text = None;
    let mut glibc = None;
    if keeps_text(path) {
        let mut bytes = Vec::new();
        entry.take(MAX_TEXT_BYTES).read_to_end(&mut bytes)?;
        text = Some(String::from_utf8_lossy(&bytes).into_owned());
    } else if may_be_libc(path) {
        let mut bytes = Vec::new();
        entry.take(MAX_TEXT_BYTES).read_to_end(&mut bytes)?;
        glibc = glibc_in(&bytes);
    }
    Ok(Node::File { text, glibc })
}

/// `libc-2.31.so` → `(2, 31)`: glibc before 2.34 named the library by its version.
fn versioned_libc_name(name: &str) -> Option<(u16, u16)> {
    let version = name.strip_prefix("libc-")?.strip_suffix(".so")?;
    parse_version(version)
}

/// The version glibc's banner names (`GNU C Library (Debian GLIBC 2.36-9) stable release
/// version 2.36.`), else the newest `GLIBC_2.N` symbol version it defines.
pub(crate) fn glibc_in(bytes: &[u8]) -> Option<(u16, u16)> {
    if let Some(start) = find(bytes, b"GNU C Library") {
        let banner = &bytes[start..bytes.len().min(start + 256)];
        let banner = banner.split(|byte| *byte == 0).next().unwrap_or(banner);
        let banner = String::from_utf8_lossy(banner);
        if let Some(version) = banner
            .split_once("version ")
            .and_then(|(_, rest)| parse_version(rest))
        {
            return Some(version);
        }
    }
    let mut newest = None;
    let mut rest = bytes;
    while let Some(at) = find(rest, b"GLIBC_2.") {
        let tail = &rest[at + b"GLIBC_".len()..];
        let end = tail
            .iter()
            .position(|byte| !byte.is_ascii_digit() && *byte != b'.')
            .unwrap_or(tail.len());
        if let Some(version) = parse_version(&String::from_utf8_lossy(&tail[..end])) {
            newest = newest.max(Some(version));
        }
        rest = tail;
    }
    newest
}

/// `2.36`, `2.36.`, `2.2.5` → `(2, 36)`, `(2, 36)`, `(2, 2)`.
fn parse_version(text: &str) -> Option<(u16, u16)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A tar path as a key: no leading `/` or `./`, no `.` components, no trailing `/`; `None` for
/// the root itself or a path that climbs out with `..` (see [`entry_path::components`]).
fn normalize(path: &str) -> Option<String> {
    let parts = entry_path::components(path).ok()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry of a synthetic layer.
    enum Entry<'a> {
        Dir(&'a str),
        File(&'a str, &'a [u8]),
        Link(&'a str, &'a str),
        HardLink(&'a str, &'a str),
    }

    fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o755);
            match entry {
                Entry::Dir(path) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, path, std::io::empty())
                        .unwrap();
                }
                Entry::File(path, bytes) => {
                    header.set_size(bytes.len() as u64);
                    builder.append_data(&mut header, path, *bytes).unwrap();
                }
                Entry::Link(path, target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).unwrap();
                }
                Entry::HardLink(path, target) => {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    fn tree(layers: &[Vec<u8>]) -> ImageTree {
        let mut tree = ImageTree::default();
        for bytes in layers {
            tree.apply_layer(&bytes[..]).unwrap();
        }
        tree
    }

    const LIBC: &[u8] = b"\x7fELF....GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.36\0GLIBC_PRIVATE\0GNU C Library (Debian GLIBC 2.36-9+deb12u7) stable release version 2.36.\nCopyright";

    /// A merged-`/usr` Debian root: `/lib` is a link, glibc 2.36.
    fn debian_root() -> Vec<u8> {
        layer(&[
            Entry::Link("lib", "usr/lib"),
            Entry::Dir("usr/lib/x86_64-linux-gnu/"),
            Entry::File("usr/lib/x86_64-linux-gnu/libc.so.6", LIBC),
            Entry::File("etc/debian_version", b"12.7\n"),
        ])
    }

    #[test]
    fn the_loader_finds_libraries_in_its_directories_and_ld_so_conf_ones() {
        let upper = layer(&[
            Entry::Link("usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13"),
            Entry::File("usr/lib/x86_64-linux-gnu/libz.so.1.2.13", b"\x7fELF"),
            Entry::Link("usr/lib/x86_64-linux-gnu/libgone.so.1", "nowhere.so"),
            Entry::File("usr/lib/x86_64-linux-gnu/deeper/libhidden.so.1", b""),
            Entry::File("usr/local/lib/libpython3.11.so.1.0", b""),
            Entry::File("opt/cuda/lib64/libcudart.so.12", b""),
            Entry::File("opt/other/libnot.so.1", b""),
            Entry::File("etc/ld.so.conf.d/cuda.conf", b"# CUDA\n/opt/cuda/lib64\n"),
            Entry::File("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
        ]);
        let names = tree(&[debian_root(), upper]).library_names("x86_64-linux-gnu");
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "libc.so.6",
                "libcudart.so.12",
                "libpython3.11.so.1.0",
                "libz.so.1",
                "libz.so.1.2.13"
            ]
        );
    }

    #[test]
    fn a_python_org_build_in_usr_local() {
        let python = layer(&[
            Entry::File("usr/local/bin/python3.11", b"\x7fELF"),
            Entry::Link("usr/local/bin/python3", "python3.11"),
            Entry::File(
                "usr/local/include/python3.11/patchlevel.h",
                b"#define PY_MINOR_VERSION        11\n#define PY_VERSION              \"3.11.9\"\n",
            ),
            Entry::Dir("usr/local/lib/python3.11/site-packages/"),
        ]);
        let facts = tree(&[debian_root(), python]).facts("python:3.11").unwrap();
        assert_eq!(
            facts,
            ImageFacts {
                python: "/usr/local/bin/python3".to_string(),
                python_version: "3.11.9".to_string(),
                prefix: "/usr/local".to_string(),
                site_packages: "/usr/local/lib/python3.11/site-packages".to_string(),
                glibc: (2, 36),
            }
        );
    }

    #[test]
    fn debians_own_python_uses_dist_packages() {
        let python = layer(&[
            Entry::File("usr/bin/python3.11", b"\x7fELF"),
            Entry::Link("usr/bin/python3", "python3.11"),
            Entry::File(
                "var/lib/dpkg/status",
                b"Package: python3.11\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u6\n\nPackage: python3\nVersion: 3.11.2-1+b1\n",
            ),
        ]);
        let facts = tree(&[debian_root(), python]).facts("team/py").unwrap();
        assert_eq!(facts.python, "/usr/bin/python3");
        assert_eq!(facts.python_version, "3.11.2");
        assert_eq!(facts.prefix, "/usr/local");
        assert_eq!(
            facts.site_packages,
            "/usr/local/lib/python3.11/dist-packages"
        );
    }

    #[test]
    fn a_link_through_the_usr_merge_and_a_version_from_the_library() {
        // `/usr/bin` reached through `/bin`, an absolute link, a name without the minor,
        // and no patch level anywhere.
        let python = layer(&[
            Entry::Link("bin", "usr/bin"),
            Entry::File("usr/bin/python3-real", b"\x7fELF"),
            Entry::Link("usr/bin/python3", "/bin/python3-real"),
            Entry::File("usr/lib/python3.12/os.py", b""),
        ]);
        let base = layer(&[
            Entry::Dir("usr/lib64/"),
            Entry::File("usr/lib64/libc-2.31.so", b"\x7fELF"),
            Entry::Link("usr/lib64/libc.so.6", "libc-2.31.so"),
        ]);
        let facts = tree(&[base, python]).facts("fedora-like").unwrap();
        assert_eq!(facts.python, "/usr/bin/python3");
        assert_eq!(facts.python_version, "3.12");
        assert_eq!(facts.prefix, "/usr");
        assert_eq!(facts.site_packages, "/usr/lib/python3.12/site-packages");
        assert_eq!(facts.glibc, (2, 31));
    }

    #[test]
    fn whiteouts_delete_what_lower_layers_had() {
        let python = layer(&[
            Entry::File("usr/local/bin/python3.11", b"\x7fELF"),
            Entry::Link("usr/local/bin/python3", "python3.11"),
            Entry::File("usr/bin/python3.11", b"\x7fELF"),
            Entry::Link("usr/bin/python3", "python3.11"),
        ]);
        // The upper layer removes python.org's build, then replaces all of `/usr/bin`.
        let removal = layer(&[
            Entry::File("usr/local/.wh.bin", b""),
            Entry::File("usr/bin/.wh..wh..opq", b""),
            Entry::File("usr/bin/python3.13", b"\x7fELF"),
            Entry::HardLink("usr/bin/python3", "usr/bin/python3.13"),
            Entry::File("usr/lib/python3.13/os.py", b""),
        ]);
        let facts = tree(&[debian_root(), python.clone(), removal])
            .facts("slimmed")
            .unwrap();
        assert_eq!(facts.python, "/usr/bin/python3");
        assert_eq!(facts.python_version, "3.13");
        let gone = layer(&[Entry::File("usr/bin/.wh.python3", b"")]);
        let tree = tree(&[debian_root(), python, gone]);
        assert_eq!(
            tree.facts("x").unwrap().python,
            "/usr/local/bin/python3",
            "the other interpreter is still there"
        );
    }

    #[test]
    fn no_python_and_musl_are_clear_errors() {
        let error = tree(&[debian_root()])
            .facts("debian:bookworm-slim")
            .unwrap_err();
        insta::assert_snapshot!(error, @"the base image `debian:bookworm-slim` has no Python: none of `/usr/local/bin/python3`, `/usr/bin/python3` is in it");
        insta::assert_snapshot!(error.hints().join("\n"), @"use an image with CPython 3 at `/usr/local/bin/python3` or `/usr/bin/python3`, like `python:3.11-slim`");
        // A dangling link is no interpreter either.
        let dangling = layer(&[Entry::Link("usr/bin/python3", "python3.11")]);
        assert!(matches!(
            tree(&[debian_root(), dangling]).facts("x"),
            Err(InspectError::NoPython { .. })
        ));

        let alpine = layer(&[
            Entry::File("lib/ld-musl-x86_64.so.1", b"\x7fELF"),
            Entry::Link("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
            Entry::File("usr/local/bin/python3.11", b"\x7fELF"),
            Entry::Link("usr/local/bin/python3", "python3.11"),
        ]);
        let error = tree(&[alpine]).facts("python:3.11-alpine").unwrap_err();
        insta::assert_snapshot!(error, @"the base image `python:3.11-alpine` uses musl (`/lib/ld-musl-x86_64.so.1`); musllinux wheels are not supported yet");
        let static_python = layer(&[
            Entry::File("usr/bin/python3.11", b"\x7fELF"),
            Entry::Link("usr/bin/python3", "python3.11"),
        ]);
        let error = tree(&[static_python]).facts("static").unwrap_err();
        insta::assert_snapshot!(error, @"the base image `static` has no glibc: no `libc.so.6` whose version mlpack can read");
    }

    #[test]
    fn glibc_versions_from_the_banner_or_the_symbols() {
        assert_eq!(glibc_in(LIBC), Some((2, 36)));
        assert_eq!(
            glibc_in(b"GLIBC_2.17\0GLIBC_2.28\0GLIBC_2.3.4\0GLIBC_PRIVATE"),
            Some((2, 28))
        );
        assert_eq!(glibc_in(b"nothing here"), None);
        assert_eq!(versioned_libc_name("libc-2.31.so"), Some((2, 31)));
        assert_eq!(versioned_libc_name("libc.so.6"), None);
    }
}
