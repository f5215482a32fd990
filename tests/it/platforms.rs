//! `[python] platforms`: one lock for several architectures, which builds for each read
//! without rewriting each other's part, and a foreign-architecture image refused with a clear
//! message when the host cannot emulate it (issue 21, item 6).

#[cfg(all(feature = "test-root", feature = "test-debian"))]
use crate::build::mlpack_ok;
use crate::common::TestContext;
#[cfg(all(feature = "test-root", feature = "test-debian"))]
use crate::common::index::{TestIndex, Wheel};

#[cfg(all(feature = "test-root", feature = "test-debian"))]
/// A project for `x86_64` and `aarch64` whose packages come from an index the test serves:
/// `alpha` pure, `gamma` with a wheel per architecture, and `delta` 2.0 for `x86_64` only (so
/// aarch64 resolves 1.0).
fn two_platform_project(index: &TestIndex) -> TestContext {
    let tagged = |name, version, tag| Wheel {
        tag,
        ..Wheel::new(name, version, &[])
    };
    index
        .publish(&Wheel::new("alpha", "1.0", &[]))
        .publish(&tagged("gamma", "1.0", "cp311-cp311-manylinux_2_17_x86_64"))
        .publish(&tagged(
            "gamma",
            "1.0",
            "cp311-cp311-manylinux_2_17_aarch64",
        ))
        .publish(&tagged("delta", "1.0", "cp311-cp311-manylinux_2_17_x86_64"))
        .publish(&tagged(
            "delta",
            "1.0",
            "cp311-cp311-manylinux_2_17_aarch64",
        ))
        .publish(&tagged("delta", "2.0", "cp311-cp311-manylinux_2_17_x86_64"));
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"demo\"\n[python]\nversion = \"3.11\"\nindex-url = \"{}\"\nrequirements = [\"alpha\", \"gamma\", \"delta\"]\nplatforms = [\"x86_64\", \"aarch64\"]\n[train]\ncommand = [\"python3\", \"train.py\"]\n",
            index.url
        ),
    );
    context.write("train.py", "import alpha, gamma, delta\nprint('trained')\n");
    context
}

#[cfg(all(feature = "test-root", feature = "test-debian"))]
/// The lock's tables as TOML values.
fn lock_table(context: &TestContext) -> toml::Table {
    toml::from_str(&context.read("mlpack.lock")).unwrap()
}

#[cfg(all(feature = "test-root", feature = "test-debian"))]
#[test]
fn a_lock_for_two_platforms_serves_both_builds_without_changing() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let index = TestIndex::start();
    let context = two_platform_project(&index);
    mlpack_ok(&context, &["lock"]);
    let lock = context.read("mlpack.lock");
    assert!(
        lock.contains("lock-version = \"2.0\"")
            && lock.contains("platforms = [\n    \"x86_64\",\n    \"aarch64\",\n]"),
        "{lock}"
    );
    assert!(lock.contains("[platform.aarch64.target]"), "{lock}");
    assert_eq!(
        lock.matches("name = \"gamma\"").count(),
        1,
        "one entry: {lock}"
    );
    assert!(
        lock.contains("gamma-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
            && lock.contains("gamma-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"),
        "each platform's wheel: {lock}"
    );
    assert!(
        lock.contains("name = \"delta\"\nversion = \"2.0\"\nplatforms = [\"x86_64\"]")
            && lock.contains("name = \"delta\"\nversion = \"1.0\"\nplatforms = [\"aarch64\"]"),
        "{lock}"
    );

    mlpack_ok(&context, &["build", "-t", "demo:amd64"]);
    let after_x86 = lock_table(&context);
    let arm = mlpack_ok(
        &context,
        &["build", "--arch", "aarch64", "-t", "demo:arm64"],
    );
    assert!(arm.contains("Built `demo:arm64`"), "{arm}");
    let after_arm = lock_table(&context);
    for key in ["target", "inputs", "base", "packages"] {
        assert_eq!(
            after_x86[key], after_arm[key],
            "the aarch64 build left `{key}` alone"
        );
    }
    let arm_base = &after_arm["platform"]["aarch64"]["base"];
    assert_eq!(arm_base["arch"].as_str(), Some("arm64"), "{arm_base}");
    assert_eq!(after_arm["base"]["arch"].as_str(), Some("amd64"));

    let pinned = context.read("mlpack.lock");
    for args in [
        &["build", "--locked", "-t", "demo:amd64"][..],
        &["build", "--locked", "--arch", "aarch64", "-t", "demo:arm64"],
        &["build", "--locked", "-t", "demo:amd64"],
    ] {
        mlpack_ok(&context, args);
        assert_eq!(
            context.read("mlpack.lock"),
            pinned,
            "`mlpack {}` changed the lock",
            args.join(" ")
        );
    }
    if std::path::Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists() {
        return;
    }
    let refused = context.run(&["run", "--rm", "demo:arm64", "python3", "-c", "print(1)"]);
    assert!(refused.starts_with("exit: 125"), "{refused}");
    assert!(
        refused.contains(
            "the image `demo:arm64` is for `aarch64`, and this machine (`x86_64`) has no binfmt_misc handler to run its programs"
        ) && refused.contains("hint: to emulate `aarch64`, register QEMU's handler with binfmt_misc")
            && refused.contains("`mlpack build --arch x86_64`"),
        "{refused}"
    );
}

#[test]
fn another_architecture_than_the_platforms_is_refused_with_a_hint() {
    let context = TestContext::new();
    context.write("mlpack.toml", "[python]\nrequirements = [\"alpha\"]\n");
    let other = if cfg!(target_arch = "x86_64") {
        "aarch64"
    } else {
        "x86_64"
    };
    let host = std::env::consts::ARCH;
    let refused = context.run(&["lock", "--arch", other]);
    assert!(refused.starts_with("exit: 1\n"), "{refused}");
    assert!(
        refused.contains(&format!(
            "error: the target architecture `{other}` is not one of the project's platforms ({host}, this machine's, since `[python] platforms` is not set)"
        )) && refused.contains(&format!(
            "hint: add it in `mlpack.toml` and lock again: `[python] platforms = [\"{host}\", \"{other}\"]`"
        )),
        "{refused}"
    );
    assert!(!context.project.join("mlpack.lock").exists());
}
