//! Archives written by the exporters, and by hand the way `docker save` of Docker 20.10 and 25
//! writes them, loaded into fresh stores; damaged and hostile ones refused.

use std::io::{Read, Write};
use std::path::Path;

use super::*;
use crate::compression::MEDIA_TYPE_LAYER_TAR;
use crate::error::Diagnostic;
use crate::oci::tests::{new_store, tagged_image};
use crate::oci::{REF_NAME_ANNOTATION, export_docker_archive, export_oci_archive};

/// One entry of a hand-made archive.
enum Item<'a> {
    File(&'a str, Vec<u8>),
    Symlink(&'a str, &'a str),
    Dir(&'a str),
}

/// A tar of `items`, names written as given (even `..` and absolute ones).
fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_ustar();
        let (name, size, data): (&str, usize, &[u8]) = match item {
            Item::File(name, bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                (name, bytes.len(), bytes)
            }
            Item::Symlink(name, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_link_name(target).unwrap();
                (name, 0, &[])
            }
            Item::Dir(name) => {
                header.set_entry_type(tar::EntryType::Directory);
                (name, 0, &[])
            }
        };
        let raw = &mut header.as_old_mut().name;
        raw.fill(0);
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(size as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Every entry of a tar file: name → content.
fn entries_of(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = fs_err::read(path).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (name, content)
        })
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    fs_err::write(&path, bytes).unwrap();
    path
}

/// The error's message with the temp directory masked.
fn message(error: &OciError, dir: &Path) -> String {
    error
        .to_string()
        .replace(&dir.display().to_string(), "[TEMP]")
}

/// A store with the image `iris` (a zstd and a gzip layer), and a directory for archives.
fn source() -> (tempfile::TempDir, Store) {
    let (dir, store) = new_store();
    tagged_image(&store, "iris", "print('iris')\n");
    (dir, store)
}

fn export_docker(store: &Store, dir: &Path) -> std::path::PathBuf {
    let out = dir.join("iris-docker.tar");
    export_docker_archive(
        store,
        &store.resolve("iris").unwrap(),
        "iris",
        &out,
        crate::compression::Compression::None,
    )
    .unwrap();
    out
}

fn export_oci(store: &Store, dir: &Path) -> std::path::PathBuf {
    let out = dir.join("iris-oci.tar");
    export_oci_archive(store, &store.resolve("iris").unwrap(), "iris", &out).unwrap();
    out
}

#[test]
fn an_oci_archive_loads_with_the_same_manifest_digest() {
    let (dir, store) = source();
    let archive = export_oci(&store, dir.path());
    let (_other_dir, other) = new_store();
    let loaded = import_archive(&other, &archive).unwrap();
    let original = store.resolve("iris").unwrap();
    assert_eq!(
        loaded,
        [LoadedImage {
            digest: original.manifest_digest().unwrap(),
            references: vec!["iris:latest".parse().unwrap()],
        }]
    );
    let image = other.resolve("iris").unwrap();
    assert_eq!(image.manifest, original.manifest);
    for (layer, _) in image.layers().unwrap() {
        assert!(other.has_blob(&Digest::from_oci(layer.digest()).unwrap()));
    }
}

#[test]
fn a_docker_archive_loads_with_its_layers_as_they_are() {
    let (dir, store) = source();
    let archive = export_docker(&store, dir.path());
    let (_other_dir, other) = new_store();
    let loaded = import_archive(&other, &archive).unwrap();
    assert_eq!(loaded[0].references, ["iris:latest".parse().unwrap()]);
    let original = store.resolve("iris").unwrap();
    let image = other.resolve("iris").unwrap();
    assert_eq!(
        image.config_digest().unwrap(),
        original.config_digest().unwrap()
    );
    for (layer, diff_id) in image.layers().unwrap() {
        assert_eq!(layer.media_type().to_string(), MEDIA_TYPE_LAYER_TAR);
        assert_eq!(layer.digest().to_string(), diff_id.to_string());
    }
    // Loading the same archive again, anywhere, gives the same image.
    let (_third_dir, third) = new_store();
    assert_eq!(import_archive(&third, &archive).unwrap(), loaded);
    // And a round trip through the store exports the same docker-archive.
    let again = dir.path().join("again.tar");
    export_docker_archive(
        &other,
        &image,
        "iris",
        &again,
        crate::compression::Compression::None,
    )
    .unwrap();
    assert_eq!(entries_of(&again), entries_of(&archive));
}

