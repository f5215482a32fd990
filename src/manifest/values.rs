//! Limits on what the values of `mlpack.toml` may hold, checked when the manifest is read so
//! that nothing fails late (an empty code layer from `workdir = "../../etc"`, a NUL byte in
//! `[train] command` reaching the image's config, a 2 MB name printed whole in an error):
//!
//! 1. No NUL byte in any key or string: C interfaces (`execve`, paths) end strings there.
//! 2. Keys and strings within [`STRING_LIMIT`] bytes, names within [`NAME_LIMIT`].
//! 3. `[train.env]` and `[image.env]` names that `NAME=value` can carry.
//! 4. Container paths (`[train] workdir`, dataset and outputs `target`) as
//!    [`crate::container_path`] requires.
//! 5. `[project] name` (when it names the image), `[image] name` and `tag` as image names.
//!
//! Messages quote at most a short prefix of a value ([`crate::source::excerpt`]).

use toml_edit::{Item, Table, TableLike, Value};

use super::{Manifest, Problem, Source};
use crate::source::excerpt;

/// The longest key or string: far above any real command line, path or label, far below
/// what could hurt (`MAX_ARG_STRLEN`, one argument's limit in Linux, is 128 KiB).
const STRING_LIMIT: usize = 32 * 1024;
/// The longest name (`[project] name`, `[image] name`): a tag's limit in the OCI distribution
/// spec, and plenty for a name.
const NAME_LIMIT: usize = 128;

/// Rules 1 to 3, on the parsed document (so before, and whatever, deserializing finds).
pub(super) fn check_document(table: &Table, source: &Source<'_>, problems: &mut Vec<Problem>) {
    check_table(table, "", source, problems);
    for section in ["train", "image"] {
        let env = table
            .get(section)
            .and_then(Item::as_table_like)
            .and_then(|section| section.get("env"))
            .and_then(Item::as_table_like);
        for (name, _) in env.into_iter().flat_map(TableLike::iter) {
            let valid = !name.is_empty() && !name.contains('=');
            if valid || !is_plain(name) {
                continue;
            }
            problems.push(source.problem(
                key_offset(env, name),
                format!("`{}` is not an environment variable name", excerpt(name)),
                Some("names are not empty and hold no `=`".to_string()),
            ));
        }
    }
}

/// Rules 4 and 5, on the deserialized manifest, located through the document.
pub(super) fn check_manifest(
    manifest: &Manifest,
    table: &Table,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) {
    let located = |path: &[&str]| value_offset(table, path).unwrap_or(0);
    let mut paths = vec![
        (
            "",
            "workdir",
            manifest.train.workdir.as_str(),
            located(&["train", "workdir"]),
        ),
        (
            "outputs ",
            "target",
            manifest.outputs.target.as_str(),
            located(&["outputs", "target"]),
        ),
    ];
    for dataset in &manifest.datasets {
        let target = &dataset.target;
        paths.push(("dataset ", "target", target.get_ref(), target.span().start));
    }
    for (label, key, path, offset) in paths {
        if let Some((message, hint)) = container_path_problem(path) {
            let message = format!("{label}`{key} = \"{}\"` {message}", excerpt(path));
            problems.push(source.problem(offset, message, Some(hint)));
        }
    }
    check_names(manifest, table, source, problems);
}

/// Rule 5: the image's name is `[image] name`, else `[project] name`; its tag `[image] tag`.
fn check_names(
    manifest: &Manifest,
    table: &Table,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) {
    let names = [
        (
            &manifest.project.name,
            "project",
            manifest.image.name.is_none(),
        ),
        (&manifest.image.name, "image", true),
    ];
    for (name, section, names_the_image) in names {
        let Some(name) = name.as_deref().filter(|name| is_plain(name)) else {
            continue;
        };
        let problem = if name.len() > NAME_LIMIT {
            Some(format!("is longer than {NAME_LIMIT} bytes"))
        } else if names_the_image {
            // The tag is checked on its own, below.
            reference_problem(&format!("{name}:latest"))
                .map(|reason| format!("is not a valid image name: {reason}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            problems.push(source.problem(
                value_offset(table, &[section, "name"]).unwrap_or(0),
                format!("`name = \"{}\"` {problem}", excerpt(name)),
                Some("use lowercase letters, digits, `.`, `_` and `-`, like `iris-classifier`, or set `[image] name`".to_string()),
            ));
        }
    }
    if let Some(tag) = manifest.image.tag.as_deref().filter(|tag| is_plain(tag))
        && let Some(reason) = reference_problem(&format!("image:{tag}"))
    {
        problems.push(source.problem(
            value_offset(table, &["image", "tag"]).unwrap_or(0),
            format!("`tag = \"{}\"` is not a valid tag: {reason}", excerpt(tag)),
            None,
        ));
    }
}

