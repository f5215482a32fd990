//! `mlpack build` end to end: a real Debian base and real wheels, the image in the store,
//! reproducible digests, what runs inside, and bad archives refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::TestContext;
use crate::common::index::{TestIndex, Wheel};

/// `mlpack ARGS` online, with the shared download cache; panics with the output on failure.
pub(crate) fn mlpack_ok(context: &TestContext, args: &[&str]) -> String {
    let mut command = context.mlpack(args);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let output = command.output().unwrap();
    let rendered = context.render(&output);
    assert!(output.status.success(), "{rendered}");
    rendered
}

/// The JSON document a rendered `mlpack --json …` run printed on stdout.
fn stdout_json(rendered: &str) -> serde_json::Value {
    let stdout = rendered
        .split("--- stdout\n")
        .nth(1)
        .and_then(|rest| rest.split("--- stderr").next())
        .unwrap();
    serde_json::from_str(stdout).unwrap()
}

fn store(context: &TestContext) -> PathBuf {
    context.temp.path().join("store")
}

fn manifest_digest(context: &TestContext, reference: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(store(context).join("index.json")).unwrap())
            .unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == reference)
        .map_or_else(
            || panic!("`{reference}` is not in {index}"),
            |entry| entry["digest"].as_str().unwrap().to_string(),
        )
}

fn blob(context: &TestContext, digest: &str) -> Vec<u8> {
    fs_err::read(
        store(context)
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// Unpack the image's layers into `root`, in order (mlpack's layers carry no whiteouts).
fn unpack(context: &TestContext, reference: &str, root: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(context, &manifest_digest(context, reference))).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let bytes = blob(context, layer["digest"].as_str().unwrap());
        let reader: Box<dyn std::io::Read> =
            if layer["mediaType"].as_str().unwrap().ends_with("zstd") {
                Box::new(zstd::Decoder::new(&bytes[..]).unwrap())
            } else {
                Box::new(flate2::read::GzDecoder::new(&bytes[..]))
            };
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_unpack_xattrs(false);
        archive.unpack(root).unwrap();
    }
}

/// Run `command` inside the unpacked image with `chroot` (the tests run as root).
fn chroot(root: &Path, command: &[&str]) -> std::process::Output {
    Command::new("/usr/sbin/chroot")
        .arg(root)
        .args(command)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap()
}

/// A project whose Python packages come from an index the test serves.
pub(crate) fn local_project(index: &TestIndex) -> TestContext {
    index
        .publish(&Wheel::new("alpha", "1.0", &[]))
        .publish(&Wheel::new("beta", "2.0", &[]));
    let context = TestContext::new();
    context.write("mlpack.toml", &format!("[project]\nname = \"demo\"\n[python]\nversion = \"3.11\"\nindex-url = \"{}\"\nrequirements = [\"alpha\", \"beta\"]\n[train]\ncommand = [\"python3\", \"train.py\"]\n", index.url));
    context.write(
        "train.py",
        "import alpha, beta\nprint('trained with', alpha.__version__, beta.__version__)\n",
    );
    context
}

