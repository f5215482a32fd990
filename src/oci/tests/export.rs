use std::collections::BTreeMap;
use std::io::Read;

use super::{new_store, tagged_image, temp_files};
use crate::compression::Compression;
use crate::oci::{
    Digest, REF_NAME_ANNOTATION, export_docker_archive, export_oci_archive,
    export_oci_archive_with_compression,
};

/// Every entry of a tar file: name → content.
fn read_archive(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let bytes = fs_err::read(path).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            assert_eq!(entry.header().uid().unwrap(), 0);
            assert_eq!(entry.header().mtime().unwrap(), 0);
            let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (name, content)
        })
        .collect()
}

#[test]
fn docker_archive_has_the_layout_docker_load_reads() {
    let (dir, store) = new_store();
    let (layers, _) = tagged_image(&store, "iris", "print('iris')\n");
    let image = store.resolve("iris").unwrap();
    let out = dir.path().join("iris.tar");
    export_docker_archive(&store, &image, "iris", &out, Compression::None).unwrap();

    let entries = read_archive(&out);
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    let config_hex = image.config_digest().unwrap().hex().to_string();
    let (base, app) = (layers[0].diff_id.hex(), layers[1].diff_id.hex());
    assert_eq!(
        names,
        [
            format!("{base}/"),
            format!("{base}/layer.tar"),
            format!("{app}/"),
            format!("{app}/layer.tar"),
            format!("{config_hex}.json"),
            "manifest.json".to_string(),
            "repositories".to_string(),
        ]
    );
    let content: BTreeMap<&str, &[u8]> = entries
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();

    let manifest: serde_json::Value = serde_json::from_slice(content["manifest.json"]).unwrap();
    assert_eq!(
        manifest,
        serde_json::json!([{
            "Config": format!("{config_hex}.json"),
            "RepoTags": ["iris:latest"],
            "Layers": [format!("{base}/layer.tar"), format!("{app}/layer.tar")],
        }])
    );
    let config_bytes = content[format!("{config_hex}.json").as_str()];
    assert_eq!(Digest::of(config_bytes).hex(), config_hex);
    let config: serde_json::Value = serde_json::from_slice(config_bytes).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    for (diff_id, layer_path) in diff_ids
        .iter()
        .zip(manifest[0]["Layers"].as_array().unwrap())
    {
        let tar = content[layer_path.as_str().unwrap()];
        assert_eq!(Digest::of(tar).to_string(), diff_id.as_str().unwrap());
    }
    let repositories: serde_json::Value = serde_json::from_slice(content["repositories"]).unwrap();
    assert_eq!(repositories, serde_json::json!({"iris": {"latest": app}}));

    // Reproducible: the same image gives the same archive.
    let again = dir.path().join("again.tar");
    export_docker_archive(&store, &image, "iris:latest", &again, Compression::None).unwrap();
    assert_eq!(fs_err::read(&out).unwrap(), fs_err::read(&again).unwrap());
}

/// The default for Docker: each `layer.tar` gzip-compressed (Docker 20.10 reads no zstd),
/// decompressing to its diffID, and the same bytes on every export.
#[test]
fn docker_archive_layers_are_gzip_and_reproducible() {
    let (dir, store) = new_store();
    tagged_image(&store, "iris", "print('iris')\n");
    let image = store.resolve("iris").unwrap();
    let export = |name: &str| {
        let out = dir.path().join(name);
        export_docker_archive(&store, &image, "iris", &out, Compression::Gzip).unwrap();
        fs_err::read(out).unwrap()
    };
    let first = export("first.tar");
    assert_eq!(first, export("second.tar"));
    let entries = read_archive(&dir.path().join("first.tar"));
    let diff_ids = image.diff_ids().unwrap();
    let layers: Vec<&Vec<u8>> = entries
        .iter()
        .filter(|(name, _)| name.ends_with("/layer.tar"))
        .map(|(_, bytes)| bytes)
        .collect();
    assert_eq!(layers.len(), diff_ids.len());
    for (bytes, diff_id) in layers.into_iter().zip(&diff_ids) {
        assert_eq!(Compression::detect(&bytes[..6]), Compression::Gzip);
        let mut tar = Vec::new();
        Compression::Gzip
            .reader(bytes.as_slice())
            .unwrap()
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(Digest::of(&tar), *diff_id.digest());
    }
}