#[test]
fn stdin_and_compressed_archives_load() {
    let (dir, store) = source();
    let archive = fs_err::read(export_oci(&store, dir.path())).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&archive).unwrap();
    let gzip = gzip.finish().unwrap();
    let zstd = zstd::encode_all(archive.as_slice(), 1).unwrap();
    for bytes in [&archive, &gzip, &zstd] {
        let (_other_dir, other) = new_store();
        let loaded = import_archive_from(&other, bytes.as_slice(), Path::new("stdin")).unwrap();
        assert_eq!(loaded[0].references, ["iris:latest".parse().unwrap()]);
        let (_file_dir, from_file) = new_store();
        let path = write(dir.path(), "compressed.tar", bytes);
        assert_eq!(import_archive(&from_file, &path).unwrap(), loaded);
    }
}

/// Docker 25's `docker save`: an OCI layout whose index names the image in containerd's
/// annotation (the ref name is only the tag), plus a `manifest.json` whose layer paths are
/// symlinks into `blobs/`. The index wins.
#[test]
fn docker_25_archives_load_from_their_oci_index() {
    let (dir, store) = source();
    let image = store.resolve("iris").unwrap();
    let mut items = Vec::new();
    let mut legacy_layers = Vec::new();
    for (name, bytes) in entries_of(&export_oci(&store, dir.path())) {
        if name == "index.json" {
            let mut index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            index["manifests"][0]["annotations"] = serde_json::json!({
                "io.containerd.image.name": "docker.io/library/iris:v2",
                REF_NAME_ANNOTATION: "v2",
            });
            items.push((
                "index.json".to_string(),
                serde_json::to_vec(&index).unwrap(),
            ));
        } else if !name.ends_with('/') {
            items.push((name, bytes));
        }
    }
    for (index, (layer, _)) in image.layers().unwrap().iter().enumerate() {
        let hex = Digest::from_oci(layer.digest()).unwrap().hex().to_string();
        legacy_layers.push((
            format!("layer{index}/layer.tar"),
            format!("../blobs/sha256/{hex}"),
        ));
    }
    let manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", image.config_digest().unwrap().hex()),
        "RepoTags": ["wrong:name"],
        "Layers": legacy_layers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
    }]);
    let mut tar_items: Vec<Item<'_>> = items
        .iter()
        .map(|(name, bytes)| Item::File(name, bytes.clone()))
        .collect();
    let manifest = serde_json::to_vec(&manifest).unwrap();
    tar_items.push(Item::File("manifest.json", manifest));
    for (name, target) in &legacy_layers {
        tar_items.push(Item::Symlink(name, target));
    }
    let path = write(dir.path(), "docker25.tar", &tar_of(&tar_items));

    let (_other_dir, other) = new_store();
    let loaded = import_archive(&other, &path).unwrap();
    assert_eq!(loaded[0].references, ["iris:v2".parse().unwrap()]);
    assert_eq!(loaded[0].digest, image.manifest_digest().unwrap());
    assert!(other.resolve("wrong:name").is_err());
}

