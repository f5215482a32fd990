//! The error model: each module keeps its own `thiserror` type and implements [`Diagnostic`],
//! which says what the user can do about it (`hints`) and whose fault it is (`is_user_error`).
//! The CLI holds any of them as a [`Report`], so `?` converts a module error with no list of
//! types anywhere, and prints its cause chain and hints (uv's `Hint`, `uv:STYLE.md` "Hints").
//! A failed file system operation is one [`IoError`], whatever module it happens in.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// An error that can tell the user what to do about it.
pub trait Diagnostic: Error + Send + Sync + 'static {
    /// Suggestions for the user, without the `hint: ` prefix, outermost first. An error that
    /// wraps another includes the inner error's hints.
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether the user's input (a command, a manifest, an image, the host's setup) is at
    /// fault, so a change on their side fixes it (exit 1), rather than something unexpected
    /// such as the disk or the network failing (exit 2).
    fn is_user_error(&self) -> bool {
        false
    }

    /// The status with which a container's command could not be executed (Docker's 126 or
    /// 127), when that is what this error is.
    fn exec_status(&self) -> Option<i32> {
        None
    }
}

/// Any module's error, as the CLI reports it. Not itself an [`Error`], so that every
/// [`Diagnostic`] converts into it with `?`.
pub struct Report(Box<dyn Diagnostic>);

impl Report {
    /// The error and its causes, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &(dyn Error + 'static)> {
        let outermost: &(dyn Error + 'static) = self.0.as_ref();
        std::iter::successors(Some(outermost), |&error| error.source())
    }

    pub fn diagnostic(&self) -> &dyn Diagnostic {
        self.0.as_ref()
    }
}

impl<E: Diagnostic> From<E> for Report {
    fn from(error: E) -> Self {
        Self(Box::new(error))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, formatter)
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, formatter)
    }
}

/// A command's result: any module's error converts into its [`Report`].
pub type Result<T, E = Report> = std::result::Result<T, E>;

/// An error that is the user's to fix, with what to do about it where that helps.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    message: String,
    hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl Diagnostic for UserError {
    fn hints(&self) -> Vec<String> {
        self.hint.iter().cloned().collect()
    }

    fn is_user_error(&self) -> bool {
        true
    }
}

/// A file system operation that failed, with its path: "could not {action} \`{path}\`", where
/// `action` is a verb phrase (`read`, `create the blob directory`).
#[derive(Debug, thiserror::Error)]
#[error("could not {action} `{}`", path.display())]
pub struct IoError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl IoError {
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            action,
            path: path.into(),
            source,
        }
    }

    /// The path the operation was on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the operating system said.
    pub fn source_error(&self) -> &io::Error {
        &self.source
    }
}

impl Diagnostic for IoError {}

/// The one constructor of an I/O failure for every error type that has an [`IoError`]
/// variant: `OciError::io("read", &path, source)`.
pub trait FromIo: From<IoError> {
    fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::from(IoError::new(action, path, source))
    }
}

impl<E: From<IoError>> FromIo for E {}

/// What the CLI was doing when an error happened: the message, then the error as its cause,
/// whose hints and fault it keeps.
#[derive(Debug)]
pub struct ContextError {
    message: String,
    source: Box<dyn Diagnostic>,
}

impl fmt::Display for ContextError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl Error for ContextError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

impl Diagnostic for ContextError {
    fn hints(&self) -> Vec<String> {
        self.source.hints()
    }

    fn is_user_error(&self) -> bool {
        self.source.is_user_error()
    }

    fn exec_status(&self) -> Option<i32> {
        self.source.exec_status()
    }
}

/// Say what was being done when a result failed, as [`ContextError`].
pub trait Context<T> {
    fn context(self, message: impl Into<String>) -> Result<T, ContextError>;

    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T, ContextError>;
}

impl<T, E: Diagnostic> Context<T> for Result<T, E> {
    fn context(self, message: impl Into<String>) -> Result<T, ContextError> {
        self.with_context(|| message)
    }

    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T, ContextError> {
        self.map_err(|source| ContextError {
            message: message().into(),
            source: Box::new(source),
        })
    }
}

// Errors of other crates that reach the CLI: none is the user's fault, and none has a hint.
impl Diagnostic for io::Error {}
impl Diagnostic for serde_json::Error {}
impl Diagnostic for pep508_rs::InvalidNameError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing() -> io::Error {
        io::Error::from(io::ErrorKind::NotFound)
    }

    #[test]
    fn io_error_names_the_action_and_path() {
        let error = IoError::new("read", "/a/b", missing());
        insta::assert_snapshot!(error, @"could not read `/a/b`");
        assert_eq!(error.source_error().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn context_keeps_the_hints_and_fault_of_its_cause() {
        let failed: Result<(), UserError> = Err(UserError::new("bad").hint("fix it"));
        let report = Report::from(failed.context("while doing it").unwrap_err());
        let chain: Vec<String> = report.chain().map(ToString::to_string).collect();
        assert_eq!(chain, ["while doing it", "bad"]);
        assert_eq!(report.diagnostic().hints(), ["fix it"]);
        assert!(report.diagnostic().is_user_error());
    }

    #[test]
    fn other_errors_are_unexpected_and_have_no_hints() {
        let report = Report::from(IoError::new("write", "/x", missing()));
        assert!(!report.diagnostic().is_user_error());
        assert!(report.diagnostic().hints().is_empty());
        assert_eq!(report.chain().count(), 2);
    }
}
