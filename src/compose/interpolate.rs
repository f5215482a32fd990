//! Variable interpolation in compose files: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or
//! empty), `${VAR-default}` (unset), `${VAR:?message}` and `${VAR?message}` (required),
//! `${VAR:+other}` and `${VAR+other}` (set), `$$` for a literal `$`; defaults may hold further
//! variables. Values come from the process environment, then the project's `.env`, as
//! Compose takes them. An unset variable with no default is empty.
//!
//! Interpolation happens while the file is deserialized ([`Text`]), value by value, so a
//! value can never change the YAML's structure and an error carries the value's line.
//!
//! Spec: <https://github.com/compose-spec/compose-spec/blob/main/12-interpolation.md>.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

pub(super) type Variables = BTreeMap<String, String>;

thread_local! {
    /// The variables of the file being deserialized; set by [`with_variables`].
    static VARIABLES: RefCell<Variables> = const { RefCell::new(BTreeMap::new()) };
}

/// Run `parse` with `variables` as the ones [`Text`] values are interpolated with.
pub(super) fn with_variables<T>(variables: Variables, parse: impl FnOnce() -> T) -> T {
    VARIABLES.with(|cell| *cell.borrow_mut() = variables);
    let result = parse();
    VARIABLES.with(|cell| cell.borrow_mut().clear());
    result
}

/// A scalar of the compose file, interpolated: strings, and numbers and booleans as their
/// text (`retries: 3`, `published: 8080`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(super) struct Text(pub(super) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Text::interpolated(&deserializer.deserialize_any(ScalarVisitor)?)
    }
}

impl Text {
    /// `raw` with the variables of the file being read substituted.
    pub(super) fn interpolated<E: serde::de::Error>(raw: &str) -> Result<Self, E> {
        VARIABLES
            .with(|cell| interpolate(raw, &cell.borrow()))
            .map(Text)
            .map_err(E::custom)
    }
}

struct ScalarVisitor;

impl serde::de::Visitor<'_> for ScalarVisitor {
    type Value = String;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a string, number or boolean")
    }

    fn visit_str<E>(self, value: &str) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_bool<E>(self, value: bool) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_i64<E>(self, value: i64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_u64<E>(self, value: u64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_f64<E>(self, value: f64) -> Result<String, E> {
        Ok(value.to_string())
    }
}

/// Substitute the variables in `text`.
pub(super) fn interpolate(text: &str, variables: &Variables) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = closing_brace(inner)
                .ok_or_else(|| format!("`{text}` has a `${{` without its `}}`"))?;
            out.push_str(&expand(&inner[..end], variables)?);
            rest = &inner[end + 1..];
        } else {
            // A name starts with a letter or `_`; `$5` is text.
            let starts_name = after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
            let length = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if starts_name {
                out.push_str(variables.get(&after[..length]).map_or("", String::as_str));
                rest = &after[length..];
            } else {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` closing a `${` whose content starts `inner`.
fn closing_brace(inner: &str) -> Option<usize> {
    let mut depth = 0;
    for (index, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// One `${...}`: a name, then maybe an operator and its word.
fn expand(expression: &str, variables: &Variables) -> Result<String, String> {
    let name_length = expression
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expression.len());
    let (name, operator) = expression.split_at(name_length);
    if name.is_empty() {
        return Err(format!("`${{{expression}}}` names no variable"));
    }
    let value = variables.get(name);
    let set_and_not_empty = value.is_some_and(|value| !value.is_empty());
    let word = |prefix: &str| {
        operator
            .strip_prefix(prefix)
            .map(|word| interpolate(word, variables))
            .transpose()
    };
    let current = || value.cloned().unwrap_or_default();
    if operator.is_empty() {
        return Ok(current());
    }
    if let Some(default) = word(":-")? {
        return Ok(if set_and_not_empty {
            current()
        } else {
            default
        });
    }
    if let Some(message) = word(":?")? {
        return if set_and_not_empty {
            Ok(current())
        } else {
            Err(required(name, &message))
        };
    }
    if let Some(other) = word(":+")? {
        return Ok(if set_and_not_empty {
            other
        } else {
            String::new()
        });
    }
    if let Some(default) = word("-")? {
        return Ok(value.cloned().unwrap_or(default));
    }
    if let Some(message) = word("?")? {
        return value.cloned().ok_or_else(|| required(name, &message));
    }
    if let Some(other) = word("+")? {
        return Ok(if value.is_some() {
            other
        } else {
            String::new()
        });
    }
    Err(format!(
        "`${{{expression}}}`: unknown operator after `{name}`"
    ))
}

fn required(name: &str, message: &str) -> String {
    if message.is_empty() {
        format!("the variable `{name}` is required but not set")
    } else {
        format!("the variable `{name}` is required: {message}")
    }
}

/// The process environment over the variables of `dir/.env` (`NAME=value` lines, `#`
/// comments, optional `export `, single or double quotes around the value).
pub(super) fn project_variables(dir: &Path) -> Result<Variables, crate::error::IoError> {
    let path = dir.join(".env");
    let mut variables = Variables::new();
    if path.is_file() {
        let text = fs_err::read_to_string(&path)
            .map_err(|source| crate::error::IoError::new("read", &path, source))?;
        variables.extend(parse_dotenv(&text));
    }
    variables.extend(std::env::vars());
    Ok(variables)
}

fn parse_dotenv(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.lines().filter_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (name, value) = line.split_once('=')?;
        let value = value.trim();
        let unquoted = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(open, close)| value.strip_prefix(*open)?.strip_suffix(*close))
            // Unquoted: a ` #` starts a comment.
            .unwrap_or_else(|| value.split(" #").next().unwrap_or("").trim_end());
        Some((name.trim().to_string(), unquoted.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        [("A", "1"), ("EMPTY", ""), ("PORT", "6006")]
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn substitutions() {
        let cases = [
            ("$A-${A}", "1-1"),
            ("${MISSING}x", "x"),
            ("${EMPTY:-d}|${EMPTY-d}|${MISSING-d}", "d||d"),
            ("${MISSING:-${PORT}}", "6006"),
            ("${A:+yes}${MISSING:+no}${EMPTY+set}", "yesset"),
            ("$$A costs $5 and $", "$A costs $5 and $"),
        ];
        for (text, expected) in cases {
            assert_eq!(interpolate(text, &vars()).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn errors() {
        let errors: Vec<String> = ["${MISSING:?set it in .env}", "${MISSING?}", "${A", "${A#x}"]
            .iter()
            .map(|text| interpolate(text, &vars()).unwrap_err())
            .collect();
        insta::assert_snapshot!(errors.join("\n"), @r"
        the variable `MISSING` is required: set it in .env
        the variable `MISSING` is required but not set
        `${A` has a `${` without its `}`
        `${A#x}`: unknown operator after `A`
        ");
    }

    #[test]
    fn dotenv() {
        let parsed: Vec<(String, String)> =
            parse_dotenv("# c\nexport A=1\nB=\"two words\"\nC='x'\nD=plain # note\n\n").collect();
        assert_eq!(
            parsed,
            [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "plain")]
                .map(|(name, value)| (name.to_string(), value.to_string()))
        );
    }
}
