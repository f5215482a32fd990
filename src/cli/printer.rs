//! Where output goes: results on stdout (one JSON document with `--json`), human messages on
//! stderr, quieted by `-q` and widened by `-v`.

use std::io::{self, Write};

/// How much to say, settled once from the global flags.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Printer {
    /// Write a command's result to stdout. A closed pipe (`mlpack scan | head`) is not an error.
    pub fn result(&self, text: &str) -> io::Result<()> {
        ignore_broken_pipe(io::stdout().lock().write_all(text.as_bytes()))
    }

    /// Write `value` as the one JSON document on stdout.
    pub fn json(&self, value: &impl serde::Serialize) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        text.push('\n');
        self.result(&text)
    }

    /// A status or warning line on stderr, unless `-q`.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{text}");
        }
    }

    /// A detail only `-v` shows.
    pub fn detail(&self, text: &str) {
        if self.verbose && !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{text}");
        }
    }
}

fn ignore_broken_pipe(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
