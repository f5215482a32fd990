use std::os::unix::fs::PermissionsExt;

use super::{image_spec, new_store, tagged_image};
use crate::error::Diagnostic;
use crate::oci::{
    Descriptor, Digest, HistoryEntry, LayerWriter, OciError, REF_NAME_ANNOTATION, Store,
    write_image,
};

#[test]
fn open_creates_a_layout_and_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&root).unwrap();
    assert_eq!(
        fs_err::read_to_string(root.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    assert_eq!(
        fs_err::read_to_string(root.join("index.json")).unwrap(),
        r#"{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}"#
    );
    assert!(root.join("blobs/sha256").is_dir());
    let digest = store.write_blob(b"kept").unwrap();
    let again = Store::open(&root).unwrap();
    assert_eq!(again.read_blob(&digest).unwrap(), b"kept");
}

#[test]
fn open_refuses_a_foreign_layout() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    let error = Store::open(dir.path()).unwrap_err();
    let message = error
        .to_string()
        .replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(message, @"`[DIR]` is not an OCI image layout: its layout version is `2.0.0`; mlpack reads version 1");
}

#[test]
fn blobs_are_written_once_and_checked_when_read() {
    let (_dir, store) = new_store();
    let digest = store.write_blob(br#"{"a":1}"#).unwrap();
    assert_eq!(digest, Digest::of(br#"{"a":1}"#));
    assert_eq!(store.write_blob(br#"{"a":1}"#).unwrap(), digest);
    assert!(store.has_blob(&digest));
    let path = store.blob_path(&digest);
    assert_eq!(
        fs_err::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o444
    );

    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    fs_err::write(&path, br#"{"a":2}"#).unwrap();
    let error = store.read_blob(&digest).unwrap_err();
    assert!(matches!(error, OciError::BlobCorrupted { .. }));
    let message = error
        .to_string()
        .replace(&store.root().display().to_string(), "[STORE]");
    insta::assert_snapshot!(message, @"blob `[STORE]/blobs/sha256/015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862` is corrupted: its content hashes to `sha256:7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c`, not `sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862`");

    let missing = Digest::of(b"never written");
    assert!(matches!(
        store.read_blob(&missing),
        Err(OciError::BlobNotFound { .. })
    ));
}

#[test]
fn the_lock_is_exclusive_across_open_files_and_reentrant_within_a_store() {
    let (_dir, store) = new_store();
    let lock = store.lock().unwrap();
    // Re-entrant: `tag` and `prune` lock too, and must not deadlock under a held lock.
    let again = store.clone().lock().unwrap();
    let other = std::fs::File::open(store.root().join(".lock")).unwrap();
    assert!(
        other.try_lock().is_err(),
        "another open file (another process) must wait"
    );
    drop(lock);
    assert!(other.try_lock().is_err(), "still held by the second handle");
    drop(again);
    other.try_lock().unwrap();
}

#[test]
fn write_image_is_reproducible_and_canonical() {
    let (_dir, store) = new_store();
    let (layers, descriptor) = tagged_image(&store, "iris", "print('hi')\n");
    let again = write_image(&store, &image_spec(layers.clone())).unwrap();
    assert_eq!(again, descriptor);

    let image = store.resolve("iris").unwrap();
    let config = store.read_blob(&image.config_digest().unwrap()).unwrap();
    let config = String::from_utf8(config).unwrap();
    // Keys sorted at every level, labels included, and no whitespace.
    assert!(
        config
            .starts_with(r#"{"architecture":"amd64","config":{"Cmd":["python","main.py"],"Env":"#),
        "{config}"
    );
    assert!(
        config.contains(r#""Labels":{"a":"1","b":"2","org.opencontainers.image.title":"test"}"#),
        "{config}"
    );
    let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
    assert_eq!(image.config.rootfs().diff_ids(), &diff_ids);
    assert_eq!(image.manifest.layers().len(), 2);
    assert_eq!(
        image.manifest.layers()[1].media_type().to_string(),
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let platform = descriptor.platform().as_ref().unwrap();
    assert_eq!(platform.architecture().to_string(), "amd64");
}

#[test]
fn write_image_checks_the_spec() {
    let (_dir, store) = new_store();
    let tree = tempfile::tempdir().unwrap();
    fs_err::write(tree.path().join("f"), "x").unwrap();
    let layer = LayerWriter::new().write_dir(&store, tree.path()).unwrap();

    let mut spec = image_spec(vec![layer.clone()]);
    spec.history.push(HistoryEntry {
        created_by: "another layer".to_string(),
        comment: String::new(),
        empty_layer: false,
    });
    insta::assert_snapshot!(write_image(&store, &spec).unwrap_err(), @"invalid image: the history has 2 layer steps for 1 layers: each layer needs one step with `empty_layer: false`");

    let mut spec = image_spec(vec![layer.clone()]);
    spec.created = "yesterday".to_string();
    assert!(matches!(
        write_image(&store, &spec),
        Err(OciError::InvalidImageSpec { .. })
    ));

    let mut spec = image_spec(vec![layer.clone()]);
    spec.architecture = "x86_64".to_string();
    insta::assert_snapshot!(write_image(&store, &spec).unwrap_err(), @"invalid image: unknown architecture `x86_64` (expected a Go name such as `amd64` or `arm64`)");

    let mut missing = layer;
    missing.digest = Digest::of(b"not a layer");
    let spec = image_spec(vec![missing]);
    assert!(matches!(
        write_image(&store, &spec),
        Err(OciError::BlobNotFound { .. })
    ));
}

#[test]
fn tag_untag_images_and_resolve() {
    let (_dir, store) = new_store();
    let (_, iris) = tagged_image(&store, "iris", "print('iris')\n");
    let (_, mnist) = tagged_image(&store, "localhost:5000/team/mnist:v1", "print('mnist')\n");
    assert_eq!(
        store
            .tag(&"iris:stable".parse().unwrap(), &iris)
            .unwrap()
            .to_string(),
        "iris:stable"
    );

    let names: Vec<String> = store
        .images()
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        ["iris:latest", "iris:stable", "localhost:5000/team/mnist:v1"]
    );
    let (_, listed) = &store.images().unwrap()[0];
    assert_eq!(
        listed, &iris,
        "the name annotation is not part of the descriptor handed back"
    );
    let index = fs_err::read_to_string(store.root().join("index.json")).unwrap();
    assert!(
        index.contains(&format!(r#""{REF_NAME_ANNOTATION}":"iris:latest""#)),
        "{index}"
    );

    // By name, short name, digest and digest prefix.
    assert_eq!(
        store.resolve("iris").unwrap().manifest_descriptor.digest(),
        iris.digest()
    );
    let by_name = store.resolve("localhost:5000/team/mnist:v1").unwrap();
    assert_eq!(
        by_name.reference.as_deref(),
        Some("localhost:5000/team/mnist:v1")
    );
    let digest = mnist.digest().to_string();
    assert_eq!(
        store.resolve(&digest).unwrap().reference.as_deref(),
        Some("localhost:5000/team/mnist:v1")
    );
    let prefix = &digest["sha256:".len().."sha256:".len() + 12];
    assert_eq!(
        store.resolve(prefix).unwrap().manifest_descriptor.digest(),
        mnist.digest()
    );
    assert!(matches!(
        store.resolve(&prefix[..11]),
        Err(OciError::ImageNotFound { .. })
    ));

    // Retagging a name moves it.
    store.tag(&"iris".parse().unwrap(), &mnist).unwrap();
    assert_eq!(
        store
            .resolve("iris:latest")
            .unwrap()
            .manifest_descriptor
            .digest(),
        mnist.digest()
    );
    assert_eq!(store.images().unwrap().len(), 3);

    let removed = store.untag("iris:stable").unwrap().unwrap();
    assert_eq!(removed.digest(), iris.digest());
    assert_eq!(store.untag("iris:stable").unwrap(), None);

    let error = store.resolve("iriss").unwrap_err();
    insta::assert_snapshot!(format!("{error}\nhint: {}", error.hints().join("\n")), @"
    no image `iriss` in the store
    hint: did you mean `iris:latest`? The store has: `iris:latest`, `localhost:5000/team/mnist:v1`
    ");
    let pinned = format!("iris@{}", iris.digest());
    let error = store.tag(&pinned.parse().unwrap(), &iris).unwrap_err();
    assert!(matches!(error, OciError::InvalidReference(_)));
}

#[test]
fn a_digest_prefix_shared_by_two_images_is_ambiguous() {
    let (_dir, store) = new_store();
    let fake = |last: char| {
        let digest = format!("sha256:{}{last}", "a".repeat(63));
        Descriptor::new(
            oci_spec::image::MediaType::ImageManifest,
            2,
            digest.parse::<oci_spec::image::Digest>().unwrap(),
        )
    };
    // Tagging checks that the manifest exists, so write the index directly.
    let error = store.tag(&"one".parse().unwrap(), &fake('1')).unwrap_err();
    assert!(matches!(error, OciError::BlobNotFound { .. }), "{error}");
    let mut index = store.read_index().unwrap();
    let named = |last: char, name: &str| {
        let mut descriptor = fake(last);
        descriptor.set_annotations(Some(
            [(REF_NAME_ANNOTATION.to_string(), name.to_string())].into(),
        ));
        descriptor
    };
    index.set_manifests(vec![named('1', "one:latest"), named('2', "two:latest")]);
    store.write_index(&index).unwrap();
    let error = store.resolve("aaaaaaaaaaaa").unwrap_err();
    insta::assert_snapshot!(format!("{error}\nhint: {}", error.hints().join("\n")), @"
    `aaaaaaaaaaaa` matches more than one image: `sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1`, `sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2`
    hint: give more of the digest, or the image's name
    ");
    let error = Store::open(&tempfile::tempdir().unwrap().path().join("s"))
        .unwrap()
        .resolve("iris")
        .unwrap_err();
    insta::assert_snapshot!(error.hints().join("\n"), @"the store has no images yet; build one first");
}

#[test]
fn prune_removes_what_no_image_reaches() {
    let (_dir, store) = new_store();
    let (iris_layers, iris_manifest) = tagged_image(&store, "iris", "print('iris')\n");
    let (mnist_layers, mnist) = tagged_image(&store, "mnist", "print('mnist')\n");
    // The base layer is shared; the app layers differ.
    assert_eq!(iris_layers[0], mnist_layers[0]);
    assert_ne!(iris_layers[1], mnist_layers[1]);
    let stray = store.write_blob(b"nobody points here").unwrap();

    let report = store.prune(&[]).unwrap();
    assert_eq!(report.blobs_removed, 1);
    assert!(!store.has_blob(&stray));
    assert_eq!(report.live_images.len(), 2);

    // An untagged image that a root names (a container's, a run's) stays, whole.
    store.untag("iris").unwrap();
    let iris = Digest::from_oci(iris_manifest.digest()).unwrap();
    let report = store.prune(std::slice::from_ref(&iris)).unwrap();
    assert_eq!(report.blobs_removed, 0);
    assert_eq!(report.live_images.len(), 2);
    assert!(store.resolve(iris.as_str()).is_ok());

    let report = store.prune(&[]).unwrap();
    // iris's manifest, config and app layer.
    assert_eq!(report.blobs_removed, 3);
    assert!(report.bytes_freed > 0);
    assert!(!store.has_blob(&iris_layers[1].digest));
    assert!(store.has_blob(&iris_layers[0].digest));
    let [mnist_image] = report.live_images.try_into().unwrap();
    assert_eq!(
        mnist_image.diff_ids,
        [
            mnist_layers[0].diff_id.clone(),
            mnist_layers[1].diff_id.clone(),
        ]
    );
    assert_eq!(
        mnist_image.layers,
        [
            mnist_layers[0].digest.clone(),
            mnist_layers[1].digest.clone()
        ]
    );
    assert_eq!(
        mnist_image.manifest,
        Digest::from_oci(mnist.digest()).unwrap()
    );
    assert_eq!(store.resolve("mnist").unwrap().manifest_descriptor, mnist);

    // Prune while holding the lock: re-entrant, no deadlock.
    let _lock = store.lock().unwrap();
    assert_eq!(store.prune(&[]).unwrap().blobs_removed, 0);
}

#[test]
fn open_removes_the_temp_trees_of_dead_processes_only() {
    let (dir, store) = new_store();
    let live = store.temp_tree("build-").unwrap();
    fs_err::write(live.path().join("layer-file"), "x").unwrap();
    // What a killed build leaves: an `owner` file nobody holds a lock on.
    let dead = store.temp_dir().join("build-dead");
    fs_err::create_dir_all(dead.join("tree/usr")).unwrap();
    fs_err::write(dead.join("owner"), "4242\n").unwrap();
    // Temp files live in this process's own tree, removed with the last handle on the store.
    let temp = store.temp_file().unwrap();
    let files_tree = temp
        .path()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    assert_eq!(files_tree.parent().unwrap(), store.temp_dir());

    let listed = Store::inspect(store.root())
        .unwrap()
        .leftovers(false)
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, dead);
    assert!(dead.exists(), "inspect changes nothing");
    let reopened = Store::open(store.root()).unwrap();
    assert!(!dead.exists());
    assert!(live.path().join("layer-file").exists());
    assert!(temp.path().exists());
    drop((temp, live, reopened, store));
    assert!(!files_tree.exists());
    assert_eq!(
        fs_err::read_dir(dir.path().join("store/tmp"))
            .unwrap()
            .count(),
        0
    );
}

/// A manifest whose descriptors give sizes its blobs do not have, tagged as another tool might.
fn tag_lying_manifest(store: &Store, honest: &Descriptor) -> Descriptor {
    let digest = Digest::from_oci(honest.digest()).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&digest).unwrap()).unwrap();
    manifest["layers"][0]["size"] = serde_json::json!(1_000_000_000_000_000_u64);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let lying = store.write_blob(&bytes).unwrap();
    let descriptor = Descriptor::new(
        oci_spec::image::MediaType::ImageManifest,
        bytes.len() as u64,
        lying.to_oci(),
    );
    store.tag(&"liar".parse().unwrap(), &descriptor).unwrap();
    descriptor
}

#[test]
fn a_descriptor_size_that_disagrees_with_its_blob_is_refused_when_read() {
    let (_dir, store) = new_store();
    let (layers, honest) = tagged_image(&store, "iris", "print('iris')\n");
    let lying = tag_lying_manifest(&store, &honest);
    let error = store.resolve("liar").unwrap_err();
    let OciError::DescriptorSize {
        image,
        what,
        digest,
        expected,
        actual,
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(image.as_str(), lying.digest().as_ref());
    assert_eq!(
        (*what, digest, *expected),
        ("layer", &layers[0].digest, 1_000_000_000_000_000)
    );
    assert_eq!(*actual, layers[0].size);
    assert!(error.hints().join("\n").contains("`mlpack rmi`"));
    assert!(
        store.resolve("iris").is_ok(),
        "the honest image still reads"
    );

    let check = store.verify().unwrap();
    let [problem] = check.problems.as_slice() else {
        panic!("{check:?}");
    };
    assert_eq!(problem.digest.as_str(), lying.digest().as_ref());
    assert!(
        matches!(&problem.kind, crate::oci::ProblemKind::Invalid { message } if message.contains("says its layer")),
        "{problem:?}"
    );
}
