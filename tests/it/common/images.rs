//! Small images written straight into a test's store, without a build: a one-layer image of
//! any tree, and the busybox image most runtime tests use (the host's static busybox with
//! its applets as links; Debian's busybox-static).

use std::path::{Path, PathBuf};
use std::process::Command;

use mlpack::oci::{HistoryEntry, ImageSpec, LayerWriter, Store, write_image};

use super::TestContext;

/// The busybox image's name in the test's store.
pub(crate) const BUSYBOX: &str = "busybox:test";

/// The test's store, where `mlpack` (run by [`TestContext`]) finds images.
pub(crate) fn store_dir(context: &TestContext) -> PathBuf {
    context.temp.path().join("store")
}

/// Write `tree` as the one layer of an image tagged `reference` in `store`, with `PATH=/bin`
/// and `cmd`; its manifest digest.
pub(crate) fn one_layer_image(store: &Store, tree: &Path, reference: &str, cmd: &[&str]) -> String {
    let layer = LayerWriter::new().write_dir(store, tree).unwrap();
    let architecture = mlpack::arch::Arch::host().oci();
    let descriptor = write_image(
        store,
        &ImageSpec {
            layers: vec![layer],
            env: vec!["PATH=/bin".to_string()],
            working_dir: String::new(),
            cmd: cmd.iter().map(|arg| (*arg).to_string()).collect(),
            entrypoint: Vec::new(),
            user: String::new(),
            exposed_ports: Vec::new(),
            volumes: Vec::new(),
            stop_signal: String::new(),
            labels: std::collections::BTreeMap::new(),
            created: "2000-01-01T00:00:00Z".to_string(),
            architecture: architecture.to_string(),
            os: "linux".to_string(),
            history: vec![HistoryEntry {
                created_by: "test".to_string(),
                comment: String::new(),
                empty_layer: false,
            }],
        },
    )
    .unwrap();
    store.tag(&reference.parse().unwrap(), &descriptor).unwrap();
    descriptor.digest().to_string()
}

/// A tree with the host's static busybox, its applets as links, and `root` and `nobody`.
pub(crate) fn busybox_root(context: &TestContext) -> PathBuf {
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|path| path.exists())
        .expect("busybox is installed (Debian's busybox-static)");
    let root = context.temp.path().join("busybox-root");
    for dir in ["bin", "etc", "tmp", "root"] {
        fs_err::create_dir_all(root.join(dir)).unwrap();
    }
    fs_err::copy(busybox, root.join("bin/busybox")).unwrap();
    let applets = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    fs_err::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    )
    .unwrap();
    fs_err::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    root
}

/// Put the busybox image, tagged [`BUSYBOX`], in the test's store; its manifest digest.
pub(crate) fn install_busybox(context: &TestContext) -> String {
    let root = busybox_root(context);
    let store = Store::open(&store_dir(context)).unwrap();
    one_layer_image(&store, &root, BUSYBOX, &["sh"])
}

/// One entry of a layer made by [`layer_tar`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// An uncompressed layer of `entries`, names written as given (`tar::Builder` refuses `..`
/// and absolute ones), root-owned, mode 0755 (directories) or 0644.
pub(crate) fn layer_tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        let (name, link, data, kind, mode) = match *entry {
            Entry::Dir(name) => (name, "", "", tar::EntryType::Directory, 0o755),
            Entry::File(name, data) => (name, "", data, tar::EntryType::Regular, 0o644),
            Entry::Symlink(name, target) => (name, target, "", tar::EntryType::Symlink, 0o777),
            Entry::HardLink(name, target) => (name, target, "", tar::EntryType::Link, 0o644),
        };
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The tree at `root` as an uncompressed layer, symlinks kept as symlinks.
pub(crate) fn tree_tar(root: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", root).unwrap();
    builder.into_inner().unwrap()
}

/// Write a docker-archive (`docker save`'s format) to `path`: one image named `name` with
/// `layers` (uncompressed, bottom first), `PATH=/bin` and `sh` as its command.
pub(crate) fn docker_archive(path: &Path, name: &str, layers: &[Vec<u8>]) {
    let sha256 = |bytes: &[u8]| mlpack::oci::Digest::of(bytes);
    let config = serde_json::json!({
        "architecture": if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" },
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|layer| sha256(layer).to_string()).collect::<Vec<_>>(),
        },
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", sha256(&config).hex());
    let layer_names: Vec<String> = (0..layers.len())
        .map(|index| format!("{index}/layer.tar"))
        .collect();
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [name],
        "Layers": layer_names,
    }]);
    let mut archive = tar::Builder::new(fs_err::File::create(path).unwrap());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        archive.append_data(&mut header, name, bytes).unwrap();
    };
    for (name, layer) in layer_names.iter().zip(layers) {
        add(name, layer);
    }
    add(&config_name, &config);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    archive.into_inner().unwrap();
}

/// An image of `layers` (uncompressed tars, bottom first) tagged `reference` in `store`,
/// written blob by blob as a registry or another tool could have made it; its digest.
pub(crate) fn image_of_layers(store: &Store, reference: &str, layers: &[Vec<u8>]) -> String {
    let layers = layers
        .iter()
        .map(|tar| {
            let digest = store.write_blob(tar).unwrap();
            mlpack::oci::Layer {
                diff_id: mlpack::oci::DiffId::new(digest.clone()),
                digest,
                size: tar.len() as u64,
                media_type: mlpack::compression::MEDIA_TYPE_LAYER_TAR.to_string(),
            }
        })
        .collect();
    let descriptor = write_image(
        store,
        &ImageSpec {
            layers,
            env: vec!["PATH=/bin".to_string()],
            working_dir: String::new(),
            cmd: vec!["sh".to_string()],
            entrypoint: Vec::new(),
            user: String::new(),
            exposed_ports: Vec::new(),
            volumes: Vec::new(),
            stop_signal: String::new(),
            labels: std::collections::BTreeMap::new(),
            created: "2000-01-01T00:00:00Z".to_string(),
            architecture: if cfg!(target_arch = "aarch64") {
                "arm64"
            } else {
                "amd64"
            }
            .to_string(),
            os: "linux".to_string(),
            history: Vec::new(),
        },
    )
    .unwrap();
    store.tag(&reference.parse().unwrap(), &descriptor).unwrap();
    descriptor.digest().to_string()
}

/// The three ways a layer can try to write outside its directory, each as the entries of a
/// layer that tries it once (and a name for messages): `outside` is an absolute host path
/// the symlink case aims at.
pub(crate) fn escaping_layers(outside: &Path) -> [(&'static str, Vec<u8>); 3] {
    let outside = outside.to_str().unwrap();
    [
        ("dot-dot", layer_tar(&[Entry::File("../../../escape", "x")])),
        (
            "absolute",
            layer_tar(&[Entry::File(&format!("{outside}/absolute"), "x")]),
        ),
        (
            "symlink",
            layer_tar(&[
                Entry::Symlink("link", outside),
                Entry::File("link/through-symlink", "x"),
            ]),
        ),
    ]
}

/// Every file under `dir` (relative), with the sha256 of its content (a symlink's target),
/// for "nothing changed" checks; directories, which appear empty as needed, are left out.
pub(crate) fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| !entry.file_type().is_dir())
        .map(|entry| {
            let content = if entry.file_type().is_symlink() {
                fs_err::read_link(entry.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                fs_err::read(entry.path()).unwrap()
            };
            let path = entry.path().strip_prefix(dir).unwrap().to_path_buf();
            (path, mlpack::oci::Digest::of(&content).to_string())
        })
        .collect();
    files.sort();
    files
}
