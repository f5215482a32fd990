//! Relationship fields (`Depends`, `Pre-Depends`, `Provides`), as [Debian Policy §7.1] writes
//! them: `a (>= 1.0), b | c:any, d [amd64] <!nocheck>`. Groups are separated by commas and
//! alternatives by `|`; architecture qualifiers (`:any`, `:native`, `:amd64`) are dropped, since
//! one index holds one architecture (plus `all`), and the architecture and build-profile
//! restrictions of source packages are ignored.
//!
//! [Debian Policy §7.1]: https://www.debian.org/doc/debian-policy/ch-relationships.html#syntax-of-relationship-fields

use std::fmt;

use super::version::DebianVersion;

/// A version comparison in a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

impl Operator {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "<<" => Self::Less,
            // `<` and `>` are obsolete spellings of `<=` and `>=` (Policy §7.1).
            "<=" | "<" => Self::LessOrEqual,
            "=" => Self::Equal,
            ">=" | ">" => Self::GreaterOrEqual,
            ">>" => Self::Greater,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Less => "<<",
            Self::LessOrEqual => "<=",
            Self::Equal => "=",
            Self::GreaterOrEqual => ">=",
            Self::Greater => ">>",
        }
    }
}

/// One alternative: a package name with an optional version constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) name: String,
    pub(crate) constraint: Option<(Operator, DebianVersion)>,
}

impl Relation {
    /// Whether `version` satisfies the constraint (always, when there is none).
    pub(crate) fn allows(&self, version: &DebianVersion) -> bool {
        let Some((operator, wanted)) = &self.constraint else {
            return true;
        };
        let ordering = version.cmp(wanted);
        match operator {
            Operator::Less => ordering.is_lt(),
            Operator::LessOrEqual => ordering.is_le(),
            Operator::Equal => ordering.is_eq(),
            Operator::GreaterOrEqual => ordering.is_ge(),
            Operator::Greater => ordering.is_gt(),
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some((operator, version)) = &self.constraint {
            write!(f, " ({} {version})", operator.as_str())?;
        }
        Ok(())
    }
}

/// A comma-separated group: satisfied by any one of its alternatives.
pub(crate) type Group = Vec<Relation>;

/// Shows a group the way a control file writes it: `a (>= 1) | b`.
pub(crate) fn group_text(group: &[Relation]) -> String {
    group
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Parses a `Depends`-style field into groups of alternatives.
pub(crate) fn parse_relations(field: &str) -> Result<Vec<Group>, String> {
    let mut groups = Vec::new();
    for group in field.split(',') {
        if group.trim().is_empty() {
            // Policy forbids empty groups, but trailing commas occur and harm nothing.
            continue;
        }
        let alternatives = group
            .split('|')
            .map(parse_relation)
            .collect::<Result<Group, String>>()?;
        groups.push(alternatives);
    }
    Ok(groups)
}

/// Parses `Provides`: each entry is a name, optionally with `(= version)`.
pub(crate) fn parse_provides(field: &str) -> Result<Vec<Relation>, String> {
    let groups = parse_relations(field)?;
    let mut provided = Vec::new();
    for group in groups {
        if group.len() != 1 {
            return Err(format!(
                "`{}` uses `|`, which `Provides` does not allow",
                group_text(&group)
            ));
        }
        provided.extend(group);
    }
    for relation in &provided {
        if let Some((operator, _)) = relation.constraint
            && operator != Operator::Equal
        {
            return Err(format!("`{relation}`: `Provides` only allows `=`"));
        }
    }
    Ok(provided)
}

fn parse_relation(text: &str) -> Result<Relation, String> {
    let text = text.trim();
    // Drop build-profile (`<…>`) and architecture (`[…]`) restrictions, which come after any
    // version constraint.
    let restrictions = text
        .char_indices()
        .scan(false, |in_parentheses, (at, c)| {
            match c {
                '(' => *in_parentheses = true,
                ')' => *in_parentheses = false,
                _ => {}
            }
            Some((at, c, *in_parentheses))
        })
        .find(|&(_, c, in_parentheses)| !in_parentheses && (c == '<' || c == '['))
        .map_or(text.len(), |(at, _, _)| at);
    let text = text[..restrictions].trim();
    let (name_part, constraint) = match text.split_once('(') {
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("`{text}` has an unclosed `(`"))?
                .trim();
            let split = inner
                .find(|c: char| !matches!(c, '<' | '>' | '='))
                .unwrap_or(inner.len());
            let (operator, version) = inner.split_at(split);
            let operator = Operator::parse(operator)
                .ok_or_else(|| format!("`{text}` has an unknown operator `{operator}`"))?;
            let version =
                DebianVersion::parse(version).map_err(|error| format!("in `{text}`: {error}"))?;
            (name, Some((operator, version)))
        }
        None => (text, None),
    };
    let name = name_part.trim();
    let name = name.split_once(':').map_or(name, |(name, _)| name);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
    {
        return Err(format!("`{text}` does not start with a valid package name"));
    }
    Ok(Relation {
        name: name.to_string(),
        constraint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends() {
        let groups = parse_relations(
            "libc6 (>= 2.34), python3.11:any (>= 3.11.2-1~), awk | mawk (<< 2) , debconf (>= 0.5) | debconf-2.0, foo [amd64] <!nocheck>,",
        )
        .unwrap();
        let text: Vec<_> = groups.iter().map(|group| group_text(group)).collect();
        assert_eq!(
            text,
            [
                "libc6 (>= 2.34)",
                "python3.11 (>= 3.11.2-1~)",
                "awk | mawk (<< 2)",
                "debconf (>= 0.5) | debconf-2.0",
                "foo"
            ]
        );
        let python = &groups[1][0];
        assert!(python.allows(&DebianVersion::parse("3.11.2-6+deb12u6").unwrap()));
        assert!(python.allows(&DebianVersion::parse("3.11.2-1~bpo1").unwrap()));
        assert!(!python.allows(&DebianVersion::parse("3.11.1-9").unwrap()));
    }

    #[test]
    fn obsolete_operators() {
        let groups = parse_relations("a (< 2), b (> 1)").unwrap();
        assert_eq!(
            groups[0][0].constraint.as_ref().unwrap().0,
            Operator::LessOrEqual
        );
        assert_eq!(
            groups[1][0].constraint.as_ref().unwrap().0,
            Operator::GreaterOrEqual
        );
    }

    #[test]
    fn provides() {
        let provided = parse_provides("awk, python3-foo (= 1.0)").unwrap();
        assert_eq!(provided.len(), 2);
        assert!(parse_provides("a | b").is_err());
        assert!(parse_provides("a (>= 1)").is_err());
    }

    #[test]
    fn invalid() {
        for text in ["a (>= 1", "a (~= 1)", "A", "(>= 1)", "a (>= )"] {
            assert!(parse_relations(text).is_err(), "{text}");
        }
    }
}
