//! Which keys each table of `mlpack.toml` may hold, checked before deserializing so that every
//! unknown key is reported at once, with its line and column and the nearest known key.
//!
//! Serde's `deny_unknown_fields` would stop at the first one; this walk finds them all.

use toml_edit::{Item, Table, TableLike};

use super::Problem;

/// What a key's value must look like, as far as the key check cares.
enum Shape {
    /// Any value; its type is checked when the manifest is deserialized.
    Value,
    /// A table whose keys are the user's own (`[train.env]`, `[python.imports]`).
    FreeTable,
    Table(&'static [Key]),
    TableArray(&'static [Key]),
}

struct Key {
    name: &'static str,
    shape: Shape,
}

const fn key(name: &'static str, shape: Shape) -> Key {
    Key { name, shape }
}

const VALUE: Shape = Shape::Value;

const TOP: &[Key] = &[
    key(
        "project",
        Shape::Table(&[key("name", VALUE), key("description", VALUE)]),
    ),
    key(
        "python",
        Shape::Table(&[
            key("version", VALUE),
            key("requirements", VALUE),
            key("constraints", VALUE),
            key("requirements-file", VALUE),
            key(
                "indexes",
                Shape::TableArray(&[key("url", VALUE), key("packages", VALUE)]),
            ),
            key("index-url", VALUE),
            key("imports", Shape::FreeTable),
            key("exclude-imports", VALUE),
            key("no-build", VALUE),
            key("platforms", VALUE),
        ]),
    ),
    key(
        "base",
        Shape::Table(&[
            key("image", VALUE),
            key("packages", VALUE),
            key("mirror", VALUE),
            key("snapshot", VALUE),
        ]),
    ),
    key(
        "hardware",
        Shape::Table(&[
            key("accelerator", VALUE),
            key("cuda", VALUE),
            key("driver-min", VALUE),
        ]),
    ),
    key(
        "train",
        Shape::Table(&[
            key("command", VALUE),
            key("workdir", VALUE),
            key("env", Shape::FreeTable),
            key("shm-size", VALUE),
            key("services", VALUE),
            key("compose-file", VALUE),
        ]),
    ),
    key("serve", Shape::Table(&[key("command", VALUE)])),
    key("predict", Shape::Table(&[key("command", VALUE)])),
    key(
        "datasets",
        Shape::TableArray(&[
            key("source", VALUE),
            key("target", VALUE),
            key("read-only", VALUE),
        ]),
    ),
    key(
        "outputs",
        Shape::Table(&[key("dir", VALUE), key("target", VALUE)]),
    ),
    key(
        "image",
        Shape::Table(&[
            key("name", VALUE),
            key("tag", VALUE),
            key("labels", Shape::FreeTable),
            key("compression", VALUE),
            key("expose", VALUE),
            key("user", VALUE),
            key("entrypoint", VALUE),
            key("env", Shape::FreeTable),
        ]),
    ),
    key(
        "build",
        Shape::Table(&[
            key("system-packages", VALUE),
            key(
                "run",
                Shape::TableArray(&[
                    key("command", VALUE),
                    key("network", VALUE),
                    key("env", Shape::FreeTable),
                    key("workdir", VALUE),
                    key("cache", VALUE),
                    key("inputs", VALUE),
                    key("after-code", VALUE),
                ]),
            ),
        ]),
    ),
    key(
        "cluster",
        Shape::Table(&[
            key("engine", VALUE),
            key("nodes", VALUE),
            key("gpus-per-node", VALUE),
            key("cpus-per-node", VALUE),
            key("memory", VALUE),
            key("time", VALUE),
            key("partition", VALUE),
            key("account", VALUE),
            key("store", VALUE),
            key("registry", VALUE),
            key("mlpack", VALUE),
            key("sbatch-options", VALUE),
        ]),
    ),
];

/// Every key in `table` that `schema` does not name, with a "did you mean" where one is close.
pub(super) fn unknown_keys(table: &Table, source: &super::Source<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_table(table, TOP, "", source, &mut problems);
    problems
}

fn check_table(
    table: &dyn TableLike,
    schema: &'static [Key],
    prefix: &str,
    source: &super::Source<'_>,
    problems: &mut Vec<Problem>,
) {
    for (name, item) in table.iter() {
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(known) = schema.iter().find(|known| known.name == name) else {
            let offset = table
                .key(name)
                .and_then(toml_edit::Key::span)
                .or_else(|| item.span())
                .map_or(0, |span| span.start);
            problems.push(source.problem(
                offset,
                format!("unknown key `{path}`"),
                did_you_mean(name, schema, prefix),
            ));
            continue;
        };
        match (&known.shape, item) {
            (Shape::Table(keys), item) => {
                if let Some(inner) = item.as_table_like() {
                    check_table(inner, keys, &path, source, problems);
                }
            }
            (Shape::TableArray(keys), Item::ArrayOfTables(array)) => {
                for inner in array {
                    check_table(inner, keys, &path, source, problems);
                }
            }
            _ => {}
        }
    }
}

fn did_you_mean(name: &str, schema: &[Key], prefix: &str) -> Option<String> {
    schema
        .iter()
        .map(|known| (strsim::jaro_winkler(name, known.name), known.name))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, best)| {
            if prefix.is_empty() {
                format!("did you mean `{best}`?")
            } else {
                format!("did you mean `{prefix}.{best}`?")
            }
        })
}
