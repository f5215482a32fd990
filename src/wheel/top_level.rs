//! The top-level import names an installed wheel provides (`markupsafe`, `six`), read from
//! where its files went under purelib and platlib.

use std::collections::BTreeSet;

use super::scheme::{self, InstallScheme};

/// Top-level import names among the installed files: packages (directories) and modules
/// (`six.py`, `_speedups.cpython-311-x86_64-linux-gnu.so`) directly in purelib or platlib.
pub(super) fn import_names(
    files: &[String],
    scheme: &InstallScheme,
    dist_info: &str,
) -> Vec<String> {
    let lib_dirs: BTreeSet<&str> = [scheme.purelib.as_str(), scheme.platlib.as_str()].into();
    let mut names = BTreeSet::new();
    for file in files {
        for lib in &lib_dirs {
            let Some(relative) = scheme::strip_dir(lib, file) else {
                continue;
            };
            let name = match relative.split_once('/') {
                Some((directory, _)) => {
                    let metadata = [".dist-info", ".data", ".egg-info"]
                        .iter()
                        .any(|suffix| directory.ends_with(suffix));
                    if metadata || directory == dist_info || directory == "__pycache__" {
                        continue;
                    }
                    directory
                }
                None => match relative.split_once('.') {
                    Some((stem, "py" | "pyc")) => stem,
                    Some((stem, extension))
                        if extension.ends_with("so") || extension.ends_with("pyd") =>
                    {
                        stem
                    }
                    _ => continue,
                },
            };
            if is_identifier(name) {
                names.insert(name.to_string());
            }
        }
    }
    names.into_iter().collect()
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|char| char == '_' || char.is_alphanumeric())
}
