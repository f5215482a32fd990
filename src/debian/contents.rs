//! Which Debian package ships a shared library, from the suite's `Contents-<arch>` index
//! ([Debian repository format]), verified like the `Packages` index: its sha256 comes from
//! the signed `InRelease`.
//!
//! Each line of the index is `<path> <section>/<package>[,<section>/<package>…]`, with the
//! path relative to `/` and symlinks listed too (`usr/lib/x86_64-linux-gnu/libGL.so.1
//! libs/libgl1`), so a soname is looked up by file name. Only the directories the dynamic
//! loader searches without an `ld.so.cache` are kept: `lib`, `usr/lib` and their multiarch
//! subdirectory (Debian's glibc has all four built in); a library elsewhere would not be
//! found by the images mlpack builds, so it does not count as shipped.
//!
//! [Debian repository format]: https://wiki.debian.org/DebianRepository/Format#A.22Contents.22_indices

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::fetch::{
    SignedRelease, blocking, cached_index_file, remove_stale_indexes, signed_release,
};
use super::{DebianError, Suite};
use crate::compression::Compression;

/// The shared libraries a suite ships, by file name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LibraryIndex {
    /// `libGL.so.1` → `{libgl1}`.
    packages: BTreeMap<String, BTreeSet<String>>,
}

impl LibraryIndex {
    /// The package to install for `soname`, if the suite ships it in a loader directory.
    /// Several packages may ship one name (`libgdc.so.0`: two builds of one library); the
    /// choice is deterministic: a runtime package before a `-dev`/`-dbg` one (whose files
    /// are meant for linking or debugging), then the shortest name (`libfoo1` before
    /// `libfoo1-extra`), then by name.
    pub fn package_for(&self, soname: &str) -> Option<&str> {
        self.packages
            .get(soname)?
            .iter()
            .min_by_key(|name| (is_development(name), name.len(), name.as_str()))
            .map(String::as_str)
    }

    /// Parse the text of a `Contents` index for `triplet` (`x86_64-linux-gnu`), keeping only
    /// libraries in loader directories.
    pub(crate) fn parse(mut reader: impl BufRead, triplet: &str) -> std::io::Result<Self> {
        let mut index = Self::default();
        // One buffer for all 1.6 million lines of bookworm's amd64 index, most of which the
        // prefix test drops.
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            if !(line.starts_with("usr/lib/") || line.starts_with("lib/")) {
                continue;
            }
            let line = line.trim_end();
            let Some((path, locations)) = line.rsplit_once(|c: char| c.is_ascii_whitespace())
            else {
                continue;
            };
            let Some(name) = library_name(path.trim_end(), triplet) else {
                continue;
            };
            let packages = index.packages.entry(name.to_string()).or_default();
            // `libs/libgl1`, or `non-free/libs/nvidia` outside `main`: the package is last.
            packages.extend(
                locations
                    .split(',')
                    .filter_map(|location| location.rsplit('/').next())
                    .filter(|package| !package.is_empty())
                    .map(str::to_string),
            );
        }
        Ok(index)
    }
}

/// The file name of `path` when it is a shared library in a directory the loader searches
/// by default: `[usr/]lib/<name>` or `[usr/]lib/<triplet>/<name>`.
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "the loader matches names exactly"
)]
fn library_name<'a>(path: &'a str, triplet: &str) -> Option<&'a str> {
    let path = path.strip_prefix("usr/").unwrap_or(path);
    let rest = path.strip_prefix("lib/")?;
    let name = rest
        .strip_prefix(triplet)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(rest);
    let looks_like_library = name.ends_with(".so") || name.contains(".so.");
    (!name.contains('/') && looks_like_library).then_some(name)
}

fn is_development(package: &str) -> bool {
    ["-dev", "-dbg", "-dbgsym"]
        .iter()
        .any(|suffix| package.ends_with(suffix))
}

