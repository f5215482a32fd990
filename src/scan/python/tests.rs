use super::*;

/// `(module, guard)` for each import found in `source`.
fn imports(source: &str) -> Vec<(String, Option<Guard>)> {
    let found = find_imports(source, false);
    assert!(found.syntax_error.is_none(), "{:?}", found.syntax_error);
    found
        .imports
        .into_iter()
        .map(|import| (import.module, import.guard))
        .collect()
}

fn modules(source: &str) -> Vec<String> {
    imports(source)
        .into_iter()
        .map(|(module, _)| module)
        .collect()
}

#[test]
fn finds_every_import_form() {
    let source = r#"
import a.b as c, d
from e.f import g, h as i
from j import *
class K:
    import l
    def m(self):
        from n import o
lambda: __import__("p")
importlib.import_module("q.r")
from importlib import import_module
import_module("s")
"#;
    assert_eq!(
        modules(source),
        [
            "a.b",
            "d",
            "e.f.g",
            "e.f.h",
            "j",
            "l",
            "n.o",
            "p",
            "q.r",
            "importlib.import_module",
            "s"
        ]
    );
}

#[test]
fn relative_imports_are_never_candidates() {
    assert!(modules("from . import x\nfrom .y import z\nfrom ..w import v\n").is_empty());
}

#[test]
fn dynamic_imports_need_literal_absolute_names() {
    // A bare `import_module` is another library's helper unless it came from importlib.
    let source = "name = 'x'\n__import__(name)\nimportlib.import_module('.rel', 'pkg')\nimportlib.import_module(f'{name}')\nother.import_module('nope')\nimport_module('sympys_own')\n";
    assert!(modules(source).is_empty());
}

#[test]
fn try_except_import_error_is_optional() {
    let source = "
try:
    import ujson as json
except ImportError:
    import json
try:
    import a
except (ValueError, ModuleNotFoundError):
    pass
try:
    import b
except ValueError:
    pass
try:
    import c
except:
    pass
";
    let optional = Some(Guard::TryExcept);
    assert_eq!(
        imports(source),
        [
            ("ujson".to_string(), optional),
            ("json".to_string(), optional),
            ("a".to_string(), optional),
            ("b".to_string(), None),
            ("c".to_string(), optional),
        ]
    );
}

#[test]
fn type_checking_is_optional_but_its_else_is_not() {
    let source = "
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    import pandas
else:
    import numpy
if typing.TYPE_CHECKING:
    import polars
";
    assert_eq!(
        imports(source),
        [
            ("typing.TYPE_CHECKING".to_string(), None),
            ("pandas".to_string(), Some(Guard::TypeChecking)),
            ("numpy".to_string(), None),
            ("polars".to_string(), Some(Guard::TypeChecking)),
        ]
    );
}

#[test]
fn version_and_platform_guards_are_optional() {
    let source = "
import sys, os, platform
if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli
if sys.platform == 'win32':
    import winreg
elif platform.system() == 'Darwin':
    import appnope
if os.name == 'nt':
    import colorama
if __name__ == '__main__':
    import main_only
";
    let guarded = Some(Guard::VersionOrPlatform);
    let found = imports(source);
    assert_eq!(
        &found[3..],
        [
            ("tomllib".to_string(), guarded),
            ("tomli".to_string(), guarded),
            ("winreg".to_string(), guarded),
            ("appnope".to_string(), guarded),
            ("colorama".to_string(), guarded),
            ("main_only".to_string(), None),
        ]
    );
}

#[test]
fn guards_nest_and_keep_the_outermost_reason() {
    let source = "
try:
    if sys.version_info < (3, 8):
        import importlib_metadata
except ImportError:
    pass
";
    assert_eq!(
        imports(source),
        [("importlib_metadata".to_string(), Some(Guard::TryExcept))]
    );
}

#[test]
fn syntax_errors_are_reported_and_earlier_imports_kept() {
    let found = find_imports("import numpy\ndef broken(:\n    pass\n", false);
    assert_eq!(found.imports.len(), 1);
    assert!(found.syntax_error.is_some());
}

