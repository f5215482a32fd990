//! What the project itself declares about its dependencies, read from the files a developer
//! keeps beside the code: `requirements*.txt` at the root (and the requirements files its
//! notebooks' `pip install -r` lines name) and `pyproject.toml`.
//!
//! A declaration never adds a distribution (projects declare linters and leftovers); it only
//! says which lazily imported ones the project treats as optional: a requirement commented
//! out (`# onnx>=1.10.0  # ONNX export`, as yolov5 writes its export formats) or listed only
//! in `[project.optional-dependencies]`. See [`Declarations::optional`].

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use pep508_rs::PackageName;

use super::report::Location;

/// Requirements the project declares, by distribution.
#[derive(Debug, Default)]
pub(crate) struct Declarations {
    /// Declared as needed: an active requirement line, or `[project] dependencies`.
    needed: BTreeMap<PackageName, Location>,
    /// Declared as optional: a commented-out requirement line, or an extra.
    optional: BTreeMap<PackageName, Location>,
}

impl Declarations {
    /// Read the root's `requirements*.txt` and `pyproject.toml`, plus `requirement_files`
    /// (project-relative paths with `/` separators).
    pub(crate) fn read(root: &Path, requirement_files: &[String]) -> Self {
        let mut declarations = Self::default();
        let mut files: Vec<String> = fs_err::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| {
                name.starts_with("requirements")
                    && Path::new(name)
                        .extension()
                        .is_some_and(|extension| extension.eq_ignore_ascii_case("txt"))
            })
            .collect();
        files.extend(requirement_files.iter().cloned());
        files.sort();
        files.dedup();
        for file in &files {
            if let Ok(text) = fs_err::read_to_string(root.join(file)) {
                declarations.add_requirements_file(file, &text);
            }
        }
        if let Ok(text) = fs_err::read_to_string(root.join("pyproject.toml")) {
            declarations.add_pyproject(&text);
        }
        declarations
    }

    /// Where the project declares `name` optional, unless it also declares it needed.
    pub(crate) fn optional(&self, name: &PackageName) -> Option<&Location> {
        if self.needed.contains_key(name) {
            return None;
        }
        self.optional.get(name)
    }

    /// Whether the project declares `name` at all, needed or optional.
    pub(crate) fn mentions(&self, name: &PackageName) -> bool {
        self.needed.contains_key(name) || self.optional.contains_key(name)
    }

    fn add_requirements_file(&mut self, path: &str, text: &str) {
        for (index, line) in text.lines().enumerate() {
            let location = Location {
                path: path.to_string(),
                cell: None,
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            };
            let line = line.trim();
            let (commented, requirement) = match line.strip_prefix('#') {
                Some(rest) => (true, rest.trim_start_matches('#').trim()),
                None => (false, line),
            };
            let Some(name) = requirement_name(requirement) else {
                continue;
            };
            let into = if commented {
                &mut self.optional
            } else {
                &mut self.needed
            };
            into.entry(name).or_insert(location);
        }
    }

    fn add_pyproject(&mut self, text: &str) {
        let Ok(document) = text.parse::<toml::Table>() else {
            return;
        };
        let Some(project) = document.get("project").and_then(toml::Value::as_table) else {
            return;
        };
        let location = Location {
            path: "pyproject.toml".to_string(),
            cell: None,
            line: 0,
        };
        let strings = |value: &toml::Value| {
            value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_str)
                .filter_map(requirement_name)
                .collect::<Vec<_>>()
        };
        for name in project.get("dependencies").map(strings).unwrap_or_default() {
            self.needed.entry(name).or_insert_with(|| location.clone());
        }
        let extras = project
            .get("optional-dependencies")
            .and_then(toml::Value::as_table);
        for name in extras
            .into_iter()
            .flat_map(|extras| extras.values().flat_map(strings))
        {
            self.optional
                .entry(name)
                .or_insert_with(|| location.clone());
        }
    }
}

/// The distribution a requirement line names: `onnx>=1.10.0  # ONNX export` is `onnx`;
/// options (`-r`, `--index-url`), URLs and prose (`Usage: pip install …`) name none.
fn requirement_name(line: &str) -> Option<PackageName> {
    let requirement = line.split(" #").next().unwrap_or(line).trim();
    if requirement.is_empty() || requirement.starts_with('-') {
        return None;
    }
    pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(requirement)
        .ok()
        .map(|parsed| parsed.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> PackageName {
        text.parse().unwrap()
    }

    #[test]
    fn commented_requirements_are_optional_and_prose_is_not_read() {
        let mut declarations = Declarations::default();
        declarations.add_requirements_file(
            "requirements.txt",
            "# Usage: pip install -r requirements.txt\n\
             # Base ------------------------------------------------\n\
             numpy>=1.23.5\n\
             psutil  # system resources\n\
             # onnx>=1.10.0  # ONNX export\n\
             # tritonclient[all]~=2.24.0\n\
             ## numpy<2\n",
        );
        assert_eq!(declarations.optional(&name("onnx")).unwrap().line, 5);
        assert!(declarations.optional(&name("tritonclient")).is_some());
        assert!(
            declarations.optional(&name("numpy")).is_none(),
            "also needed"
        );
        assert!(declarations.optional(&name("usage")).is_none());
        assert!(declarations.mentions(&name("psutil")));
        assert!(!declarations.mentions(&name("pip")));
    }

    #[test]
    fn extras_of_a_pyproject_are_optional() {
        let mut declarations = Declarations::default();
        declarations.add_pyproject(
            "[project]\nname = \"demo\"\ndependencies = [\"torch>=2\", \"onnx\"]\n\
             [project.optional-dependencies]\nexport = [\"onnx\", \"coremltools>=7; sys_platform == 'darwin'\"]\n",
        );
        assert!(declarations.optional(&name("coremltools")).is_some());
        assert!(declarations.optional(&name("onnx")).is_none());
        assert!(declarations.mentions(&name("torch")));
    }
}
