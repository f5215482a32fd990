//! Commands that read `mlpack.lock`: `tree`, `why` and `export`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Result;

use super::{ExitStatus, Printer, UserError};
use crate::lock::{LOCK_FILE, LockGraph, Lockfile};
use crate::manifest::project_path;

#[derive(Debug, clap::Args)]
pub(super) struct TreeArgs {
    /// The project [default: the `-C` directory].
    dir: Option<PathBuf>,
    /// Show at most this many levels below the roots.
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub(super) struct WhyArgs {
    /// The locked package to explain.
    package: String,
    /// The project [default: the `-C` directory].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The lock's export formats.
#[derive(Debug, Clone, Copy)]
pub(super) enum LockFormat {
    Requirements,
    Pylock,
}

fn read_lock(dir: Option<&Path>, directory: &Path) -> Result<Lockfile> {
    let project = dir.unwrap_or(directory);
    let path = project_path(project, Path::new(LOCK_FILE));
    Lockfile::read(&path)?.ok_or_else(|| {
        UserError::new(format!("`{}` does not exist", path.display()))
            .hint("run `mlpack lock` first")
            .into()
    })
}

pub(super) fn tree(args: &TreeArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let lock = read_lock(args.dir.as_deref(), directory)?;
    let graph = LockGraph::new(&lock);
    let mut text = String::new();
    let mut shown = HashSet::new();
    for root in graph.roots() {
        let origins = graph.origins(root);
        let _ = writeln!(text, "{} ({})", label(&lock, root), origins.join("; "));
        write_children(
            &lock, &graph, root, "", 1, args.depth, &mut shown, &mut text,
        );
    }
    printer.result(&text)?;
    Ok(ExitStatus::Success)
}

#[expect(
    clippy::too_many_arguments,
    reason = "a recursive walk that threads its state through"
)]
fn write_children(
    lock: &Lockfile,
    graph: &LockGraph<'_>,
    name: &str,
    prefix: &str,
    level: usize,
    depth: Option<usize>,
    shown: &mut HashSet<String>,
    text: &mut String,
) {
    if depth.is_some_and(|depth| level > depth) {
        return;
    }
    let children = graph.children(name);
    for (index, child) in children.iter().enumerate() {
        let last = index + 1 == children.len();
        let (branch, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let repeated = !graph.children(child).is_empty() && !shown.insert((*child).to_string());
        let _ = writeln!(
            text,
            "{prefix}{branch}{}{}",
            label(lock, child),
            if repeated { " (*)" } else { "" }
        );
        if !repeated {
            write_children(
                lock,
                graph,
                child,
                &format!("{prefix}{indent}"),
                level + 1,
                depth,
                shown,
                text,
            );
        }
    }
}

fn label(lock: &Lockfile, name: &str) -> String {
    lock.package(name).map_or_else(
        || name.to_string(),
        |package| format!("{} {}", package.name, package.version),
    )
}

pub(super) fn why(args: &WhyArgs, directory: &Path, printer: Printer) -> Result<ExitStatus> {
    let lock = read_lock(args.dir.as_deref(), directory)?;
    let name = args
        .package
        .parse::<pep508_rs::PackageName>()
        .map_or_else(|_| args.package.clone(), |name| name.to_string());
    if lock.package(&name).is_none() {
        return Err(
            UserError::new(format!("`{}` is not in `mlpack.lock`", args.package))
                .hint("`mlpack tree` shows every locked package")
                .into(),
        );
    }
    let graph = LockGraph::new(&lock);
    let paths = graph.paths_to(&name);
    if printer.json {
        printer.json(&paths)?;
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    for path in &paths {
        let root = path[0];
        let origins = graph.origins(root);
        let chain: Vec<String> = path.iter().map(|name| label(&lock, name)).collect();
        let _ = writeln!(text, "{}  ({})", chain.join(" -> "), origins.join("; "));
    }
    printer.result(&text)?;
    Ok(ExitStatus::Success)
}

pub(super) fn export(
    format: LockFormat,
    output: Option<&Path>,
    dir: Option<&Path>,
    directory: &Path,
    printer: Printer,
) -> Result<ExitStatus> {
    let lock = read_lock(dir, directory)?;
    let text = match format {
        LockFormat::Requirements => requirements_txt(&lock),
        LockFormat::Pylock => pylock(&lock),
    };
    match output {
        Some(path) => {
            let temporary = path.with_extension("mlpack-tmp");
            fs_err::write(&temporary, &text)?;
            fs_err::rename(&temporary, path)?;
            printer.status(&format!(
                "Wrote `{}` ({} packages)",
                path.display(),
                lock.packages.len()
            ));
        }
        None => printer.result(&text)?,
    }
    Ok(ExitStatus::Success)
}

fn requirements_txt(lock: &Lockfile) -> String {
    let mut text = format!(
        "# generated by `mlpack export` from mlpack.lock for CPython {} ({} {}); install with\n#   pip install --no-deps --require-hashes -r requirements.txt\n",
        lock.target.python_full,
        lock.target.arch,
        format_args!("glibc {}.{}", lock.target.glibc.0, lock.target.glibc.1)
    );
    for package in &lock.packages {
        let _ = write!(text, "{}=={}", package.name, package.version);
        for file in package.wheels.iter().chain(&package.sdist) {
            let _ = write!(text, " \\\n    --hash=sha256:{}", file.hashes.sha256);
        }
        text.push('\n');
    }
    text
}

/// PEP 751: <https://packaging.python.org/en/latest/specifications/pylock-toml/>.
fn pylock(lock: &Lockfile) -> String {
    let target = &lock.target;
    let mut document = toml_edit::DocumentMut::new();
    document["lock-version"] = toml_edit::value("1.0");
    let environment = format!(
        "python_full_version == '{}' and platform_machine == '{}' and sys_platform == 'linux' and implementation_name == '{}'",
        target.python_full, target.arch, target.implementation
    );
    document["environments"] = toml_edit::value(toml_edit::Array::from_iter([environment]));
    document["requires-python"] = toml_edit::value(format!("=={}", target.python_full));
    document["created-by"] = toml_edit::value("mlpack");
    let mut packages = toml_edit::ArrayOfTables::new();
    for package in &lock.packages {
        let mut table = toml_edit::Table::new();
        table["name"] = toml_edit::value(&package.name);
        table["version"] = toml_edit::value(&package.version);
        table["index"] = toml_edit::value(&package.index);
        if let Some(sdist) = &package.sdist {
            table["sdist"] = toml_edit::value(file_table(sdist));
        } else {
            let wheels: toml_edit::Array = package.wheels.iter().map(file_table).collect();
            table["wheels"] = toml_edit::value(wheels);
        }
        packages.push(table);
    }
    document["packages"] = toml_edit::Item::ArrayOfTables(packages);
    document.to_string()
}

/// PEP 751's file table: `{ name, url, size, hashes = { sha256 } }`.
fn file_table(file: &crate::lock::LockedWheel) -> toml_edit::InlineTable {
    let mut inline = toml_edit::InlineTable::new();
    inline.insert("name", file.name.as_str().into());
    inline.insert("url", file.url.as_str().into());
    if let Some(size) = file.size.and_then(|size| i64::try_from(size).ok()) {
        inline.insert("size", size.into());
    }
    let mut hashes = toml_edit::InlineTable::new();
    hashes.insert("sha256", file.hashes.sha256.as_str().into());
    inline.insert("hashes", toml_edit::Value::InlineTable(hashes));
    inline
}
