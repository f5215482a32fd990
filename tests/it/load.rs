//! `mlpack load` end to end: archives from `mlpack export` (both formats) and from Docker's
//! `docker save` into a second store, the image there the same and runnable; damaged and
//! foreign files refused with nothing tagged.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mlpack::oci::Store;

use crate::common::TestContext;
use crate::common::images::{
    BUSYBOX, Entry, busybox_root, docker_archive, escaping_layers, install_busybox, layer_tar,
    snapshot_tree, tree_tar,
};

const IMAGE: &str = BUSYBOX;

/// The second store, which archives are loaded into.
fn other_store(context: &TestContext) -> PathBuf {
    context.temp.path().join("other-store")
}

/// `mlpack ARGS` against the second store, stdin from `stdin` (or nothing): (code, stdout,
/// stderr), the temp dir masked.
fn in_other(context: &TestContext, args: &[&str], stdin: Option<&Path>) -> (i32, String, String) {
    let mut command = context.mlpack(args);
    command.env("MLPACK_HOME", other_store(context));
    command.stdin(match stdin {
        Some(path) => Stdio::from(fs_err::File::open(path).unwrap().into_file()),
        None => Stdio::null(),
    });
    let output = command.output().unwrap();
    let mask = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes).replace(&context.temp.path().display().to_string(), "[TEMP]")
    };
    (
        output.status.code().unwrap_or(-1),
        mask(&output.stdout),
        mask(&output.stderr),
    )
}

