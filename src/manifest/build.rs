//! `[build]`: what the image gets besides the base, the wheels and the code. Debian packages
//! by name (`system-packages`, resolved with their dependencies against the base's suite and
//! pinned in `mlpack.lock`), and commands run while the image is built (`run`), each one's
//! changes one layer, as a Dockerfile's `RUN` would make it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{Problem, Source};
use crate::source::excerpt;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct BuildSection {
    /// Debian packages (`["ffmpeg", "git"]`, or `"git=1:2.39.5-0+deb12u2"`), installed with
    /// their dependencies in a layer of their own above the base.
    pub system_packages: Vec<Spanned<String>>,
    /// Commands run in the image while it is built: a command line, or a table.
    pub run: Vec<Spanned<RunValue>>,
}

impl BuildSection {
    /// The steps in the order written, each in its table form.
    pub fn steps(&self) -> Vec<BuildStep> {
        self.run
            .iter()
            .map(|value| value.get_ref().step())
            .collect()
    }

    /// The system packages as written.
    pub fn system_package_names(&self) -> Vec<String> {
        self.system_packages
            .iter()
            .map(|name| name.get_ref().clone())
            .collect()
    }
}

/// One entry of `[build] run`, as written.
#[derive(Debug, Clone)]
pub enum RunValue {
    Command(String),
    Table(BuildStep),
}

/// A string or a table, each with its own errors (an untagged enum would only say that
/// neither matched).
impl<'de> Deserialize<'de> for RunValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RunValue;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a command string or a table with `command`")
            }

            fn visit_str<E: serde::de::Error>(self, command: &str) -> Result<RunValue, E> {
                Ok(RunValue::Command(command.to_string()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RunValue, A::Error> {
                BuildStep::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RunValue::Table)
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

impl RunValue {
    /// The step in its table form.
    pub fn step(&self) -> BuildStep {
        match self {
            Self::Command(command) => BuildStep {
                command: command.clone(),
                ..BuildStep::default()
            },
            Self::Table(step) => step.clone(),
        }
    }
}

/// A build step: a shell command (`/bin/sh -c`, as Docker's `RUN` runs its shell form) and
/// how it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BuildStep {
    pub command: String,
    /// `host` (the default, as `docker build` gives `RUN` a network) or `none`.
    #[serde(default)]
    pub network: StepNetwork,
    /// Set for this step only (not in the image).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the command starts [default: `[train] workdir`].
    #[serde(default)]
    pub workdir: Option<String>,
    /// Directories kept between builds (`BuildKit`'s `--mount=type=cache`), never in the image.
    #[serde(default)]
    pub cache: Vec<String>,
    /// Project files and directories the step reads, mounted read-only under the workdir;
    /// their content is part of the step's cache key.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Run on top of the project's code instead of before it.
    #[serde(default)]
    pub after_code: bool,
}

/// A build step's network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepNetwork {
    #[default]
    Host,
    None,
}

impl StepNetwork {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::None => "none",
        }
    }
}

