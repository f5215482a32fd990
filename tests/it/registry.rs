//! `mlpack push`/`pull`/`login` against a real registry (Debian's `docker-registry` on
//! 127.0.0.1), and interop with Docker and skopeo both ways.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::common::TestContext;
use crate::common::images::{
    Entry, busybox_root, escaping_layers, image_of_layers, layer_tar, snapshot_tree, tree_tar,
};
use crate::common::registry::{PASSWORD, TestRegistry, USER};
use crate::run::{busybox_image, json, mlpack, ok, store_dir};

fn local_digest(context: &TestContext, image: &str) -> String {
    json(&ok(context, &["--json", "images"]))
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["reference"] == image)
        .map_or_else(
            || panic!("no {image}"),
            |entry| entry["digest"].as_str().unwrap().to_string(),
        )
}

/// The repository digests `mlpack images --json` lists for `image`.
fn repo_digests(context: &TestContext, image: &str) -> Vec<String> {
    let images = json(&ok(context, &["--json", "images"]));
    let entry = images
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["reference"] == image)
        .unwrap_or_else(|| panic!("no {image}"));
    serde_json::from_value(entry["repo_digests"].clone()).unwrap()
}

/// A push sends gzip layers by default, made once and reproducibly: a second push, even
/// after `prune` dropped the gzip copy, sends no blob, and both digests are recorded.
#[test]
fn push_then_pull_gives_the_same_image_and_a_second_push_sends_nothing() {
    let context = TestContext::new();
    let image = busybox_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    let remote = format!("{}/team/busybox:v1", registry.host);

    let first = json(&ok(&context, &["--json", "push", image, &remote]));
    assert!(first["blobs_uploaded"].as_u64().unwrap() >= 2, "{first}");
    let local = local_digest(&context, image);
    assert_eq!(first["local_digest"], local.as_str(), "{first}");
    assert_ne!(first["digest"], local.as_str(), "gzip layers: {first}");
    let again = json(&ok(&context, &["--json", "push", image, &remote]));
    assert_eq!(again["blobs_uploaded"], 0, "{again}");
    assert_eq!(again["bytes_uploaded"], 0, "{again}");
    ok(&context, &["prune"]);
    let after_prune = json(&ok(&context, &["--json", "push", image, &remote]));
    assert_eq!(after_prune["digest"], first["digest"], "{after_prune}");
    assert_eq!(after_prune["blobs_uploaded"], 0, "{after_prune}");
    let pushed = format!(
        "{}/team/busybox@{}",
        registry.host,
        first["digest"].as_str().unwrap()
    );
    assert_eq!(repo_digests(&context, image), std::slice::from_ref(&pushed));
    let table = ok(&context, &["images", "--digests"]);
    assert!(table.contains(&pushed) && table.contains(&local), "{table}");
    let inspected = json(&ok(&context, &["inspect", image]));
    assert_eq!(inspected["repo_digests"], serde_json::json!([pushed]));

    let other = TestContext::new();
    let pulled = json(&ok(&other, &["--json", "pull", &remote]));
    assert_eq!(pulled["digest"], first["digest"]);
    assert_eq!(
        local_digest(&other, &remote),
        first["digest"].as_str().unwrap()
    );
    assert_eq!(repo_digests(&other, &remote), [pushed]);
    let stdout = ok(&other, &["run", "--rm", &remote, "echo", "pulled"]);
    assert_eq!(stdout, "pulled\n");
    let again = json(&ok(&other, &["--json", "pull", &remote]));
    assert_eq!(again["blobs_downloaded"], 0, "{again}");

    // `--compression zstd` sends the store's layers: the pushed digest is the local one.
    let zstd = format!("{}/team/busybox:zstd", registry.host);
    let sent = json(&ok(
        &context,
        &["--json", "push", "--compression", "zstd", image, &zstd],
    ));
    assert_eq!(sent["digest"], local.as_str(), "{sent}");
}