#[test]
fn a_small_project_builds_and_runs_inside_its_image() {
    let index = TestIndex::start();
    let context = local_project(&index);
    let output = mlpack_ok(&context, &["build"]);
    assert!(output.contains("Built `demo:latest`"), "{output}");
    let lock = context.read("mlpack.lock");
    assert!(
        lock.contains("[base]\nimage = \"debian:bookworm\""),
        "the base is pinned: {lock}"
    );
    assert!(
        lock.contains("[[base.packages]]\nname = \"python3\""),
        "{lock}"
    );
    let root = context.temp.path().join("rootfs");
    unpack(&context, "demo:latest", &root);
    let run = chroot(
        &root,
        &[
            "/bin/sh",
            "-c",
            "cd /app && python3 train.py && dpkg -l python3 | tail -1",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.starts_with("trained with 1.0 2.0\n"), "{stdout}");
    assert!(
        stdout.contains("ii  python3"),
        "dpkg knows the base's packages: {stdout}"
    );
    let config = image_config(&context, "demo:latest");
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["python3", "train.py"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert!(
        config["config"]["Labels"]["dev.mlpack.lock.sha256"]
            .as_str()
            .is_some_and(|hash| hash.len() == 64)
    );
}

/// A store inside the project (`MLPACK_HOME=./.mlpack`) is not code: the build neither copies
/// it into the code layer nor loops copying the store into its own staging tree.
#[test]
fn a_store_inside_the_project_is_not_code() {
    let index = TestIndex::start();
    let context = local_project(&index);
    let mut command = context.mlpack(&["--json", "build"]);
    command
        .env_remove("MLPACK_OFFLINE")
        .env("MLPACK_HOME", context.project.join(".mlpack"));
    TestContext::shared_cache(&mut command);
    let output = command.output().unwrap();
    let rendered = context.render(&output);
    assert!(output.status.success(), "{rendered}");
    let report = stdout_json(&rendered);
    let code = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|layer| {
            let description = layer["description"].as_str()?;
            description.strip_prefix("project code at /app (")
        })
        .unwrap_or_else(|| panic!("no code layer: {report}"))
        .to_string();
    let files: usize = code.split(' ').next().unwrap().parse().unwrap();
    assert!(files < 10, "the store went into the code layer: {code}");
}

/// Without a terminal (CI logs), each batch of downloads and each layer written is one line
/// with its size and time (issue 21, item 3).
#[test]
fn without_a_terminal_each_download_and_layer_is_one_line() {
    let index = TestIndex::start();
    let context = local_project(&index);
    let output = mlpack_ok(&context, &["build"]);
    let steps: Vec<&str> = output
        .lines()
        .filter(|line| line.starts_with("Fetched ") || line.starts_with("Wrote layer "))
        .collect();
    insta::with_settings!({filters => vec![
        (r"\d+(\.\d+)? (B|kB|MB|GB)", "[SIZE]"),
        (r"in \d+\.\d\ds", "in [TIME]"),
        (r"\d+ Debian packages", "[N] Debian packages"),
    ]}, {
        insta::assert_snapshot!(steps.join("\n"), @r"
        Fetched [N] Debian packages for base debian:bookworm ([SIZE]) in [TIME]
        Wrote layer base debian:bookworm ([SIZE], compressed [SIZE]) in [TIME]
        Wrote layer python standard library bytecode ([SIZE], compressed [SIZE]) in [TIME]
        Fetched 2 wheels for python packages ([SIZE]) in [TIME]
        Wrote layer python packages ([SIZE], compressed [SIZE]) in [TIME]
        Wrote layer project code at /app ([SIZE], compressed [SIZE]) in [TIME]
        ");
    });
}

#[test]
fn the_image_section_sets_user_ports_entrypoint_and_env() {
    let index = TestIndex::start();
    let context = local_project(&index);
    let manifest = context.read("mlpack.toml");
    context.write(
        "mlpack.toml",
        &format!(
            "{manifest}[image]\nuser = \"65534:65534\"\nexpose = [8080, \"53/udp\"]\nentrypoint = [\"/usr/bin/env\"]\n[image.env]\nMODEL_DIR = \"/models\"\nLANG = \"C\"\n"
        ),
    );
    mlpack_ok(&context, &["build"]);
    let config = image_config(&context, "demo:latest")["config"].clone();
    assert_eq!(config["User"], "65534:65534");
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(config["Entrypoint"], serde_json::json!(["/usr/bin/env"]));
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert!(env.contains(&"MODEL_DIR=/models"), "{env:?}");
    assert!(env.contains(&"LANG=C"), "the project's value wins: {env:?}");
    assert!(!env.contains(&"LANG=C.UTF-8"), "{env:?}");
    let ran = mlpack_ok(
        &context,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "demo:latest",
            "sh",
            "-c",
            "id -u; echo $MODEL_DIR",
        ],
    );
    assert!(ran.contains("65534\n/models\n"), "{ran}");
    let trained = mlpack_ok(
        &context,
        &["run", "--rm", "--network", "none", "demo:latest"],
    );
    assert!(trained.contains("trained with 1.0 2.0"), "{trained}");
}

/// The flags word (PEP 552) of every `.pyc` below `dir`: 0 timestamp-based, 1 unchecked
/// hash, 3 checked hash.
fn pyc_flags(dir: &Path) -> BTreeSet<u32> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "pyc"))
        .map(|entry| {
            let header = fs_err::read(entry.path()).unwrap();
            u32::from_le_bytes(header[4..8].try_into().unwrap())
        })
        .collect()
}

