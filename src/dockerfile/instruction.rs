//! The typed instructions, and their reading from `parse-dockerfile`'s syntax tree: line
//! numbers from spans, shell-form text with its line continuations and comment lines
//! removed (as `BuildKit`'s parser joins them), `NAME=value` pairs split (quotes kept for
//! the expansion at build time).

use parse_dockerfile as syntax;

use super::words::raw_words;
use super::{ParseError, Stage};

/// A value with the Dockerfile line it came from and the instruction's text (one line,
/// for messages and the image's history).
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub line: usize,
    pub source: String,
    pub value: T,
}

/// `--name=value` on an instruction (`--from=build`, `--mount=type=cache,target=/x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// As written (quotes kept), expanded when the stage reaches it.
    pub default: Option<String>,
}

/// Exec form (`["a", "b"]`) or shell form (`a b`, run by the `SHELL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

#[derive(Debug, Clone)]
pub struct RunInstruction {
    pub flags: Vec<Flag>,
    pub command: CommandLine,
    /// `RUN <<EOF`: the document, run as the script.
    pub heredoc: Option<String>,
}

/// A `COPY` or `ADD` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    Path(String),
    /// `COPY <<NAME /dest`: a file named `NAME` holding `content`.
    Heredoc {
        name: String,
        content: String,
        expand: bool,
    },
}

#[derive(Debug, Clone)]
pub struct CopyInstruction {
    /// `ADD` (archives unpack) rather than `COPY`.
    pub add: bool,
    pub flags: Vec<Flag>,
    pub sources: Vec<CopySource>,
    pub dest: String,
}

/// `HEALTHCHECK [options] CMD ...` (`test: None` for `NONE`).
#[derive(Debug, Clone)]
pub struct Healthcheck {
    pub flags: Vec<Flag>,
    pub test: Option<CommandLine>,
}

#[derive(Debug, Clone)]
pub enum Instruction {
    Arg(Vec<ArgDecl>),
    /// Pairs as written.
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Run(RunInstruction),
    Copy(CopyInstruction),
    Workdir(String),
    User(String),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    /// Ports as written (expanded and split at build time).
    Expose(Vec<String>),
    Volume(Vec<String>),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    Maintainer(String),
    Onbuild,
}

/// Reads instructions out of one Dockerfile's text.
pub(super) struct Reader<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
    pub(super) escape: char,
    /// `RUN cmd <<EOF` lines, by line, with their command (see [`super::heredoc`]).
    pub(super) lifted: std::collections::BTreeMap<usize, String>,
}