/// A Debian package name as policy §5.6.1 allows it (lowercase letters, digits, `+`, `-`,
/// `.`, at least two characters, starting alphanumeric), optionally `=version`.
fn is_package_request(text: &str) -> bool {
    let name = text.split_once('=').map_or(text, |(name, _)| name);
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

pub(super) fn validate(
    build: &BuildSection,
    project: &Path,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) {
    for name in &build.system_packages {
        if !is_package_request(name.get_ref()) {
            problems.push(source.spanned_problem(
                name,
                format!("`{}` is not a Debian package name", excerpt(name.get_ref())),
                Some("write a name like `ffmpeg` or `libgomp1` (lowercase letters, digits, `+`, `-`, `.`), optionally `=version`".to_string()),
            ));
        }
    }
    for value in &build.run {
        for problem in step_problems(&value.get_ref().step(), project) {
            problems.push(source.spanned_problem(value, problem.0, Some(problem.1)));
        }
    }
}

/// What is wrong with one step, each with a hint.
fn step_problems(step: &BuildStep, project: &Path) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if step.command.trim().is_empty() {
        problems.push((
            "a build step's `command` is empty".to_string(),
            "write the shell command to run, like `python3 scripts/download.py`".to_string(),
        ));
    }
    let paths = step
        .workdir
        .iter()
        .map(|path| ("workdir", path))
        .chain(step.cache.iter().map(|path| ("cache", path)));
    for (key, path) in paths {
        if crate::container_path::normalize(path).is_err() || !path.starts_with('/') {
            problems.push((
                format!("`{key} = \"{}\"` is not a container path", excerpt(path)),
                "write an absolute path inside the image, like `/root/.cache/pip`".to_string(),
            ));
        }
    }
    for input in &step.inputs {
        let relative = Path::new(input);
        let inside = relative.is_relative()
            && relative
                .components()
                .all(|part| matches!(part, std::path::Component::Normal(_)));
        if !inside {
            problems.push((
                format!(
                    "the input `{}` is not a path inside the project",
                    excerpt(input)
                ),
                "write a path relative to the project directory, like `scripts/`".to_string(),
            ));
        } else if !project.join(relative).exists() {
            problems.push((
                format!("the input `{}` does not exist", excerpt(input)),
                "inputs are files or directories of the project the step reads".to_string(),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_requests_follow_debian_policy() {
        for good in [
            "ffmpeg",
            "git",
            "libstdc++6",
            "g++",
            "git=1:2.39.5-0+deb12u2",
        ] {
            assert!(is_package_request(good), "{good}");
        }
        for bad in ["", "a", "FFmpeg", "-x", "two words", "x/y"] {
            assert!(!is_package_request(bad), "{bad}");
        }
    }

    #[test]
    fn step_paths_are_checked() {
        let step = BuildStep {
            command: " ".to_string(),
            workdir: Some("relative".to_string()),
            cache: vec!["/root/.cache/pip".to_string()],
            inputs: vec!["../outside".to_string(), "missing.txt".to_string()],
            ..BuildStep::default()
        };
        let problems: Vec<String> = step_problems(&step, Path::new("/nonexistent"))
            .into_iter()
            .map(|(message, _)| message)
            .collect();
        insta::assert_snapshot!(problems.join("\n"), @r#"
        a build step's `command` is empty
        `workdir = "relative"` is not a container path
        the input `../outside` is not a path inside the project
        the input `missing.txt` does not exist
        "#);
    }
}

#[cfg(test)]
mod parse_tests {
    use crate::manifest::Manifest;
    use std::path::Path;

    fn parse(text: &str) -> Result<Manifest, String> {
        let project = tempfile::tempdir().unwrap();
        fs_err::create_dir(project.path().join("scripts")).unwrap();
        Manifest::parse(text, Path::new("mlpack.toml"), project.path())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn steps_are_strings_or_tables_in_either_form() {
        let manifest = parse(
            "[build]\nsystem-packages = [\"ffmpeg\"]\nrun = [\"echo a\", { command = \"echo b\", inputs = [\"scripts\"], network = \"none\" }]\n",
        )
        .unwrap();
        let steps = manifest.build.steps();
        assert_eq!(steps[0].command, "echo a");
        assert_eq!(steps[0].network, super::StepNetwork::Host);
        assert_eq!(steps[1].inputs, ["scripts"]);
        assert_eq!(steps[1].network, super::StepNetwork::None);
        let manifest =
            parse("[[build.run]]\ncommand = \"echo c\"\nafter-code = true\ncache = [\"/root/.cache/pip\"]\n")
                .unwrap();
        assert!(manifest.build.steps()[0].after_code);
    }

    #[test]
    fn a_bad_step_says_what_is_wrong_with_it() {
        insta::assert_snapshot!(parse("[build]\nrun = [{ comand = \"x\" }]\n").unwrap_err(), @r"
        `mlpack.toml` has 1 problem
          mlpack.toml:2:10: unknown field `comand`, expected one of `command`, `network`, `env`, `workdir`, `cache`, `inputs`, `after-code`
        ");
        insta::assert_snapshot!(parse("[[build.run]]\ncommand = \"x\"\nnetwork = \"bridge\"\nworkdir = \"app\"\n").unwrap_err(), @r#"
        `mlpack.toml` has 2 problems
          mlpack.toml:1:1: `workdir = "app"` is not a container path
            hint: write an absolute path inside the image, like `/root/.cache/pip`
          mlpack.toml:3:11: unknown variant `bridge`, expected `host` or `none`
        "#);
    }
}
