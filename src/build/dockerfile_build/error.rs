//! What can go wrong building a Dockerfile, each error at its Dockerfile line
//! (`Dockerfile:7: RUN pip install ...: exit status 1`) with what to do about it.

use std::path::PathBuf;

use crate::dockerfile::{Located, ParseError};
use crate::error::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum DockerfileBuildError {
    #[error(transparent)]
    Parse(ParseError),
    #[error("{location}: {instruction}: {message}")]
    Instruction {
        /// `Dockerfile:7`.
        location: String,
        /// The instruction as written (one line).
        instruction: String,
        message: String,
        hints: Vec<String>,
    },
    #[error(
        "{location}: {instruction}: {status}; the output's last lines:\n{tail}\n\nthe whole output: `{}`",
        log.display()
    )]
    Run {
        location: String,
        instruction: String,
        status: String,
        tail: String,
        log: PathBuf,
    },
    #[error("`--target {target}`: the Dockerfile has no stage of that name")]
    UnknownTarget { target: String, stages: Vec<String> },
    #[error("the stage `{stage}` refers to itself")]
    Cycle { stage: String },
}

impl Diagnostic for DockerfileBuildError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Instruction { hints, .. } => hints.clone(),
            Self::Run { .. } => vec![
                "a `RUN` runs in mlpack's runtime over the layers before it, with the host's network; run the image so far with `mlpack run` to try the command".to_string(),
            ],
            Self::UnknownTarget { stages, .. } if !stages.is_empty() => vec![format!(
                "the named stages: {}",
                stages
                    .iter()
                    .map(|stage| format!("`{stage}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            _ => Vec::new(),
        }
    }

    fn is_user_error(&self) -> bool {
        true
    }
}

/// An error at `line` of the Dockerfile `file`, without hints.
pub(super) fn at<T>(file: &str, line: &Located<T>, message: String) -> DockerfileBuildError {
    located(file, line, message, Vec::new())
}

/// An error at `line` of the Dockerfile `file`.
pub(super) fn located<T>(
    file: &str,
    line: &Located<T>,
    message: String,
    hints: Vec<String>,
) -> DockerfileBuildError {
    DockerfileBuildError::Instruction {
        location: format!("{file}:{}", line.line),
        instruction: line.source.clone(),
        message,
        hints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_the_line() {
        let line = Located {
            line: 5,
            source: "COPY missing.txt /app/".to_string(),
            value: (),
        };
        let error = located(
            "Dockerfile",
            &line,
            "no such file in the build context: `missing.txt`".to_string(),
            vec!["check `.dockerignore`".to_string()],
        );
        let shown = format!("{error}\nhint: {}", error.hints().join("\nhint: "));
        insta::assert_snapshot!(shown, @r"
        Dockerfile:5: COPY missing.txt /app/: no such file in the build context: `missing.txt`
        hint: check `.dockerignore`
        ");
    }
}
