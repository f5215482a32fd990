//! `mlpack lock`: gather the inputs (manifest, requirements file, scan), reuse the lock when
//! they are unchanged, else resolve on the solver thread and write `mlpack.lock` atomically.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result};
use pep508_rs::PackageName;

use super::{ExitStatus, Printer, UserError};
use crate::lock::{LOCK_FILE, LockInputs, Lockfile};
use crate::manifest::{LoadedManifest, Manifest, project_path};
use crate::pypi::{IndexClient, IndexMap};
use crate::python::PythonVersion;
use crate::resolve::{self, Arch, ResolveError, ResolveOptions, Target};
use crate::scan::{self, ScanOptions};

#[derive(Debug, clap::Args)]
#[expect(clippy::struct_excessive_bools, reason = "each is a command-line flag")]
pub(super) struct LockArgs {
    /// The project [default: the `-C` directory].
    dir: Option<PathBuf>,
    /// Do not write: exit 1 if `mlpack.lock` is missing or its inputs changed (for CI).
    #[arg(long)]
    check: bool,
    /// Re-resolve every package to its newest fitting version.
    #[arg(short = 'U', long)]
    upgrade: bool,
    /// Re-resolve this package to its newest fitting version; keep the others.
    #[arg(short = 'P', long, value_name = "PACKAGE")]
    upgrade_package: Vec<PackageName>,
    /// Use only the cache; fail and say what is missing instead of asking the index.
    #[arg(long, env = "MLPACK_OFFLINE", value_parser = clap::builder::BoolishValueParser::new())]
    offline: bool,
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
}

/// Everything the lock depends on, settled before any network access.
struct LockPlan {
    lock_path: PathBuf,
    inputs: LockInputs,
    target: Target,
    indexes: IndexMap,
    hash: String,
    existing: Option<Lockfile>,
}

pub(super) fn run(args: &LockArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let project = args.dir.clone().unwrap_or_else(|| directory.to_path_buf());
    let plan = plan(args, &project, printer)?;
    let fresh = plan
        .existing
        .as_ref()
        .is_some_and(|lock| lock.inputs.sha256 == plan.hash);
    if args.check {
        return check(&plan, fresh, printer);
    }
    if fresh && !args.upgrade && args.upgrade_package.is_empty() {
        printer.status(&format!(
            "`{}` is up to date ({} packages)",
            plan.lock_path.display(),
            plan.existing.as_ref().map_or(0, |lock| lock.packages.len())
        ));
        return report(&plan, plan.existing.as_ref(), None, printer);
    }
    let started = Instant::now();
    let lock = resolve_lock(args, &plan)?;
    lock.write(&plan.lock_path)?;
    let changes = changes(plan.existing.as_ref(), &lock);
    printer.status(&format!(
        "Resolved {} packages for {} in {:.2}s",
        lock.packages.len(),
        plan.target.describe(),
        started.elapsed().as_secs_f64()
    ));
    for change in &changes {
        printer.status(&format!(" {change}"));
    }
    report(
        &plan,
        Some(&lock),
        Some(started.elapsed().as_secs_f64()),
        printer,
    )
}

fn plan(args: &LockArgs, project: &Path, printer: Printer) -> Result<LockPlan> {
    let loaded = Manifest::load(project)?;
    let manifest = &loaded.manifest;
    let python = args.python.unwrap_or_else(|| manifest.python_version());
    let report = scan::scan(
        project,
        &ScanOptions {
            python,
            pins: pins(&loaded)?,
            skip_dirs: vec![manifest.outputs.dir.clone()],
        },
    )?;
    let inputs = LockInputs::gather(project, &loaded, &report)?;
    for name in &inputs.unresolved {
        printer.status(&format!("warning: the import `{name}` maps to no distribution and is not locked (see `mlpack scan`)"));
    }
    let target = Target::for_base(
        &manifest.base.image,
        python,
        args.arch.unwrap_or_else(Arch::host),
    );
    let indexes = index_map(&loaded)?;
    let settings = [
        ("prerelease", args.prerelease.to_string()),
        (
            "exclude-newer",
            args.exclude_newer.clone().unwrap_or_default(),
        ),
    ];
    let hash = inputs.hash(&target, &indexes, &settings);
    let lock_path = project_path(project, Path::new(LOCK_FILE));
    let existing = Lockfile::read(&lock_path)?;
    Ok(LockPlan {
        lock_path,
        inputs,
        target,
        indexes,
        hash,
        existing,
    })
}

fn pins(loaded: &LoadedManifest) -> Result<BTreeMap<String, PackageName>> {
    loaded
        .manifest
        .python
        .imports
        .iter()
        .map(|(import, name)| {
            Ok((
                import.clone(),
                PackageName::from_str(name.get_ref())
                    .with_context(|| format!("`[python.imports] {import}`"))?,
            ))
        })
        .collect()
}

