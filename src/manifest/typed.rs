//! Reading the typed manifest with every type error reported, not only the first: serde stops
//! at the first value of the wrong type, so each round records that error, blanks the entry
//! that holds it (spaces over the key and value, newlines kept, so offsets into the original
//! text stay true and the rest still parses), and reads again. The checks that need typed
//! values then run on what remains, so one run of `mlpack` lists every problem.

use std::ops::Range;

use toml_edit::{Item, Table};

use super::{Manifest, Problem, Source};

/// More rounds than any hand-written manifest has type errors; past it, the rest wait.
const MAX_ROUNDS: usize = 64;

/// The manifest with every entry of the wrong type left out (so taking its default), or
/// `None` when an error could not be pinned to an entry; each error goes to `problems`.
pub(super) fn deserialize(
    text: &str,
    document: &Table,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Manifest> {
    let mut masked = text.to_string();
    let mut blanked = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let error = match toml::from_str::<Manifest>(&masked) {
            Ok(manifest) => return Some(manifest),
            Err(error) => error,
        };
        let offset = error.span().map_or(0, |span| span.start);
        problems.push(source.problem(offset, error.message().to_string(), None));
        // An error that blanking its entry did not clear would come back every round.
        let entry = error
            .span()
            .and_then(|_| entry_at(document, offset))
            .filter(|entry| !blanked.contains(entry))?;
        blank(&mut masked, entry.clone());
        blanked.push(entry);
    }
    None
}

/// The smallest entry (a `key = value` line, or a whole `[table]`) that holds `offset`.
fn entry_at(table: &Table, offset: usize) -> Option<Range<usize>> {
    let mut best: Option<Range<usize>> = None;
    visit(table, &mut |range| {
        if range.contains(&offset) && best.as_ref().is_none_or(|best| range.len() < best.len()) {
            best = Some(range);
        }
    });
    best
}

/// Calls `found` with the range of every entry below `table`, and returns the range that
/// covers them all (a table's own span is only its header, when it has one).
fn visit(table: &Table, found: &mut impl FnMut(Range<usize>)) -> Option<Range<usize>> {
    let mut whole = table.span();
    for (key, item) in table {
        let start = table.key(key).and_then(toml_edit::Key::span);
        let range = match item {
            Item::Value(value) => join(start, value.span()),
            Item::Table(inner) => join(start, visit(inner, found)),
            Item::ArrayOfTables(array) => array
                .iter()
                .filter_map(|inner| {
                    let range = visit(inner, found)?;
                    found(range.clone());
                    Some(range)
                })
                .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end)),
            Item::None => None,
        };
        if let Some(range) = range {
            found(range.clone());
            whole = join(whole, Some(range));
        }
    }
    whole
}

fn join(a: Option<Range<usize>>, b: Option<Range<usize>>) -> Option<Range<usize>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.start.min(b.start)..a.end.max(b.end)),
        (a, b) => a.or(b),
    }
}

/// Spaces over `range`, byte for byte (so later offsets do not move), newlines kept.
fn blank(text: &mut String, range: Range<usize>) {
    let blanked: String = text
        .get(range.clone())
        .unwrap_or_default()
        .bytes()
        .map(|byte| if byte == b'\n' { '\n' } else { ' ' })
        .collect();
    if blanked.len() == range.len() {
        text.replace_range(range, &blanked);
    }
}
