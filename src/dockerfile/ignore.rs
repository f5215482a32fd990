//! `.dockerignore` and `COPY` source globs, with Docker's rules
//! (<https://docs.docker.com/build/concepts/context/#dockerignore-files>,
//! `moby/patternmatcher`):
//!
//! 1. One pattern a line; `#` lines and blank lines are skipped; each pattern is cleaned as
//!    Go's `filepath.Clean` does and a leading `/` dropped, so `/a/./b/` is `a/b`.
//! 2. Within a path component `*` is any run of characters, `?` one character, `[a-z]` /
//!    `[^a-z]` a class, and `\` escapes; `**` as a whole component is any number of
//!    components (none included).
//! 3. A pattern that matches a directory excludes everything under it.
//! 4. `!pattern` re-includes what it matches; the last pattern that matches a path decides.

/// One compiled pattern.
#[derive(Debug, Clone)]
struct Pattern {
    components: Vec<String>,
    /// `!pattern`.
    include: bool,
}

/// A `.dockerignore`'s patterns, in order.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

impl IgnoreRules {
    /// The rules of a `.dockerignore`'s text.
    pub fn parse(text: &str) -> Self {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| {
                let (include, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let components = clean(pattern);
                (!components.is_empty()).then_some(Pattern {
                    components,
                    include,
                })
            })
            .collect();
        Self { patterns }
    }

    /// Whether the context path `path` (relative, `/`-separated) is left out of the context.
    pub fn excludes(&self, path: &str) -> bool {
        let components = clean(path);
        let mut excluded = false;
        for pattern in &self.patterns {
            if pattern.include == excluded && matches_or_parent(&pattern.components, &components) {
                excluded = !pattern.include;
            }
        }
        excluded
    }

    /// Whether some `!` pattern could re-include a path below the directory `dir`, so an
    /// excluded directory must still be walked.
    pub fn may_include_below(&self, dir: &str) -> bool {
        let prefix = clean(dir);
        self.patterns.iter().any(|pattern| {
            pattern.include
                && (pattern.components.iter().any(|part| part.contains("**"))
                    || prefix
                        .iter()
                        .zip(&pattern.components)
                        .all(|(part, glob)| component_matches(glob, part)))
        })
    }
}

/// `path` as cleaned components: no empty ones, no `.`, `..` applied, no leading `/`.
pub fn clean(path: &str) -> Vec<String> {
    let mut components: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                components.pop();
            }
            part => components.push(part.to_string()),
        }
    }
    components
}

/// Whether the glob components match the path or one of its parent directories (rule 3).
fn matches_or_parent(glob: &[String], path: &[String]) -> bool {
    (1..=path.len()).any(|length| path_matches(glob, &path[..length]))
}

/// Whether the glob components match the path components exactly (rule 2).
pub fn path_matches(glob: &[String], path: &[String]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| path_matches(rest, &path[skip..]))
        }
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(part, tail)| component_matches(first, part) && path_matches(rest, tail)),
    }
}

/// Whether a text has glob characters (a `COPY` source that names files by pattern).
pub fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Go's `filepath.Match` on one component (rule 2).
pub fn component_matches(glob: &str, name: &str) -> bool {
    let glob: Vec<char> = glob.chars().collect();
    let name: Vec<char> = name.chars().collect();
    match_from(&glob, &name)
}

fn match_from(glob: &[char], name: &[char]) -> bool {
    match glob.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|skip| match_from(rest, &name[skip..])),
        Some(('?', rest)) => !name.is_empty() && match_from(rest, &name[1..]),
        Some(('[', rest)) => {
            let Some((&first, tail)) = name.split_first() else {
                return false;
            };
            match class(rest, first) {
                Some((true, after)) => match_from(after, tail),
                _ => false,
            }
        }
        Some(('\\', rest)) if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && match_from(&rest[1..], &name[1..])
        }
        Some((ch, rest)) => name.first() == Some(ch) && match_from(rest, &name[1..]),
    }
}

/// A `[...]` class (after the `[`) against `ch`: whether it matched, and the glob after
/// the `]`; `None` for a class without its `]`.
fn class(glob: &[char], ch: char) -> Option<(bool, &[char])> {
    let (negated, mut rest) = match glob.split_first() {
        Some(('^' | '!', rest)) => (true, rest),
        _ => (false, glob),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let (&low, after) = rest.split_first()?;
        if low == ']' && !first {
            return Some((matched != negated, after));
        }
        first = false;
        let (low, after) = if low == '\\' {
            let (&escaped, after) = after.split_first()?;
            (escaped, after)
        } else {
            (low, after)
        };
        if let (Some('-'), Some(&high)) = (after.first(), after.get(1).filter(|high| **high != ']'))
        {
            matched |= (low..=high).contains(&ch);
            rest = &after[2..];
        } else {
            matched |= low == ch;
            rest = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_as_go_does() {
        assert!(component_matches("*.py", "a.py"));
        assert!(!component_matches("*.py", "a.pyc"));
        assert!(component_matches("a?c", "abc"));
        assert!(component_matches("[a-c]x", "bx"));
        assert!(!component_matches("[^a-c]x", "bx"));
        assert!(component_matches("\\*", "*"));
        assert!(!component_matches("[a-c", "a"));
    }

    #[test]
    fn dockerignore_rules() {
        let rules = IgnoreRules::parse(
            "# comment\n\n.git\n**/*.pyc\n/data/\n!data/keep.csv\n*.md\n!README.md\nbuild/*/out\n",
        );
        assert!(rules.excludes(".git"));
        assert!(rules.excludes(".git/config"));
        assert!(rules.excludes("a.pyc"));
        assert!(rules.excludes("src/pkg/a.pyc"));
        assert!(!rules.excludes("src/pkg/a.py"));
        assert!(rules.excludes("data/big.bin"));
        assert!(!rules.excludes("data/keep.csv"));
        assert!(rules.may_include_below("data"));
        assert!(!rules.may_include_below(".git"));
        assert!(rules.excludes("CHANGES.md"));
        assert!(!rules.excludes("README.md"));
        assert!(rules.excludes("build/x/out"));
        assert!(!rules.excludes("build/out"));
        assert!(!rules.excludes("docs/CHANGES.md"));
    }

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(clean("/a/./b//c/../d/"), ["a", "b", "d"]);
        assert!(clean(".").is_empty());
    }
}
