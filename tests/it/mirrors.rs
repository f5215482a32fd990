//! Registry mirrors: a Docker Hub short name (`NAME:TAG`) pulled through the mirrors in the
//! user's `config.toml`, a dead mirror passed over for the next, and the message when all of
//! them and the registry fail. Docker Hub cannot be reached from the tests: `HTTPS_PROXY`
//! points at a closed port, so a pull that succeeds came through a mirror.

use std::net::TcpListener;
use std::process::Stdio;

use crate::common::TestContext;
use crate::common::registry::TestRegistry;
use crate::run::{busybox_image, json, ok};

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `busybox` pushed to `registry` as the Docker Hub official image `NAME:v1`
/// (`library/NAME`); its digest on the registry.
fn push_official(context: &TestContext, registry: &TestRegistry, name: &str) -> String {
    let image = busybox_image(context);
    let target = format!("{}/library/{name}:v1", registry.host);
    json(&ok(context, &["--json", "push", image, &target]))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `mlpack ARGS` with `config` as the user's `config.toml` under `XDG_CONFIG_HOME` (or
/// `HOME/.config` when `xdg` is false), and Docker Hub unreachable: (code, stdout, stderr).
fn with_mirrors(
    context: &TestContext,
    config: &str,
    xdg: bool,
    args: &[&str],
) -> (i32, String, String) {
    let config_dir = if xdg {
        context.temp.path().join("config")
    } else {
        context.temp.path().join("home/.config")
    };
    fs_err::create_dir_all(config_dir.join("mlpack")).unwrap();
    fs_err::write(config_dir.join("mlpack/config.toml"), config).unwrap();
    let mut command = context.mlpack(args);
    if xdg {
        command.env("XDG_CONFIG_HOME", &config_dir);
    } else {
        command.env_remove("XDG_CONFIG_HOME");
    }
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let output = command
        .env("HTTPS_PROXY", &dead)
        .env("https_proxy", &dead)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_docker_hub_name_is_pulled_through_its_mirror() {
    let context = TestContext::new();
    let registry = TestRegistry::start(context.temp.path());
    let digest = push_official(&context, &registry, "busybox-mirrored");
    let config = format!(
        "[registries.\"docker.io\"]\nmirrors = [\"http://{}\"]\n",
        registry.host
    );
    let other = TestContext::new();
    let (code, stdout, stderr) = with_mirrors(
        &other,
        &config,
        true,
        &["--json", "pull", "busybox-mirrored:v1"],
    );
    assert_eq!(code, 0, "{stderr}");
    let pulled = json(&stdout);
    assert_eq!(pulled["digest"], digest.as_str(), "{pulled}");
    assert_eq!(pulled["reference"], "docker.io/library/busybox-mirrored:v1");
    // Run by the name it was pulled as, as with Docker.
    let echoed = ok(
        &other,
        &["run", "--rm", "busybox-mirrored:v1", "echo", "mirrored"],
    );
    assert_eq!(echoed, "mirrored\n");
    // `rmi` by the short name removes that name only, not every name of the image.
    ok(&other, &["tag", "busybox-mirrored:v1", "kept:v1"]);
    ok(&other, &["rmi", "busybox-mirrored:v1"]);
    let images = ok(&other, &["images"]);
    assert!(
        images.contains("kept") && !images.contains("busybox-mirrored"),
        "{images}"
    );

    let (_, doctor, _) = with_mirrors(&other, &config, true, &["--json", "doctor"]);
    let doctor = json(&doctor);
    let mirrors = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "mirrors")
        .unwrap();
    assert_eq!(
        mirrors["details"],
        serde_json::json!([format!("`docker.io`: `http://{}`", registry.host)]),
        "{mirrors}"
    );

    // Without the mirror, the same pull goes to Docker Hub, which the proxy refuses.
    let (code, _, stderr) = with_mirrors(&other, "", true, &["pull", "busybox-mirrored:v1"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("registry-1.docker.io"), "{stderr}");
}

#[test]
fn a_dead_mirror_is_passed_over_for_the_next() {
    let context = TestContext::new();
    let registry = TestRegistry::start(context.temp.path());
    let digest = push_official(&context, &registry, "busybox-second");
    let dead = closed_port();
    let config = format!(
        "[registries.\"docker.io\"]\nmirrors = [\"http://127.0.0.1:{dead}\", \"http://{}\"]\n",
        registry.host
    );
    let other = TestContext::new();
    let (code, stdout, stderr) = with_mirrors(
        &other,
        &config,
        false,
        &["--json", "pull", "busybox-second:v1"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["digest"], digest.as_str(), "{stdout}");

    // A mirror without the image (404) is passed over too; the registry fails last, and the
    // message names each mirror and why it failed.
    let (code, _, stderr) = with_mirrors(&other, &config, false, &["pull", "busybox-absent:v1"]);
    assert_eq!(code, 2, "{stderr}");
    for line in [
        "error: the pull from `docker.io` failed on each of its mirrors and on the registry itself\n",
        &format!(
            "  the mirror `http://127.0.0.1:{dead}`: could not connect to the registry `127.0.0.1:{dead}`"
        ),
        &format!(
            "  the mirror `http://{}`: no tag `v1` in `docker.io/library/busybox-absent`\n",
            registry.host
        ),
        "caused by: could not connect to the registry `docker.io` at `https://registry-1.docker.io/v2/library/busybox-absent/manifests/v1`",
        "hint: check the mirrors in `",
    ] {
        assert!(stderr.contains(line), "`{line}` in:\n{stderr}");
    }
}

#[test]
fn a_malformed_config_file_is_named_with_its_line() {
    let context = TestContext::new();
    let (code, _, stderr) = with_mirrors(
        &context,
        "[registries.\"docker.io\"]\nmirrors = [\"mirror.example\"]\n",
        true,
        &["pull", "python:3.11-slim"],
    );
    assert_eq!(code, 1, "{stderr}");
    let file = context.temp.path().join("config/mlpack/config.toml");
    assert!(
        stderr.contains(&format!(
            "error: {}:2: `mirror.example` is not a URL: relative URL without a base\n",
            file.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("hint: fix `"), "{stderr}");
}
