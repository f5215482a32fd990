//! Notebook shell lines that install packages (`!pip install`, `%pip install`, `!python -m
//! pip install`, `!uv pip install`, `%conda install`), read as a POSIX shell splits them and
//! as pip reads its arguments.
//!
//! The shell part: quotes (`'…'`, `"…"`, `\`), a `#` comment from the start of a word, and
//! the command separators `;`, `&&`, `||`, `|`, `&`. IPython interpolates `$var` and `{expr}`
//! before the shell sees the line, so a word holding either is left out and reported. The pip
//! part: options with a value, as separate words or attached, short options combined
//! (`-qr requirements.txt`, `-Ur`), `-r FILE` kept so its requirements can be read, `-e PATH`
//! and `-c FILE` skipped. Spec: pip's `install` options (`pip install --help`) and POSIX
//! "Token Recognition".

/// What one shell line installs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct InstallLine {
    /// Requirements as written (`torch==2.5.1`, `scikit-learn`).
    pub(crate) requirements: Vec<String>,
    /// Files named by `-r`/`--requirement`, as written.
    pub(crate) requirement_files: Vec<String>,
    /// Words IPython fills in at run time (`$pkg`, `{version}`), so their value is unknown.
    pub(crate) interpolated: Vec<String>,
}

/// The installs on a shell line (without its `!` or `%`).
pub(crate) fn parse(line: &str) -> InstallLine {
    let mut found = InstallLine::default();
    for command in Tokenizer::split(line) {
        let Some((tool, args)) = install_arguments(&command) else {
            continue;
        };
        match tool {
            Tool::Pip => read_pip_arguments(args, &mut found),
            Tool::Conda => read_conda_arguments(args, &mut found),
        }
    }
    found
}

/// A word after shell quote removal; `interpolated` when IPython would substitute into it
/// (it does so before the shell runs, inside quotes too).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    interpolated: bool,
}

/// Splits a line into simple commands of words, the way a shell tokenizes it.
#[derive(Default)]
struct Tokenizer {
    commands: Vec<Vec<Word>>,
    word: Option<String>,
    /// The word being read is a redirection's target (`> log.txt`), not an argument.
    redirect_target: bool,
}

impl Tokenizer {
    fn split(line: &str) -> Vec<Vec<Word>> {
        let mut tokens = Self {
            commands: vec![Vec::new()],
            ..Self::default()
        };
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => tokens.end_word(),
                '#' if tokens.word.is_none() => break,
                '>' | '<' => tokens.redirect(&mut chars),
                '&' if chars.peek() == Some(&'>') => {}
                ';' | '&' | '|' => {
                    tokens.end_word();
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    tokens.commands.push(Vec::new());
                }
                '\'' => {
                    let word = tokens.word.get_or_insert_with(String::new);
                    word.extend(chars.by_ref().take_while(|&c| c != '\''));
                }
                '"' => read_double_quoted(&mut chars, tokens.word.get_or_insert_with(String::new)),
                '\\' => tokens
                    .word
                    .get_or_insert_with(String::new)
                    .extend(chars.next()),
                c => tokens.word.get_or_insert_with(String::new).push(c),
            }
        }
        tokens.end_word();
        tokens.commands.retain(|command| !command.is_empty());
        tokens.commands
    }

    /// `>`, `>>`, `2>`, `>&2`, `&>`: the operator, the file descriptor before it and the
    /// target after it are not arguments.
    fn redirect(&mut self, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        if self
            .word
            .as_ref()
            .is_some_and(|word| word.chars().all(|c| c.is_ascii_digit()))
        {
            self.word = None;
        }
        self.end_word();
        while chars.next_if(|&c| matches!(c, '>' | '&')).is_some() {}
        self.redirect_target = true;
    }

    fn end_word(&mut self) {
        let Some(text) = self.word.take() else { return };
        if std::mem::take(&mut self.redirect_target) {
            return;
        }
        let interpolated = text.contains(['$', '{']);
        if let Some(command) = self.commands.last_mut() {
            command.push(Word { text, interpolated });
        }
    }
}