fn index_map(loaded: &LoadedManifest) -> Result<IndexMap> {
    let python = &loaded.manifest.python;
    let mut bound = BTreeMap::new();
    for index in &python.indexes {
        for name in &index.packages {
            let name =
                PackageName::from_str(name.get_ref()).with_context(|| loaded.location(name))?;
            bound.insert(name, index.url.trim_end_matches('/').to_string());
        }
    }
    Ok(IndexMap {
        default: IndexClient::index_url(python.index_url.as_deref())
            .trim_end_matches('/')
            .to_string(),
        bound,
    })
}

fn check(plan: &LockPlan, fresh: bool, printer: Printer) -> Result<ExitStatus> {
    match (&plan.existing, fresh) {
        (Some(_), true) => {
            printer.status(&format!("`{}` is up to date", plan.lock_path.display()));
            Ok(ExitStatus::Success)
        }
        (None, _) => Err(
            UserError::new(format!("`{}` does not exist", plan.lock_path.display()))
                .hint("run `mlpack lock` and commit `mlpack.lock`")
                .into(),
        ),
        (Some(_), false) => Err(UserError::new(format!(
            "`{}` is out of date: the requirements, target or indexes changed since it was written",
            plan.lock_path.display()
        ))
        .hint("run `mlpack lock` and commit the new `mlpack.lock`")
        .into()),
    }
}

fn resolve_lock(args: &LockArgs, plan: &LockPlan) -> Result<Lockfile> {
    let mut preferences: HashMap<PackageName, _> = match (&plan.existing, args.upgrade) {
        (Some(lock), false) => lock.preferences(),
        _ => HashMap::new(),
    };
    for name in &args.upgrade_package {
        preferences.remove(name);
    }
    let options = ResolveOptions {
        target: plan.target.clone(),
        indexes: plan.indexes.clone(),
        preferences,
        constraints: plan.inputs.constraint_ranges(),
        prerelease: args.prerelease,
    };
    let client = IndexClient::builder()
        .offline(args.offline)
        .exclude_newer(args.exclude_newer.clone())
        .build()?;
    let roots = plan.inputs.roots.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let handle = runtime.handle().clone();
    // PubGrub is synchronous: it runs on its own thread and blocks on this runtime, which the
    // main thread drives (and which runs the prefetches) until the answer arrives.
    let resolution = runtime.block_on(async move {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = sender.send(resolve::resolve(client, handle, &roots, &options));
        });
        receiver.await.unwrap_or_else(|_| {
            Err(ResolveError::Internal(
                "the resolver thread stopped".to_string(),
            ))
        })
    });
    let resolution = resolution.map_err(|error| {
        let hints = error.hints();
        let mut user = UserError::new(error.to_string());
        if !hints.is_empty() {
            user = user.hint(hints.join("\nhint: "));
        }
        anyhow::Error::new(user)
    })?;
    Ok(Lockfile::from_resolution(
        &resolution,
        &plan.inputs,
        &plan.target,
        plan.hash.clone(),
    )?)
}

/// `+ numpy 2.1.0`, `- six 1.16.0`, `~ torch 2.4.0 -> 2.5.1`.
fn changes(old: Option<&Lockfile>, new: &Lockfile) -> Vec<String> {
    let before: BTreeMap<&str, &str> = old
        .map(|lock| {
            lock.packages
                .iter()
                .map(|p| (p.name.as_str(), p.version.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let after: BTreeMap<&str, &str> = new
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    let mut lines = Vec::new();
    for (name, version) in &after {
        match before.get(name) {
            None => lines.push(format!("+ {name} {version}")),
            Some(old) if old != version => lines.push(format!("~ {name} {old} -> {version}")),
            Some(_) => {}
        }
    }
    lines.extend(
        before
            .iter()
            .filter(|(name, _)| !after.contains_key(*name))
            .map(|(name, version)| format!("- {name} {version}")),
    );
    lines
}

fn report(
    plan: &LockPlan,
    lock: Option<&Lockfile>,
    seconds: Option<f64>,
    printer: Printer,
) -> Result<ExitStatus> {
    if printer.json {
        let packages: Vec<_> = lock.iter().flat_map(|lock| &lock.packages).map(|p| serde_json::json!({"name": p.name, "version": p.version, "wheel": p.wheels.first().map(|w| &w.name)})).collect();
        printer.json(&serde_json::json!({
            "lock": plan.lock_path,
            "target": plan.target,
            "inputs_sha256": plan.hash,
            "resolved": seconds.is_some(),
            "seconds": seconds,
            "packages": packages,
            "unresolved_imports": plan.inputs.unresolved,
        }))?;
    }
    Ok(ExitStatus::Success)
}
