//! `mlpack lock` against an index the test serves: resolution rules, conflicts and their
//! explanation, bad indexes, the cache and offline mode, and the lock's reuse.

use crate::common::TestContext;
use crate::common::index::{Fault, TestIndex, Wheel};

/// A project whose manifest requires `requirements` from `index`.
fn project(index: &TestIndex, requirements: &[&str]) -> TestContext {
    let context = TestContext::new();
    let quoted: Vec<String> = requirements.iter().map(|r| format!("{r:?}")).collect();
    context.write(
        "mlpack.toml",
        &format!(
            "[python]\nversion = \"3.11\"\nindex-url = \"{}\"\nrequirements = [{}]\n",
            index.url,
            quoted.join(", ")
        ),
    );
    context
}

/// `name version` for every locked package.
fn locked(context: &TestContext) -> Vec<String> {
    let lock: toml::Table = toml::from_str(&context.read("mlpack.lock")).unwrap();
    lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            format!(
                "{} {}",
                package["name"].as_str().unwrap(),
                package["version"].as_str().unwrap()
            )
        })
        .collect()
}

fn masked(index: &TestIndex, text: &str) -> String {
    let server = index.url.trim_end_matches("/simple");
    text.replace(&index.url, "[INDEX]")
        .replace(server, "[SERVER]")
        .lines()
        .filter(|line| !line.contains("Resolved "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn resolves_the_newest_fitting_versions_with_markers_and_extras() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new(
            "alpha",
            "1.0",
            &[
                "beta>=1",
                "legacy; python_version < \"3.8\"",
                "winonly; sys_platform == \"win32\"",
                "speedy; extra == \"fast\"",
            ],
        ))
        .publish(&Wheel {
            extras: &["fast"],
            ..Wheel::new("alpha", "1.1", &["beta>=1", "speedy; extra == \"fast\""])
        })
        .publish(&Wheel::new("beta", "1.0", &[]))
        .publish(&Wheel::new("beta", "2.0", &[]))
        .publish(&Wheel {
            tag: "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
            ..Wheel::new("speedy", "3.0", &[])
        })
        .publish(&Wheel {
            tag: "cp312-cp312-manylinux_2_17_x86_64",
            ..Wheel::new("speedy", "4.0", &[])
        });
    let context = project(&index, &["alpha[fast]"]);
    let output = context.run_online(&["lock"]);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert_eq!(locked(&context), ["alpha 1.1", "beta 2.0", "speedy 3.0"]);
    let lock = context.read("mlpack.lock");
    assert!(
        lock.contains("url = \"http://127.0.0.1:"),
        "relative URLs are resolved: {lock}"
    );
    assert!(
        lock.contains("\"`alpha[fast]` at mlpack.toml:4\""),
        "{lock}"
    );
    assert!(lock.contains("\"dependency of alpha\""), "{lock}");
}

#[test]
fn markers_on_the_projects_own_requirements_are_evaluated_for_the_target() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("alpha", "1.0", &[]))
        .publish(&Wheel::new("tomli", "2.0", &[]))
        .publish(&Wheel::new("six", "1.0", &[]))
        .publish(&Wheel::new("linuxonly", "1.0", &[]));
    let context = project(
        &index,
        &[
            "alpha",
            "tomli; python_version < \"3.11\"",
            "six; sys_platform == \"win32\"",
            "linuxonly; sys_platform == \"linux\"",
        ],
    );
    let output = context.run_online(&["lock"]);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert_eq!(locked(&context), ["alpha 1.0", "linuxonly 1.0"]);
}

#[test]
fn a_conflict_names_the_requirements_behind_it() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("alpha", "1.0", &["beta<2"]))
        .publish(&Wheel::new("requests", "1.0", &["beta>=2"]))
        .publish(&Wheel::new("beta", "1.0", &[]))
        .publish(&Wheel::new("beta", "2.0", &[]));
    let context = project(&index, &["alpha"]);
    context.write("app.py", "import requests\n");
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock"])), @"
    exit: 1
    --- stdout
    --- stderr
    error: no set of packages satisfies the requirements on CPython 3.11 on manylinux_2_36 x86_64:

    Because `alpha` 1.0 is the only usable version and `alpha` 1.0 depends on `beta` <2, `alpha` depends on `beta` <2.
    And because `requests` 1.0 depends on `beta` >=2 and `requests` 1.0 is the only usable version, `alpha`, `requests` are incompatible.
    And because `alpha` at mlpack.toml:4 requires `alpha` and the import of `requests` at app.py:1 requires `requests`, the project's requirements cannot all be met.
    ");
    assert!(
        !context.project.join("mlpack.lock").exists(),
        "nothing half-written"
    );
}