fn read_double_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, word: &mut String) {
    while let Some(c) = chars.next() {
        match c {
            '"' => return,
            '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                word.extend(chars.next());
            }
            c => word.push(c),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Pip,
    Conda,
}

/// The tool and the words after `install`, when the command installs packages.
fn install_arguments(command: &[Word]) -> Option<(Tool, &[Word])> {
    let program_at = command
        .iter()
        .position(|word| !is_assignment(&word.text) && word.text != "sudo")?;
    let program = command[program_at].text.rsplit('/').next()?;
    let rest = &command[program_at + 1..];
    let (tool, rest) = if is_pip(program) {
        (Tool::Pip, rest)
    } else if program == "uv" && rest.first().is_some_and(|word| word.text == "pip") {
        (Tool::Pip, &rest[1..])
    } else if program.starts_with("python") {
        let module = rest.iter().position(|word| word.text == "-m")?;
        let name = rest.get(module + 1)?;
        if !is_pip(&name.text) {
            return None;
        }
        (Tool::Pip, &rest[module + 2..])
    } else if matches!(program, "conda" | "mamba" | "micromamba") {
        (Tool::Conda, rest)
    } else {
        return None;
    };
    // The first word that is not an option is the subcommand (`pip -q install x` is fine).
    let subcommand = rest.iter().position(|word| !word.text.starts_with('-'))?;
    (rest[subcommand].text == "install").then(|| (tool, &rest[subcommand + 1..]))
}

fn is_pip(program: &str) -> bool {
    program == "pip"
        || program
            .strip_prefix("pip3")
            .is_some_and(|minor| minor.is_empty() || minor.starts_with('.'))
}

/// `NAME=value` before a command sets its environment.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// pip's `install` options that take a value; `r` is the one whose value is read.
const PIP_SHORT_WITH_VALUE: &[char] = &['r', 'c', 'e', 't', 'i', 'f', 'b'];
const PIP_LONG_WITH_VALUE: &[&str] = &[
    "--requirement",
    "--constraint",
    "--editable",
    "--target",
    "--index-url",
    "--extra-index-url",
    "--find-links",
    "--prefix",
    "--root",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "--upgrade-strategy",
    "--progress-bar",
    "--cache-dir",
    "--log",
    "--proxy",
    "--timeout",
    "--retries",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
    "--report",
    "--python",
    "--group",
    "--config-settings",
    "--global-option",
    "--exists-action",
    "--cert",
    "--client-cert",
    "--keyring-provider",
];

fn read_pip_arguments(args: &[Word], found: &mut InstallLine) {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let text = word.text.as_str();
        if let Some(long) = text.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let name = format!("--{name}");
            if !PIP_LONG_WITH_VALUE.contains(&name.as_str()) {
                continue;
            }
            let value = attached.or_else(|| words.next().map(|word| word.text.clone()));
            if name == "--requirement" {
                found.requirement_files.extend(value);
            }
        } else if let Some(cluster) = text.strip_prefix('-').filter(|c| !c.is_empty()) {
            read_short_options(cluster, &mut words, found);
        } else if word.interpolated {
            found.interpolated.push(word.text.clone());
        } else if !text.is_empty() {
            found.requirements.push(text.to_string());
        }
    }
}

/// `-qr FILE`, `-rFILE`, `-Ur`: flags until the first option that takes a value, whose value
/// is the rest of the cluster or the next word.
fn read_short_options<'a>(
    cluster: &str,
    words: &mut impl Iterator<Item = &'a Word>,
    found: &mut InstallLine,
) {
    for (at, option) in cluster.char_indices() {
        if !PIP_SHORT_WITH_VALUE.contains(&option) {
            continue;
        }
        let attached = &cluster[at + option.len_utf8()..];
        let value = if attached.is_empty() {
            words.next().map(|word| word.text.clone())
        } else {
            Some(attached.to_string())
        };
        if option == 'r' {
            found.requirement_files.extend(value);
        }
        return;
    }
}

/// conda's `install` options that take a value.
const CONDA_WITH_VALUE: &[&str] = &[
    "-c",
    "--channel",
    "-n",
    "--name",
    "-p",
    "--prefix",
    "--file",
    "--override-channels",
    "--repodata-fn",
];

/// conda packages that are not Python distributions, or that PyPI names otherwise.
const CONDA_NOT_ON_PYPI: &[&str] = &[
    "python",
    "pip",
    "cudatoolkit",
    "cuda-toolkit",
    "pytorch-cuda",
    "cudnn",
    "cpuonly",
    "nccl",
];