/// Every node below `dir` with its type, mode, owner, mtime and content (or link target).
fn tree_with_metadata(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt as _;
    // The root's own times are the unpacking's, not the layer's.
    let mut nodes: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(Result::unwrap)
        .map(|entry| {
            let metadata = entry.path().symlink_metadata().unwrap();
            let content = if entry.file_type().is_symlink() {
                fs_err::read_link(entry.path())
                    .unwrap()
                    .display()
                    .to_string()
            } else if entry.file_type().is_file() {
                mlpack::oci::Digest::of(&fs_err::read(entry.path()).unwrap()).to_string()
            } else {
                String::new()
            };
            format!(
                "{} {:o} {}:{} {} {content}",
                entry.path().strip_prefix(dir).unwrap().display(),
                metadata.mode(),
                metadata.uid(),
                metadata.gid(),
                metadata.mtime(),
            )
        })
        .collect();
    nodes.sort();
    nodes
}

/// A build leaves each layer it wrote unpacked in the store's layer cache, exactly as
/// unpacking its blob gives it, so the first run unpacks nothing; the Python packages carry
/// PEP 552 unchecked-hash bytecode, which Python uses, and the Debian base's standard library
/// checked-hash bytecode in a layer of its own, so a run compiles none of it.
#[test]
fn a_build_fills_the_layer_cache_as_unpacking_would_and_ships_bytecode() {
    let index = TestIndex::start();
    let context = local_project(&index);
    index.publish(&Wheel {
        files: &[
            ("gamma/tests/test_gamma.py", "def test(): pass\n"),
            ("gamma/testing.py", "X = 1\n"),
        ],
        ..Wheel::new("gamma", "1.0", &[])
    });
    context.write(
        "mlpack.toml",
        &context
            .read("mlpack.toml")
            .replace("[\"alpha\", \"beta\"]", "[\"alpha\", \"beta\", \"gamma\"]"),
    );
    let report = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    let layers = store(&context).join("layers");
    let dirs: Vec<PathBuf> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            layers.join(
                layer["diff_id"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            )
        })
        .collect();
    let adopted: Vec<Vec<String>> = dirs.iter().map(|dir| tree_with_metadata(dir)).collect();
    let stdlib = &adopted[1];
    assert!(
        stdlib.iter().any(
            |node| node.contains("usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc")
        ),
        "{stdlib:?}"
    );
    // Every `.pyc` of both layers in the layer's mode, those of the modules the compiler's
    // own processes import at startup (`encodings`, `os`) included.
    assert_eq!(pyc_flags(&dirs[1]), BTreeSet::from([3]));
    assert_eq!(pyc_flags(&dirs[2]), BTreeSet::from([1]));
    // A package's test suite is left to Python to compile if it is ever imported.
    let gamma = dirs[2].join("usr/local/lib/python3.11/dist-packages/gamma");
    assert!(gamma.join("__pycache__/testing.cpython-311.pyc").is_file());
    assert!(!gamma.join("tests/__pycache__").exists());
    let packages = &adopted[2];
    assert!(
        packages
            .iter()
            .any(|node| node.contains("alpha/__pycache__/__init__.cpython-311.pyc")),
        "{packages:?}"
    );

    let moved = context.temp.path().join("adopted-layers");
    fs_err::rename(&layers, &moved).unwrap();
    let flags = mlpack_ok(
        &context,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "demo:latest",
            "python3",
            "-c",
            "import alpha, importlib.util; path = importlib.util.cache_from_source(alpha.__file__); print('flags', int.from_bytes(open(path, 'rb').read(8)[4:], 'little'))",
        ],
    );
    // 1: hash-based, source not checked.
    assert!(flags.contains("flags 1\n"), "{flags}");
    let verbose = mlpack_ok(
        &context,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "demo:latest",
            "sh",
            "-c",
            "python3 -v -c 'import json, email.message, http.client, json.decoder as d, importlib.util as u; print(\"flags\", int.from_bytes(open(u.cache_from_source(d.__file__), \"rb\").read(8)[4:], \"little\"))' 2>&1",
        ],
    );
    // 3: hash-based, source checked.
    assert!(verbose.contains("flags 3\n"), "{verbose}");
    let compiled: Vec<&str> = verbose
        .lines()
        .filter(|line| line.contains("/usr/lib/python3.11/"))
        .filter(|line| {
            line.starts_with("# created")
                || line.starts_with("# code object from") && line.ends_with(".py'")
        })
        .collect();
    assert!(compiled.is_empty(), "compiled at run time: {compiled:?}");
    assert!(
        verbose.contains("/usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc matches"),
        "{verbose}"
    );
    let unpacked: Vec<Vec<String>> = dirs.iter().map(|dir| tree_with_metadata(dir)).collect();
    assert_eq!(adopted, unpacked);
}

