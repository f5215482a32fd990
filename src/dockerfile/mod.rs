//! The Dockerfile frontend: a Dockerfile read into stages of typed instructions, each with
//! its line, plus Docker's word expansion ([`words`]) and `.dockerignore` rules ([`ignore`]).
//! Nothing here builds: `build::dockerfile_build` executes what this gives it.
//!
//! Parsing (continuations, heredocs, parser directives, `# escape=`) is the `parse-dockerfile`
//! crate's; this module turns its syntax tree into [`Dockerfile`], keeping what `BuildKit`'s
//! `dockerfile2llb` reads (<https://docs.docker.com/reference/dockerfile/>).

mod heredoc;
pub mod ignore;
mod instruction;
pub mod words;

pub use self::ignore::IgnoreRules;
pub use self::instruction::{
    ArgDecl, CommandLine, CopyInstruction, CopySource, Flag, Healthcheck, Instruction, Located,
    RunInstruction,
};
pub use self::words::{Lexer, WordError};

/// A Dockerfile that failed to parse.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// A parsed Dockerfile.
#[derive(Debug)]
pub struct Dockerfile {
    /// `# syntax=`: ignored (mlpack is its own frontend), but reported.
    pub syntax: Option<String>,
    /// `# escape=`, else `\`.
    pub escape: char,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines only (and in a stage that
    /// declares them again without a value).
    pub global_args: Vec<Located<Vec<ArgDecl>>>,
    pub stages: Vec<Stage>,
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug)]
pub struct Stage {
    /// `AS name`, lowercased as Docker compares them.
    pub name: Option<String>,
    /// The image as written (expanded with the global `ARG`s when built).
    pub base: Located<String>,
    /// `--platform=`, as written.
    pub platform: Option<String>,
    pub instructions: Vec<Located<Instruction>>,
}

impl Dockerfile {
    /// Parse `text`; `file` names it in errors (`Dockerfile`).
    pub fn parse(file: &str, text: &str) -> Result<Self, ParseError> {
        let (lifted_text, lifted) = heredoc::lift(text);
        let parsed = parse_dockerfile::parse(&lifted_text).map_err(|error| {
            match heredoc_after_command(&lifted_text).filter(|line| *line <= error.line()) {
                Some(line) => ParseError {
                    file: file.to_string(),
                    line,
                    message: "several heredocs after a command (`RUN cat <<A <<B`) are not supported by mlpack; start the `RUN` with one heredoc (`RUN <<EOF`, the commands inside)".to_string(),
                },
                None => ParseError {
                    file: file.to_string(),
                    line: error.line(),
                    message: format!("{error:#}"),
                },
            }
        })?;
        let escape = parsed
            .parser_directives
            .escape
            .as_ref()
            .map_or('\\', |directive| directive.value.value);
        let syntax = parsed
            .parser_directives
            .syntax
            .as_ref()
            .map(|directive| directive.value.value.to_string());
        let reader = instruction::Reader {
            file,
            text,
            escape,
            lifted,
        };
        let mut global_args = Vec::new();
        for arg in parsed.global_args() {
            global_args.push(reader.arg(arg)?);
        }
        let mut stages = Vec::new();
        for stage in parsed.stages() {
            stages.push(reader.stage(&stage)?);
        }
        Ok(Self {
            syntax,
            escape,
            global_args,
            stages,
        })
    }

    /// The stage a `--target`, `COPY --from` or `FROM` names: by name (any case), or by
    /// index for a number.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|stage| stage.name.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse().ok().filter(|index| *index < self.stages.len()))
    }
}

/// The line of the first `RUN` that still opens a heredoc after its command (one that
/// [`heredoc::lift`] left: several on a line).
fn heredoc_after_command(text: &str) -> Option<usize> {
    text.lines().enumerate().find_map(|(index, line)| {
        let mut words = line.split_whitespace();
        if !words.next()?.eq_ignore_ascii_case("RUN") {
            return None;
        }
        let mut words = words.skip_while(|word| word.starts_with("--"));
        if words.next()?.starts_with("<<") {
            return None;
        }
        words.any(heredoc::opens_heredoc).then_some(index + 1)
    })
}

#[cfg(test)]
mod tests;
