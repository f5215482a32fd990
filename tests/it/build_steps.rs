//! `[build]` end to end: Debian packages by name (`system-packages`), pinned in the lock and
//! installed in their own layer, and build steps (`run`) whose changes become layers, reused
//! while nothing they depend on changed, run in mlpack's own runtime.

use crate::build::{local_project, mlpack_ok};
use crate::common::TestContext;
use crate::common::index::TestIndex;

/// The JSON document a rendered `mlpack --json …` run printed on stdout.
fn stdout_json(rendered: &str) -> serde_json::Value {
    let stdout = rendered
        .split("--- stdout\n")
        .nth(1)
        .and_then(|rest| rest.split("--- stderr").next())
        .unwrap();
    serde_json::from_str(stdout).unwrap_or_else(|error| panic!("{error}: {rendered}"))
}

/// Append `section` to the project's manifest.
fn add_to_manifest(context: &TestContext, section: &str) {
    let manifest = context.read("mlpack.toml");
    context.write("mlpack.toml", &format!("{manifest}{section}"));
}

/// `mlpack run --rm demo sh -c SCRIPT`: its stdout, asserting it succeeded.
fn in_image(context: &TestContext, script: &str) -> String {
    let (code, stdout, stderr) =
        crate::run::mlpack(context, &["run", "--rm", "demo", "/bin/sh", "-c", script]);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// The build's layers as (description, reused).
fn layers(report: &serde_json::Value) -> Vec<(String, bool)> {
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            (
                layer["description"].as_str().unwrap().to_string(),
                layer["reused"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn reused(report: &serde_json::Value, prefix: &str) -> bool {
    let all = layers(report);
    all.iter()
        .find(|(description, _)| description.starts_with(prefix))
        .unwrap_or_else(|| panic!("no layer `{prefix}` in {all:?}"))
        .1
}

#[test]
fn system_packages_are_pinned_layered_and_used_with_locked() {
    let index = TestIndex::start();
    let context = local_project(&index);
    // `jq` needs `libjq1` and `libonig5`; `zlib1g` is already the base's (python3 needs it).
    add_to_manifest(
        &context,
        "[build]\nsystem-packages = [\"jq\", \"zlib1g\"]\n",
    );
    let report = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    assert_eq!(report["pinned_system_packages"], true, "{report}");
    let all = layers(&report);
    assert!(
        all[2].0.starts_with("system packages: jq, zlib1g ("),
        "the layer right above the base and its bytecode: {all:?}"
    );
    let lock = context.read("mlpack.lock");
    let section = lock
        .split("\n[system-packages]\n")
        .nth(1)
        .and_then(|rest| rest.split("\n[[packages]]").next())
        .unwrap_or_else(|| panic!("no [system-packages] in {lock}"));
    assert!(
        section.contains("requested = [\n    \"jq\",\n    \"zlib1g\",\n]\n"),
        "{section}"
    );
    for name in ["jq", "libjq1", "libonig5"] {
        assert!(
            section.contains(&format!(
                "[[system-packages.packages]]\nname = \"{name}\"\n"
            )),
            "{name} in {section}"
        );
    }
    assert!(
        !section.contains("name = \"zlib1g\"\n") && !section.contains("name = \"libc6\"\n"),
        "the base's packages are not repeated: {section}"
    );
    assert_eq!(
        in_image(
            &context,
            "echo '{\"a\": 1}' | jq -c .a && dpkg-query -W -f '${Status}\\n' jq"
        ),
        "1\ninstall ok installed\n"
    );

    // `--locked`, offline: the pins are read, no index is fetched, the layer is reused.
    let again = context.run(&["--json", "build", "--locked"]);
    assert!(again.starts_with("exit: 0\n"), "{again}");
    let again = stdout_json(&again);
    assert_eq!(again["pinned_system_packages"], false, "{again}");
    assert!(reused(&again, "system packages: "), "{again}");
    assert_eq!(context.read("mlpack.lock"), lock, "the lock is unchanged");

    // Another name: `--locked` refuses to pin it; an unknown one is named, with a hint.
    let manifest = context.read("mlpack.toml").replace("\"jq\"", "\"ffmpg\"");
    context.write("mlpack.toml", &manifest);
    let refused = context.run(&["build", "--locked"]);
    assert!(refused.starts_with("exit: 1\n"), "{refused}");
    assert!(
        refused.contains("the system packages in `mlpack.lock` are missing or were pinned for other names or another base, and `--locked` forbids changing the lock"),
        "{refused}"
    );
    let mut command = context.mlpack(&["build"]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let unknown = context.render(&command.output().unwrap());
    assert!(unknown.starts_with("exit: 1\n"), "{unknown}");
    assert!(
        unknown.contains("`[build] system-packages` names `ffmpg`, but there is no package `ffmpg` in Debian `bookworm` (amd64)"),
        "{unknown}"
    );
    assert!(
        unknown.contains("hint: did you mean `ffmpeg`?"),
        "{unknown}"
    );
    assert_eq!(
        context.read("mlpack.lock"),
        lock,
        "a failed pin writes nothing"
    );
}

/// The step that reads its inputs: it counts its runs in its cache directory (kept between
/// builds, so the count shows whether it ran) and writes what it saw into the image.
const MAKE_PY: &str = r#"import os, pathlib
cache = pathlib.Path("/root/.cache/steps")
runs = cache / ("runs-" + os.environ["TOKEN"])
count = int(runs.read_text()) + 1 if runs.exists() else 1
runs.write_text(str(count))
seen = sorted(p.name for p in pathlib.Path("/app").iterdir())
pathlib.Path("/opt/made.txt").write_text(f"{os.environ['GREETING']} run {count} saw {seen}\n")
"#;

#[test]
fn build_steps_make_layers_reused_until_their_inputs_change() {
    let index = TestIndex::start();
    let context = local_project(&index);
    context.write("scripts/make.py", MAKE_PY);
    // A token of this test's own, so the shared cache directory's counter is this run's.
    let token = context
        .temp
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    add_to_manifest(
        &context,
        &format!(
            r#"[build]
run = [
    "mkdir -p /opt && echo built > /opt/marker && rm /etc/issue",
    {{ command = "python3 scripts/make.py", inputs = ["scripts"], network = "none", env = {{ GREETING = "hi", TOKEN = "{token}" }}, cache = ["/root/.cache/steps"] }},
    {{ command = "ls /app > /opt/app-files.txt", after-code = true }},
]
"#
        ),
    );
    let first = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    let descriptions: Vec<String> = layers(&first).into_iter().map(|(d, _)| d).collect();
    let steps: Vec<&String> = descriptions
        .iter()
        .filter(|description| {
            description.starts_with("build step ") || description.starts_with("project code")
        })
        .collect();
    assert_eq!(
        steps,
        [
            "build step run[0]: mkdir -p /opt && echo built > /opt/marker && rm /etc/issue",
            "build step run[1]: python3 scripts/make.py",
            "project code at /app (4 files)",
            "build step run[2]: ls /app > /opt/app-files.txt",
        ],
        "{descriptions:?}"
    );
    assert_eq!(
        in_image(
            &context,
            "cat /opt/marker /opt/made.txt /opt/app-files.txt; test -e /etc/issue || echo issue gone"
        ),
        "built\nhi run 1 saw ['scripts']\nmlpack.lock\nmlpack.toml\nscripts\ntrain.py\nissue gone\n",
        "a step before the code sees only its inputs; one after it sees the code"
    );
    assert_eq!(
        in_image(
            &context,
            "test -e /root/.cache/steps && echo present || echo absent"
        ),
        "absent\n",
        "the cache directory is not in the image"
    );

    // Nothing changed: every step is reused, none runs (the counter stays at 1).
    let second = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    for prefix in [
        "build step run[0]",
        "build step run[1]",
        "build step run[2]",
    ] {
        assert!(reused(&second, prefix), "{prefix}: {second}");
    }
    assert_eq!(second["manifest_digest"], first["manifest_digest"]);

    // A code edit re-runs only the step after the code.
    context.write("notes.txt", "more code\n");
    let third = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    assert!(reused(&third, "build step run[1]"), "{third}");
    assert!(!reused(&third, "build step run[2]"), "{third}");
    assert!(in_image(&context, "cat /opt/app-files.txt").contains("notes.txt"));

    // An input edit re-runs its step (the counter moves to 2).
    context.write("scripts/make.py", &format!("{MAKE_PY}# edited\n"));
    let fourth = stdout_json(&mlpack_ok(&context, &["--json", "build"]));
    assert!(!reused(&fourth, "build step run[1]"), "{fourth}");
    assert!(reused(&fourth, "build step run[0]"), "{fourth}");
    assert_eq!(
        in_image(&context, "cat /opt/made.txt"),
        "hi run 2 saw ['scripts']\n"
    );

    // A failing step: named, with its output; the image stays the last good one, no
    // container or temporary image is left.
    let good = fourth["manifest_digest"].clone();
    let manifest = context
        .read("mlpack.toml")
        .replace("ls /app > /opt/app-files.txt", "echo about to fail; exit 3");
    context.write("mlpack.toml", &manifest);
    let mut command = context.mlpack(&["build"]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let failed = context.render(&command.output().unwrap());
    assert!(failed.starts_with("exit: 1\n"), "{failed}");
    assert!(
        failed.contains("mlpack.toml [build] run[2]: echo about to fail; exit 3: exit status 3; the output's last lines:\nabout to fail\n"),
        "{failed}"
    );
    let images = crate::run::ok(&context, &["images"]);
    assert!(!images.contains("mlpack-step-build"), "{images}");
    let containers = crate::run::ok(&context, &["ps", "-a"]);
    assert!(!containers.contains("mlpack-step-"), "{containers}");
    let (code, stdout, _) = crate::run::mlpack(&context, &["inspect", "demo:latest"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(good.as_str().unwrap()),
        "demo:latest is still the last good build"
    );
}

/// A Debian image from a registry (here one mlpack built, pushed to a local registry) gets
/// them from the suite its `/etc/os-release` names, less what its dpkg status lists.
#[cfg(feature = "test-registry")]
#[test]
fn system_packages_on_a_debian_image_from_a_registry() {
    let index = TestIndex::start();
    let base = local_project(&index);
    mlpack_ok(&base, &["build"]);
    let registry = crate::common::registry::TestRegistry::start(base.temp.path());
    let remote = format!("{}/base/py:3.11", registry.host);
    crate::run::ok(&base, &["push", "demo:latest", &remote]);

    let app = TestContext::new();
    app.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"demo\"\n[base]\nimage = \"{remote}\"\n[python]\nindex-url = \"{}\"\nrequirements = [\"alpha\"]\n[build]\nsystem-packages = [\"jq\", \"python3\"]\n",
            index.url
        ),
    );
    app.write("train.py", "print(1)\n");
    mlpack_ok(&app, &["lock"]);
    let report = stdout_json(&mlpack_ok(&app, &["--json", "build"]));
    assert_eq!(report["pinned_system_packages"], true, "{report}");
    let lock = app.read("mlpack.lock");
    assert!(
        lock.contains("\n[[system-packages.packages]]\nname = \"jq\"\n"),
        "{lock}"
    );
    assert!(
        !lock.contains("\n[[system-packages.packages]]\nname = \"python3\"\n"),
        "the image's dpkg status has python3: {lock}"
    );
    assert_eq!(in_image(&app, "echo '[2]' | jq -c '.[0]'"), "2\n");
}