/// A multi-platform image: `index.json` names an image index, whose manifest for this
/// machine is loaded under the index's name; the other platforms' blobs need not be there.
#[test]
fn an_image_index_loads_the_manifest_for_this_platform() {
    let (dir, store) = source();
    let image = store.resolve("iris").unwrap();
    let mut items: Vec<(String, Vec<u8>)> = entries_of(&export_oci(&store, dir.path()))
        .into_iter()
        .filter(|(name, _)| !name.ends_with('/') && name != "index.json")
        .collect();
    let mut host = image.manifest_descriptor.clone();
    host.set_platform(Some(oci_spec::image::Platform::default()));
    let mut other = Descriptor::new(
        oci_spec::image::MediaType::ImageManifest,
        1,
        Digest::of(b"s390x").to_oci(),
    );
    let mut s390x = oci_spec::image::Platform::default();
    s390x.set_architecture(oci_spec::image::Arch::s390x);
    other.set_platform(Some(s390x));
    let mut nested = crate::oci::index::empty_index();
    nested.set_manifests(vec![other, host]);
    let nested = serde_json::to_vec(&nested).unwrap();
    let mut entry = Descriptor::new(
        oci_spec::image::MediaType::ImageIndex,
        nested.len() as u64,
        Digest::of(&nested).to_oci(),
    );
    entry.set_annotations(Some(
        [(REF_NAME_ANNOTATION.to_string(), "iris:multi".to_string())].into(),
    ));
    let mut index = crate::oci::index::empty_index();
    index.set_manifests(vec![entry]);
    items.push((
        format!("blobs/sha256/{}", Digest::of(&nested).hex()),
        nested,
    ));
    items.push((
        "index.json".to_string(),
        serde_json::to_vec(&index).unwrap(),
    ));
    let tar_items: Vec<Item<'_>> = items
        .iter()
        .map(|(name, bytes)| Item::File(name, bytes.clone()))
        .collect();
    let path = write(dir.path(), "multi.tar", &tar_of(&tar_items));
    let (_other_dir, other_store) = new_store();
    let loaded = import_archive(&other_store, &path).unwrap();
    assert_eq!(
        loaded,
        [LoadedImage {
            digest: image.manifest_digest().unwrap(),
            references: vec!["iris:multi".parse().unwrap()],
        }]
    );
}

/// Docker 20.10's `docker save`: `<id>/layer.tar` per layer, a repeated layer as a symlink to
/// the first, the config as `<hex>.json`; an image saved by ID has no `RepoTags`.
#[test]
fn docker_archive_symlinks_gzip_layers_and_unnamed_images() {
    let (dir, store) = source();
    let image = store.resolve("iris").unwrap();
    let config = store.read_blob(&image.config_digest().unwrap()).unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    let layers = image.layers().unwrap();
    let mut base = Vec::new();
    store
        .open_layer(&layers[0].0)
        .unwrap()
        .read_to_end(&mut base)
        .unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&base).unwrap();
    let base_diff_id = layers[0].1.to_string();
    config["rootfs"]["diff_ids"] = serde_json::json!([base_diff_id, base_diff_id]);
    config["history"] = serde_json::Value::Null;
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", Digest::of(&config).hex());
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": null,
        "Layers": ["a/layer.tar", "b/layer.tar"],
    }]);
    let archive = tar_of(&[
        Item::Dir("a/"),
        Item::File("a/layer.tar", gzip.finish().unwrap()),
        Item::Dir("b/"),
        Item::Symlink("b/layer.tar", "../a/layer.tar"),
        Item::File(&config_name, config),
        Item::File("./manifest.json", serde_json::to_vec(&manifest).unwrap()),
    ]);
    let path = write(dir.path(), "by-id.tar", &archive);
    let (_other_dir, other) = new_store();
    let loaded = import_archive(&other, &path).unwrap();
    assert!(loaded[0].references.is_empty());
    assert!(other.images().unwrap().is_empty());
    let image = other.resolve(loaded[0].digest.as_str()).unwrap();
    let media_types: Vec<String> = image
        .manifest
        .layers()
        .iter()
        .map(|layer| layer.media_type().to_string())
        .collect();
    assert_eq!(media_types, [crate::compression::MEDIA_TYPE_LAYER_GZIP; 2]);
}

