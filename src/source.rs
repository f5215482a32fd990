//! Byte offsets to `line:column` positions, for messages that point into a user's file, and
//! short excerpts of what the user wrote, for messages that quote it.

/// The start offset of every line of a text, so an offset maps to a position in `O(log n)`.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

/// A one-based line and column, as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(memchr_newlines(text).map(|offset| offset + 1))
            .collect();
        Self { starts }
    }

    /// The position of a byte offset; columns count characters, not bytes.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        let column = text
            .get(start..offset.min(text.len()))
            .map_or(0, |prefix| prefix.chars().count());
        Position {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

fn memchr_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter_map(|(offset, byte)| (byte == b'\n').then_some(offset))
}

/// At most the first 40 characters of a user's value, control characters escaped, with `…`
/// and its length when cut: for messages that quote a value that may be huge or hostile.
pub fn excerpt(value: &str) -> String {
    const SHOWN: usize = 40;
    let shown: String = value
        .chars()
        .take(SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().nth(SHOWN).is_some() {
        format!("{shown}… ({} bytes)", value.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_offsets_to_positions() {
        let text = "ab\ncé\n\nx";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), Position { line: 1, column: 1 });
        assert_eq!(index.position(text, 4), Position { line: 2, column: 2 });
        assert_eq!(index.position(text, 7), Position { line: 3, column: 1 });
        assert_eq!(index.position(text, 8), Position { line: 4, column: 1 });
    }

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt("iris"), "iris");
        assert_eq!(
            excerpt(&"x".repeat(2_000_000)),
            format!("{}… (2000000 bytes)", "x".repeat(40))
        );
        assert_eq!(excerpt("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
    }
}
