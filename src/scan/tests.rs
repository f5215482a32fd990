use super::*;

/// A project built from `(path, contents)` pairs.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, contents).unwrap();
    }
    dir
}

fn scan_at(root: &Path, python: PythonVersion) -> ScanReport {
    let options = ScanOptions {
        python,
        pins: BTreeMap::new(),
        skip_dirs: vec![PathBuf::from("outputs")],
        exclude: Vec::new(),
    };
    scan(root, &options).unwrap()
}

fn report(files: &[(&str, &str)]) -> ScanReport {
    let dir = project(files);
    scan_at(dir.path(), PythonVersion::DEFAULT)
}

fn distributions(report: &ScanReport) -> Vec<(String, bool)> {
    report
        .distributions
        .iter()
        .map(|used| (used.name.to_string(), used.required))
        .collect()
}

fn unresolved(report: &ScanReport) -> Vec<&str> {
    report
        .unresolved
        .iter()
        .map(|unresolved| unresolved.name.as_str())
        .collect()
}

#[test]
fn local_modules_come_from_the_module_graph() {
    let report = report(&[
        (
            "train.py",
            "import model\nimport pkg.sub\nimport nsp.mod\nimport mylib\nimport deep_helper\n",
        ),
        ("model.py", ""),
        ("pkg/__init__.py", ""),
        ("pkg/sub.py", ""),
        // A namespace package: no `__init__.py`.
        ("nsp/mod.py", ""),
        // `src/` layout.
        ("src/mylib/__init__.py", ""),
        // Only importable from its own directory, not from the root.
        ("tools/deep/deep_helper.py", ""),
    ]);
    assert_eq!(report.local_modules, ["model", "mylib", "nsp", "pkg"]);
    assert_eq!(unresolved(&report), ["deep_helper"]);
}

#[test]
fn a_directory_of_scripts_does_not_hide_the_package_it_is_named_after() {
    // optuna-examples, LightGBM's python-guide: `xgboost/xgboost_simple.py` imports the real
    // xgboost; Python prefers an installed regular package to a namespace directory.
    let report = report(&[
        (
            "xgboost/xgboost_simple.py",
            "import xgboost as xgb\nfrom sklearn.datasets import load_iris\n",
        ),
        ("sklearn/sklearn_simple.py", "import sklearn\n"),
        ("dask/ranking.py", "import dask.array as da\n"),
        // The project's own namespace packages stay local: reached into, or unknown to the map.
        (
            "train.py",
            "from models import resnet\nimport models.vit\nimport helpers\n",
        ),
        ("models/resnet.py", ""),
        ("models/vit.py", ""),
        ("helpers/plot.py", ""),
        // A regular package shadows whatever the map says.
        ("app.py", "import yaml\n"),
        ("yaml/__init__.py", ""),
    ]);
    assert_eq!(report.local_modules, ["helpers", "models", "yaml"]);
    assert_eq!(
        distributions(&report),
        [
            ("dask".to_string(), true),
            ("scikit-learn".to_string(), true),
            ("xgboost".to_string(), true),
        ]
    );
}

#[test]
fn test_and_build_files_make_their_imports_optional() {
    let report = report(&[
        ("setup.py", "from setuptools import setup\n"),
        ("tests/test_model.py", "import pytest\nimport torch\n"),
        ("pkg/tests/unit/helpers.py", "import hypothesis\n"),
        ("conftest.py", "import pytest_mock\n"),
        // An evaluation script named like a test is the project's own code.
        ("test.py", "import numpy\n"),
        ("test_model.py", "import torch\n"),
    ]);
    assert_eq!(
        distributions(&report),
        [
            ("hypothesis".to_string(), false),
            ("numpy".to_string(), true),
            ("pytest".to_string(), false),
            ("pytest-mock".to_string(), false),
            ("setuptools".to_string(), false),
            ("torch".to_string(), true),
        ]
    );
    let setuptools = &report.distributions[4];
    assert_eq!(setuptools.evidence[0].guard, Some(Guard::TestOrBuild));
}

#[test]
fn code_inside_a_package_may_import_that_package() {
    // Several projects side by side: each one's package imports itself by name.
    let report = report(&[
        ("Django-5.0/django/__init__.py", ""),
        ("Django-5.0/django/core/__init__.py", ""),
        (
            "Django-5.0/django/core/handlers.py",
            "import django.conf\nfrom django import utils\n",
        ),
        ("ansible/ansible_collections/python/dist/__init__.py", ""),
        (
            "ansible/ansible_collections/python/dist/mod.py",
            "import yaml\n",
        ),
        ("build/lib/junk.py", "import nothere\n"),
    ]);
    assert_eq!(report.local_modules, ["django"]);
    assert_eq!(
        distributions(&report),
        [("pyyaml".to_string(), true)],
        "a nested `dist` package is scanned; the root `build` is not"
    );
}

#[test]
fn sibling_modules_are_local_to_their_directory() {
    let report = report(&[
        (
            "notebooks/explore.ipynb",
            r#"{"cells": [{"cell_type": "code", "source": "from features import add\n"}]}"#,
        ),
        ("notebooks/features.py", "def add(): pass\n"),
        ("scripts/run.py", "import helpers\n"),
        ("scripts/helpers.py", ""),
    ]);
    assert_eq!(report.local_modules, ["features", "helpers"]);
    assert!(report.distributions.is_empty() && report.unresolved.is_empty());
}

#[test]
fn a_data_directory_without_python_is_not_a_module() {
    let report = report(&[("train.py", "import wandb\n"), ("wandb/run-1/log.txt", "")]);
    assert!(report.local_modules.is_empty());
    assert_eq!(distributions(&report), [("wandb".to_string(), true)]);
}