#[test]
fn notebook_escapes_are_evidence_not_python() {
    let source = "%pip install xgboost==2.1 'scikit-learn>=1.3' -q\n!pip install -r requirements.txt torch\n!ls -la\n%matplotlib inline\nimport xgboost\n";
    let found = find_imports(source, true);
    assert!(found.syntax_error.is_none(), "{:?}", found.syntax_error);
    let arguments: Vec<&PipArgument> = found
        .pip_installs
        .iter()
        .map(|install| &install.argument)
        .collect();
    assert_eq!(
        arguments,
        [
            &PipArgument::Requirement("xgboost==2.1".to_string()),
            &PipArgument::Requirement("scikit-learn>=1.3".to_string()),
            &PipArgument::Requirement("torch".to_string()),
            &PipArgument::File("requirements.txt".to_string()),
        ]
    );
    assert_eq!(found.imports.len(), 1);
}

#[test]
fn modern_syntax_parses() {
    let source = "type Point = tuple[float, float]\ndef f[T](x: T) -> T:\n    match x:\n        case {'a': 1}:\n            import m\n    return x\n";
    assert_eq!(modules(source), ["m"]);
}

#[test]
fn hosted_notebook_branches_are_optional() {
    let source = r#"
import sys
IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:
    from google.colab import drive
    import colab_only
else:
    import local_a
if "google.colab" not in sys.modules:
    import local_b
else:
    import colab_b
if not on_kaggle():
    import local_c
if os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
    import kaggle_only
"#;
    let host = Some(Guard::NotebookHost);
    assert_eq!(
        imports(source),
        [
            ("sys".to_string(), None),
            ("google.colab.drive".to_string(), host),
            ("colab_only".to_string(), host),
            ("local_a".to_string(), None),
            ("local_b".to_string(), None),
            ("colab_b".to_string(), host),
            ("local_c".to_string(), None),
            ("kaggle_only".to_string(), host),
        ]
    );
}

#[test]
fn pip_lines_in_a_hosted_notebook_branch_are_optional() {
    let found = find_imports("if IN_COLAB:\n    !pip install -q gradio\n", true);
    assert!(found.syntax_error.is_none(), "{:?}", found.syntax_error);
    assert_eq!(found.pip_installs.len(), 1);
    assert_eq!(found.pip_installs[0].guard, Some(Guard::NotebookHost));
}

#[test]
fn imports_in_functions_and_branches_are_lazy() {
    let source = r#"
import torch
class Model:
    import einops
    def export(self):
        import onnx
if args.wandb:
    import wandb
for backend in backends:
    importlib.import_module("tensorrt")
if __name__ == "__main__":
    import typer
"#;
    let found = find_imports(source, false);
    let lazy: Vec<(&str, Option<Lazy>)> = found
        .imports
        .iter()
        .map(|import| (import.module.as_str(), import.lazy))
        .collect();
    assert_eq!(
        lazy,
        [
            ("torch", None),
            ("einops", None),
            ("onnx", Some(Lazy::Function)),
            ("wandb", Some(Lazy::Branch)),
            ("tensorrt", Some(Lazy::Branch)),
            ("typer", None),
        ]
    );
}

#[test]
fn the_keras_backend_named_in_the_environment_is_needed() {
    let source = r#"
import os
os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("KERAS_BACKEND", "torch")
from os import environ
environ["KERAS_BACKEND"] = "tensorflow"
os.environ["KERAS_BACKEND"] = "openvino"
os.environ["OTHER"] = "jax"
"#;
    assert_eq!(
        modules(source),
        ["os", "jax", "torch", "os.environ", "tensorflow"]
    );
    let found = find_imports("%env KERAS_BACKEND=jax\nimport keras\n", true);
    let modules: Vec<_> = found
        .imports
        .iter()
        .map(|import| import.module.as_str())
        .collect();
    assert_eq!(modules, ["jax", "keras"]);
}
