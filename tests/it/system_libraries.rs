//! The system-libraries layer end to end: real wheels from PyPI whose shared objects need
//! libraries a Debian base lacks (`opencv-python` needs `libGL.so.1`, `lightgbm` needs
//! `libgomp.so.1`), the packages found from bookworm's `Contents` index, pinned in the lock,
//! and the imports working under `mlpack run`.

use crate::build::mlpack_ok;
use crate::common::TestContext;

/// Exact pins, so the libraries the wheels need do not move under the test.
const REQUIREMENTS: &str =
    r#"["opencv-python==4.11.0.86", "lightgbm==4.6.0", "numpy==2.2.6", "scipy==1.15.3"]"#;

fn project() -> TestContext {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"libs\"\n[python]\nversion = \"3.11\"\nrequirements = {REQUIREMENTS}\n[train]\ncommand = [\"python3\", \"train.py\"]\n"
        ),
    );
    context.write("train.py", "print('hello')\n");
    context
}

/// The JSON document on stdout of a rendered `mlpack --json …` run.
fn stdout_json(rendered: &str) -> serde_json::Value {
    let stdout = rendered
        .split("--- stdout\n")
        .nth(1)
        .and_then(|rest| rest.split("--- stderr").next())
        .unwrap();
    serde_json::from_str(stdout).unwrap_or_else(|error| panic!("{error}: {rendered}"))
}

#[test]
fn wheels_get_the_debian_libraries_they_need_and_import_in_the_image() {
    let context = project();
    let built = mlpack_ok(&context, &["build"]);
    for why in [
        "libgl1 (opencv-python needs libGL.so.1)",
        "libgomp1 (lightgbm needs libgomp.so.1)",
    ] {
        assert!(built.contains(why), "{built}");
    }
    assert!(built.contains("pinned into `mlpack.lock`"), "{built}");
    let lock = context.read("mlpack.lock");
    for pinned in [
        "\n[system-libraries]\ninputs-sha256 = ",
        "{ soname = \"libGL.so.1\", wheel = \"opencv-python\", file = ",
        ", package = \"libgl1\" }",
        "{ soname = \"libgomp.so.1\", wheel = \"lightgbm\", file = \"lightgbm/lib/lib_lightgbm.so\", package = \"libgomp1\" }",
        "\n[[system-libraries.packages]]\nname = \"libgl1\"\n",
        "\n[[system-libraries.packages]]\nname = \"libgomp1\"\n",
    ] {
        assert!(lock.contains(pinned), "`{pinned}` in:\n{lock}");
    }
    // The base's packages are not repeated in the layer.
    let section = lock
        .split("\n[system-libraries]")
        .nth(1)
        .and_then(|rest| rest.split("\n[[packages]]").next())
        .unwrap();
    assert!(
        !section.contains("name = \"libc6\"\n"),
        "libc6 is the base's: {section}"
    );

    // Nothing to scan the second time: the pins are current, every layer but the code is
    // reused.
    let again = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    assert_eq!(again["pinned_system_libraries"], false, "{again}");
    let libraries: Vec<&str> = again["system_libraries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|library| library["package"].as_str().unwrap())
        .collect();
    assert!(
        libraries.contains(&"libgl1") && libraries.contains(&"libgomp1"),
        "{again}"
    );
    let layers = again["layers"].as_array().unwrap();
    assert!(
        layers[2]["description"]
            .as_str()
            .unwrap()
            .starts_with("system libraries: "),
        "the layer after the base and its bytecode: {again}"
    );
    assert!(
        layers[..layers.len() - 1]
            .iter()
            .all(|layer| layer["reused"] == true),
        "{again}"
    );
    assert_eq!(context.read("mlpack.lock"), lock, "the lock is unchanged");

    // CI with a lock that lacks the section: refused, with what to do.
    let without = format!(
        "{}\n[[packages]]{}",
        lock.split("\n[system-libraries]").next().unwrap(),
        lock.split_once("\n[[packages]]").unwrap().1
    );
    context.write("mlpack.lock", &without);
    let mut command = context.mlpack(&["build", "--locked"]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let refused = context.render(&command.output().unwrap());
    assert!(refused.starts_with("exit: 1\n"), "{refused}");
    assert!(
        refused.contains("the system libraries in `mlpack.lock` are missing")
            && refused
                .contains("hint: run `mlpack build` without `--locked` and commit `mlpack.lock`"),
        "{refused}"
    );
    // Without `--locked` it pins them again, its wheel layers all taken from the layer
    // cache: the wheels are read from their zips instead of found as they install, and the
    // pins are the same.
    let repinned = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    assert_eq!(repinned["pinned_system_libraries"], true, "{repinned}");
    assert_eq!(context.read("mlpack.lock"), lock, "the same pins");

    // The libraries are found at run time, without an `ld.so.cache`.
    let (code, stdout, stderr) = crate::run::mlpack(
        &context,
        &[
            "run",
            "--rm",
            "libs",
            "python3",
            "-c",
            "import cv2, lightgbm; print(cv2.__version__, lightgbm.__version__)",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "4.11.0 4.6.0\n");
}

/// A Debian image from a registry (here one mlpack built, pushed to a local registry) gets
/// the packages too, from the suite its `/etc/os-release` names, less what its dpkg status
/// says is installed.
#[cfg(feature = "test-registry")]
#[test]
fn a_debian_image_from_a_registry_gets_them_too() {
    let index = crate::common::index::TestIndex::start();
    let base = crate::build::local_project(&index);
    mlpack_ok(&base, &["build"]);
    let registry = crate::common::registry::TestRegistry::start(base.temp.path());
    let remote = format!("{}/base/py:3.11", registry.host);
    crate::run::ok(&base, &["push", "demo:latest", &remote]);

    let app = TestContext::new();
    app.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"app\"\n[base]\nimage = \"{remote}\"\n[python]\nrequirements = [\"lightgbm==4.6.0\", \"numpy==2.2.6\", \"scipy==1.15.3\"]\n"
        ),
    );
    mlpack_ok(&app, &["lock"]);
    let built = mlpack_ok(&app, &["build"]);
    assert!(
        built.contains("libgomp1 (lightgbm needs libgomp.so.1)"),
        "{built}"
    );
    let lock = app.read("mlpack.lock");
    assert!(lock.contains("package = \"libgomp1\" }"), "{lock}");
    assert!(
        lock.contains("\n[[system-libraries.packages]]\nname = \"libgomp1\"\n"),
        "{lock}"
    );
    let (code, stdout, stderr) = crate::run::mlpack(
        &app,
        &[
            "run",
            "--rm",
            "app",
            "python3",
            "-c",
            "import lightgbm; print(lightgbm.__version__)",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "4.6.0\n");
}