fn image_config(context: &TestContext, reference: &str) -> serde_json::Value {
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(context, &manifest_digest(context, reference))).unwrap();
    serde_json::from_slice(&blob(
        context,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap()
}

#[test]
fn builds_are_reproducible_and_a_code_change_rebuilds_only_the_code_layer() {
    let index = TestIndex::start();
    let first = local_project(&index);
    mlpack_ok(&first, &["build"]);
    // Another compression makes other layers, never the cached zstd ones.
    mlpack_ok(
        &first,
        &["build", "--compression", "gzip", "-t", "demo:gzip"],
    );
    let gzip: serde_json::Value =
        serde_json::from_slice(&blob(&first, &manifest_digest(&first, "demo:gzip"))).unwrap();
    let media_types: Vec<&str> = gzip["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        media_types,
        ["application/vnd.oci.image.layer.v1.tar+gzip"; 4]
    );
    // The same project in another directory, another store, later, on one CPU (one zstd
    // worker, one bytecode compile at a time): the same image.
    let second = TestContext::new();
    for file in ["mlpack.toml", "train.py", "mlpack.lock"] {
        second.write(file, &first.read(file));
    }
    let mut command = second.mlpack(&["build"]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let output = on_one_cpu(&command).output().unwrap();
    assert!(output.status.success(), "{}", second.render(&output));
    assert_eq!(
        manifest_digest(&first, "demo:latest"),
        manifest_digest(&second, "demo:latest")
    );

    first.write("train.py", "import alpha, beta\nprint('changed')\n");
    let rebuilt = mlpack_ok(&first, &["--json", "build"]);
    let report: serde_json::Value = stdout_json(&rebuilt);
    let reused: Vec<bool> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["reused"].as_bool().unwrap())
        .collect();
    assert_eq!(
        reused,
        [true, true, true, false],
        "only the code layer is rebuilt: {report}"
    );
}

/// `command` under `taskset -c 0`: the process and its children may use one CPU only.
fn on_one_cpu(command: &Command) -> Command {
    let mut pinned = Command::new("taskset");
    pinned
        .args(["-c", "0"])
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => pinned.env(key, value),
            None => pinned.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        pinned.current_dir(dir);
    }
    pinned
}

/// `git ARGS` in the project, with a fixed identity and commit time.
fn git(context: &TestContext, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(&context.project)
        .env("GIT_AUTHOR_DATE", "2021-06-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2021-06-01T12:00:00Z")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", context.render(&output));
}

#[test]
fn a_clean_git_project_is_created_at_its_last_commit() {
    let index = TestIndex::start();
    let context = local_project(&index);
    // The first build completes the lock (the base's pins); the commit includes it.
    mlpack_ok(&context, &["build"]);
    git(&context, &["init", "-q"]);
    git(&context, &["add", "-A"]);
    git(&context, &["commit", "-q", "-m", "first"]);
    mlpack_ok(&context, &["build", "--locked", "-t", "demo:clean"]);
    let created = |reference| image_config(&context, reference)["created"].clone();
    assert_eq!(created("demo:clean"), "2021-06-01T12:00:00Z");
    let listed = stdout_json(&mlpack_ok(&context, &["--json", "images"]));
    assert_eq!(listed[0]["created"], "2021-06-01T12:00:00Z", "{listed}");
    let table = mlpack_ok(&context, &["images"]);
    assert!(table.contains(" years ago "), "{table}");

    // Uncommitted changes: the commit's time would lie, so the fixed constant.
    context.write("train.py", "import alpha, beta\nprint('changed')\n");
    mlpack_ok(&context, &["build", "--locked", "-t", "demo:dirty"]);
    assert_eq!(created("demo:dirty"), "2000-01-01T00:00:00Z");
    let table = mlpack_ok(&context, &["images"]);
    let header = table.lines().find(|line| line.contains("IMAGE")).unwrap();
    let column = header.find("CREATED").unwrap();
    for row in table.lines().filter(|line| line.starts_with("demo:")) {
        assert!(
            row[column..].starts_with(|c: char| c.is_ascii_digit()),
            "the CREATED column is aligned: {table}"
        );
    }
}

