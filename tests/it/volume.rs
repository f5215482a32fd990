//! Named volumes end to end as root: created on first use, filled from the image while
//! empty, kept across containers, refused to `volume rm` while a container mounts them, and
//! kept by `prune` unless `--volumes`.

use std::os::unix::fs::PermissionsExt as _;

use mlpack::oci::Store;

use crate::common::TestContext;
use crate::common::images::{busybox_root, one_layer_image, store_dir};
use crate::run::{RemoveOnDrop, json, mlpack, ok};

const SEEDED: &str = "seeded:test";

/// The busybox image plus `/seed/greeting.txt`, `/seed` sticky and world-writable.
fn seeded_image(context: &TestContext) {
    let root = busybox_root(context);
    let seed = root.join("seed");
    fs_err::create_dir_all(&seed).unwrap();
    fs_err::write(seed.join("greeting.txt"), "from the image\n").unwrap();
    fs_err::set_permissions(&seed, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let store = Store::open(&store_dir(context)).unwrap();
    one_layer_image(&store, &root, SEEDED, &["sh"]);
}

fn sh(context: &TestContext, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[SEEDED, "sh", "-c", script]);
    ok(context, &args)
}

#[test]
fn named_volume_is_filled_from_the_image_and_keeps_data() {
    let context = TestContext::new();
    seeded_image(&context);
    let first = sh(
        &context,
        &["-v", "seeds:/seed"],
        "cat /seed/greeting.txt; stat -c %a /seed; echo kept > /seed/new; rm /seed/greeting.txt",
    );
    assert_eq!(first, "from the image\n1777\n");
    // The volume has data now: the image's file is not copied in again.
    let second = sh(
        &context,
        &["--mount", "type=volume,source=seeds,target=/data,readonly"],
        "cat /data/new; ls /data; touch /data/x 2>/dev/null || echo read-only",
    );
    assert_eq!(second, "kept\nnew\nread-only\n");
    let listed = json(&ok(&context, &["--json", "volume", "ls"]));
    assert_eq!(listed[0]["name"], "seeds", "{listed}");
    let inspected = json(&ok(&context, &["volume", "inspect", "seeds"]));
    let mountpoint = inspected[0]["mountpoint"].as_str().unwrap();
    assert_eq!(
        fs_err::read_to_string(std::path::Path::new(mountpoint).join("new")).unwrap(),
        "kept\n"
    );
}

#[test]
fn a_volume_in_use_is_kept() {
    let context = TestContext::new();
    seeded_image(&context);
    ok(&context, &["volume", "create", "cache"]);
    ok(&context, &["volume", "create", "spare"]);
    // A stopped container still holds its volume, as in Docker.
    ok(
        &context,
        &[
            "run",
            "--name",
            "user",
            "-v",
            "cache:/cache",
            SEEDED,
            "true",
        ],
    );
    let _user = RemoveOnDrop(&context, "user");
    let (code, _, stderr) = mlpack(&context, &["volume", "rm", "cache"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("volume `cache` is in use by containers: user"),
        "{stderr}"
    );
    ok(&context, &["prune"]);
    let names = || -> Vec<String> {
        json(&ok(&context, &["--json", "volume", "ls"]))
            .as_array()
            .unwrap()
            .iter()
            .map(|volume| volume["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(), ["cache", "spare"]);
    ok(&context, &["prune", "--volumes"]);
    assert_eq!(names(), ["cache"]);
    ok(&context, &["rm", "user"]);
    ok(&context, &["volume", "rm", "cache"]);
    assert!(names().is_empty());
    let (code, _, stderr) = mlpack(&context, &["volume", "create", "b$d"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("invalid volume name"), "{stderr}");
}