/// `mlpack export IMAGE --format FORMAT` from the first store; the archive's path.
fn export(context: &TestContext, format: &str) -> PathBuf {
    let archive = context.temp.path().join(format!("{format}.tar"));
    let output = context
        .mlpack(&[
            "export",
            IMAGE,
            "--format",
            format,
            "-o",
            archive.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", context.render(&output));
    archive
}

/// The names in the second store's `index.json`.
fn other_names(context: &TestContext) -> Vec<String> {
    let store = Store::open(&other_store(context)).unwrap();
    store
        .images()
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn an_oci_export_loads_into_another_store_with_the_same_digest() {
    let context = TestContext::new();
    let digest = install_busybox(&context);
    let archive = export(&context, "oci");
    let (code, stdout, stderr) = in_other(
        &context,
        &["--json", "load", "-i", archive.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let loaded: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        loaded,
        serde_json::json!([{"reference": "busybox:test", "digest": digest}])
    );
    let (code, stdout, _) = in_other(&context, &["--json", "inspect", IMAGE], None);
    assert_eq!(code, 0);
    let inspected: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(inspected["digest"], digest.as_str());
}

#[test]
fn a_docker_export_loads_from_stdin() {
    let context = TestContext::new();
    install_busybox(&context);
    let archive = export(&context, "docker");
    let (code, stdout, stderr) = in_other(&context, &["load"], Some(&archive));
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @"Loaded image: busybox:test");
    assert_eq!(other_names(&context), ["busybox:test"]);
    // Loading it again changes nothing, and `-i -` is stdin too.
    let before = fs_err::read(other_store(&context).join("index.json")).unwrap();
    let (code, _, stderr) = in_other(&context, &["load", "-i", "-"], Some(&archive));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fs_err::read(other_store(&context).join("index.json")).unwrap(),
        before
    );
}

/// Flip one byte in the middle of the data of the archive's entry whose name ends with
/// `suffix`.
fn tamper(archive: &Path, suffix: &str) {
    let bytes = fs_err::read(archive).unwrap();
    let mut tar = tar::Archive::new(bytes.as_slice());
    let (offset, size) = tar
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|entry| entry.path_bytes().ends_with(suffix.as_bytes()))
        .map(|entry| (entry.raw_file_position(), entry.size()))
        .unwrap();
    let mut bytes = bytes.clone();
    bytes[usize::try_from(offset + size / 2).unwrap()] ^= 0x01;
    fs_err::write(archive, bytes).unwrap();
}

#[test]
fn a_tampered_archive_is_refused_and_tags_nothing() {
    let context = TestContext::new();
    install_busybox(&context);
    let archive = export(&context, "docker");
    tamper(&archive, "/layer.tar");
    let (code, stdout, stderr) =
        in_other(&context, &["load", "-i", archive.to_str().unwrap()], None);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "");
    let stderr = mask_hex(&stderr);
    // The export's layers are gzip: the damage shows as a failed checksum.
    insta::assert_snapshot!(stderr, @"
    error: `[HEX]/layer.tar` in `[TEMP]/docker.tar` does not decompress
      caused by: corrupt gzip stream does not have a matching checksum

    hint: the archive was damaged or changed after it was written: save or export the image again; nothing from it was tagged
    ");
    assert!(other_names(&context).is_empty());
}

/// A layer that tries to write outside its directory (`..`, an absolute path, a symlink out
/// of the layer) is refused by `load`, which unpacks what it loads, and the store is as it
/// was: no name, blob or unpacked layer of the image is left.
#[test]
fn layers_that_escape_are_refused_at_load_and_change_nothing() {
    let context = TestContext::new();
    install_busybox(&context);
    let good = export(&context, "docker");
    let (code, _, stderr) = in_other(&context, &["load", "-i", good.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    let outside = context.temp.path().join("outside");
    fs_err::create_dir(&outside).unwrap();
    let base = layer_tar(&[Entry::Dir("etc/"), Entry::File("etc/hostname", "base\n")]);
    for (case, evil) in escaping_layers(&outside) {
        let before = snapshot_tree(&other_store(&context));
        let archive = context.temp.path().join(format!("{case}.tar"));
        docker_archive(&archive, &format!("evil:{case}"), &[base.clone(), evil]);
        let (code, stdout, stderr) =
            in_other(&context, &["load", "-i", archive.to_str().unwrap()], None);
        assert_eq!((code, stdout.as_str()), (1, ""), "{case}: {stderr}");
        assert!(stderr.contains("has an unsafe entry"), "{case}: {stderr}");
        if case == "dot-dot" {
            insta::assert_snapshot!(mask_hex(&stderr), @"
            error: refused the image `evil:dot-dot`; the store is as it was before
              caused by: layer `sha256:[HEX]` has an unsafe entry `../../../escape`: it has a `..` component

            hint: mlpack refuses layers that could write outside their own directory; use an image from a source you trust
            ");
        }
        assert_eq!(snapshot_tree(&other_store(&context)), before, "{case}");
        assert!(
            fs_err::read_dir(&outside).unwrap().next().is_none(),
            "{case}"
        );
    }
    assert_eq!(other_names(&context), ["busybox:test"]);
}

/// `text` with every run of 64 lowercase hex digits replaced by `[HEX]`.
fn mask_hex(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "[HEX]" } else { &run });
        run.clear();
        out.push(c);
    }
    out.push_str(if run.len() == 64 { "[HEX]" } else { &run });
    out
}

#[test]
fn a_file_that_is_not_an_archive_is_a_clear_error() {
    let context = TestContext::new();
    let notes = context.temp.path().join("notes.txt");
    fs_err::write(&notes, "not an image\n").unwrap();
    let (code, _, stderr) = in_other(&context, &["load", "-i", notes.to_str().unwrap()], None);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stderr, @"
    error: `[TEMP]/notes.txt` is not an image archive mlpack can load: it is not a tar file

    hint: `mlpack load` reads the tar files `docker save`, `mlpack export` and `skopeo copy … oci-archive:FILE` write, plain or compressed with gzip, zstd or xz
    ");
    let (code, _, stderr) = in_other(&context, &["load", "-i", "missing.tar"], None);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stderr, @"
    error: no file `missing.tar`

    hint: name the archive `docker save` or `mlpack export` wrote
    ");
}

/// Both export formats load into another store and run there.
#[cfg(feature = "test-root")]
#[test]
fn a_loaded_image_runs() {
    let context = TestContext::new();
    install_busybox(&context);
    for format in ["oci", "docker"] {
        let archive = export(&context, format);
        let (code, _, stderr) =
            in_other(&context, &["load", "-i", archive.to_str().unwrap()], None);
        assert_eq!(code, 0, "{stderr}");
        let (code, stdout, stderr) = in_other(
            &context,
            &["run", "--rm", IMAGE, "sh", "-c", "echo ok"],
            None,
        );
        assert_eq!((code, stdout.as_str()), (0, "ok\n"), "{format}: {stderr}");
        let (code, _, stderr) = in_other(&context, &["rmi", IMAGE], None);
        assert_eq!(code, 0, "{stderr}");
    }
}

/// Docker's own `docker save` (of an image made with `docker import`) loads and runs.
#[cfg(feature = "test-docker")]
#[test]
fn docker_save_loads_and_runs() {
    let context = TestContext::new();
    let root = busybox_root(&context);
    let rootfs = context.temp.path().join("rootfs.tar");
    let mut builder = tar::Builder::new(fs_err::File::create(&rootfs).unwrap());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", &root).unwrap();
    builder.into_inner().unwrap();
    let name = format!("mlpack-test-load-{}:saved", std::process::id());
    let docker = |args: &[&str]| {
        let output = Command::new("docker").args(args).output().unwrap();
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    docker(&[
        "import",
        "--change",
        "ENV PATH=/bin",
        rootfs.to_str().unwrap(),
        &name,
    ]);
    let saved = context.temp.path().join("saved.tar");
    docker(&["save", "-o", saved.to_str().unwrap(), &name]);
    docker(&["rmi", &name]);

    let (code, stdout, stderr) = in_other(&context, &["load", "-i", saved.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("Loaded image: {name}\n"));
    #[cfg(feature = "test-root")]
    {
        let (code, stdout, stderr) = in_other(
            &context,
            &["run", "--rm", &name, "sh", "-c", "echo ok"],
            None,
        );
        assert_eq!((code, stdout.as_str()), (0, "ok\n"), "{stderr}");
    }
}

/// A manifest in the store whose layer descriptor says 1 PB for a small blob (as a store
/// another tool wrote could hold): reading it is refused, naming the layer, and `images` lists
/// it without a size, never adding up the lie.
#[test]
fn a_manifest_lying_about_a_blob_size_is_refused_when_read() {
    let context = TestContext::new();
    let digest = install_busybox(&context);
    let store = Store::open(&crate::common::images::store_dir(&context)).unwrap();
    let honest = store.read_blob(&digest.parse().unwrap()).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&honest).unwrap();
    manifest["layers"][0]["size"] = serde_json::json!(1_000_000_000_000_000_u64);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let lying = store.write_blob(&bytes).unwrap();
    let descriptor = mlpack::oci::Descriptor::new(
        oci_spec::image::MediaType::ImageManifest,
        bytes.len() as u64,
        lying.to_oci(),
    );
    store.tag(&"liar:v1".parse().unwrap(), &descriptor).unwrap();

    let images = context.run(&["images"]);
    assert!(images.starts_with("exit: 0\n"), "{images}");
    assert!(!images.contains("GB"), "{images}");
    assert!(
        images.contains("warning: `liar:v1` cannot be read: image `sha256:"),
        "{images}"
    );
    let liar_row = images
        .lines()
        .find(|line| line.starts_with("liar:v1"))
        .unwrap();
    assert!(liar_row.ends_with('?'), "{images}");
    let listed: serde_json::Value = serde_json::from_str(
        context
            .run(&["--json", "images"])
            .split("--- stdout\n")
            .nth(1)
            .unwrap()
            .split("--- stderr")
            .next()
            .unwrap(),
    )
    .unwrap();
    let liar = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["reference"] == "liar:v1")
        .unwrap();
    assert_eq!(liar["size"], serde_json::Value::Null, "{listed}");

    let inspected = context.run(&["inspect", "liar:v1"]);
    assert!(
        inspected.contains(&format!(
            "says its layer `{}` is 1000000000000000 bytes, but that blob is ",
            manifest["layers"][0]["digest"].as_str().unwrap()
        )),
        "{inspected}"
    );
    assert!(
        inspected.contains("hint: `mlpack doctor` says whether the blob is damaged"),
        "{inspected}"
    );
}

/// A layer that hard-links files of the layer below, as Docker accepts (it applies a layer on
/// the merged view of those below): it loads and runs, both names the same file.
#[cfg(feature = "test-root")]
#[test]
fn a_hard_link_to_a_file_of_a_lower_layer_loads_and_runs() {
    let context = TestContext::new();
    let root = busybox_root(&context);
    fs_err::create_dir(root.join("data")).unwrap();
    fs_err::write(root.join("data/file"), "from the layer below\n").unwrap();
    let linked = layer_tar(&[
        Entry::Dir("data/"),
        Entry::HardLink("data/one", "data/file"),
        Entry::HardLink("data/two", "./data/file"),
    ]);
    let archive = context.temp.path().join("linked.tar");
    docker_archive(&archive, "linked:test", &[tree_tar(&root), linked]);
    let (code, _, stderr) = in_other(&context, &["load", "-i", archive.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = in_other(
        &context,
        &[
            "run",
            "--rm",
            "linked:test",
            "sh",
            "-c",
            "cat /data/one /data/file; [ /data/one -ef /data/two ] && echo same",
        ],
        None,
    );
    assert_eq!(
        (code, stdout.as_str()),
        (0, "from the layer below\nfrom the layer below\nsame\n"),
        "{stderr}"
    );
    // The linking layer is unpacked under its chain ID; `prune` keeps it with its image.
    let prune = |context: &TestContext| {
        let (code, stdout, stderr) = in_other(context, &["--json", "prune"], None);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["layers_removed"].clone()
    };
    assert_eq!(prune(&context), 0);
    let (code, _, stderr) = in_other(&context, &["rmi", "linked:test"], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(prune(&context), 2);
}
