//! `mlpack doctor`: the host checks on this machine, and the store check finding, repairing and
//! then reporting a corrupt blob in a store made here (no network, no root).

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use mlpack::oci::{Digest, Store};

use crate::common::TestContext;
use crate::common::images::{one_layer_image, store_dir};

const IMAGE: &str = "tiny:1";

/// `mlpack ARGS`: (exit code, stdout, stderr). Credentials come only from the test's HOME.
fn doctor(context: &TestContext, args: &[&str]) -> (i32, String, String) {
    let output = context
        .mlpack(args)
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `mlpack doctor --json ARGS`: the exit code and the document.
fn doctor_json(context: &TestContext, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = doctor(context, &all);
    let document =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}\n{stderr}"));
    (code, document)
}

/// The check called `name` in a `--json` report.
fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}`: {report}"))
}

/// Exit 0 exactly when no check failed, and a hint exactly on warnings and failures.
fn assert_consistent(code: i32, report: &serde_json::Value) {
    let checks = report["checks"].as_array().unwrap();
    let failed = checks.iter().any(|check| check["status"] == "fail");
    assert_eq!(report["ok"], !failed, "{report}");
    assert_eq!(code, i32::from(failed), "{report}");
    for check in checks {
        assert_eq!(
            check["hint"].is_string(),
            check["status"] != "ok",
            "{check}"
        );
    }
}

/// A tagged one-layer image written straight into the test's store; returns the store and the
/// layer's digest.
fn tiny_image(context: &TestContext) -> (Store, Digest) {
    let store = Store::open(&store_dir(context)).unwrap();
    let tree = context.temp.path().join("tree");
    fs_err::create_dir_all(&tree).unwrap();
    fs_err::write(tree.join("model.txt"), "weights\n").unwrap();
    one_layer_image(&store, &tree, IMAGE, &["true"]);
    let image = store.resolve(IMAGE).unwrap();
    let (layer, _) = image.layers().unwrap().remove(0);
    let digest = Digest::from_oci(layer.digest()).unwrap();
    (store, digest)
}

/// What this project's CI machine offers: a recent kernel with overlayfs and cgroups.
#[cfg(feature = "test-root")]
#[test]
fn reports_this_host() {
    let context = TestContext::new();
    let (code, report) = doctor_json(&context, &[]);
    assert_consistent(code, &report);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "kernel",
            "user_namespaces",
            "overlayfs",
            "cgroups",
            "shm",
            "gpu",
            "credentials",
            "mirrors",
            "disk",
            "store"
        ]
    );
    assert_eq!(check(&report, "kernel")["status"], "ok", "{report}");
    assert!(
        check(&report, "kernel")["summary"]
            .as_str()
            .unwrap()
            .starts_with("Linux ")
    );
    assert_eq!(check(&report, "overlayfs")["status"], "ok", "{report}");
    let cgroups = check(&report, "cgroups");
    assert!(
        cgroups["summary"].as_str().unwrap().starts_with("cgroup v"),
        "{cgroups}"
    );
    let controllers = cgroups["details"][0].as_str().unwrap();
    assert!(
        controllers.starts_with("controllers: ") && controllers.contains("memory"),
        "{cgroups}"
    );
    let disk = check(&report, "disk")["summary"].as_str().unwrap();
    assert!(disk.contains("store") && disk.contains("free"), "{disk}");
    let store = check(&report, "store");
    assert_eq!(store["status"], "ok");
    assert!(
        store["summary"]
            .as_str()
            .unwrap()
            .starts_with("no store yet at "),
        "{store}"
    );
    assert_eq!(
        check(&report, "credentials")["summary"],
        "none saved: pulls are anonymous (`mlpack login REGISTRY` to add some)"
    );
    assert_eq!(
        check(&report, "mirrors")["summary"],
        "none: pulls go to the registries themselves"
    );

    let (code, stdout, _) = doctor(&context, &["doctor"]);
    assert_eq!(code, i32::from(report["ok"] == false));
    assert!(
        stdout.contains("✓ overlayfs        available\n"),
        "{stdout}"
    );
}

#[test]
fn finds_repairs_and_reports_a_corrupt_blob() {
    let context = TestContext::new();
    let (store, layer) = tiny_image(&context);

    let (code, report) = doctor_json(&context, &[]);
    assert_consistent(code, &report);
    let verified = check(&report, "store");
    assert_eq!(verified["status"], "ok", "{verified}");
    assert!(
        verified["summary"]
            .as_str()
            .unwrap()
            .starts_with("3 blobs ("),
        "{verified}"
    );

    let path = store.blob_path(&layer);
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    fs_err::write(&path, "bit rot").unwrap();

    let (code, stdout, stderr) = doctor(&context, &["doctor"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = format!(
        "    corrupt blob `{layer}`: hashes to `{}` (`{}`); used by `{IMAGE}`\n",
        Digest::of(b"bit rot"),
        path.display()
    );
    assert!(stdout.contains(&line), "{stdout}");
    assert!(
        stdout.contains("✗ store            1 corrupt blob; 3 blobs ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("    hint: run `mlpack doctor --repair` to delete the corrupt blobs"),
        "{stdout}"
    );
    let (code, report) = doctor_json(&context, &[]);
    assert_consistent(code, &report);
    assert_eq!(check(&report, "store")["status"], "fail");

    let (code, report) = doctor_json(&context, &["--repair"]);
    assert_consistent(code, &report);
    let repaired = check(&report, "store");
    assert_eq!(repaired["status"], "warn", "{repaired}");
    assert!(
        repaired["summary"]
            .as_str()
            .unwrap()
            .starts_with("deleted 1 corrupt blob; "),
        "{repaired}"
    );
    assert_eq!(
        repaired["details"][0],
        format!(
            "deleted corrupt blob `{layer}` (it hashed to `{}`); used by `{IMAGE}`",
            Digest::of(b"bit rot")
        )
    );
    assert!(!path.exists());

    // The store is sound again; the image that lost its layer is a warning until it is pulled
    // or built again.
    let (code, report) = doctor_json(&context, &[]);
    assert_consistent(code, &report);
    let after = check(&report, "store");
    assert_eq!(after["status"], "warn", "{after}");
    assert_eq!(
        after["details"],
        serde_json::json!([format!("missing blob `{layer}`; used by `{IMAGE}`")])
    );
    assert_eq!(
        after["hint"],
        format!(
            "pull or build `{IMAGE}` again (`mlpack pull REF`, `mlpack build`), or remove it with `mlpack rmi`"
        )
    );
}

#[test]
fn names_registries_and_warns_about_readable_passwords() {
    let context = TestContext::new();
    let file = context.temp.path().join("home/.config/mlpack/auth.json");
    fs_err::create_dir_all(file.parent().unwrap()).unwrap();
    // `alice:secret`, base64.
    fs_err::write(
        &file,
        r#"{"auths": {"ghcr.io": {"auth": "YWxpY2U6c2VjcmV0"}}}"#,
    )
    .unwrap();
    fs_err::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stdout, _) = doctor(&context, &["doctor", "--json"]);
    assert!(
        !stdout.contains("secret") && !stdout.contains("YWxpY2"),
        "{stdout}"
    );
    let report = serde_json::from_str(&stdout).unwrap();
    assert_consistent(code, &report);
    let credentials = check(&report, "credentials");
    assert_eq!(credentials["status"], "warn", "{credentials}");
    assert_eq!(
        credentials["hint"],
        format!("make it private: `chmod 600 {}`", file.display())
    );
    assert_eq!(
        credentials["details"],
        serde_json::json!(["`mlpack login`: ghcr.io"])
    );

    fs_err::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, report) = doctor_json(&context, &[]);
    let credentials = check(&report, "credentials");
    assert_eq!(credentials["status"], "ok", "{credentials}");
    assert_eq!(credentials["summary"], "saved for `ghcr.io`");
}