/// Why `value` is not a container path, with a hint; `None` for a fine one (and for one that
/// rules 1 and 2 already reported).
fn container_path_problem(value: &str) -> Option<(String, String)> {
    if !is_plain(value) {
        return None;
    }
    match crate::container_path::normalize(value) {
        Ok(normalized) if normalized == value => None,
        Ok(normalized) => Some((
            "is not a normalized path".to_string(),
            format!("write `{}`", excerpt(&normalized)),
        )),
        Err(reason) => Some((
            reason,
            "write an absolute path inside the container, like `/data/images`; not `/`, `/proc`, `/sys` or `/dev`".to_string(),
        )),
    }
}

/// Why `reference` is not a valid image name, if it is not.
fn reference_problem(reference: &str) -> Option<String> {
    crate::oci::ImageReference::parse_name(reference)
        .err()
        .map(|error| error.reason)
}

/// Within the limits of rules 1 and 2 (a value past them has its problem already).
fn is_plain(value: &str) -> bool {
    value.len() <= STRING_LIMIT && !value.contains('\0')
}

/// Rules 1 and 2 for every key and string under `table`, whose dotted name is `prefix`.
fn check_table(
    table: &dyn TableLike,
    prefix: &str,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) {
    for (key, item) in table.iter() {
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        let offset = key_offset(Some(table), key);
        check_string(
            key,
            &format!("the key `{}`", excerpt(&path)),
            offset,
            source,
            problems,
        );
        match item {
            Item::Value(value) => check_value(value, &path, source, problems),
            Item::Table(inner) => check_table(inner, &path, source, problems),
            Item::ArrayOfTables(array) => {
                for (number, inner) in array.iter().enumerate() {
                    check_table(inner, &format!("{path}[{number}]"), source, problems);
                }
            }
            Item::None => {}
        }
    }
}

fn check_value(value: &Value, path: &str, source: &Source<'_>, problems: &mut Vec<Problem>) {
    match value {
        Value::String(string) => {
            let offset = value.span().map_or(0, |span| span.start);
            let what = format!("`{}`", excerpt(path));
            check_string(string.value(), &what, offset, source, problems);
        }
        Value::Array(array) => {
            for (number, inner) in array.iter().enumerate() {
                check_value(inner, &format!("{path}[{number}]"), source, problems);
            }
        }
        Value::InlineTable(inner) => check_table(inner, path, source, problems),
        _ => {}
    }
}

/// `what` names the key or value: `` `train.command[1]` ``.
fn check_string(
    text: &str,
    what: &str,
    offset: usize,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) {
    if text.contains('\0') {
        problems.push(source.problem(
            offset,
            format!("{what} contains a NUL byte: `{}`", excerpt(text)),
            Some("remove the `\\u0000`".to_string()),
        ));
    } else if text.len() > STRING_LIMIT {
        problems.push(source.problem(
            offset,
            format!(
                "{what} is longer than {STRING_LIMIT} bytes: `{}`",
                excerpt(text)
            ),
            None,
        ));
    }
}

fn key_offset(table: Option<&dyn TableLike>, key: &str) -> usize {
    table
        .and_then(|table| table.key(key))
        .and_then(toml_edit::Key::span)
        .map_or(0, |span| span.start)
}

/// Where the value at `path` (table names, then the key) starts in the text.
fn value_offset(table: &Table, path: &[&str]) -> Option<usize> {
    let (last, tables) = path.split_last()?;
    let mut current: &dyn TableLike = table;
    for name in tables {
        current = current.get(name)?.as_table_like()?;
    }
    current.get(last)?.span().map(|span| span.start)
}