/// What is in the store's `tmp/`, by name.
fn temp_entries(context: &TestContext) -> Vec<String> {
    fs_err::read_dir(store(context).join("tmp"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a build has got as far as a test waits for.
type Reached = fn(&TestContext) -> bool;

/// A build killed with SIGKILL while staging a layer, or after writing one, leaves its temp
/// trees; `doctor` reports them, the next build removes them and gives the same digest.
#[test]
fn a_killed_build_leaves_nothing_behind_and_the_next_gives_the_same_image() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build"]);
    let digest = manifest_digest(&context, "demo:latest");
    // Each point once a temp tree has its `owner`: one killed in the instant before
    // (between its `mkdir` and the rename of its locked owner file) has no lock to test, and
    // is left for an hour (`oci::temp::UNOWNED_GRACE`), as `oci/temp.rs` says; one killed
    // between two trees leaves nothing to clean.
    let points: [(&str, Reached); 2] = [
        ("while staging the first layer", owned_temp_tree),
        ("after writing the first blob", |context| {
            fs_err::read_dir(store(context).join("blobs/sha256"))
                .is_ok_and(|mut blobs| blobs.next().is_some())
                && owned_temp_tree(context)
        }),
    ];
    for (point, reached) in points {
        // A fresh store, so the build has every layer to make (downloads stay cached).
        fs_err::remove_dir_all(store(&context)).unwrap();
        let mut command = context.mlpack(&["build"]);
        command.env_remove("MLPACK_OFFLINE");
        TestContext::shared_cache(&mut command);
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(5);
        while !reached(&context) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{point}: the build ended first"
            );
            assert!(std::time::Instant::now() < deadline, "{point}: not reached");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            !temp_entries(&context).is_empty(),
            "{point}: nothing was left to clean"
        );

        let output = context.mlpack(&["--json", "doctor"]).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["name"] == "store")
            .unwrap();
        assert_eq!(check["status"], "warn", "{point}: {check}");
        assert!(
            check["summary"]
                .as_str()
                .unwrap()
                .contains("left by killed mlpack processes"),
            "{point}: {check}"
        );

        mlpack_ok(&context, &["build"]);
        assert_eq!(manifest_digest(&context, "demo:latest"), digest, "{point}");
        assert_eq!(temp_entries(&context), Vec::<String>::new(), "{point}");
    }
}

/// Whether the store's `tmp/` holds a build's temp tree that has its owner.
fn owned_temp_tree(context: &TestContext) -> bool {
    temp_entries(context).iter().any(|name| {
        name.starts_with("build-")
            && store(context)
                .join("tmp")
                .join(name)
                .join("owner")
                .is_file()
    })
}