/// The suite's library index from `main/Contents-<arch>.gz`, checked against the signed
/// `InRelease` and cached by sha256 beside the `Packages` index.
pub async fn fetch_library_index(
    http: &reqwest::Client,
    suite: &Suite,
    cache_dir: &Path,
) -> Result<LibraryIndex, DebianError> {
    let SignedRelease {
        directory,
        url: release_url,
        release,
        ..
    } = signed_release(http, suite, cache_dir).await?;
    let path = format!("main/Contents-{}.gz", suite.arch.debian());
    let entry = release
        .files
        .get(&path)
        .cloned()
        .ok_or_else(|| DebianError::BadRelease {
            url: release_url.clone(),
            message: format!(
                "it lists no `{path}`, so mlpack cannot tell which package ships a library"
            ),
        })?;
    let url = suite.dists_url(&path);
    let cached = directory.join(format!(
        "Contents-{}-{}.gz",
        suite.arch.debian(),
        entry.sha256
    ));
    let authority = format!("the signed `{release_url}` (dated {})", release.date);
    cached_index_file(http, &url, &entry, &cached, &authority).await?;
    remove_stale_indexes(
        &directory,
        &cached,
        &format!("Contents-{}-", suite.arch.debian()),
    );
    let triplet = suite.triplet().to_string();
    blocking(move || {
        let file = fs_err::File::open(&cached)?;
        let reader = BufReader::new(Compression::Gzip.reader(BufReader::new(file))?);
        LibraryIndex::parse(reader, &triplet).map_err(|error| DebianError::BadIndex {
            url,
            line: 0,
            message: format!("cannot read it: {error}"),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as bookworm's `Contents-amd64` has them (whitespace included).
    const CONTENTS: &str = "\
usr/lib/gcc/x86_64-linux-gnu/12/libgomp.so              libdevel/libgcc-12-dev
usr/lib/x86_64-linux-gnu/libGL.so                       libs/libgl-dev
usr/lib/x86_64-linux-gnu/libGL.so.1                     libs/libgl1
usr/lib/x86_64-linux-gnu/libGL.so.1.7.0                 libs/libgl1
usr/lib/x86_64-linux-gnu/libgomp.so.1                   libs/libgomp1
usr/lib/x86_64-linux-gnu/primus/libGL.so.1              utils/primus-libs
usr/lib32/libgomp.so.1                                  libs/lib32gomp1
lib/x86_64-linux-gnu/libz.so.1                          libs/zlib1g
usr/lib/libgdc.so.0                                     libs/libgdchart-gd2-xpm,libs/libgdchart-gd2-noxpm
usr/lib/x86_64-linux-gnu/libcuda.so.1                   non-free/libs/libcuda1
usr/lib/x86_64-linux-gnu/libfoo.so.2                    libdevel/libfoo-dev,libs/libfoo2-extra,libs/libfoo2
usr/share/doc/libgl1/copyright                          libs/libgl1
bin/true.so.1 utils/odd
garbage-without-a-package
";

    fn index() -> LibraryIndex {
        LibraryIndex::parse(CONTENTS.as_bytes(), "x86_64-linux-gnu").unwrap()
    }

    #[test]
    fn sonames_map_to_the_packages_that_ship_them_in_loader_directories() {
        let index = index();
        assert_eq!(index.package_for("libGL.so.1"), Some("libgl1"));
        assert_eq!(index.package_for("libgomp.so.1"), Some("libgomp1"));
        // Merged `/usr`: `lib/<triplet>` is `usr/lib/<triplet>`.
        assert_eq!(index.package_for("libz.so.1"), Some("zlib1g"));
        assert_eq!(index.package_for("libcuda.so.1"), Some("libcuda1"));
        // Outside the loader's directories: not shipped, as far as an image can tell.
        assert_eq!(index.package_for("libgomp.so"), None);
        assert_eq!(index.package_for("copyright"), None);
        assert_eq!(index.package_for("true.so.1"), None);
    }

    #[test]
    fn a_name_several_packages_ship_resolves_the_same_way_every_time() {
        let index = index();
        assert_eq!(index.package_for("libgdc.so.0"), Some("libgdchart-gd2-xpm"));
        assert_eq!(index.package_for("libfoo.so.2"), Some("libfoo2"));
        assert_eq!(index.package_for("libGL.so"), Some("libgl-dev"));
    }
}