#[test]
fn yanked_releases_need_an_exact_pin() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("beta", "1.0", &[]))
        .publish(&Wheel {
            yanked: true,
            ..Wheel::new("beta", "1.1", &[])
        });
    let context = project(&index, &["beta"]);
    assert!(context.run_online(&["lock"]).starts_with("exit: 0"));
    assert_eq!(locked(&context), ["beta 1.0"]);
    let pinned = project(&index, &["beta==1.1"]);
    assert!(pinned.run_online(&["lock"]).starts_with("exit: 0"));
    assert_eq!(locked(&pinned), ["beta 1.1"]);
}

#[test]
fn requires_python_and_prereleases() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("beta", "1.0", &[]))
        .publish(&Wheel {
            requires_python: Some(">=3.12"),
            ..Wheel::new("beta", "2.0", &[])
        })
        .publish(&Wheel::new("beta", "3.0rc1", &[]))
        .publish(&Wheel::new("newonly", "1.0b1", &[]));
    let context = project(&index, &["beta", "newonly"]);
    let output = context.run_online(&["lock"]);
    assert!(output.starts_with("exit: 0"), "{output}");
    // 2.0 needs Python 3.12, 3.0rc1 is a pre-release, and only a pre-release of `newonly` exists.
    assert_eq!(locked(&context), ["beta 1.0", "newonly 1.0b1"]);
    let asked = project(&index, &["beta>=3.0rc1"]);
    assert!(asked.run_online(&["lock"]).starts_with("exit: 0"));
    assert_eq!(locked(&asked), ["beta 3.0rc1"]);
}

#[test]
fn prereleases_a_dependency_pins_are_allowed() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("otel-sdk", "1.0", &["otel-semconv==0.5b1"]))
        .publish(&Wheel::new("otel-semconv", "0.4b0", &[]))
        .publish(&Wheel::new("otel-semconv", "0.5b1", &[]));
    let context = project(&index, &["otel-sdk"]);
    let output = context.run_online(&["lock"]);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert_eq!(locked(&context), ["otel-sdk 1.0", "otel-semconv 0.5b1"]);
}

#[test]
fn a_release_with_broken_metadata_is_skipped() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("airy", "1.0", &[]))
        .publish(&Wheel::new(
            "airy",
            "2.0",
            &["azure-datalake-store (>=0.0.45azure-mgmt-datalake-store>=0.5.0) ; extra == 'all'"],
        ));
    let context = project(&index, &["airy"]);
    let output = context.run_online(&["lock"]);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert_eq!(locked(&context), ["airy 1.0"]);
}

#[test]
fn a_package_with_only_an_sdist_is_locked_with_its_build_environment() {
    let index = TestIndex::start();
    index
        .publish_sdist(
            "delta",
            "1.0",
            &["beta>=1", "winonly; sys_platform == \"win32\""],
        )
        .publish(&Wheel {
            tag: "cp311-cp311-win_amd64",
            ..Wheel::new("delta", "1.0", &[])
        })
        .publish(&Wheel::new("beta", "1.0", &[]))
        .publish(&Wheel::new("setuptools", "39.0", &[]))
        .publish(&Wheel::new("setuptools", "70.0", &[]));
    let context = project(&index, &["delta"]);
    let output = context.run_online(&["lock"]);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert_eq!(locked(&context), ["beta 1.0", "delta 1.0"]);
    let lock: toml::Table = toml::from_str(&context.read("mlpack.lock")).unwrap();
    let delta = &lock["packages"].as_array().unwrap()[1];
    assert_eq!(delta["wheels"].as_array().unwrap().len(), 0);
    assert_eq!(delta["sdist"]["name"].as_str(), Some("delta-1.0.tar.gz"));
    assert_eq!(
        delta["build"]["backend"].as_str(),
        Some("setuptools.build_meta")
    );
    assert_eq!(
        delta["build"]["environment"].as_array().unwrap()[0].as_str(),
        Some("setuptools==70.0")
    );
    let build_packages = lock["build-packages"].as_array().unwrap();
    assert_eq!(build_packages.len(), 1);
    assert_eq!(
        build_packages[0]["why"].as_array().unwrap()[0].as_str(),
        Some("build requirement of delta")
    );
}

