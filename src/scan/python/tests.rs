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
    let requirements: Vec<&str> = found
        .pip_installs
        .iter()
        .map(|install| install.requirement.as_str())
        .collect();
    assert_eq!(requirements, ["xgboost==2.1", "scikit-learn>=1.3", "torch"]);
    assert_eq!(found.imports.len(), 1);
}

#[test]
fn pip_install_parsing() {
    assert_eq!(
        pip_install_requirements("pip install -U numpy pandas"),
        ["numpy", "pandas"]
    );
    assert_eq!(
        pip_install_requirements("python -m pip install --index-url https://x torch"),
        ["torch"]
    );
    assert_eq!(
        pip_install_requirements("/usr/bin/pip3 install -e . wandb"),
        ["wandb"]
    );
    assert!(pip_install_requirements("conda install numpy").is_empty());
    assert!(pip_install_requirements("pip list").is_empty());
}

#[test]
fn modern_syntax_parses() {
    let source = "type Point = tuple[float, float]\ndef f[T](x: T) -> T:\n    match x:\n        case {'a': 1}:\n            import m\n    return x\n";
    assert_eq!(modules(source), ["m"]);
}
