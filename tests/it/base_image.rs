//! `[base] image` naming an image in a registry: an image mlpack built is pushed to a local
//! registry, and a second project builds on it. The lock pins it by digest with what its files
//! say, the new image starts with its layers as they are, and a push sends only what is new.

use crate::build::{local_project, mlpack_ok};
use crate::common::TestContext;
use crate::common::index::{TestIndex, Wheel};
use crate::common::registry::TestRegistry;
use crate::run::{busybox_image, json, mlpack, ok, store_dir};

/// A blob of `context`'s store, as JSON.
fn blob_json(context: &TestContext, digest: &str) -> serde_json::Value {
    let path = store_dir(context)
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&fs_err::read(path).unwrap()).unwrap()
}

/// The manifest and config of the image named `reference` in `context`'s store.
fn image(context: &TestContext, reference: &str) -> (serde_json::Value, serde_json::Value) {
    let index = json(&fs_err::read_to_string(store_dir(context).join("index.json")).unwrap());
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == reference)
        .unwrap_or_else(|| panic!("`{reference}` is not in {index}"))
        .clone();
    let manifest = blob_json(context, entry["digest"].as_str().unwrap());
    let config = blob_json(context, manifest["config"]["digest"].as_str().unwrap());
    (manifest, config)
}

/// A project on `base` that needs `gamma` from `index`.
fn project_on(base: &str, index: &TestIndex) -> TestContext {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"app\"\n[base]\nimage = \"{base}\"\n[python]\nindex-url = \"{}\"\nrequirements = [\"gamma\"]\n",
            index.url
        ),
    );
    context.write(
        "train.py",
        "import gamma\nprint('trained with', gamma.__version__)\n",
    );
    context
}

