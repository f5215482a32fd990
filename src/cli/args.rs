//! Flags several commands share (`build` and `train`; everything that may lock), turned into
//! the library's settings.

use std::path::{Path, PathBuf};

use pep508_rs::PackageName;

use crate::arch::Arch;
use crate::build::BuildOptions;
use crate::lock::LockSettings;
use crate::python::PythonVersion;

/// Flags every command that may lock shares.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct ResolverArgs {
    /// Use only the cache; fail and say what is missing instead of asking the network.
    #[arg(long, env = "MLPACK_OFFLINE", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) offline: bool,
    /// Ignore files uploaded after this date (`2026-01-01` or an RFC 3339 time).
    #[arg(long, value_name = "DATE", env = "MLPACK_EXCLUDE_NEWER")]
    exclude_newer: Option<String>,
    /// Allow pre-releases of every package.
    #[arg(long)]
    prerelease: bool,
    /// The target Python [default: `[python] version`, else the base's].
    #[arg(long, value_name = "VERSION")]
    python: Option<PythonVersion>,
    /// The target architecture (`x86_64` or `aarch64`) [default: this machine's].
    #[arg(long, value_name = "ARCH")]
    arch: Option<Arch>,
    /// Refuse sdists: use only versions with a wheel for the target (also `[python] no-build`).
    #[arg(long)]
    no_build: bool,
}

impl ResolverArgs {
    pub(super) fn settings(&self, upgrade: bool, upgrade_packages: &[PackageName]) -> LockSettings {
        LockSettings {
            python: self.python,
            arch: self.arch,
            prerelease: self.prerelease,
            no_build: self.no_build,
            exclude_newer: self.exclude_newer.clone(),
            offline: self.offline,
            upgrade,
            upgrade_packages: upgrade_packages.to_vec(),
        }
    }
}

#[derive(Debug, clap::Args)]
pub(super) struct BuildArgs {
    /// The project [default: the `-C` directory].
    dir: Option<PathBuf>,
    /// The image's name and tag [default: `[image] name`/`tag`, else the project's name and `latest`].
    #[arg(short, long, value_name = "NAME:TAG")]
    tag: Option<String>,
    /// How layers are compressed.
    #[arg(long, value_enum)]
    compression: Option<crate::manifest::Compression>,
    /// Fail instead of writing `mlpack.lock` when it is missing or stale (for CI).
    #[arg(long)]
    locked: bool,
    /// Lock if needed and show the Python layers the image would get, without fetching or
    /// writing anything else.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Build this Dockerfile (relative to the current directory) with the project directory
    /// as the build context [default: `DIR/Dockerfile` when there is no `mlpack.toml`].
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub(super) file: Option<PathBuf>,
    /// With a Dockerfile: the stage to build [default: the last].
    #[arg(long, value_name = "STAGE")]
    pub(super) target: Option<String>,
    /// With a Dockerfile: set an `ARG`, `NAME=VALUE` (or `NAME` for the environment's value).
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub(super) args: Vec<String>,
    /// With a Dockerfile: run every instruction again instead of reusing cached layers.
    #[arg(long)]
    pub(super) no_cache: bool,
    #[command(flatten)]
    resolver: ResolverArgs,
}

impl BuildArgs {
    /// `DIR`, else `-C`.
    pub(super) fn project_dir<'a>(&'a self, directory: &'a Path) -> &'a Path {
        self.dir.as_deref().unwrap_or(directory)
    }

    /// The image name given with `-t`.
    pub(super) fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub(super) fn compression(&self) -> Option<crate::manifest::Compression> {
        self.compression
    }

    pub(super) fn options(&self) -> BuildOptions {
        BuildOptions {
            tag: self.tag.clone(),
            compression: self.compression,
            locked: self.locked,
            lock: self.resolver.settings(false, &[]),
        }
    }
}
