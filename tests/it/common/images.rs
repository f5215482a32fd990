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
    let architecture = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    };
    let descriptor = write_image(
        store,
        &ImageSpec {
            layers: vec![layer],
            env: vec!["PATH=/bin".to_string()],
            working_dir: String::new(),
            cmd: cmd.iter().map(|arg| (*arg).to_string()).collect(),
            entrypoint: Vec::new(),
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
    store.tag(reference, &descriptor).unwrap();
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
