//! Registry commands: `push`, `pull`, `login`, `logout`. The protocol is `oci::registry`'s;
//! this file turns flags into a client with the saved credentials, shows progress bars, and
//! prints what moved.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::error::Result;

use super::progress::Bars;
use super::{ExitStatus, Printer, UserError};
use crate::context::Context;
use crate::oci::registry::{self, CredentialStore, Credentials, RegistryClient};

#[derive(Debug, clap::Args)]
pub(super) struct PushArgs {
    /// The image in the store.
    image: String,
    /// Where to push it: `REGISTRY/REPOSITORY[:TAG]` [default: IMAGE, when it names a registry].
    target: Option<String>,
    /// The layers' compression on the registry. `gzip`, the default, is read by every
    /// registry and runtime (Docker 20.10, containerd 1.4); its copy of the layers is made
    /// once, reproducibly, and kept for the next push, and its manifest has another digest
    /// than the local image (`mlpack images --digests` shows both). `zstd` sends the store's
    /// layers as they are: smaller, for Docker 23+, containerd 1.5+ and Kubernetes on them.
    #[arg(long, value_enum, default_value = "gzip")]
    compression: crate::manifest::Compression,
}

#[derive(Debug, clap::Args)]
pub(super) struct PullArgs {
    /// `REGISTRY/REPOSITORY[:TAG|@DIGEST]` (`python:3.11-slim` means Docker Hub).
    reference: String,
    /// The platform to pick from a multi-platform image [default: this machine's].
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(super) struct LoginArgs {
    /// The registry: `host[:port]`.
    registry: String,
    #[arg(short, long)]
    username: Option<String>,
    /// The password (visible in `ps`; prefer `--password-stdin`).
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from stdin.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct LogoutArgs {
    registry: String,
}

pub(super) fn push(args: &PushArgs, context: &Context, printer: Printer) -> Result<ExitStatus> {
    let store = context.store()?;
    let local = store.resolve(&args.image)?;
    let image = crate::oci::recompressed_image(store, &local, args.compression)?;
    let target_text = args.target.as_deref().unwrap_or(&args.image);
    let target = registry::remote_reference(target_text)?;
    let client = registry::client_for(target.registry())?;
    let progress = Bars::new(printer);
    let report = context
        .network()?
        .block_on(registry::push(&client, store, &image, &target, &progress));
    progress.clear();
    let report = report?;
    let local = local.manifest_digest()?;
    store.record_repo_digest(&local, &target.repo_digest(&report.manifest_digest))?;
    if printer.json {
        printer.json(&serde_json::json!({
            "reference": target.to_string(),
            "digest": report.manifest_digest.to_string(),
            "local_digest": local.to_string(),
            "blobs_uploaded": report.blobs_uploaded,
            "blobs_mounted": report.blobs_mounted,
            "blobs_skipped": report.blobs_skipped,
            "bytes_uploaded": report.bytes_uploaded,
        }))?;
    } else {
        let layers = if report.manifest_digest == local {
            String::new()
        } else {
            format!(", {} layers of the local {local}", args.compression.name())
        };
        printer.status(&format!(
            "Pushed `{target}` ({}{layers}): {} blobs uploaded ({}), {} mounted, {} already there",
            report.manifest_digest,
            report.blobs_uploaded,
            crate::byte_size::human_size(report.bytes_uploaded),
            report.blobs_mounted,
            report.blobs_skipped
        ));
    }
    Ok(ExitStatus::Success)
}

pub(super) fn pull(args: &PullArgs, context: &Context, printer: Printer) -> Result<ExitStatus> {
    let (os, arch) = match &args.platform {
        Some(platform) => platform.split_once('/').ok_or_else(|| {
            UserError::new(format!("invalid platform `{platform}`"))
                .hint("write it as OS/ARCH, like `linux/amd64` or `linux/arm64`")
        })?,
        None => ("linux", crate::arch::Arch::host().oci()),
    };
    let progress = Bars::new(printer);
    // Unpacked once pulled, as `docker pull` does: a layer refused then leaves nothing.
    let pulled = crate::runtime::pull_admitted(
        context.network()?,
        context.store()?,
        &args.reference,
        (os, arch),
        &progress,
    );
    progress.clear();
    let (local_name, report) = pulled?;
    if printer.json {
        printer.json(&serde_json::json!({
            "reference": local_name,
            "digest": report.manifest_digest.to_string(),
            "index_digest": report.index_digest.as_ref().map(ToString::to_string),
            "blobs_downloaded": report.blobs_downloaded,
            "blobs_present": report.blobs_present,
            "bytes_downloaded": report.bytes_downloaded,
        }))?;
    } else {
        printer.status(&format!(
            "Pulled `{local_name}` ({}): {} blobs downloaded ({}), {} already in the store",
            report.manifest_digest,
            report.blobs_downloaded,
            crate::byte_size::human_size(report.bytes_downloaded),
            report.blobs_present
        ));
    }
    Ok(ExitStatus::Success)
}

pub(super) fn login(args: &LoginArgs, context: &Context, printer: Printer) -> Result<ExitStatus> {
    let username = match &args.username {
        Some(username) => username.clone(),
        None => prompt("Username: ", true)?,
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(password), _) => password.clone(),
        (None, true) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => prompt("Password: ", false)?,
    };
    if username.is_empty() || password.is_empty() {
        return Err(UserError::new("a user name and a password are needed")
            .hint("pass `-u USER --password-stdin`")
            .into());
    }
    let credentials = Credentials { username, password };
    let reference = registry::remote_reference(&format!("{}/x", args.registry))?;
    let client = RegistryClient::new(
        reference.registry(),
        registry::is_insecure(reference.registry()),
        Some(credentials.clone()),
    )?;
    context.network()?.block_on(client.check())?;
    let store = CredentialStore::open()?;
    store.save(reference.registry(), &credentials)?;
    printer.status(&format!(
        "Login succeeded; credentials saved in `{}`",
        store.mlpack_file().display()
    ));
    Ok(ExitStatus::Success)
}

pub(super) fn logout(args: &LogoutArgs, printer: Printer) -> Result<ExitStatus> {
    let store = CredentialStore::open()?;
    if store.remove(&args.registry)? {
        printer.status(&format!("Removed the credentials for `{}`", args.registry));
    } else {
        printer.status(&format!("No credentials saved for `{}`", args.registry));
    }
    Ok(ExitStatus::Success)
}

/// Ask on the terminal; without one, say which flag to use.
fn prompt(question: &str, echo: bool) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(UserError::new(format!(
            "no terminal to ask for the {}",
            question.trim_end_matches(": ").to_lowercase()
        ))
        .hint("pass `-u USER --password-stdin` and the password on stdin")
        .into());
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}")?;
    stderr.flush()?;
    let saved = nix::sys::termios::tcgetattr(&stdin).ok();
    if !echo && let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet
            .local_flags
            .remove(nix::sys::termios::LocalFlags::ECHO);
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if !echo {
        if let Some(saved) = &saved {
            let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, saved);
        }
        writeln!(stderr)?;
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
