//! The differential test: mlpack's parser against Python's `packaging.metadata.parse_email` on
//! real `METADATA` files of top ML wheels (`tests/data/core-metadata`, written by
//! `scripts/gen-metadata-corpus.py`). Offline: the files and what `packaging` read are committed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerTree, PackageName, Requirement, VerbatimUrl};
use serde::Deserialize;

use super::{parse_core_metadata, split_message};
use crate::sha256::sha256_hex;

/// What `packaging` read from one file, normalized by its own types.
#[derive(Deserialize)]
struct Expected {
    sha256: String,
    name: String,
    version: String,
    requires_dist: Vec<String>,
    requires_python: Option<String>,
    provides_extra: Vec<String>,
    /// Of the body as UTF-8, bytes that aren't UTF-8 replaced.
    body_sha256: String,
}

/// A requirement as a set of facts, so that forms that mean the same compare equal:
/// `packaging` writes extras and specifiers sorted, the metadata as the author did.
#[derive(Debug, PartialEq, Eq)]
struct Meaning {
    name: PackageName,
    extras: BTreeSet<ExtraName>,
    version: BTreeSet<String>,
    url: Option<String>,
    marker: MarkerTree,
}

impl From<&Requirement<VerbatimUrl>> for Meaning {
    fn from(requirement: &Requirement<VerbatimUrl>) -> Self {
        let (version, url) = match &requirement.version_or_url {
            Some(pep508_rs::VersionOrUrl::VersionSpecifier(specifiers)) => {
                (specifier_set(specifiers), None)
            }
            Some(pep508_rs::VersionOrUrl::Url(url)) => (BTreeSet::new(), Some(url.to_string())),
            None => (BTreeSet::new(), None),
        };
        Self {
            name: requirement.name.clone(),
            extras: requirement.extras.iter().cloned().collect(),
            version,
            url,
            marker: requirement.marker.clone(),
        }
    }
}

fn specifier_set(specifiers: &VersionSpecifiers) -> BTreeSet<String> {
    specifiers.iter().map(ToString::to_string).collect()
}

/// Each file of the archive: its name and bytes.
fn corpus_files(directory: &Path) -> Vec<(String, Vec<u8>)> {
    let archive = fs_err::File::open(directory.join("corpus.tar.xz")).unwrap();
    let mut archive = tar::Archive::new(liblzma::read::XzDecoder::new(archive));
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.push((name, bytes));
    }
    files
}

/// The fields where mlpack's reading of `bytes` differs from `packaging`'s, as messages.
fn differences(file: &str, bytes: &[u8], expected: &Expected) -> Vec<String> {
    let mut found = Vec::new();
    let mut compare = |field: &str, mlpack: &dyn Debug, packaging: &dyn Debug, same: bool| {
        if !same {
            found.push(format!(
                "{file}: {field}: mlpack {mlpack:?}, packaging {packaging:?}"
            ));
        }
    };
    let metadata = match parse_core_metadata(bytes, file) {
        Ok(metadata) => metadata,
        Err(error) => return vec![format!("{file}: {error}")],
    };
    let name = PackageName::from_str(&expected.name).unwrap();
    compare("name", &metadata.name, &name, metadata.name == name);
    let version = Version::from_str(&expected.version).unwrap();
    compare(
        "version",
        &metadata.version,
        &version,
        metadata.version == version,
    );
    let requirements: Vec<Meaning> = metadata.requires_dist.iter().map(Meaning::from).collect();
    let wanted: Vec<Meaning> = expected
        .requires_dist
        .iter()
        .map(|text| Meaning::from(&Requirement::from_str(text).unwrap()))
        .collect();
    compare(
        "requires-dist",
        &requirements,
        &wanted,
        requirements == wanted,
    );
    let python = metadata.requires_python.as_ref().map(specifier_set);
    let wanted = expected
        .requires_python
        .as_deref()
        .map(|text| specifier_set(&VersionSpecifiers::from_str(text).unwrap()));
    compare("requires-python", &python, &wanted, python == wanted);
    let mut wanted: Vec<ExtraName> = Vec::new();
    for extra in &expected.provides_extra {
        let extra = ExtraName::from_str(extra).unwrap();
        if !wanted.contains(&extra) {
            wanted.push(extra);
        }
    }
    compare(
        "provides-extra",
        &metadata.provides_extra,
        &wanted,
        metadata.provides_extra == wanted,
    );
    let text = String::from_utf8_lossy(bytes);
    let (_, body) = split_message(&text);
    let body_sha256 = sha256_hex(body.as_bytes());
    compare(
        "body sha256",
        &body_sha256,
        &expected.body_sha256,
        body_sha256 == expected.body_sha256,
    );
    found
}

#[test]
fn parses_real_metadata_as_packaging_does() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/core-metadata");
    let expected: BTreeMap<String, Expected> =
        serde_json::from_str(&fs_err::read_to_string(directory.join("expected.json")).unwrap())
            .unwrap();
    let files = corpus_files(&directory);
    let names: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        expected.keys().map(String::as_str).collect(),
        "the archive and expected.json list different files"
    );
    let mut found = Vec::new();
    for (file, bytes) in &files {
        let expected = &expected[file];
        assert_eq!(
            sha256_hex(bytes),
            expected.sha256,
            "{file}: not the pinned file"
        );
        found.extend(differences(file, bytes, expected));
    }
    let differing: BTreeSet<&str> = found
        .iter()
        .filter_map(|message| message.split_once(':').map(|(file, _)| file))
        .collect();
    assert!(
        found.is_empty(),
        "{} of {} files differ:\n{}",
        differing.len(),
        files.len(),
        found.join("\n")
    );
}
