//! A suite's `Packages` index ([Debian repository format]): one control paragraph per binary
//! package, naming its pool file, size and sha256 and its relationships. The index is read
//! only after its own sha256 was checked against the signed `Release` file, so what it says
//! about each `.deb` can be trusted in turn.
//!
//! [Debian repository format]: https://wiki.debian.org/DebianRepository/Format#A.22Packages.22_Indices

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::DebianError;
use super::control::{Paragraph, paragraphs};
use super::relation::{Group, Relation, parse_provides, parse_relations};
use super::version::DebianVersion;

/// One binary package of the index, with the fields a base build needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The pool path, relative to the mirror (`pool/main/b/bash/bash_5.2.15-2+b7_amd64.deb`).
    pub filename: String,
    /// Lowercase hex.
    pub sha256: String,
    pub size: u64,
    pub depends: String,
    pub pre_depends: String,
    pub provides: String,
    pub essential: bool,
    pub priority: String,
    pub multi_arch: String,
    pub source: String,
    pub section: String,
    /// In KiB, as dpkg counts it.
    pub installed_size: Option<u64>,
    /// The synopsis: the first line of `Description`.
    pub description: String,
    pub maintainer: String,
}

/// What the index knows about one package beyond its fields: parsed version and relations.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) package: DebPackage,
    pub(crate) version: DebianVersion,
    /// `Pre-Depends` groups first, then `Depends`.
    pub(crate) dependencies: Vec<Group>,
    pub(crate) provides: Vec<Relation>,
}

/// A parsed `Packages` index.
#[derive(Debug)]
pub struct PackageIndex {
    pub(crate) suite: String,
    /// The `Date` of the signed `Release` text the index came from.
    pub(crate) date: String,
    /// The fingerprint of the key whose signature on `InRelease` was verified.
    pub(crate) signer: String,
    pub(crate) entries: Vec<Entry>,
    /// Indexes into `entries` by package name, highest version first.
    pub(crate) by_name: HashMap<String, Vec<usize>>,
    /// Indexes into `entries` of the packages that provide a name, in index order.
    pub(crate) providers: HashMap<String, Vec<usize>>,
}

impl PackageIndex {
    /// Parses the text of a `Packages` file. `source` (a URL or path) and `suite` name it in
    /// errors.
    pub(crate) fn parse(text: &str, source: &str, suite: &str) -> Result<Self, DebianError> {
        let bad = |line: usize, message: String| DebianError::BadIndex {
            url: source.to_string(),
            line,
            message,
        };
        let mut entries = Vec::new();
        for paragraph in paragraphs(text).map_err(|(line, message)| bad(line, message))? {
            entries.push(parse_entry(&paragraph).map_err(|message| bad(paragraph.line, message))?);
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut providers: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            by_name
                .entry(entry.package.name.clone())
                .or_default()
                .push(index);
            for provided in &entry.provides {
                let list = providers.entry(provided.name.clone()).or_default();
                if !list.contains(&index) {
                    list.push(index);
                }
            }
        }
        for indexes in by_name.values_mut() {
            // Highest version first; index order breaks ties, so the result is deterministic.
            indexes.sort_by(|a, b| entries[*b].version.cmp(&entries[*a].version).then(a.cmp(b)));
        }
        Ok(Self {
            suite: suite.to_string(),
            date: String::new(),
            signer: String::new(),
            entries,
            by_name,
            providers,
        })
    }

    /// The highest version of the package called `name`.
    pub fn get(&self, name: &str) -> Option<&DebPackage> {
        let index = *self.by_name.get(name)?.first()?;
        Some(&self.entries[index].package)
    }

    /// The `Date` of the signed `Release` text the index came from (`Sat, 11 Jul 2026
    /// 10:16:37 UTC`): when the suite was last updated.
    pub fn release_date(&self) -> &str {
        &self.date
    }

    /// The fingerprint (uppercase hex) of the Debian key whose signature was verified.
    pub fn signed_by(&self) -> &str {
        &self.signer
    }

    /// How many packages (versions) the index lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every package of the index, in index order.
    pub fn packages(&self) -> impl Iterator<Item = &DebPackage> {
        self.entries.iter().map(|entry| &entry.package)
    }
}