#[test]
fn no_build_refuses_sdists_and_says_how_to_allow_them() {
    let index = TestIndex::start();
    index.publish_sdist("delta", "1.0", &[]).publish(&Wheel {
        tag: "cp311-cp311-win_amd64",
        ..Wheel::new("delta", "0.9", &[])
    });
    let context = project(&index, &["delta"]);
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock", "--no-build"])), @"
    exit: 1
    --- stdout
    --- stderr
    error: no set of packages satisfies the requirements on CPython 3.11 on manylinux_2_36 x86_64:

    Because no version of `delta` can be used and `delta` at mlpack.toml:4 requires `delta`, the project's requirements cannot all be met.

    hint: `delta` has no wheel for CPython 3.11 on manylinux_2_36 x86_64 in version(s) 1.0, 0.9 (only an sdist, which `--no-build` refuses, or wheels for other platforms); pin another version that has one, or drop `--no-build` and `[python] no-build`
    ");
}

#[test]
fn an_sdist_that_is_not_an_archive_is_named() {
    let index = TestIndex::start();
    index.publish_garbage_sdist("delta", "1.0");
    let context = project(&index, &["delta"]);
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock"])), @"
    exit: 1
    --- stdout
    --- stderr
    error: no set of packages satisfies the requirements on CPython 3.11 on manylinux_2_36 x86_64:

    Because `delta` 1.0 is the only usable version and `delta` 1.0 cannot be used because its metadata is invalid (the sdist `delta-1.0.tar.gz` cannot be read: invalid gzip header), `delta` cannot be used.
    And because `delta` at mlpack.toml:4 requires `delta`, the project's requirements cannot all be met.
    ");
}

#[test]
fn unknown_packages_get_a_did_you_mean() {
    let index = TestIndex::start();
    index.publish(&Wheel::new("numpy", "2.0", &[]));
    let context = project(&index, &["numpyy"]);
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock"])), @"
    exit: 1
    --- stdout
    --- stderr
    error: `numpyy` was not found on the package index `[INDEX]` (needed by `numpyy` at mlpack.toml:4)

    hint: did you mean `numpy`?
    ");
}

#[test]
fn an_index_outage_or_garbage_is_a_clear_error() {
    let index = TestIndex::start();
    index.publish(&Wheel::new("beta", "1.0", &[]));
    index.set_fault(Fault::ServerError);
    let context = project(&index, &["beta"]);
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock"])), @"
    exit: 2
    --- stdout
    --- stderr
    error: the package index answered `500 Internal Server Error` for `[INDEX]/beta/`
    ");
    index.set_fault(Fault::Garbage);
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock"])), @"
    exit: 2
    --- stdout
    --- stderr
    error: the package index sent an unreadable answer for `[INDEX]/beta/`: expected value at line 1 column 1
    ");
    assert!(!context.project.join("mlpack.lock").exists());
}

#[test]
fn a_wheel_whose_hash_differs_from_the_index_is_refused() {
    let index = TestIndex::start();
    index.publish(&Wheel::new("beta", "1.0", &[]));
    index.corrupt_hashes("beta");
    // Without range support the whole wheel is downloaded, and checked.
    index.set_ranges(false);
    let context = project(&index, &["beta"]);
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock"])), @"
    exit: 2
    --- stdout
    --- stderr
    error: the sha256 of `[SERVER]/files/beta-1.0-py3-none-any.whl` is `7f31b64c9bbe477d9b336b284f6f512b4df6fdb49359da2aa3460a6cbca0817c`, but the index says `0000000000000000000000000000000000000000000000000000000000000000`

    hint: the file changed on the index since it was listed; retry, and report it to the index if it persists
    ");
}

