//! What can go wrong while installing a wheel. Every message names the wheel (its file name) and
//! the entry, file or path at fault; I/O errors come from `fs-err`, so they carry their path.

use crate::error::Diagnostic;

/// An error from [`WheelInstaller::install`](super::WheelInstaller::install).
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// The installer was set up with a scheme path that is not a plain absolute path.
    #[error(
        "the install scheme's `{field}` path `{path}` must be absolute, without `.` or `..` components"
    )]
    InvalidScheme { field: &'static str, path: String },

    /// The interpreter path for shebangs cannot be written on a `#!` line.
    #[error(
        "the interpreter path `{python}` cannot be used in a `#!` line: it must be absolute, without whitespace, and at most 127 bytes"
    )]
    InvalidInterpreter { python: String },

    /// The wheel's file name does not follow `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
    #[error(
        "`{wheel}` is not a wheel file name (`{{name}}-{{version}}-{{python}}-{{abi}}-{{platform}}.whl`)"
    )]
    Filename { wheel: String },

    #[error("could not read the wheel `{wheel}`")]
    Open {
        wheel: String,
        #[source]
        source: std::io::Error,
    },

    /// The archive itself is broken (bad central directory, unsupported compression, …).
    #[error("`{wheel}` is not a readable zip archive")]
    Zip {
        wheel: String,
        #[source]
        source: zip::result::ZipError,
    },

    /// Reading one entry failed (a corrupt or truncated stream).
    #[error("could not read `{entry}` from `{wheel}`")]
    ReadEntry {
        wheel: String,
        entry: String,
        #[source]
        source: std::io::Error,
    },

    /// The zip directory lists one name twice; which copy an unzip tool takes is undefined.
    #[error("`{wheel}` lists the same file name twice in its zip directory")]
    DuplicateNames { wheel: String },

    /// The wheel has no `.dist-info` directory at its root, or more than one.
    #[error("`{wheel}` must have exactly one `.dist-info` directory at its root, but has {found}")]
    DistInfoCount { wheel: String, found: String },

    /// The `.dist-info` directory is for another distribution than the file name says.
    #[error("`{wheel}` holds `{dist_info}`, which is not for the distribution its file name names")]
    DistInfoName { wheel: String, dist_info: String },

    /// A required `.dist-info` file (`WHEEL`, `METADATA`, `RECORD`) is absent.
    #[error("`{wheel}` has no `{file}`")]
    MissingMetadata { wheel: String, file: String },

    /// A `.dist-info` file could not be parsed; `line` is 1-based, 0 when the whole file is at fault.
    #[error("`{wheel}`: invalid `{file}`{}: {message}", line_suffix(*line))]
    InvalidMetadata {
        wheel: String,
        file: String,
        line: usize,
        message: String,
    },

    /// `Wheel-Version` has a major version this installer does not know.
    #[error("`{wheel}` is wheel format version {version}; mlpack installs version 1.x")]
    UnsupportedWheelVersion { wheel: String, version: String },

    /// An entry that could write outside its place: `..`, an absolute path, a symlink, a device,
    /// another distribution's `.data`, an unknown `.data` key.
    #[error("`{wheel}` has an unsafe entry `{entry}`: {reason}")]
    UnsafeEntry {
        wheel: String,
        entry: String,
        reason: String,
    },

    /// Two entries would install to the same path.
    #[error("`{wheel}` installs `{path}` twice (from `{first}` and `{second}`)")]
    DuplicateDestination {
        wheel: String,
        path: String,
        first: String,
        second: String,
    },

    /// A file in the archive that `RECORD` does not list.
    #[error("`{wheel}` has `{entry}`, which its `RECORD` does not list")]
    NotInRecord { wheel: String, entry: String },

    /// A file `RECORD` lists that the archive lacks.
    #[error("`{wheel}` lacks `{entry}`, which its `RECORD` lists")]
    MissingFromArchive { wheel: String, entry: String },

    /// `RECORD` lists a file without a hash (only `RECORD` and signatures may have none).
    #[error("`{wheel}`'s `RECORD` gives no hash for `{entry}`")]
    NoHash { wheel: String, entry: String },

    /// A `RECORD` hash with an algorithm weaker than sha256, or unknown.
    #[error(
        "`{wheel}`'s `RECORD` hashes `{entry}` with `{algorithm}`, which mlpack does not accept"
    )]
    UnsupportedHash {
        wheel: String,
        entry: String,
        algorithm: String,
    },

    #[error("`{entry}` in `{wheel}` has hash `{actual}`, but its `RECORD` says `{expected}`")]
    HashMismatch {
        wheel: String,
        entry: String,
        expected: String,
        actual: String,
    },

    #[error("`{entry}` in `{wheel}` is {actual} bytes, but its `RECORD` says {expected}")]
    SizeMismatch {
        wheel: String,
        entry: String,
        expected: u64,
        actual: u64,
    },

    /// A `console_scripts` or `gui_scripts` entry point that cannot become a launcher.
    #[error("`{wheel}` has an invalid entry point `{name} = {value}` in `[{group}]`: {message}")]
    InvalidEntryPoint {
        wheel: String,
        group: String,
        name: String,
        value: String,
        message: String,
    },

    /// Writing at `path` would go through something that is not a real directory in the tree
    /// (a symlink, perhaps into the host), or would replace a directory.
    #[error("refusing to install `{wheel}`: `{path}` in the staging tree {reason}")]
    UnsafeDestination {
        wheel: String,
        path: String,
        reason: String,
    },

    /// [`WheelInstaller::install_arriving`](super::WheelInstaller::install_arriving) was not
    /// handed the wheel at `position` (its download stopped; the caller reports why).
    #[error("wheel {} of {count} to install never arrived", position + 1)]
    NotArrived { position: usize, count: usize },

    /// Writing to the staging tree failed; the source names the path.
    #[error("could not install `{wheel}`")]
    Write {
        wheel: String,
        #[source]
        source: std::io::Error,
    },
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" at line {line}")
    }
}