/// Flip one byte in the middle of `entry` of the archive at `path`.
fn tamper(path: &Path, entry: &str) {
    let entries = entries_of(path);
    let items: Vec<Item<'_>> = entries
        .iter()
        .filter(|(name, _)| !name.ends_with('/'))
        .map(|(name, bytes)| {
            let mut bytes = bytes.clone();
            if name == entry {
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x20;
            }
            Item::File(name, bytes)
        })
        .collect();
    fs_err::write(path, tar_of(&items)).unwrap();
}

#[test]
fn a_tampered_layer_is_refused_and_nothing_is_tagged() {
    let (dir, store) = source();
    let image = store.resolve("iris").unwrap();
    let (layer, diff_id) = &image.layers().unwrap()[0];

    let archive = export_docker(&store, dir.path());
    tamper(&archive, &format!("{}/layer.tar", diff_id.hex()));
    let (_other_dir, other) = new_store();
    let error = import_archive(&other, &archive).unwrap_err();
    assert!(other.images().unwrap().is_empty());
    let text = message(&error, dir.path())
        .replace(diff_id.hex(), "[DIFFID]")
        .replace(&error_actual(&error), "[ACTUAL]");
    insta::assert_snapshot!(text, @"`[DIFFID]/layer.tar` in `[TEMP]/iris-docker.tar` does not match the diffID its image config lists: expected `sha256:[DIFFID]`, found `[ACTUAL]`");
    assert!(error.is_user_error());

    let archive = export_oci(&store, dir.path());
    let hex = Digest::from_oci(layer.digest()).unwrap().hex().to_string();
    tamper(&archive, &format!("blobs/sha256/{hex}"));
    let error = import_archive(&other, &archive).unwrap_err();
    assert!(other.images().unwrap().is_empty());
    let text = message(&error, dir.path())
        .replace(&hex, "[DIGEST]")
        .replace(&error_actual(&error), "[ACTUAL]");
    insta::assert_snapshot!(text, @"`blobs/sha256/[DIGEST]` in `[TEMP]/iris-oci.tar` does not match its digest: expected `sha256:[DIGEST]`, found `[ACTUAL]`");
    insta::assert_snapshot!(error.hints().join("\n"), @"the archive was damaged or changed after it was written: save or export the image again; nothing from it was tagged");
}

fn error_actual(error: &OciError) -> String {
    match error {
        OciError::ArchiveEntryMismatch { actual, .. } => actual.clone(),
        other => panic!("{other}"),
    }
}

#[test]
fn a_config_that_does_not_match_its_name_is_refused() {
    let (dir, store) = source();
    let archive = export_docker(&store, dir.path());
    let config = format!(
        "{}.json",
        store
            .resolve("iris")
            .unwrap()
            .config_digest()
            .unwrap()
            .hex()
    );
    tamper(&archive, &config);
    let (_other_dir, other) = new_store();
    let error = import_archive(&other, &archive).unwrap_err();
    assert!(
        matches!(&error, OciError::ArchiveEntryMismatch { entry, what: "the digest in its name", .. } if *entry == config),
        "{error}"
    );
    // Nothing was written: the config is checked before any layer.
    assert_eq!(fs_err::read_dir(other.blobs_dir()).unwrap().count(), 0);
}

#[test]
fn entries_outside_the_archive_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_store_dir, store) = new_store();
    let cases = [
        ("dotdot", tar_of(&[Item::File("../evil", b"x".to_vec())])),
        (
            "absolute",
            tar_of(&[Item::File("/etc/evil", b"x".to_vec())]),
        ),
        (
            "symlink",
            tar_of(&[Item::Symlink("layer.tar", "../../etc/passwd")]),
        ),
    ];
    let mut messages = Vec::new();
    for (name, bytes) in cases {
        let path = write(dir.path(), &format!("{name}.tar"), &bytes);
        let error = import_archive(&store, &path).unwrap_err();
        assert!(error.is_user_error());
        messages.push(message(&error, dir.path()));
    }
    insta::assert_snapshot!(messages.join("\n"), @r"
    `[TEMP]/dotdot.tar` has an entry `../evil` that points outside the archive
    `[TEMP]/absolute.tar` has an entry `/etc/evil` that points outside the archive
    `[TEMP]/symlink.tar` has an entry `layer.tar -> ../../etc/passwd` that points outside the archive
    ");
}