/// Two builds of one project and a stream of prunes, all at once on a fresh store: every
/// command succeeds, the image is the one a lone build makes, and the store is sound with
/// nothing left in `tmp/` (a build's live temp trees are never taken for dead ones).
#[test]
fn concurrent_builds_and_prunes_leave_a_sound_store() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build"]);
    let digest = manifest_digest(&context, "demo:latest");
    fs_err::remove_dir_all(store(&context)).unwrap();
    let build = || {
        let mut command = context.mlpack(&["build"]);
        command.env_remove("MLPACK_OFFLINE");
        TestContext::shared_cache(&mut command);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut builds = [build(), build()];
    let mut prune_count = 0;
    while builds
        .iter_mut()
        .any(|build| build.try_wait().unwrap().is_none())
    {
        // In the test's own cache: a prune of the shared one would take other tests' bytecode.
        let pruned = context.run(&["prune"]);
        assert!(pruned.starts_with("exit: 0"), "{pruned}");
        prune_count += 1;
    }
    for build in builds {
        let output = build.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", context.render(&output));
    }
    assert!(prune_count > 0);
    assert_eq!(manifest_digest(&context, "demo:latest"), digest);
    let output = context.mlpack(&["--json", "doctor"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "store")
        .unwrap();
    assert_eq!(check["status"], "ok", "{check}");
    assert_eq!(temp_entries(&context), Vec::<String>::new());
}

#[test]
fn a_malicious_wheel_is_refused_and_leaves_the_store_as_it_was() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build"]);
    let before = fs_err::read_to_string(store(&context).join("index.json")).unwrap();
    index.publish_raw(
        "evil",
        "evil-1.0-py3-none-any.whl",
        &crate::common::index::malicious_wheel("evil", "1.0", "../../../../etc/evil.py"),
    );
    context.write(
        "mlpack.toml",
        &context
            .read("mlpack.toml")
            .replace("[\"alpha\", \"beta\"]", "[\"alpha\", \"beta\", \"evil\"]"),
    );
    let mut command = context.mlpack(&["build"]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let output = command.output().unwrap();
    let rendered = context.render(&output);
    assert_eq!(output.status.code(), Some(1), "{rendered}");
    assert!(
        rendered.contains("evil-1.0-py3-none-any.whl"),
        "the error names the wheel: {rendered}"
    );
    assert_eq!(
        fs_err::read_to_string(store(&context).join("index.json")).unwrap(),
        before
    );
    let leftovers: Vec<_> = fs_err::read_dir(store(&context).join("tmp"))
        .unwrap()
        .collect();
    assert!(
        leftovers.is_empty(),
        "nothing half-built is left: {leftovers:?}"
    );
    assert!(!Path::new("/etc/evil.py").exists());
}

/// A wheel whose file sha256 matches the index but whose `RECORD` disagrees with a file in
/// it is refused by the installer, naming the file, and the store keeps no new image.
#[test]
fn a_wheel_whose_record_hash_disagrees_is_refused() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build"]);
    let before = fs_err::read_to_string(store(&context).join("index.json")).unwrap();
    index.publish_raw(
        "tampered",
        "tampered-1.0-py3-none-any.whl",
        &crate::common::index::wheel_with_a_wrong_record("tampered", "1.0"),
    );
    context.write(
        "mlpack.toml",
        &context.read("mlpack.toml").replace(
            "[\"alpha\", \"beta\"]",
            "[\"alpha\", \"beta\", \"tampered\"]",
        ),
    );
    let mut command = context.mlpack(&["build"]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let output = command.output().unwrap();
    let rendered = context.render(&output);
    assert_eq!(output.status.code(), Some(1), "{rendered}");
    assert!(
        rendered.contains("`tampered/__init__.py` in `tampered-1.0-py3-none-any.whl` has hash"),
        "{rendered}"
    );
    assert!(rendered.contains("but its `RECORD` says"), "{rendered}");
    assert_eq!(
        fs_err::read_to_string(store(&context).join("index.json")).unwrap(),
        before
    );
}

#[test]
fn a_corrupt_cached_wheel_is_fetched_again() {
    let index = TestIndex::start();
    let context = local_project(&index);
    let cache = context.temp.path().join("private-cache");
    let build = |context: &TestContext| {
        let output = context
            .mlpack(&["build"])
            .env_remove("MLPACK_OFFLINE")
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", context.render(&output));
    };
    build(&context);
    let wheel = walkdir::WalkDir::new(cache.join("mlpack/wheels-v1"))
        .into_iter()
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().starts_with("alpha-"))
        .unwrap()
        .into_path();
    fs_err::write(&wheel, b"corrupt").unwrap();
    // A new store: the layer must be made again from the wheel.
    fs_err::remove_dir_all(store(&context)).unwrap();
    build(&context);
    assert_ne!(fs_err::read(&wheel).unwrap(), b"corrupt");
}

/// An edited hash in `mlpack.lock` (a wheel's, then a base `.deb`'s) is named as the lock's
/// entry disagreeing with the file, not blamed on the index or the mirror; exit 1.
#[test]
fn an_edited_hash_in_the_lock_names_the_lock_entry() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build"]);
    let text = context.read("mlpack.lock");
    let lock: toml::Table = toml::from_str(&text).unwrap();
    let zeros = "0".repeat(64);
    let build_with = |edited: &str| {
        context.write("mlpack.lock", edited);
        let mut command = context.mlpack(&["build"]);
        command.env_remove("MLPACK_OFFLINE");
        TestContext::shared_cache(&mut command);
        context.render(&command.output().unwrap())
    };

    let alpha = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"].as_str() == Some("alpha"))
        .unwrap();
    let wheel = &alpha["wheels"][0];
    let sha256 = wheel["hashes"]["sha256"].as_str().unwrap();
    let output = build_with(&text.replace(sha256, &zeros));
    assert!(output.starts_with("exit: 1\n"), "{output}");
    assert!(
        output.contains(&format!(
            "error: the lock's hash disagrees with the file: `mlpack.lock` pins the wheel `alpha-1.0-py3-none-any.whl` of `alpha` 1.0 at sha256 `{zeros}`, but the file from `{}` has sha256 `{sha256}`",
            wheel["url"].as_str().unwrap()
        )),
        "{output}"
    );
    assert!(
        output.contains("hint: if `mlpack.lock` was edited"),
        "{output}"
    );
    assert!(!output.contains("the index says"), "{output}");

    // The smallest package of the base, so the mirror serves little.
    let deb = lock["base"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .min_by_key(|package| package["size"].as_integer().unwrap())
        .unwrap();
    let sha256 = deb["sha256"].as_str().unwrap();
    let output = build_with(&text.replace(sha256, &zeros));
    assert!(output.starts_with("exit: 1\n"), "{output}");
    assert!(
        output.contains(&format!(
            "error: the lock's hash disagrees with the file: `mlpack.lock` pins the Debian package `{}` {} at {} bytes with sha256 `{zeros}`, but the file from ",
            deb["name"].as_str().unwrap(),
            deb["version"].as_str().unwrap(),
            deb["size"].as_integer().unwrap()
        )),
        "{output}"
    );
    assert!(!output.contains("the mirror may be"), "{output}");
}