impl Diagnostic for WheelError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::HashMismatch { .. }
            | Self::SizeMismatch { .. }
            | Self::ReadEntry { .. }
            | Self::Zip { .. } => vec![
                "the wheel is corrupt or was altered after it was built; remove it from the cache so it is downloaded again"
                    .to_string(),
            ],
            Self::UnsafeEntry { .. }
            | Self::DuplicateNames { .. }
            | Self::DuplicateDestination { .. }
            | Self::NotInRecord { .. }
            | Self::MissingFromArchive { .. }
            | Self::NoHash { .. }
            | Self::DistInfoCount { .. }
            | Self::DistInfoName { .. }
            | Self::MissingMetadata { .. }
            | Self::InvalidMetadata { .. }
            | Self::InvalidEntryPoint { .. } => vec![
                "the wheel is malformed; pin another version of the package in `mlpack.toml`, and report it to its maintainers"
                    .to_string(),
            ],
            Self::UnsupportedHash { .. } => vec![
                "the wheel's `RECORD` uses a weak hash; pin another version of the package in `mlpack.toml`"
                    .to_string(),
            ],
            Self::UnsupportedWheelVersion { .. } => vec![
                "upgrade mlpack, or pin a version of the package built as a version 1 wheel in `mlpack.toml`"
                    .to_string(),
            ],
            Self::UnsafeDestination { .. } => vec![
                "mlpack never writes through symlinks in an image tree; install the package to a scheme whose directories are real, or drop the symlink from the base"
                    .to_string(),
            ],
            Self::Filename { .. } => {
                vec!["keep the wheel's file name as the index published it".to_string()]
            }
            Self::InvalidScheme { .. }
            | Self::InvalidInterpreter { .. }
            | Self::Open { .. }
            | Self::NotArrived { .. }
            | Self::Write { .. } => Vec::new(),
        }
    }
}