/// `run` of a registry image the store lacks pulls it first, as `docker run` does; `--pull
/// never` refuses, `--pull always` checks the registry again; a name no registry has is
/// reported as missing, with why the pull failed.
#[test]
fn run_pulls_a_missing_image_unless_told_not_to() {
    let context = TestContext::new();
    let image = busybox_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    let remote = format!("{}/team/busybox:v1", registry.host);
    ok(&context, &["push", image, &remote]);

    let other = TestContext::new();
    let (code, _, stderr) = mlpack(&other, &["run", "--rm", "--pull", "never", &remote, "true"]);
    assert_eq!(code, 125, "{stderr}");
    assert!(stderr.contains("no image"), "{stderr}");
    let (code, stdout, stderr) = mlpack(&other, &["run", "--rm", &remote, "echo", "ran"]);
    assert_eq!((code, stdout.as_str()), (0, "ran\n"), "{stderr}");
    assert!(stderr.contains("Pulled `"), "{stderr}");
    let (code, _, stderr) = mlpack(&other, &["run", "--rm", &remote, "true"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("Pulled"),
        "present, so not pulled again: {stderr}"
    );
    let (code, _, stderr) = mlpack(
        &other,
        &["run", "--rm", "--pull", "always", &remote, "true"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Pulled `"), "{stderr}");

    let unknown = format!("{}/team/nothing:v1", registry.host);
    let (code, _, stderr) = mlpack(&other, &["run", "--rm", &unknown, "true"]);
    assert_eq!(code, 125, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no image `{unknown}` in the store, and pulling it failed"
        )),
        "{stderr}"
    );
}

#[test]
fn a_blob_altered_on_the_registry_is_refused() {
    let context = TestContext::new();
    let image = busybox_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    let remote = format!("{}/bb:v1", registry.host);
    ok(&context, &["push", image, &remote]);
    // The biggest blob on the registry's disk is the layer: flip one byte of it.
    let layer = walkdir::WalkDir::new(&registry.storage)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_name() == "data")
        .max_by_key(|entry| entry.metadata().unwrap().len())
        .unwrap();
    let mut bytes = fs_err::read(layer.path()).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs_err::write(layer.path(), bytes).unwrap();

    let other = TestContext::new();
    let (code, _, stderr) = mlpack(&other, &["pull", &remote]);
    assert_ne!(code, 0);
    assert!(stderr.contains("sha256"), "{stderr}");
    let images = ok(&other, &["images"]);
    assert!(
        !images.contains("bb:v1"),
        "nothing unverified is named: {images}"
    );
}

/// A manifest that lies about the size of a blob the puller already has: the blob is not
/// downloaded again, so its size is checked against the store's, and nothing is tagged.
#[test]
fn a_manifest_lying_about_a_stored_blob_size_is_refused_by_pull() {
    let context = TestContext::new();
    let image = busybox_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    let honest = format!("{}/bb:v1", registry.host);
    // The store's own layers, so that the manifest below names blobs the registry has.
    ok(&context, &["push", "--compression", "zstd", image, &honest]);
    let other = TestContext::new();
    ok(&other, &["pull", &honest]);

    let digest = local_digest(&context, image);
    let blob = store_dir(&context)
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs_err::read(blob).unwrap()).unwrap();
    manifest["layers"][0]["size"] = serde_json::json!(1_000_000_000_000_000_u64);
    let body = context.temp.path().join("liar.json");
    fs_err::write(&body, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json");
    let put = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-X", "PUT", "-H"])
        .arg(format!("Content-Type: {media_type}"))
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg(format!("http://{}/v2/bb/manifests/v2", registry.host))
        .output()
        .unwrap();
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stdout)
    );

    let liar = format!("{}/bb:v2", registry.host);
    let (code, _, stderr) = mlpack(&other, &["pull", &liar]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("bytes, but its manifest says 1000000000000000"),
        "{stderr}"
    );
    let images = ok(&other, &["images"]);
    assert!(!images.contains("bb:v2"), "{images}");
    assert!(!images.contains("GB"), "{images}");
}

#[test]
fn login_with_a_wrong_password_is_refused_and_the_right_one_lets_push_work() {
    let context = TestContext::new();
    let image = busybox_image(&context);
    let registry = TestRegistry::start_with_auth(context.temp.path());
    let remote = format!("{}/private:v1", registry.host);

    let (code, _, stderr) = mlpack(&context, &["push", image, &remote]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("mlpack login {}", registry.host)),
        "{stderr}"
    );

    let login = |password: &str| {
        let mut child = context
            .mlpack(&["login", &registry.host, "-u", USER, "--password-stdin"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let wrong = login("not-the-password");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    let right = login(PASSWORD);
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    let auth = context.temp.path().join("home/.config/mlpack/auth.json");
    let auth = if auth.exists() {
        auth
    } else {
        context.temp.path().join("config/mlpack/auth.json")
    };
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&fs_err::metadata(&auth).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    ok(&context, &["push", image, &remote]);
    ok(&context, &["logout", &registry.host]);
    let (code, _, _) = mlpack(&context, &["push", image, &remote]);
    assert_eq!(code, 1);
}

#[cfg(feature = "test-docker")]
fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Debian's Docker (20.10, which reads no zstd layers) pulls what `mlpack push` sends with
/// its defaults. The image's one layer holds a nonce, so Docker has never seen it: the pull
/// downloads and decompresses every layer rather than finding one already in its store.
#[cfg(feature = "test-docker")]
#[test]
fn docker_pulls_what_mlpack_pushed_and_mlpack_pulls_what_docker_pushed() {
    let context = TestContext::new();
    let root = crate::common::images::busybox_root(&context);
    let nonce = format!(
        "{:?} {}",
        std::time::SystemTime::now(),
        context.temp.path().display()
    );
    fs_err::write(root.join("etc/nonce"), nonce).unwrap();
    let store = mlpack::oci::Store::open(&store_dir(&context)).unwrap();
    crate::common::images::one_layer_image(&store, &root, "fresh:v1", &["sh"]);
    let registry = TestRegistry::start(context.temp.path());
    let ours = format!("{}/from-mlpack:v1", registry.host);
    ok(&context, &["push", "fresh:v1", &ours]);
    let _ = Command::new("docker").args(["rmi", &ours]).output();
    docker(&["pull", &ours]);
    let stdout = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &ours,
        "cat",
        "/etc/nonce",
    ]);
    assert_eq!(
        stdout,
        fs_err::read_to_string(root.join("etc/nonce")).unwrap()
    );

    let theirs = format!("{}/from-docker:v1", registry.host);
    docker(&["tag", &ours, &theirs]);
    docker(&["push", &theirs]);
    let _ = Command::new("docker")
        .args(["rmi", &ours, &theirs])
        .output();
    let other = TestContext::new();
    ok(&other, &["pull", &theirs]);
    let stdout = ok(&other, &["run", "--rm", &theirs, "echo", "in-mlpack"]);
    assert_eq!(stdout, "in-mlpack\n");
}

#[test]
fn skopeo_copies_both_ways() {
    let context = TestContext::new();
    let image = busybox_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    let pushed = format!("{}/by-mlpack:v1", registry.host);
    ok(&context, &["push", image, &pushed]);
    let copy = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{pushed}"))
        .arg(format!(
            "oci:{}:copied",
            context.temp.path().join("layout").display()
        ))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );

    let by_skopeo = format!("{}/by-skopeo:v1", registry.host);
    let copy = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:{image}", store_dir(&context).display()))
        .arg(format!("docker://{by_skopeo}"))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let other = TestContext::new();
    ok(&other, &["pull", &by_skopeo]);
    assert_eq!(
        ok(&other, &["run", "--rm", &by_skopeo, "echo", "ok"]),
        "ok\n"
    );
}

/// An image with one big incompressible layer, so a pull takes long enough to interrupt.
fn big_image(context: &TestContext) -> &'static str {
    use mlpack::oci::{HistoryEntry, ImageSpec, LayerWriter, Store, write_image};
    let root = context.temp.path().join("big-root");
    fs_err::create_dir_all(&root).unwrap();
    let mut random = vec![0_u8; 128 << 20];
    std::io::Read::read_exact(
        &mut fs_err::File::open("/dev/urandom").unwrap(),
        &mut random,
    )
    .unwrap();
    fs_err::write(root.join("weights.bin"), random).unwrap();
    let store = Store::open(&store_dir(context)).unwrap();
    let layer = LayerWriter::new()
        .zstd_level(1)
        .write_dir(&store, &root)
        .unwrap();
    let descriptor = write_image(
        &store,
        &ImageSpec {
            layers: vec![layer],
            env: Vec::new(),
            working_dir: String::new(),
            cmd: Vec::new(),
            entrypoint: Vec::new(),
            user: String::new(),
            exposed_ports: Vec::new(),
            volumes: Vec::new(),
            stop_signal: String::new(),
            labels: std::collections::BTreeMap::new(),
            created: "2000-01-01T00:00:00Z".to_string(),
            architecture: "amd64".to_string(),
            os: "linux".to_string(),
            history: vec![HistoryEntry {
                created_by: "weights".to_string(),
                comment: String::new(),
                empty_layer: false,
            }],
        },
    )
    .unwrap();
    store
        .tag(&"big:test".parse().unwrap(), &descriptor)
        .unwrap();
    "big:test"
}

#[test]
fn a_pull_killed_midway_resumes() {
    let context = TestContext::new();
    let image = big_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    let remote = format!("{}/big:v1", registry.host);
    let pushed = json(&ok(&context, &["--json", "push", image, &remote]));
    let total = pushed["bytes_uploaded"].as_u64().unwrap();

    let other = TestContext::new();
    let mut pull = other
        .mlpack(&["pull", &remote])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tmp = store_dir(&other).join("tmp");
    let started = std::time::Instant::now();
    let partial_size = || {
        fs_err::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("partial-"))
            .map(|entry| entry.metadata().map_or(0, |metadata| metadata.len()))
            .max()
            .unwrap_or(0)
    };
    while partial_size() < 16 << 20 {
        assert!(
            started.elapsed() < std::time::Duration::from_mins(1),
            "no partial download appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    pull.kill().unwrap();
    pull.wait().unwrap();
    let kept = partial_size();
    assert!(kept > 0 && kept < total, "{kept} of {total}");

    let resumed = json(&ok(&other, &["--json", "pull", &remote]));
    let downloaded = resumed["bytes_downloaded"].as_u64().unwrap();
    assert!(
        downloaded <= total - kept + (1 << 20),
        "resumed: {downloaded} downloaded of {total}, {kept} kept"
    );
    assert_eq!(resumed["digest"], pushed["digest"]);
}

/// A layer that tries to write outside its directory (`..`, an absolute path, a symlink out
/// of the layer) is refused by `pull`, which unpacks what it pulls, and the store is as it
/// was: no name, blob or unpacked layer of the image is left.
#[test]
fn layers_that_escape_are_refused_at_pull_and_change_nothing() {
    let context = TestContext::new();
    busybox_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    // The images are made in another store and pushed from there: `push` does not unpack.
    let source_dir = context.temp.path().join("source-store");
    let source = mlpack::oci::Store::open(&source_dir).unwrap();
    let outside = context.temp.path().join("outside");
    fs_err::create_dir(&outside).unwrap();
    let base = layer_tar(&[Entry::Dir("etc/"), Entry::File("etc/hostname", "base\n")]);
    for (case, evil) in escaping_layers(&outside) {
        let name = format!("evil:{case}");
        image_of_layers(&source, &name, &[base.clone(), evil]);
        let remote = format!("{}/{name}", registry.host);
        let pushed = context
            .mlpack(&["push", &name, &remote])
            .env("MLPACK_HOME", &source_dir)
            .output()
            .unwrap();
        assert!(pushed.status.success(), "{}", context.render(&pushed));

        let before = snapshot_tree(&store_dir(&context));
        let (code, stdout, stderr) = mlpack(&context, &["pull", &remote]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{case}: {stderr}");
        assert!(
            stderr.contains(&format!("refused the image `{remote}`"))
                && stderr.contains("has an unsafe entry"),
            "{case}: {stderr}"
        );
        assert_eq!(snapshot_tree(&store_dir(&context)), before, "{case}");
        assert!(
            fs_err::read_dir(&outside).unwrap().next().is_none(),
            "{case}"
        );
    }
}

/// Pushed from another store: busybox, a small layer and a 128 MB one, so that the big one
/// takes a while to download. Returns the reference and the hex digests of the layers'
/// blobs on the registry, bottom first.
fn small_and_big_layers(context: &TestContext, registry: &TestRegistry) -> (String, Vec<String>) {
    let source_dir = context.temp.path().join("source-store");
    let source = mlpack::oci::Store::open(&source_dir).unwrap();
    // Printable, but random: it stays about 100 MB when compressed.
    let mut big = vec![0_u8; 128 << 20];
    std::io::Read::read_exact(&mut fs_err::File::open("/dev/urandom").unwrap(), &mut big).unwrap();
    let big = String::from_utf8(big.iter().map(|byte| b' ' + byte % 64).collect()).unwrap();
    let layers = [
        tree_tar(&busybox_root(context)),
        layer_tar(&[Entry::Dir("etc/"), Entry::File("etc/small", "small\n")]),
        layer_tar(&[Entry::File("big.bin", &big)]),
    ];
    image_of_layers(&source, "layered:v1", &layers);
    let remote = format!("{}/layered:v1", registry.host);
    let pushed = context
        .mlpack(&["push", "--compression", "zstd", "layered:v1", &remote])
        .env("MLPACK_HOME", &source_dir)
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", context.render(&pushed));
    let manifest = Command::new("curl")
        .args(["-sS", "--fail", "-H"])
        .arg("Accept: application/vnd.oci.image.manifest.v1+json")
        .arg(format!("http://{}/v2/layered/manifests/v1", registry.host))
        .output()
        .unwrap();
    assert!(manifest.status.success(), "{manifest:?}");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    let blobs = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            layer["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
                .to_string()
        })
        .collect();
    (remote, blobs)
}

/// A pull unpacks each layer once its blob is in, while the others still download: the
/// small layer's directory was made before the big blob was whole. The image then runs.
#[test]
fn a_pull_unpacks_each_layer_as_its_blob_arrives() {
    let context = TestContext::new();
    let registry = TestRegistry::start(context.temp.path());
    let (remote, blobs) = small_and_big_layers(&context, &registry);

    ok(&context, &["pull", &remote]);
    let store = store_dir(&context);
    let inspected = json(&ok(&context, &["--json", "inspect", &remote]));
    let small_diff_id = inspected["config"]["rootfs"]["diff_ids"][1]
        .as_str()
        .unwrap();
    let small_dir = store
        .join("layers")
        .join(small_diff_id.trim_start_matches("sha256:"));
    let small = fs_err::metadata(small_dir).unwrap();
    let big = fs_err::metadata(store.join("blobs/sha256").join(&blobs[2])).unwrap();
    let (began, arrived) = (small.created().unwrap(), big.modified().unwrap());
    assert!(
        began < arrived,
        "the small layer was unpacked after the big blob arrived: {began:?} >= {arrived:?}"
    );
    assert_eq!(
        ok(&context, &["run", "--rm", &remote, "cat", "/etc/small"]),
        "small\n"
    );
}

/// A blob that fails its digest after other layers were unpacked from theirs: the pull
/// fails, and no layer directory, whole or half-made, is left.
#[test]
fn a_damaged_blob_mid_pull_leaves_no_unpacked_layer() {
    let context = TestContext::new();
    let registry = TestRegistry::start(context.temp.path());
    let (remote, blobs) = small_and_big_layers(&context, &registry);
    let hex = &blobs[2];
    let blob = walkdir::WalkDir::new(&registry.storage)
        .into_iter()
        .flatten()
        .find(|entry| entry.file_name() == "data" && entry.path().to_string_lossy().contains(hex))
        .unwrap();
    let mut bytes = fs_err::read(blob.path()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs_err::write(blob.path(), bytes).unwrap();

    let (code, _, stderr) = mlpack(&context, &["pull", &remote]);
    assert_ne!(code, 0);
    assert!(stderr.contains(hex.as_str()), "{stderr}");
    let left: Vec<String> = fs_err::read_dir(store_dir(&context).join("layers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "l")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