#[test]
fn files_that_are_not_image_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_store_dir, store) = new_store();
    let cases: [(&str, Vec<u8>); 5] = [
        ("notes.txt", b"hello\n".to_vec()),
        ("empty.tar", Vec::new()),
        (
            "random.bin",
            (0..4096_u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        (
            "plain.tar",
            tar_of(&[Item::File("hello.txt", b"hi".to_vec())]),
        ),
        (
            "bad.tar",
            tar_of(&[Item::File("manifest.json", b"{".to_vec())]),
        ),
    ];
    let mut messages = Vec::new();
    for (name, bytes) in cases {
        let path = write(dir.path(), name, &bytes);
        let error = import_archive(&store, &path).unwrap_err();
        assert!(error.is_user_error(), "{error}");
        messages.push(message(&error, dir.path()));
    }
    insta::assert_snapshot!(messages.join("\n"), @"
    `[TEMP]/notes.txt` is not an image archive mlpack can load: it is not a tar file
    `[TEMP]/empty.tar` is not an image archive mlpack can load: it is empty
    `[TEMP]/random.bin` is not an image archive mlpack can load: it is not a tar file
    `[TEMP]/plain.tar` is not an image archive mlpack can load: it has neither `manifest.json` (a docker-archive) nor `oci-layout` and `index.json` (an OCI image layout)
    `[TEMP]/bad.tar` is not an image archive mlpack can load: `manifest.json` is not valid: invalid type: map, expected a sequence at line 1 column 0
    ");
    let error = import_archive(&store, &dir.path().join("notes.txt")).unwrap_err();
    insta::assert_snapshot!(error.hints().join("\n"), @"`mlpack load` reads the tar files `docker save`, `mlpack export` and `skopeo copy … oci-archive:FILE` write, plain or compressed with gzip, zstd or xz");
}

#[test]
fn a_missing_layer_names_the_entry() {
    let (dir, store) = source();
    let archive = export_docker(&store, dir.path());
    let diff_id = store.resolve("iris").unwrap().layers().unwrap()[1]
        .1
        .clone();
    let dropped = format!("{}/layer.tar", diff_id.hex());
    let entries = entries_of(&archive);
    let items: Vec<Item<'_>> = entries
        .iter()
        .filter(|(name, _)| *name != dropped && !name.ends_with('/'))
        .map(|(name, bytes)| Item::File(name, bytes.clone()))
        .collect();
    fs_err::write(&archive, tar_of(&items)).unwrap();
    let (_other_dir, other) = new_store();
    let error = import_archive(&other, &archive).unwrap_err();
    let text = message(&error, dir.path()).replace(diff_id.hex(), "[DIFFID]");
    insta::assert_snapshot!(text, @"`[TEMP]/iris-docker.tar` has no entry `[DIFFID]/layer.tar`, which `manifest.json` names");
    assert!(other.images().unwrap().is_empty());
}

#[test]
fn docker_hub_names_are_shown_short() {
    let familiar = |name: &str| familiar_name(name).unwrap().to_string();
    assert_eq!(familiar("docker.io/library/busybox"), "busybox:latest");
    assert_eq!(familiar("docker.io/team/iris:v1"), "team/iris:v1");
    assert_eq!(familiar("ghcr.io/team/iris:v1"), "ghcr.io/team/iris:v1");
    assert_eq!(familiar("iris:latest"), "iris:latest");
}