#[test]
fn an_unchanged_project_reuses_its_lock_without_asking_the_index() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("alpha", "1.0", &["beta"]))
        .publish(&Wheel::new("beta", "1.0", &[]));
    let context = project(&index, &["alpha"]);
    assert!(context.run_online(&["lock"]).starts_with("exit: 0"));
    let first = context.read("mlpack.lock");
    let requests = index.requests().len();
    let again = context.run_online(&["lock"]);
    assert!(again.contains("is up to date"), "{again}");
    assert_eq!(
        index.requests().len(),
        requests,
        "no request for an unchanged lock"
    );
    assert_eq!(context.read("mlpack.lock"), first);
    assert!(
        context
            .run_online(&["lock", "--check"])
            .starts_with("exit: 0")
    );

    // A new release does not move a locked version until asked.
    index.publish(&Wheel::new("beta", "2.0", &[]));
    context.write(
        "mlpack.toml",
        &context
            .read("mlpack.toml")
            .replace("[\"alpha\"]", "[\"alpha\", \"beta\"]"),
    );
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock", "--check"])), @"
    exit: 1
    --- stdout
    --- stderr
    error: `mlpack.lock` is out of date: the requirements, target or indexes changed since it was written

    hint: run `mlpack lock` and commit the new `mlpack.lock`
    ");
    assert!(context.run_online(&["lock"]).starts_with("exit: 0"));
    assert_eq!(locked(&context), ["alpha 1.0", "beta 1.0"]);
    let upgraded = context.run_online(&["lock", "--upgrade-package", "beta"]);
    assert!(upgraded.contains("~ beta 1.0 -> 2.0"), "{upgraded}");
}

#[test]
fn offline_uses_the_cache_and_names_what_is_missing() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("alpha", "1.0", &["beta"]))
        .publish(&Wheel::new("beta", "1.0", &[]));
    let context = project(&index, &["alpha"]);
    assert!(context.run_online(&["lock"]).starts_with("exit: 0"));
    fs_err::remove_file(context.project.join("mlpack.lock")).unwrap();
    let requests = index.requests().len();
    let offline = context.run_online(&["lock", "--offline"]);
    assert!(offline.starts_with("exit: 0"), "{offline}");
    assert_eq!(index.requests().len(), requests);
    context.write(
        "mlpack.toml",
        &context
            .read("mlpack.toml")
            .replace("[\"alpha\"]", "[\"alpha\", \"gamma\"]"),
    );
    insta::assert_snapshot!(masked(&index, &context.run_online(&["lock", "--offline"])), @"
    exit: 1
    --- stdout
    --- stderr
    error: `gamma` is not in the cache (`[INDEX]/gamma/`)

    hint: run without `--offline` to fetch it from the index
    ");
}

