//! `mlpack init`: template choice, the files written, and refusing to overwrite.

use crate::common::TestContext;

#[test]
fn writes_a_manifest_that_scan_accepts() {
    let context = TestContext::example("mnist-torch");
    fs_err::remove_file(context.project.join("mlpack.toml")).unwrap();
    insta::assert_snapshot!(context.run(&["init"]), @"
    exit: 0
    --- stdout
    --- stderr
    Wrote `mlpack.toml` from the `pytorch` template
    Wrote `.mlpackignore`
    ");
    let manifest = fs_err::read_to_string(context.project.join("mlpack.toml")).unwrap();
    assert!(manifest.contains("name = \"project\""), "{manifest}");
    assert!(
        manifest.contains("accelerator = \"auto\""),
        "the PyTorch template: {manifest}"
    );
    assert!(
        manifest.contains("[[datasets]]\nsource = \"data\""),
        "{manifest}"
    );
    assert!(manifest.contains("torch.load(\"/outputs/"), "{manifest}");
    assert!(context.project.join(".mlpackignore").is_file());
    let scan = context.mlpack(&["scan"]).output().unwrap();
    assert!(scan.status.success(), "{}", context.render(&scan));
}

#[test]
fn chooses_the_template_from_the_imports() {
    for (code, expected) in [
        ("import sklearn\n", "(scikit-learn)"),
        ("import tensorflow as tf\n", "(TensorFlow/Keras)"),
        ("import jax\n", "(JAX)"),
        ("import requests\n", "(Python)"),
    ] {
        let context = TestContext::new();
        context.write("train.py", code);
        let output = context.mlpack(&["init"]).output().unwrap();
        assert!(output.status.success(), "{}", context.render(&output));
        let manifest = fs_err::read_to_string(context.project.join("mlpack.toml")).unwrap();
        assert!(
            manifest.lines().next().unwrap().contains(expected),
            "{code}: {manifest}"
        );
        assert!(
            manifest.contains("# [[datasets]]"),
            "no data/ → datasets commented out: {manifest}"
        );
        assert!(
            manifest.contains("# [serve]\n# command = \"python3 predict.py\""),
            "a serve stub for `mlpack package`: {manifest}"
        );
    }
}

#[test]
fn a_notebook_project_runs_its_notebook() {
    let context = TestContext::new();
    context.write(
        "analysis.ipynb",
        r#"{"cells": [{"cell_type": "code", "source": "import xgboost"}]}"#,
    );
    assert!(context.mlpack(&["init"]).status().unwrap().success());
    let manifest = fs_err::read_to_string(context.project.join("mlpack.toml")).unwrap();
    assert!(
        manifest.contains("\"--execute\", \"analysis.ipynb\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("requirements = [\"nbconvert\", \"ipykernel\"]"),
        "{manifest}"
    );
}

#[test]
fn refuses_to_overwrite_without_force() {
    let context = TestContext::new();
    context.write("mlpack.toml", "# mine\n");
    context.write(".mlpackignore", "mine/\n");
    insta::assert_snapshot!(context.run(&["init"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `mlpack.toml` already exists

    hint: pass `--force` to overwrite it
    ");
    assert_eq!(
        fs_err::read_to_string(context.project.join("mlpack.toml")).unwrap(),
        "# mine\n"
    );
    assert!(
        context
            .mlpack(&["init", "--force"])
            .status()
            .unwrap()
            .success()
    );
    assert_ne!(
        fs_err::read_to_string(context.project.join("mlpack.toml")).unwrap(),
        "# mine\n"
    );
    assert_ne!(
        fs_err::read_to_string(context.project.join(".mlpackignore")).unwrap(),
        "mine/\n"
    );
}

/// A directory whose name is not a valid image name still gives a manifest every command
/// reads: the name is reduced to its letters and digits.
#[test]
fn a_directory_name_that_is_no_image_name_is_made_one() {
    let context = TestContext::new();
    let project = context.temp.path().join("_My..Scratch Work");
    fs_err::create_dir(&project).unwrap();
    fs_err::write(project.join("train.py"), "import json\n").unwrap();
    let output = context
        .mlpack(&["-C", project.to_str().unwrap(), "init"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", context.render(&output));
    let manifest = fs_err::read_to_string(project.join("mlpack.toml")).unwrap();
    assert!(
        manifest.contains("name = \"my-scratch-work\""),
        "{manifest}"
    );
    let scan = context
        .mlpack(&["-C", project.to_str().unwrap(), "scan"])
        .output()
        .unwrap();
    assert!(scan.status.success(), "{}", context.render(&scan));
}

/// mlpack reads no requirements file the manifest does not name, so `init` names the one
/// the project has, and says so.
#[test]
fn picks_up_a_requirements_txt_or_a_pyproject() {
    for (file, text) in [
        ("requirements.txt", "pandas>=2\n"),
        (
            "pyproject.toml",
            "[project]\nname = \"demo\"\nversion = \"1\"\ndependencies = [\"pandas>=2\"]\n",
        ),
    ] {
        let context = TestContext::new();
        context.write("train.py", "import pandas\n");
        context.write(file, text);
        let output = context.run(&["init"]);
        assert!(
            output.contains(&format!(
                "Picked up `{file}` as `[python] requirements-file`"
            )),
            "{output}"
        );
        let manifest = context.read("mlpack.toml");
        assert!(
            manifest.contains(&format!("\nrequirements-file = \"{file}\"\n")),
            "{manifest}"
        );
        let scan = context.mlpack(&["scan"]).output().unwrap();
        assert!(scan.status.success(), "{}", context.render(&scan));
    }
}

/// A `pyproject.toml` without dependencies (a tool's configuration only) is not named.
#[test]
fn a_pyproject_without_dependencies_is_left_alone() {
    let context = TestContext::new();
    context.write("train.py", "import json\n");
    context.write("pyproject.toml", "[tool.ruff]\nline-length = 100\n");
    let output = context.run(&["init"]);
    assert!(!output.contains("Picked up"), "{output}");
    let manifest = context.read("mlpack.toml");
    assert!(
        manifest.contains("# requirements-file = \"requirements.txt\""),
        "{manifest}"
    );
}

/// A conda environment's `pip:` requirements are copied into the manifest; what pip alone
/// understands (options, other files) is left out with a warning.
#[test]
fn copies_the_pip_section_of_an_environment_yml() {
    let context = TestContext::new();
    context.write("train.py", "import sklearn\n");
    context.write(
        "environment.yml",
        "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy\n  - pip\n  - pip:\n      - scikit-learn==1.5.2\n      - \"matplotlib>=3.8\"\n      - -r extra.txt\n",
    );
    insta::assert_snapshot!(context.run(&["init"]), @"
    exit: 0
    --- stdout
    --- stderr
    Wrote `mlpack.toml` from the `sklearn` template
    Copied 2 requirement(s) from the `pip:` section of `environment.yml` into `[python] requirements`
    warning: left out `-r extra.txt` from `environment.yml`: not a PEP 508 requirement
    Wrote `.mlpackignore`
    ");
    let manifest = context.read("mlpack.toml");
    assert!(
        manifest.contains("requirements = [\"scikit-learn==1.5.2\", \"matplotlib>=3.8\"]"),
        "{manifest}"
    );
    let scan = context.mlpack(&["scan"]).output().unwrap();
    assert!(scan.status.success(), "{}", context.render(&scan));
}
