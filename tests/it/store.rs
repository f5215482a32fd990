//! The store's lifecycle end to end: what `rmi` and `prune` keep for containers, and what
//! they free.

use crate::common::TestContext;
use crate::common::images::{BUSYBOX, install_busybox, store_dir};
use crate::run::{busybox_image, json, mlpack, ok};

/// `rmi` refuses the last name of an image a container uses, whatever the container's state;
/// `rmi -f` removes only the name, and `prune` keeps what the container needs to start again.
#[test]
fn rmi_and_prune_keep_what_a_container_needs() {
    let context = TestContext::new();
    busybox_image(&context);
    ok(&context, &["run", "--name", "keeper", BUSYBOX, "true"]);

    let (code, _, stderr) = mlpack(&context, &["rmi", BUSYBOX]);
    assert_eq!(code, 1, "{stderr}");
    let stderr = mask_ids(&stderr);
    insta::assert_snapshot!(stderr, @"
    error: image `busybox:test` is used by container `keeper` ([ID])

    hint: remove the container first (`mlpack rm keeper`), or remove only the name with `mlpack rmi -f busybox:test`: the container keeps its image until it is removed
    ");
    assert!(ok(&context, &["images"]).contains(BUSYBOX));

    // Another name for it: removing one of two names is always fine.
    ok(&context, &["tag", BUSYBOX, "busybox:other"]);
    ok(&context, &["rmi", BUSYBOX]);
    let (code, _, _) = mlpack(&context, &["rmi", "busybox:other"]);
    assert_eq!(code, 1);
    let (code, _, stderr) = mlpack(&context, &["rmi", "-f", "busybox:other"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("the image stays for `keeper`"), "{stderr}");

    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(pruned["blobs_removed"], 0, "{pruned}");
    let (code, stdout, stderr) = mlpack(&context, &["start", "-a", "keeper"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");

    // Once the container is gone, so is the image.
    ok(&context, &["rm", "keeper"]);
    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(pruned["blobs_removed"], 3, "{pruned}");
}

/// `text` with each 12-digit hex container ID replaced by `[ID]`.
fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('(') {
        out.push_str(&rest[..=start]);
        rest = &rest[start + 1..];
        let id_len = rest.chars().take_while(char::is_ascii_hexdigit).count();
        if id_len == 12 && rest[id_len..].starts_with(')') {
            out.push_str("[ID]");
            rest = &rest[id_len..];
        }
    }
    out.push_str(rest);
    out
}

/// `prune` also removes what only a removed image used: its unpacked layer and the short link
/// to it, its bytecode caches; and partial downloads and the temp trees of killed processes.
/// What a kept image has stays.
#[test]
fn prune_removes_unused_layers_caches_partial_downloads_and_dead_temp_trees() {
    let context = TestContext::new();
    let digest = install_busybox(&context);
    let store = store_dir(&context);
    ok(&context, &["run", "--rm", BUSYBOX, "true"]);
    let layer_dirs = || -> Vec<String> {
        let mut names: Vec<String> = fs_err::read_dir(store.join("layers"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.len() == 64)
            .collect();
        names.sort();
        names
    };
    let [layer] = layer_dirs().try_into().unwrap();

    // Bytecode caches: the busybox image's (one layer, so no layers below its code) and
    // another image's, long gone.
    let cache = context.temp.path().join("cache/mlpack");
    let image = mlpack::oci::Store::open(&store)
        .unwrap()
        .resolve(BUSYBOX)
        .unwrap();
    let layers = [image.manifest.layers()[0].digest().to_string()];
    let (libraries, code) = mlpack::train::pycache::dirs(&cache, &digest, &layers);
    let gone_libraries = cache.join("pycache").join("0".repeat(64));
    let gone_code = cache.join("pycache-code").join("1".repeat(64));
    for dir in [&libraries, &code, &gone_libraries, &gone_code] {
        fs_err::create_dir_all(dir.join("app")).unwrap();
        fs_err::write(dir.join("app/train.cpython-311.pyc"), "bytecode").unwrap();
    }
    // An interrupted pull's download, and a layer whose unpacking was killed.
    fs_err::write(
        store
            .join("tmp")
            .join(format!("partial-{}", "2".repeat(64))),
        "half",
    )
    .unwrap();
    let killed = store.join("layers/.tmp-killed");
    fs_err::create_dir_all(killed.join("tree/usr")).unwrap();
    fs_err::write(killed.join("owner"), "4242\n").unwrap();

    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(
        (
            &pruned["blobs_removed"],
            &pruned["layers_removed"],
            &pruned["caches_removed"],
            &pruned["temp_removed"]
        ),
        (&0.into(), &0.into(), &2.into(), &2.into()),
        "{pruned}"
    );
    assert!(libraries.exists() && code.exists());
    assert!(!gone_libraries.exists() && !gone_code.exists() && !killed.exists());
    assert_eq!(layer_dirs(), std::slice::from_ref(&layer));

    ok(&context, &["rmi", BUSYBOX]);
    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(
        (
            &pruned["blobs_removed"],
            &pruned["layers_removed"],
            &pruned["caches_removed"]
        ),
        (&3.into(), &1.into(), &2.into()),
        "{pruned}"
    );
    assert!(
        pruned["bytes_freed"].as_u64().unwrap() > 1_000_000,
        "busybox: {pruned}"
    );
    assert_eq!(layer_dirs(), Vec::<String>::new());
    let links: Vec<_> = fs_err::read_dir(store.join("layers/l")).unwrap().collect();
    assert!(links.is_empty(), "{links:?}");
}

/// `prune` removes builds' logs once an hour old (a younger one may be the log an error just
/// named); `prune --build-cache` empties the build steps' cache mounts too, except one a
/// container mounts (a build running now).
#[test]
fn prune_removes_old_build_logs_and_asked_cache_mounts() {
    let context = TestContext::new();
    busybox_image(&context);
    let cache = context.temp.path().join("cache/mlpack");
    let old_logs = [
        cache.join("build-step-logs/0123456789abcdef.log"),
        cache.join("sdist-logs/pkg-1.0.log"),
    ];
    let new_log = cache.join("build-step-logs/fedcba9876543210.log");
    for log in old_logs.iter().chain([&new_log]) {
        fs_err::create_dir_all(log.parent().unwrap()).unwrap();
        fs_err::write(log, "output").unwrap();
    }
    for log in &old_logs {
        let touched = std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(log)
            .status()
            .unwrap();
        assert!(touched.success());
    }
    let (unused, in_use) = (
        cache.join("build-cache-v1/unused"),
        cache.join("build-cache-v1/in-use"),
    );
    for dir in [&unused, &in_use] {
        fs_err::create_dir_all(dir.join("wheels")).unwrap();
        fs_err::write(dir.join("wheels/a.whl"), "wheel").unwrap();
    }
    let mount = format!("{}:/cache", in_use.display());
    ok(
        &context,
        &["run", "--name", "builder", "-v", &mount, BUSYBOX, "true"],
    );

    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(
        (
            &pruned["build_logs_removed"],
            &pruned["build_caches_removed"]
        ),
        (&2.into(), &0.into()),
        "{pruned}"
    );
    assert!(old_logs.iter().all(|log| !log.exists()) && new_log.exists());
    assert!(unused.exists() && in_use.exists());

    let pruned = json(&ok(&context, &["--json", "prune", "--build-cache"]));
    assert_eq!(pruned["build_caches_removed"], 1, "{pruned}");
    assert!(!unused.exists() && in_use.join("wheels/a.whl").exists());
}

/// `run` and `rmi` of the same image at once, again and again: each time exactly one wins.
/// Either the container is created and `rmi` is refused naming it, or the name is removed
/// and `run` fails to find the image; never a container whose image is gone.
#[test]
fn run_and_rmi_at_once_have_one_clear_outcome() {
    let context = TestContext::new();
    let digest = install_busybox(&context);
    let spawn = |args: &[&str]| {
        context
            .mlpack(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    for round in 0..8 {
        // The only name of the image, so that `rmi` removes the last one.
        ok(&context, &["tag", &digest, "race"]);
        ok(&context, &["rmi", BUSYBOX]);
        let name = format!("racer-{round}");
        let run = spawn(&["run", "--name", &name, "race", "true"]);
        let rmi = spawn(&["rmi", "race"]);
        let run = run.wait_with_output().unwrap();
        let rmi = rmi.wait_with_output().unwrap();
        let (run_code, rmi_code) = (run.status.code(), rmi.status.code());
        let run_stderr = String::from_utf8_lossy(&run.stderr);
        let rmi_stderr = String::from_utf8_lossy(&rmi.stderr);
        match (run_code, rmi_code) {
            (Some(0), Some(1)) => {
                assert!(rmi_stderr.contains(&format!("`{name}`")), "{rmi_stderr}");
                ok(&context, &["rm", &name]);
                ok(&context, &["rmi", "race"]);
            }
            (Some(125), Some(0)) => {
                assert!(run_stderr.contains("no image `race`"), "{run_stderr}");
            }
            outcome => panic!("round {round}: {outcome:?}\nrun: {run_stderr}\nrmi: {rmi_stderr}"),
        }
        ok(&context, &["tag", &digest, BUSYBOX]);
    }
    // Whichever won, the store holds together: every blob is there, nothing is left over.
    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(pruned["blobs_removed"], 0, "{pruned}");
    assert_eq!(
        json(&ok(&context, &["--json", "ps", "-a"])),
        serde_json::json!([])
    );
}