fn read_conda_arguments(args: &[Word], found: &mut InstallLine) {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let text = word.text.as_str();
        if text.starts_with('-') {
            if CONDA_WITH_VALUE.contains(&text) {
                words.next();
            }
            continue;
        }
        if word.interpolated {
            found.interpolated.push(word.text.clone());
            continue;
        }
        // `conda-forge::numpy=1.26`: a channel, then a name and conda's own version syntax.
        let spec = text.rsplit("::").next().unwrap_or(text);
        let name_end = spec
            .find(['=', '<', '>', '!', '~', ' ', '['])
            .unwrap_or(spec.len());
        let name = spec[..name_end].to_ascii_lowercase();
        if name.is_empty() || CONDA_NOT_ON_PYPI.contains(&name.as_str()) {
            continue;
        }
        let name = match name.as_str() {
            "pytorch" => "torch".to_string(),
            "py-xgboost" => "xgboost".to_string(),
            _ => name,
        };
        found.requirements.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirements(line: &str) -> Vec<String> {
        parse(line).requirements
    }

    #[test]
    fn options_and_comments_are_not_packages() {
        let line = parse("pip install -qr requirements.txt comet_ml  # install");
        assert_eq!(line.requirements, ["comet_ml"]);
        assert_eq!(line.requirement_files, ["requirements.txt"]);
        let line = parse("pip install -Ur reqs/dev.txt -i https://example.org/simple torch");
        assert_eq!(line.requirements, ["torch"]);
        assert_eq!(line.requirement_files, ["reqs/dev.txt"]);
        assert_eq!(
            requirements("pip install -rrequirements.txt --index-url=https://x/simple a"),
            ["a"]
        );
        assert_eq!(
            requirements("pip install -e . -c constraints.txt --no-deps 'b>=1' -q"),
            ["b>=1"]
        );
        assert_eq!(
            requirements("pip install --upgrade --quiet --progress-bar off c"),
            ["c"]
        );
    }

    #[test]
    fn quotes_and_chains_split_as_a_shell_does() {
        assert_eq!(
            requirements("pip install 'transformers[torch]>=4.40' \"datasets<3\""),
            ["transformers[torch]>=4.40", "datasets<3"]
        );
        assert_eq!(
            requirements("cd /content && pip install -q kaggle; python -m pip install x && ls"),
            ["kaggle", "x"]
        );
        assert_eq!(
            requirements("pip install a | tail -1 && echo '#' pip install b"),
            ["a"]
        );
        assert_eq!(requirements("echo pip install nope"), Vec::<String>::new());
        assert_eq!(requirements("pip download x"), Vec::<String>::new());
    }

    #[test]
    fn every_way_of_calling_pip() {
        for line in [
            "pip install x",
            "pip3 install x",
            "pip3.11 install x",
            "/usr/bin/python3 -m pip install x",
            "python -m pip -q install x",
            "uv pip install x",
            "sudo PIP_NO_CACHE_DIR=1 pip install x",
        ] {
            assert_eq!(requirements(line), ["x"], "{line}");
        }
        assert_eq!(requirements("python -m venv install"), Vec::<String>::new());
    }

    #[test]
    fn interpolated_words_are_set_aside() {
        let line = parse("pip install $package {lib}=={version} numpy");
        assert_eq!(line.requirements, ["numpy"]);
        assert_eq!(line.interpolated, ["$package", "{lib}=={version}"]);
        // The shell would not substitute in single quotes, but IPython already has.
        assert_eq!(
            parse("pip install 'x>=1' \"y$v\" '{z}'").interpolated,
            ["y$v", "{z}"]
        );
    }

    #[test]
    fn redirections_are_not_arguments() {
        // Unquoted, `>=` redirects: the shell installs `b` and writes pip's output to `=1`.
        assert_eq!(requirements("pip install b>=1"), ["b"]);
        assert_eq!(requirements("pip install a > /dev/null 2>&1"), ["a"]);
        assert_eq!(requirements("pip install b &> log.txt c"), ["b", "c"]);
        assert_eq!(requirements("pip install d 2> err.log >> out.log"), ["d"]);
    }

    #[test]
    fn conda_names_become_pypi_names() {
        assert_eq!(
            requirements(
                "conda install -y -c pytorch pytorch torchvision pytorch-cuda=12.1 -c nvidia"
            ),
            ["torch", "torchvision"]
        );
        assert_eq!(
            requirements("mamba install conda-forge::numpy=1.26 'pandas>=2' python=3.11"),
            ["numpy", "pandas"]
        );
    }
}