#[test]
fn a_project_builds_on_an_image_from_a_registry_and_pushes_only_its_layers() {
    let index = TestIndex::start();
    let base = local_project(&index);
    mlpack_ok(&base, &["build"]);
    let registry = TestRegistry::start(base.temp.path());
    let remote = format!("{}/base/py:3.11", registry.host);
    let pushed = json(&ok(&base, &["--json", "push", "demo:latest", &remote]));
    let base_digest = pushed["digest"].as_str().unwrap().to_string();

    index.publish(&Wheel::new("gamma", "3.0", &[]));
    let app = project_on(&remote, &index);
    let locked = mlpack_ok(&app, &["lock"]);
    assert!(
        locked.contains(&format!(
            "Pinned the base image `{remote}` to {base_digest}"
        )),
        "{locked}"
    );
    let lock = app.read("mlpack.lock");
    let expected = format!(
        "\n[base]\nimage = \"{remote}\"\ndigest = \"{base_digest}\"\narch = \"{}\"\npython = \"/usr/bin/python3\"\npython-version = \"3.11.",
        if cfg!(target_arch = "aarch64") {
            "arm64"
        } else {
            "amd64"
        }
    );
    assert!(lock.contains(&expected), "{lock}");
    assert!(
        lock.contains("\nglibc = \"2.36\"\nprefix = \"/usr/local\"\nsite-packages = \"/usr/local/lib/python3.11/dist-packages\"\n"),
        "{lock}"
    );
    assert!(
        lock.contains("\nglibc = [2, 36]\n"),
        "the target is the image's: {lock}"
    );
    assert!(!lock.contains("[[base.packages]]"), "{lock}");
    let again = mlpack_ok(&app, &["lock"]);
    assert!(
        again.contains("is up to date") && !again.contains("Pinned"),
        "{again}"
    );

    let built = mlpack_ok(&app, &["build"]);
    assert!(built.contains("Built `app:latest`"), "{built}");
    let (code, stdout, stderr) = mlpack(
        &app,
        &[
            "run",
            "--rm",
            "app:latest",
            "python3",
            "-c",
            "import alpha, gamma; print(alpha.__version__, gamma.__version__)",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "1.0 3.0\n", "the base's packages and the project's");
    let (code, stdout, stderr) = mlpack(&app, &["run", "--rm", "app:latest"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "trained with 3.0\n");

    let (_, base_config) = image(&base, "demo:latest");
    // As pushed: the push sent gzip copies of the store's zstd layers (same diffIDs).
    let base_manifest = blob_json(&base, &base_digest);
    let (app_manifest, app_config) = image(&app, "app:latest");
    let base_layers = base_manifest["layers"].as_array().unwrap();
    let app_layers = app_manifest["layers"].as_array().unwrap();
    let count = base_layers.len();
    assert_eq!(
        &app_layers[..count],
        &base_layers[..],
        "the base's layers come first, as they are"
    );
    assert!(app_layers.len() > count);
    let diff_ids = |config: &serde_json::Value| config["rootfs"]["diff_ids"].clone();
    assert_eq!(
        diff_ids(&app_config).as_array().unwrap()[..count],
        diff_ids(&base_config).as_array().unwrap()[..]
    );
    let labels = &app_config["config"]["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.base.name"],
        remote.as_str()
    );
    assert_eq!(
        labels["org.opencontainers.image.base.digest"],
        base_digest.as_str()
    );
    assert_eq!(labels["org.opencontainers.image.title"], "app");
    let env = app_config["config"]["Env"].to_string();
    assert!(
        env.contains("PATH=") && env.contains("PYTHONUNBUFFERED=1"),
        "{env}"
    );
    let history = app_config["history"].as_array().unwrap();
    assert_eq!(history.len(), app_layers.len(), "{history:?}");

    // The same repository has the base's blobs; another one gets them mounted.
    let same = json(&ok(
        &app,
        &[
            "--json",
            "push",
            "app:latest",
            &format!("{}/base/py:app", registry.host),
        ],
    ));
    let new_blobs = app_layers.len() - count + 1;
    assert!(
        same["blobs_skipped"].as_u64().unwrap() >= count as u64,
        "{same}"
    );
    assert_eq!(
        same["blobs_uploaded"].as_u64().unwrap(),
        new_blobs as u64,
        "{same}"
    );
    let other = json(&ok(
        &app,
        &[
            "--json",
            "push",
            "app:latest",
            &format!("{}/team/app:v1", registry.host),
        ],
    ));
    assert!(
        other["blobs_mounted"].as_u64().unwrap() + other["blobs_skipped"].as_u64().unwrap()
            >= count as u64,
        "{other}"
    );

    // With the base pinned and in the store, nothing needs the registry any more.
    drop(registry);
    let (code, _, stderr) = mlpack(&app, &["build", "--locked", "--offline"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Built `app:latest`"), "{stderr}");
}

#[test]
fn an_image_without_python_or_with_debian_packages_is_refused() {
    let context = TestContext::new();
    let busybox = busybox_image(&context);
    let registry = TestRegistry::start(context.temp.path());
    let remote = format!("{}/tools/busybox:v1", registry.host);
    ok(&context, &["push", busybox, &remote]);

    let index = TestIndex::start();
    index.publish(&Wheel::new("gamma", "3.0", &[]));
    let app = project_on(&remote, &index);
    let output = app.run_online(&["lock"]);
    assert!(output.starts_with("exit: 1\n"), "{output}");
    assert!(
        output.contains(&format!("the base image `{remote}` has no Python: none of `/usr/local/bin/python3`, `/usr/bin/python3` is in it")),
        "{output}"
    );
    assert!(
        output.contains("hint: use an image with CPython 3"),
        "{output}"
    );
    assert!(!app.project.join("mlpack.lock").exists());

    app.write(
        "mlpack.toml",
        &format!("[base]\nimage = \"{remote}\"\npackages = [\"curl\"]\n"),
    );
    let output = app.run_online(&["build"]);
    assert!(output.starts_with("exit: 1\n"), "{output}");
    assert!(
        output.contains(
            "`[base] packages` adds Debian packages, which needs a Debian base that mlpack builds"
        ),
        "{output}"
    );
}