fn parse_entry(paragraph: &Paragraph<'_>) -> Result<Entry, String> {
    let required = |field: &str| {
        paragraph
            .get(field)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("a package without `{field}`"))
    };
    let name = required("Package")?;
    let in_package = |message: String| format!("package `{name}`: {message}");
    let optional = |field: &str| paragraph.get(field).unwrap_or_default().to_string();
    let version_text = required("Version")?;
    let version = DebianVersion::parse(version_text).map_err(in_package)?;
    let sha256 = required("SHA256")?.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(in_package(format!("invalid `SHA256` `{sha256}`")));
    }
    let size = required("Size")?;
    let size = size
        .parse::<u64>()
        .map_err(|_| in_package(format!("invalid `Size` `{size}`")))?;
    let filename = required("Filename")?;
    if filename.starts_with('/') || filename.split('/').any(|part| part == "..") {
        return Err(in_package(format!("invalid `Filename` `{filename}`")));
    }
    let installed_size = match paragraph.get("Installed-Size") {
        Some(value) => Some(
            value
                .parse::<u64>()
                .map_err(|_| in_package(format!("invalid `Installed-Size` `{value}`")))?,
        ),
        None => None,
    };
    let pre_depends = optional("Pre-Depends");
    let depends = optional("Depends");
    let provides = optional("Provides");
    let relations = |field: &str, text: &str| {
        parse_relations(text).map_err(|error| in_package(format!("`{field}`: {error}")))
    };
    let mut dependencies = relations("Pre-Depends", &pre_depends)?;
    dependencies.extend(relations("Depends", &depends)?);
    let virtuals =
        parse_provides(&provides).map_err(|error| in_package(format!("`Provides`: {error}")))?;
    let package = DebPackage {
        name: name.to_string(),
        version: version_text.to_string(),
        architecture: optional("Architecture"),
        filename: filename.to_string(),
        sha256,
        size,
        depends,
        pre_depends,
        provides,
        essential: paragraph
            .get("Essential")
            .is_some_and(|value| value.eq_ignore_ascii_case("yes")),
        priority: optional("Priority"),
        multi_arch: optional("Multi-Arch"),
        source: optional("Source"),
        section: optional("Section"),
        installed_size,
        description: paragraph
            .get("Description")
            .and_then(|value| value.lines().next())
            .unwrap_or_default()
            .trim()
            .to_string(),
        maintainer: optional("Maintainer"),
    };
    Ok(Entry {
        package,
        version,
        dependencies,
        provides: virtuals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = "\
Package: python3
Source: python3-defaults
Version: 3.11.2-1+b1
Installed-Size: 92
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Multi-Arch: allowed
Replaces: python3-minimal (<< 3.1.2-2)
Provides: python3-profiler
Pre-Depends: python3-minimal (= 3.11.2-1+b1)
Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)
Suggests: python3-doc (>= 3.11.2-1+b1)
Description: interactive high-level object-oriented language (default python3 version)
Homepage: https://www.python.org/
Tag: devel::interpreter
Section: python
Priority: optional
Filename: pool/main/p/python3-defaults/python3_3.11.2-1+b1_amd64.deb
Size: 26364
MD5sum: 65e6b1ef5d56c5d41c5c1d1e1c66ce2d
SHA256: 6A5C4C1D3F5E3A0E4E3C1F8E6B7F2B0C8F5D6E7A8B9C0D1E2F3A4B5C6D7E8F90

Package: bash
Version: 5.2.15-2+b7
Essential: yes
Architecture: amd64
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
Filename: pool/main/b/bash/bash_5.2.15-2+b7_amd64.deb
Size: 1491736
SHA256: 0000000000000000000000000000000000000000000000000000000000000001
";

    #[test]
    fn parse_sample() {
        let index = PackageIndex::parse(SAMPLE, "Packages", "test").unwrap();
        assert_eq!(index.len(), 2);
        let python = index.get("python3").unwrap();
        assert_eq!(python.version, "3.11.2-1+b1");
        assert_eq!(python.source, "python3-defaults");
        assert_eq!(python.installed_size, Some(92));
        assert_eq!(python.pre_depends, "python3-minimal (= 3.11.2-1+b1)");
        assert_eq!(
            python.sha256,
            "6a5c4c1d3f5e3a0e4e3c1f8e6b7f2b0c8f5d6e7a8b9c0d1e2f3a4b5c6d7e8f90"
        );
        assert_eq!(python.multi_arch, "allowed");
        assert!(!python.essential);
        let bash = index.get("bash").unwrap();
        assert!(bash.essential);
        assert_eq!(bash.description, "GNU Bourne Again SHell");
        assert_eq!(bash.size, 1_491_736);
        assert_eq!(index.providers["python3-profiler"], [0]);
        assert!(index.get("python3-profiler").is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let text = "Package: a\nVersion: 1\nSize: 1\nFilename: pool/a.deb\nSHA256: 00\n";
        let error = PackageIndex::parse(text, "http://m/Packages.xz", "test").unwrap_err();
        insta::assert_snapshot!(error, @"`http://m/Packages.xz` line 1: package `a`: invalid `SHA256` `00`");
        let text = format!("{SAMPLE}\nPackage: b\nVersion: 1\n");
        let error = PackageIndex::parse(&text, "Packages", "test").unwrap_err();
        insta::assert_snapshot!(error, @"`Packages` line 33: a package without `SHA256`");
    }
}