/// A server on 127.0.0.1 that answers `GET /{path}` with `bytes` and 404 to anything else, as
/// Debian's snapshot archive would for one pool file; its base URL.
fn serve_one_file(path: String, bytes: Vec<u8>) -> String {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(&stream);
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            let wanted = format!("GET /{path} ");
            let mut stream = &stream;
            if request.starts_with(&wanted) {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = stream.write_all(&bytes);
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        }
    });
    url
}

/// A `.deb` the lock pins that the mirror no longer serves (a point release replaced it; here
/// its pool path is changed to one the mirror never had): `--locked` explains it and how to
/// recover, and with `[base] snapshot` naming an archive that still has the file, the build
/// fetches it from there, checked against the lock's sha256.
#[cfg(feature = "test-debian")]
#[test]
fn a_pinned_deb_the_mirror_dropped_comes_from_the_snapshot_archive() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build"]);
    let text = context.read("mlpack.lock");
    let lock: toml::Table = toml::from_str(&text).unwrap();
    let deb = lock["base"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .min_by_key(|package| package["size"].as_integer().unwrap())
        .unwrap();
    let (name, version) = (
        deb["name"].as_str().unwrap(),
        deb["version"].as_str().unwrap(),
    );
    let filename = deb["filename"].as_str().unwrap();
    let sha256 = deb["sha256"].as_str().unwrap();
    let dropped = format!("{}-dropped.deb", filename.trim_end_matches(".deb"));
    context.write(
        "mlpack.lock",
        &text.replace(
            &format!("filename = \"{filename}\""),
            &format!("filename = \"{dropped}\""),
        ),
    );
    // Every other `.deb` is in this cache, and the store is new, so only that one is fetched.
    let shared = crate::common::repo_root().join("target/mlpack-test-cache/mlpack");
    let cache = context.temp.path().join("cache2/mlpack");
    fs_err::create_dir_all(cache.join("debs")).unwrap();
    for entry in fs_err::read_dir(shared.join("debs")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy() != format!("{sha256}.deb") {
            fs_err::copy(entry.path(), cache.join("debs").join(entry.file_name())).unwrap();
        }
    }
    let build = || {
        let mut command = context.mlpack(&["build", "--locked"]);
        command
            .env_remove("MLPACK_OFFLINE")
            .env("XDG_CACHE_HOME", context.temp.path().join("cache2"))
            .env("MLPACK_HOME", context.temp.path().join("store2"));
        context.render(&command.output().unwrap())
    };
    let output = build();
    assert!(output.starts_with("exit: 1\n"), "{output}");
    assert!(
        output.contains(&format!(
            "error: the pinned Debian package `{name}` {version} is no longer on the mirror"
        )),
        "{output}"
    );
    assert!(
        output.contains("hint: a Debian point release replaced it; set `[base] snapshot`"),
        "{output}"
    );
    let bytes = fs_err::read(shared.join("debs").join(format!("{sha256}.deb"))).unwrap();
    let snapshot = serve_one_file(dropped.clone(), bytes);
    let manifest = context.read("mlpack.toml");
    context.write(
        "mlpack.toml",
        &format!("{manifest}[base]\nsnapshot = \"{snapshot}\"\n"),
    );
    let output = build();
    assert!(output.starts_with("exit: 0\n"), "{output}");
}