#[test]
fn tree_why_and_export() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("alpha", "1.0", &["beta", "gamma"]))
        .publish(&Wheel::new("gamma", "1.0", &["beta"]))
        .publish(&Wheel::new("beta", "1.0", &[]));
    let context = project(&index, &["alpha"]);
    assert!(context.run_online(&["lock"]).starts_with("exit: 0"));
    insta::assert_snapshot!(context.run(&["tree"]), @"
    exit: 0
    --- stdout
    alpha 1.0 (`alpha` at mlpack.toml:4)
    ├── beta 1.0
    └── gamma 1.0
        └── beta 1.0
    --- stderr
    ");
    insta::assert_snapshot!(context.run(&["why", "beta"]), @"
    exit: 0
    --- stdout
    alpha 1.0 -> beta 1.0  (`alpha` at mlpack.toml:4)
    alpha 1.0 -> gamma 1.0 -> beta 1.0  (`alpha` at mlpack.toml:4)
    --- stderr
    ");
    let exported = context.run(&["export", "--format", "requirements"]);
    assert!(
        exported.contains("alpha==1.0 \\\n    --hash=sha256:"),
        "{exported}"
    );
    let pylock = context.run(&["export", "--format", "pylock"]);
    assert!(pylock.contains("lock-version = \"1.0\""), "{pylock}");
    assert!(
        pylock.contains("[[packages]]\nname = \"alpha\""),
        "{pylock}"
    );
    insta::assert_snapshot!(context.run(&["why", "nothere"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `nothere` is not in `mlpack.lock`

    hint: `mlpack tree` shows every locked package
    ");
}

#[test]
fn explicit_requirements_win_over_inferred_ones() {
    let index = TestIndex::start();
    index
        .publish(&Wheel::new("opencv-python", "4.0", &[]))
        .publish(&Wheel::new("opencv-python-headless", "4.0", &[]));
    let context = project(&index, &["opencv-python"]);
    context.write("app.py", "import cv2\n");
    assert!(context.run_online(&["lock"]).starts_with("exit: 0"));
    assert_eq!(locked(&context), ["opencv-python 4.0"]);
    let inferred = project(&index, &[]);
    inferred.write("app.py", "import cv2\n");
    assert!(inferred.run_online(&["lock"]).starts_with("exit: 0"));
    assert_eq!(locked(&inferred), ["opencv-python-headless 4.0"]);
    assert!(
        inferred
            .read("mlpack.lock")
            .contains("the import of `cv2` at app.py:1")
    );
}

/// The examples against the real PyPI, pinned in time so the result is stable.
#[cfg(feature = "test-pypi")]
mod pypi {
    use crate::common::TestContext;

    const EXCLUDE_NEWER: &str = "2026-11-01";

    fn lock_example(name: &str) -> (TestContext, String) {
        let context = TestContext::example(name);
        // The example's own lock would steer the versions; this test pins time instead.
        let _ = fs_err::remove_file(context.project.join("mlpack.lock"));
        let output = context.run_online(&["lock", "--exclude-newer", EXCLUDE_NEWER]);
        assert!(output.starts_with("exit: 0"), "{output}");
        let names = super::locked(&context).join("\n");
        (context, names)
    }

    #[test]
    fn iris_sklearn() {
        let (context, names) = lock_example("iris-sklearn");
        insta::assert_snapshot!(names, @"
        cloudpickle 3.1.2
        joblib 1.6.0
        narwhals 2.28.0
        numpy 2.4.6
        pandas 3.1.0
        python-dateutil 3.0.0
        scikit-learn 1.9.1
        scipy 1.17.1
        six 1.17.0
        threadpoolctl 3.7.0
        tzdata 2026.6
        ");
        assert!(
            context
                .read("mlpack.lock")
                .contains("the import of `sklearn` at train.py:")
        );
    }

    #[test]
    fn mnist_torch_pulls_the_cuda_wheels() {
        let (_, names) = lock_example("mnist-torch");
        assert!(names.contains("torch "), "{names}");
        assert!(
            names.lines().any(|line| line.starts_with("nvidia-")),
            "torch's Linux wheels need the NVIDIA wheels: {names}"
        );
        assert!(
            !names.contains("tensorboard"),
            "optional imports are not locked: {names}"
        );
    }

    /// matplotlib, scipy and pandas write their license over indented blank lines (meson-python);
    /// the dependencies listed after it are locked too.
    #[test]
    fn matplotlib_scipy_and_pandas_bring_their_dependencies() {
        let context = TestContext::new();
        context.write("app.py", "import matplotlib\nimport scipy\nimport pandas\n");
        let output = context.run_online(&["lock", "--exclude-newer", EXCLUDE_NEWER]);
        assert!(output.starts_with("exit: 0"), "{output}");
        let names = super::locked(&context).join("\n");
        for dependency in [
            "contourpy",
            "cycler",
            "fonttools",
            "kiwisolver",
            "numpy",
            "packaging",
            "pillow",
            "pyparsing",
            "python-dateutil",
            "tzdata",
        ] {
            assert!(
                names
                    .lines()
                    .any(|line| line.split(' ').next() == Some(dependency)),
                "`{dependency}` is missing: {names}"
            );
        }
    }

    /// The exported requirements install with pip in hash-checking mode.
    #[test]
    fn export_installs_with_pip_require_hashes() {
        let context = TestContext::new();
        context.write("app.py", "import requests\n");
        let output = context.run_online(&["lock", "--exclude-newer", EXCLUDE_NEWER]);
        assert!(output.starts_with("exit: 0"), "{output}");
        let requirements = context.project.join("requirements.txt");
        assert!(
            context
                .mlpack(&["export", "-o", requirements.to_str().unwrap()])
                .status()
                .unwrap()
                .success()
        );
        let target = context.temp.path().join("site");
        let pip = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--require-hashes",
                "--only-binary",
                ":all:",
                "--target",
            ])
            .arg(&target)
            .arg("-r")
            .arg(&requirements)
            .output()
            .unwrap();
        assert!(
            pip.status.success(),
            "{}",
            String::from_utf8_lossy(&pip.stderr)
        );
        assert!(target.join("requests").join("__init__.py").is_file());
    }
}

/// A lock that is garbage (not UTF-8, or not TOML) is the user's to fix: exit 1, a message
/// that says the lock is invalid and where, and how to write it anew.
#[test]
fn a_garbage_lock_is_a_user_error_that_says_how_to_fix_it() {
    let index = TestIndex::start();
    let context = project(&index, &["beta"]);
    fs_err::write(
        context.project.join("mlpack.lock"),
        b"lock-version = \"1.0\"\n\xff\xfe\x00garbage",
    )
    .unwrap();
    for command in [&["build"][..], &["lock", "--check"], &["tree"]] {
        insta::allow_duplicates! { insta::assert_snapshot!(context.run(command), @r"
        exit: 1
        --- stdout
        --- stderr
        error: `mlpack.lock` is not a valid mlpack lock: line 2, column 1: not UTF-8 text

        hint: restore `mlpack.lock` from version control, or delete it and run `mlpack lock` to write it anew
        ") };
    }
    context.write(
        "mlpack.lock",
        "lock-version = \"1.0\"\n[[packages]\nname = \"x\"\n",
    );
    insta::assert_snapshot!(context.run(&["build"]), @r"
    exit: 1
    --- stdout
    --- stderr
    error: `mlpack.lock` is not a valid mlpack lock: line 2, column 12: unclosed array table, expected `]`

    hint: restore `mlpack.lock` from version control, or delete it and run `mlpack lock` to write it anew
    ");
}

#[test]
fn an_import_no_table_knows_is_verified_and_the_verdict_kept_in_the_lock() {
    let context = TestContext::new();
    context.write(
        "train.py",
        "import comet_ml\nimport mlpack_surely_no_such_project_zz\n",
    );
    context.write("mlpack.toml", "[project]\nname = \"verify\"\n");
    let output = context.run_online(&["lock"]);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert!(
        output.contains("mlpack_surely_no_such_project_zz"),
        "the import nothing provides is still named: {output}"
    );
    let lock = context.read("mlpack.lock");
    assert!(
        lock.contains("verified-imports = { \"comet_ml\" = \"comet-ml\" }"),
        "{lock}"
    );
    assert!(
        lock.contains("\"comet-ml  # the import of `comet_ml` at train.py:1\""),
        "{lock}"
    );
    // Without the network and without any cached verdict, `--check` maps the import as the
    // lock recorded it, so the lock is fresh.
    fs_err::remove_dir_all(context.temp.path().join("cache")).unwrap();
    let check = context.run(&["lock", "--check"]);
    assert!(check.starts_with("exit: 0"), "{check}");
}

/// An unmapped import that cannot be checked (the index is unreachable) stays unlocked, and
/// the lock says why rather than only that it maps to nothing.
#[test]
fn an_import_the_index_cannot_be_asked_about_is_named_with_why() {
    let context = TestContext::new();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    context.write("train.py", "import mlpack_surely_no_such_project_zz\n");
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"verify\"\n[python]\nindex-url = \"http://127.0.0.1:{closed_port}/simple\"\n"
        ),
    );
    let output = context.run_online(&["lock"]);
    let why =
        "warning: mlpack_surely_no_such_project_zz: could not check the index for this import";
    // Once, however many candidate names failed alike.
    assert_eq!(output.matches(why).count(), 1, "{output}");
    assert!(output.contains("more of its candidate names)"), "{output}");
}