#[test]
fn docker_archive_refuses_a_layer_that_does_not_match_its_diff_id() {
    let (dir, store) = new_store();
    tagged_image(&store, "iris", "print('iris')\n");
    let mut image = store.resolve("iris").unwrap();
    // Swap the two diffIDs in the (in-memory) config.
    let mut rootfs = image.config.rootfs().clone();
    let mut diff_ids = rootfs.diff_ids().clone();
    diff_ids.reverse();
    rootfs.set_diff_ids(diff_ids);
    image.config.set_rootfs(rootfs);
    let out = dir.path().join("bad.tar");
    let error = export_docker_archive(&store, &image, "iris", &out, Compression::None).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("decompresses to content with diffID"),
        "{error}"
    );
    assert!(!out.exists(), "no partial archive");
    let leftovers = fs_err::read_dir(dir.path()).unwrap().count();
    assert_eq!(
        leftovers, 1,
        "only the store directory: the temp file is gone"
    );
}

#[test]
fn oci_archive_is_a_layout_with_one_named_image() {
    let (dir, store) = new_store();
    let (layers, descriptor) = tagged_image(&store, "iris", "print('iris')\n");
    let image = store.resolve("iris").unwrap();
    let out = dir.path().join("iris-oci.tar");
    export_oci_archive(&store, &image, "iris:v1", &out).unwrap();

    let entries = read_archive(&out);
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    let mut blobs = [
        descriptor.digest().digest().to_string(),
        image.config_digest().unwrap().hex().to_string(),
        layers[0].digest.hex().to_string(),
        layers[1].digest.hex().to_string(),
    ];
    blobs.sort();
    let mut expected = vec![
        "oci-layout".to_string(),
        "index.json".to_string(),
        "blobs/".to_string(),
        "blobs/sha256/".to_string(),
    ];
    expected.extend(blobs.iter().map(|hex| format!("blobs/sha256/{hex}")));
    assert_eq!(names, expected);

    for (name, bytes) in &entries {
        if let Some(hex) = name
            .strip_prefix("blobs/sha256/")
            .filter(|hex| !hex.is_empty())
        {
            assert_eq!(Digest::of(bytes).hex(), hex);
        }
    }
    let index: serde_json::Value = serde_json::from_slice(&entries[1].1).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(entry["annotations"][REF_NAME_ANNOTATION], "iris:v1");
    assert_eq!(entry["digest"], descriptor.digest().to_string());
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(entries[0].1, br#"{"imageLayoutVersion":"1.0.0"}"#);
}

#[test]
fn oci_archive_can_recompress_layers_for_older_tools() {
    let (dir, store) = new_store();
    let (layers, descriptor) = tagged_image(&store, "iris", "print('iris')\n");
    let image = store.resolve("iris").unwrap();
    let out = dir.path().join("gzip.tar");
    export_oci_archive_with_compression(&store, &image, "iris", &out, Compression::Gzip).unwrap();
    let entries: BTreeMap<String, Vec<u8>> = read_archive(&out).into_iter().collect();

    let index: serde_json::Value = serde_json::from_slice(&entries["index.json"]).unwrap();
    let manifest_digest: Digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(manifest_digest.to_string(), descriptor.digest().to_string());
    let manifest_bytes = &entries[&format!("blobs/sha256/{}", manifest_digest.hex())];
    assert_eq!(Digest::of(manifest_bytes), manifest_digest);
    let manifest: serde_json::Value = serde_json::from_slice(manifest_bytes).unwrap();
    // The config is the same blob: recompression leaves the diffIDs alone.
    assert_eq!(
        manifest["config"]["digest"],
        image.config_digest().unwrap().to_string()
    );
    let manifest_layers = manifest["layers"].as_array().unwrap();
    assert_eq!(manifest_layers.len(), 2);
    for (entry, layer) in manifest_layers.iter().zip(&layers) {
        assert_eq!(
            entry["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let digest: Digest = entry["digest"].as_str().unwrap().parse().unwrap();
        let blob = &entries[&format!("blobs/sha256/{}", digest.hex())];
        assert_eq!(entry["size"], blob.len());
        let mut tar = Vec::new();
        flate2::read::MultiGzDecoder::new(blob.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(Digest::of(&tar), *layer.diff_id.digest());
    }
    // The already-gzip layer is the stored blob; the zstd one was converted.
    assert_eq!(manifest_layers[1]["digest"], layers[1].digest.to_string());
    assert_ne!(manifest_layers[0]["digest"], layers[0].digest.to_string());
    // Nothing was added to the store, and no temp file is left.
    assert!(!store.has_blob(&manifest_digest));
    assert_eq!(temp_files(&store), Vec::<std::path::PathBuf>::new());
}