#[test]
fn the_store_commands() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build", "-t", "demo:v1"]);
    let images = mlpack_ok(&context, &["images"]);
    assert!(images.contains("demo:v1"), "{images}");
    let history = mlpack_ok(&context, &["history", "demo:v1"]);
    assert!(
        history.contains("mlpack build: base debian:bookworm"),
        "{history}"
    );
    assert!(
        history.contains("python packages: alpha, beta"),
        "{history}"
    );
    assert!(history.contains("project code at /app"), "{history}");
    mlpack_ok(&context, &["tag", "demo:v1", "demo:v2"]);
    assert_eq!(
        manifest_digest(&context, "demo:v1"),
        manifest_digest(&context, "demo:v2")
    );
    let inspect: serde_json::Value = stdout_json(&mlpack_ok(&context, &["inspect", "demo:v2"]));
    assert_eq!(inspect["config"]["config"]["WorkingDir"], "/app");
    mlpack_ok(&context, &["rmi", "demo:v1"]);
    mlpack_ok(&context, &["rmi", "demo:v2"]);
    // In the test's own cache: a prune of the shared one would take other tests' bytecode.
    let pruned = context.run(&["prune"]);
    assert!(
        pruned.starts_with("exit: 0") && pruned.contains("Removed "),
        "{pruned}"
    );
    insta::assert_snapshot!(context.run(&["inspect", "demo:v1"]).lines().take(4).collect::<Vec<_>>().join("\n"), @"
    exit: 1
    --- stdout
    --- stderr
    error: no image `demo:v1` in the store
    ");
}

#[test]
fn a_python_the_base_cannot_provide_is_a_clear_error() {
    let context = TestContext::new();
    context.write("mlpack.toml", "[python]\nversion = \"3.13\"\n");
    context.write("train.py", "print(1)\n");
    let mut command = context.mlpack(&["build", "--offline"]);
    let output = command.output().unwrap();
    insta::assert_snapshot!(context.render(&output), @"
    exit: 1
    --- stdout
    --- stderr
    error: `debian:bookworm` provides Python 3.11, but the project asks for Python 3.13

    hint: set `[base] image` to `debian:trixie`
    ");
}

/// Export `reference` from the store, `docker load` it, run `command` in it with no network,
/// remove it from Docker, and return what the run printed.
#[cfg(feature = "test-docker")]
pub(crate) fn run_in_docker(context: &TestContext, reference: &str, command: &[&str]) -> String {
    let archive = context.temp.path().join("image.tar");
    mlpack_ok(
        context,
        &["export", reference, "-o", archive.to_str().unwrap()],
    );
    let load = Command::new("docker")
        .args(["load", "-i"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let run = Command::new("docker")
        .args(["run", "--rm", "--network", "none", reference])
        .args(command)
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", reference]).output();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// Docker 20.10 (Debian bookworm's) loads the export and runs its default command.
#[cfg(feature = "test-docker")]
#[test]
fn docker_loads_and_runs_the_export() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build", "-t", "mlpack-test-demo:latest"]);
    assert_eq!(
        run_in_docker(&context, "mlpack-test-demo:latest", &[]),
        "trained with 1.0 2.0\n"
    );
}

/// The bundled iris example, from its checked-in lock: built, loaded into Docker, and
/// scikit-learn imports inside.
#[cfg(all(
    feature = "test-docker",
    feature = "test-pypi",
    feature = "test-debian"
))]
#[test]
fn the_iris_example_runs_in_docker() {
    let context = TestContext::example("iris-sklearn");
    let built = mlpack_ok(
        &context,
        &["build", "--locked", "-t", "mlpack-test-iris:latest"],
    );
    assert!(built.contains("Built `mlpack-test-iris:latest`"), "{built}");
    let version = run_in_docker(
        &context,
        "mlpack-test-iris:latest",
        &[
            "python3",
            "-c",
            "import sklearn, pandas; print(sklearn.__version__)",
        ],
    );
    let locked = format!("name = \"scikit-learn\"\nversion = \"{}\"", version.trim());
    assert!(
        context.read("mlpack.lock").contains(&locked),
        "the image has the locked scikit-learn, {version}"
    );
}

/// skopeo and umoci read the store and the oci-archive as they are.
#[cfg(feature = "test-docker")]
#[test]
fn skopeo_and_umoci_read_the_store() {
    let index = TestIndex::start();
    let context = local_project(&index);
    mlpack_ok(&context, &["build", "--compression", "gzip"]);
    let layout = format!("oci:{}:demo:latest", store(&context).display());
    let inspect = Command::new("skopeo")
        .args(["inspect", &layout])
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let bundle = context.temp.path().join("bundle");
    let umoci = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:demo:latest", store(&context).display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        umoci.status.success(),
        "{}",
        String::from_utf8_lossy(&umoci.stderr)
    );
    assert!(bundle.join("rootfs/app/train.py").is_file());
    assert!(bundle.join("rootfs/usr/bin/python3").exists());
}