#[test]
fn junk_and_ignored_paths_are_skipped() {
    let report = report(&[
        ("train.py", "import numpy\n"),
        (
            ".venv/lib/python3.11/site-packages/six.py",
            "import nothere1\n",
        ),
        ("env/pyvenv.cfg", "home = /usr/bin\n"),
        ("env/lib/x.py", "import nothere2\n"),
        ("build/lib/y.py", "import nothere3\n"),
        ("outputs/run-1/copy.py", "import nothere4\n"),
        ("experiments/old.py", "import nothere5\n"),
        (".mlpackignore", "experiments/\n"),
        ("pkg.egg-info/z.py", "import nothere6\n"),
    ]);
    assert_eq!(report.files_scanned, 1);
    assert_eq!(distributions(&report), [("numpy".to_string(), true)]);
}

#[test]
fn stdlib_depends_on_the_target_python() {
    let dir = project(&[("app.py", "import tomllib\nimport distutils.core\n")]);
    let on_310 = scan_at(dir.path(), PythonVersion::new(3, 10));
    assert_eq!(on_310.stdlib_modules, ["distutils"]);
    assert_eq!(unresolved(&on_310), ["tomllib"]);
    let on_312 = scan_at(dir.path(), PythonVersion::new(3, 12));
    assert_eq!(on_312.stdlib_modules, ["tomllib"]);
    // Since 3.12 `distutils` comes from setuptools.
    assert_eq!(distributions(&on_312), [("setuptools".to_string(), true)]);
}

#[test]
fn a_distribution_is_required_if_any_use_is() {
    let report = report(&[
        (
            "a.py",
            "try:\n    import yaml\nexcept ImportError:\n    yaml = None\n",
        ),
        ("b.py", "import yaml\n"),
        (
            "c.py",
            "try:\n    import ujson\nexcept ImportError:\n    import json as ujson\n",
        ),
    ]);
    assert_eq!(
        distributions(&report),
        [("pyyaml".to_string(), true), ("ujson".to_string(), false)]
    );
    let yaml = &report.distributions[0];
    assert_eq!(yaml.evidence.len(), 2);
    assert_eq!(yaml.evidence[0].location.to_string(), "a.py:2");
}

#[test]
fn notebooks_give_pip_installs_and_cell_locations() {
    let notebook = r#"{"cells": [
        {"cell_type": "markdown", "source": ["import not_code"]},
        {"cell_type": "code", "source": ["%pip install xgboost\n"]},
        {"cell_type": "code", "source": "import numpy as np\n\nimport cv2\n"}
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
    let report = report(&[("nb.ipynb", notebook)]);
    let names: Vec<String> = distributions(&report)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["numpy", "opencv-python-headless", "xgboost"]);
    let cv2 = &report.distributions[1];
    assert_eq!(cv2.evidence[0].location.to_string(), "nb.ipynb[cell 3]:3");
    assert!(
        cv2.choice
            .as_ref()
            .is_some_and(|choice| !choice.alternatives.is_empty())
    );
    assert_eq!(
        report.distributions[2].evidence[0].statement,
        Statement::PipInstall("xgboost".to_string())
    );
}

#[test]
fn an_explicit_pip_install_decides_an_ambiguous_import() {
    let notebook = r#"{"cells": [{"cell_type": "code", "source": "!pip install opencv-python\nimport cv2\n"}]}"#;
    let report = report(&[("nb.ipynb", notebook)]);
    assert_eq!(
        distributions(&report),
        [("opencv-python".to_string(), true)]
    );
}

#[test]
fn malformed_files_warn_and_the_scan_goes_on() {
    let dir = project(&[
        ("good.py", "import numpy\n"),
        ("broken.py", "import yaml\ndef f(:\n"),
        ("bad.ipynb", "{ this is not json"),
    ]);
    fs_err::write(dir.path().join("latin1.py"), b"import pandas\n# caf\xe9\n").unwrap();
    std::os::unix::fs::symlink("/nonexistent/target.py", dir.path().join("dangling.py")).unwrap();
    let report = scan_at(dir.path(), PythonVersion::DEFAULT);
    let names: Vec<String> = distributions(&report)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["numpy", "pyyaml"]);
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    insta::assert_debug_snapshot!(warnings, @r#"
    [
        "bad.ipynb: skipped: not a notebook: key must be a string at line 1 column 3",
        "broken.py: syntax error at line 2: Expected a parameter or the end of the parameter list; imports before it were still read",
        "dangling.py: skipped: could not read it: entity not found",
        "latin1.py: skipped: not UTF-8 (invalid byte at offset 19)",
    ]
    "#);
}

#[test]
fn why_lists_every_use() {
    let report = report(&[
        ("a.py", "import sklearn\n"),
        ("b.py", "from sklearn.svm import SVC\n"),
    ]);
    let by_distribution: Vec<String> = report
        .why("scikit-learn")
        .iter()
        .map(|e| format!("{} {}", e.location, e.statement))
        .collect();
    assert_eq!(
        by_distribution,
        [
            "a.py:1 import sklearn",
            "b.py:1 from sklearn.svm import SVC"
        ]
    );
    assert_eq!(report.why("sklearn").len(), 2);
    assert!(report.why("numpy").is_empty());
}

#[test]
fn a_missing_project_is_an_error() {
    let options = ScanOptions {
        python: PythonVersion::DEFAULT,
        pins: BTreeMap::new(),
        skip_dirs: Vec::new(),
        exclude: Vec::new(),
    };
    let error = scan(Path::new("/nonexistent/project"), &options).unwrap_err();
    assert_eq!(
        error.to_string(),
        "project directory `/nonexistent/project` does not exist"
    );
}