impl Reader<'_> {
    fn line(&self, offset: usize) -> usize {
        1 + self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|byte| *byte == b'\n')
            .count()
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line: self.line(offset),
            message: message.into(),
        }
    }

    /// The instruction's text from its keyword to the end of its (joined) lines, one line.
    fn source(&self, start: usize) -> String {
        let rest = &self.text[start..];
        let mut end = 0;
        for line in rest.split_inclusive('\n') {
            end += line.len();
            if !line.trim_end().ends_with(self.escape) {
                break;
            }
        }
        let source = self.join(&rest[..end]);
        let mut source = source.trim().to_string();
        if source.len() > 200 {
            let cut = (0..=200).rev().find(|at| source.is_char_boundary(*at));
            source.truncate(cut.unwrap_or(0));
            source.push_str("...");
        }
        source
    }

    /// Shell-form text with its continuations joined and the comment and empty lines
    /// inside them dropped.
    fn join(&self, text: &str) -> String {
        let mut joined = String::new();
        let mut continued = false;
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let trimmed = line.trim_start();
            if continued && (trimmed.is_empty() || trimmed.starts_with('#')) {
                continue;
            }
            let body = line.trim_end_matches([' ', '\t']);
            if let Some(body) = body.strip_suffix(self.escape) {
                joined.push_str(body);
                continued = true;
            } else {
                joined.push_str(line);
                break;
            }
        }
        joined.trim_end_matches('\n').to_string()
    }

    fn located<T>(&self, start: usize, value: T) -> Located<T> {
        Located {
            line: self.line(start),
            source: self.source(start),
            value,
        }
    }

    pub(super) fn arg(
        &self,
        arg: &syntax::ArgInstruction<'_>,
    ) -> Result<Located<Vec<ArgDecl>>, ParseError> {
        let start = arg.arg.span.start;
        let words = raw_words(&arg.arguments.value, self.escape)
            .map_err(|error| self.error(start, error.to_string()))?;
        let decls = words
            .into_iter()
            .map(|word| match word.split_once('=') {
                Some((name, default)) => ArgDecl {
                    name: name.to_string(),
                    default: Some(default.to_string()),
                },
                None => ArgDecl {
                    name: word,
                    default: None,
                },
            })
            .collect();
        Ok(self.located(start, decls))
    }

    pub(super) fn stage(&self, stage: &syntax::Stage<'_, '_>) -> Result<Stage, ParseError> {
        let from = stage.from;
        let start = from.from.span.start;
        let mut platform = None;
        for flag in &from.options {
            match &*flag.name.value {
                "platform" => platform = flag.value.as_ref().map(|value| value.value.to_string()),
                other => return Err(self.error(start, format!("FROM: unknown flag `--{other}`"))),
            }
        }
        let mut instructions = Vec::new();
        for instruction in stage.instructions {
            instructions.push(self.instruction(instruction)?);
        }
        Ok(Stage {
            name: from
                .as_
                .as_ref()
                .map(|(_, name)| name.value.to_ascii_lowercase()),
            base: self.located(start, from.image.value.to_string()),
            platform,
            instructions,
        })
    }

    fn instruction(
        &self,
        instruction: &syntax::Instruction<'_>,
    ) -> Result<Located<Instruction>, ParseError> {
        use syntax::Instruction as I;
        let (start, value) = match instruction {
            I::Arg(arg) => {
                let located = self.arg(arg)?;
                return Ok(Located {
                    line: located.line,
                    source: located.source,
                    value: Instruction::Arg(located.value),
                });
            }
            I::Env(env) => {
                let start = env.env.span.start;
                (
                    start,
                    Instruction::Env(self.pairs(start, &env.arguments.value, "ENV")?),
                )
            }
            I::Label(label) => {
                let start = label.label.span.start;
                let pairs = self.pairs(start, &label.arguments.value, "LABEL")?;
                (start, Instruction::Label(pairs))
            }
            I::Run(run) => (run.run.span.start, Instruction::Run(self.run(run))),
            I::Copy(copy) => {
                let start = copy.copy.span.start;
                (
                    start,
                    Instruction::Copy(self.copy(
                        start,
                        false,
                        &copy.options,
                        &copy.src,
                        &copy.dest,
                    )),
                )
            }
            I::Add(add) => {
                let start = add.add.span.start;
                (
                    start,
                    Instruction::Copy(self.copy(start, true, &add.options, &add.src, &add.dest)),
                )
            }
            I::Workdir(workdir) => (
                workdir.workdir.span.start,
                Instruction::Workdir(workdir.arguments.value.to_string()),
            ),
            I::User(user) => (
                user.user.span.start,
                Instruction::User(user.arguments.value.to_string()),
            ),
            I::Cmd(cmd) => (
                cmd.cmd.span.start,
                Instruction::Cmd(self.command(&cmd.arguments)),
            ),
            I::Entrypoint(entrypoint) => (
                entrypoint.entrypoint.span.start,
                Instruction::Entrypoint(self.command(&entrypoint.arguments)),
            ),
            I::Expose(expose) => (
                expose.expose.span.start,
                Instruction::Expose(
                    expose
                        .arguments
                        .iter()
                        .map(|port| port.value.to_string())
                        .collect(),
                ),
            ),
            I::Volume(volume) => (
                volume.volume.span.start,
                Instruction::Volume(match &volume.arguments {
                    syntax::JsonOrStringArray::Json(array) => array
                        .value
                        .iter()
                        .map(|path| path.value.to_string())
                        .collect(),
                    syntax::JsonOrStringArray::String(words) => {
                        words.iter().map(|path| path.value.to_string()).collect()
                    }
                }),
            ),
            I::Stopsignal(signal) => (
                signal.stopsignal.span.start,
                Instruction::Stopsignal(signal.arguments.value.to_string()),
            ),
            I::Healthcheck(check) => (
                check.healthcheck.span.start,
                Instruction::Healthcheck(Healthcheck {
                    flags: flags(&check.options),
                    test: match &check.arguments {
                        syntax::HealthcheckArguments::Cmd { arguments, .. } => {
                            Some(self.command(arguments))
                        }
                        _ => None,
                    },
                }),
            ),
            I::Shell(shell) => (
                shell.shell.span.start,
                Instruction::Shell(
                    shell
                        .arguments
                        .iter()
                        .map(|word| word.value.to_string())
                        .collect(),
                ),
            ),
            I::Maintainer(maintainer) => (
                maintainer.maintainer.span.start,
                Instruction::Maintainer(maintainer.name.value.to_string()),
            ),
            I::Onbuild(onbuild) => (onbuild.onbuild.span.start, Instruction::Onbuild),
            I::From(from) => {
                return Err(self.error(from.from.span.start, "FROM inside a stage"));
            }
            _ => return Err(self.error(0, "an instruction this version of mlpack does not know")),
        };
        Ok(self.located(start, value))
    }

    /// `ENV`/`LABEL` pairs: `NAME=value ...`, or the legacy `NAME value` form.
    fn pairs(
        &self,
        start: usize,
        text: &str,
        instruction: &str,
    ) -> Result<Vec<(String, String)>, ParseError> {
        let words =
            raw_words(text, self.escape).map_err(|error| self.error(start, error.to_string()))?;
        let Some(first) = words.first() else {
            return Err(self.error(start, format!("{instruction} needs at least one argument")));
        };
        if !first.contains('=') {
            let value = text.trim_start()[first.len()..].trim().to_string();
            return Ok(vec![(first.clone(), value)]);
        }
        words
            .into_iter()
            .map(|word| match word.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    Ok((name.to_string(), value.to_string()))
                }
                _ => Err(self.error(
                    start,
                    format!("{instruction}: `{word}` is not `NAME=value`"),
                )),
            })
            .collect()
    }

    fn command(&self, command: &syntax::Command<'_>) -> CommandLine {
        match command {
            syntax::Command::Exec(array) => CommandLine::Exec(
                array
                    .value
                    .iter()
                    .map(|word| word.value.to_string())
                    .collect(),
            ),
            syntax::Command::Shell(text) => CommandLine::Shell(self.join(text.value)),
            _ => CommandLine::Shell(String::new()),
        }
    }

    /// `parse-dockerfile` reads a heredoc only where the command starts with it (`RUN
    /// <<EOF`): the document is then the script.
    fn run(&self, run: &syntax::RunInstruction<'_>) -> RunInstruction {
        let heredoc = run.here_docs.first().map(|doc| doc.value.to_string());
        let lifted = self.lifted.get(&self.line(run.run.span.start));
        if let (Some(command), Some(body)) = (lifted, &heredoc) {
            // The shell reads the document after the command, as it was written.
            let delimiter = heredoc_names(command)
                .into_iter()
                .next()
                .unwrap_or_default();
            let body = if body.is_empty() || body.ends_with('\n') {
                body.clone()
            } else {
                format!("{body}\n")
            };
            return RunInstruction {
                flags: flags(&run.options),
                heredoc: None,
                command: CommandLine::Shell(format!("{command}\n{body}{delimiter}")),
            };
        }
        RunInstruction {
            flags: flags(&run.options),
            heredoc,
            command: self.command(&run.arguments),
        }
    }

    fn copy(
        &self,
        start: usize,
        add: bool,
        options: &[syntax::Flag<'_>],
        sources: &[syntax::Source<'_>],
        dest: &syntax::UnescapedString<'_>,
    ) -> CopyInstruction {
        let first_line = self.text[start..].lines().next().unwrap_or_default();
        let mut names = heredoc_names(first_line).into_iter();
        let sources = sources
            .iter()
            .map(|source| match source {
                syntax::Source::Path(path) => CopySource::Path(path.value.to_string()),
                syntax::Source::HereDoc(doc) => CopySource::Heredoc {
                    name: names.next().unwrap_or_else(|| "EOF".to_string()),
                    content: doc.value.to_string(),
                    expand: doc.expand,
                },
                _ => CopySource::Path(String::new()),
            })
            .collect();
        CopyInstruction {
            add,
            flags: flags(options),
            sources,
            dest: dest.value.to_string(),
        }
    }
}

/// The delimiters of the heredocs a line opens, in order (`<<EOF`, `<<-"EOF"`).
fn heredoc_names(line: &str) -> Vec<String> {
    line.split_whitespace()
        .filter_map(|word| word.strip_prefix("<<"))
        .map(|name| {
            name.trim_start_matches('-')
                .trim_matches(['"', '\''])
                .to_string()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn flags(options: &[syntax::Flag<'_>]) -> Vec<Flag> {
    options
        .iter()
        .map(|flag| Flag {
            name: flag.name.value.to_string(),
            value: flag.value.as_ref().map(|value| value.value.to_string()),
        })
        .collect()
}
