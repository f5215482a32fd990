//! `update-alternatives --install` ([update-alternatives(1)]) done offline. Postinsts such as
//! `mawk`'s (`/usr/bin/awk`), `debianutils`' (`/usr/bin/which`) and `tar`'s (`/usr/sbin/rmt`)
//! create commands that way, so without it a base has no `awk` or `which`.
//!
//! The `--install` commands whose arguments are all literal (no `$VARIABLE`) are collected
//! from each postinst. Each alternative then gets what automatic mode would choose: the
//! choice with the highest priority whose file exists (ties go to the first package by name).
//! The links go through `/etc/alternatives/<name>` as usual, and
//! `/var/lib/dpkg/alternatives/<name>` records every choice, so a later `update-alternatives`
//! in the image sees the same state as after a real install.
//!
//! [update-alternatives(1)]: https://manpages.debian.org/bookworm/dpkg/update-alternatives.1.en.html

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::fs_tree::{Root, RootError};

/// One `update-alternatives --install` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Install {
    pub(crate) link: String,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) priority: i64,
    pub(crate) slaves: Vec<Slave>,
}

/// A `--slave <link> <name> <path>` of an [`Install`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slave {
    pub(crate) link: String,
    pub(crate) name: String,
    pub(crate) path: String,
}

/// The literal `update-alternatives --install` commands of a maintainer script.
pub(crate) fn parse_installs(script: &str) -> Vec<Install> {
    let joined = script.replace("\\\n", " ");
    let mut installs = Vec::new();
    for line in joined.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let tokens: Vec<&str> = line
            .split_whitespace()
            .map(|token| token.trim_matches(['"', '\'']))
            .collect();
        let mut rest = tokens.as_slice();
        while let Some(at) = rest.iter().position(|token| {
            *token == "update-alternatives" || token.ends_with("/update-alternatives")
        }) {
            rest = &rest[at + 1..];
            if let Some(install) = parse_install(rest) {
                installs.push(install);
            }
        }
    }
    installs
}

/// The arguments after `update-alternatives`, if they are a literal `--install`.
fn parse_install(arguments: &[&str]) -> Option<Install> {
    let arguments: Vec<&str> = arguments
        .iter()
        .copied()
        .skip_while(|argument| matches!(*argument, "--quiet" | "--force" | "--verbose"))
        .collect();
    let [install, link, name, path, priority, rest @ ..] = arguments.as_slice() else {
        return None;
    };
    if *install != "--install" {
        return None;
    }
    let literal = |value: &str| !value.contains(['$', '`', '(', ')', ';', '|', '&']);
    let valid_link = |value: &str| value.starts_with('/') && literal(value);
    let valid_name = |value: &str| !value.is_empty() && !value.contains('/') && literal(value);
    if !valid_link(link) || !valid_name(name) || !valid_link(path) {
        return None;
    }
    let priority = priority.parse().ok()?;
    let mut slaves = Vec::new();
    let mut rest = rest;
    while let ["--slave", link, name, path, tail @ ..] = rest {
        if !valid_link(link) || !valid_name(name) || !valid_link(path) {
            return None;
        }
        slaves.push(Slave {
            link: (*link).to_string(),
            name: (*name).to_string(),
            path: (*path).to_string(),
        });
        rest = tail;
    }
    Some(Install {
        link: (*link).to_string(),
        name: (*name).to_string(),
        path: (*path).to_string(),
        priority,
        slaves,
    })
}

/// Sets up every alternative of `installs` (in package order) in the root.
pub(crate) fn apply(root: &Root, installs: &[Install]) -> Result<(), RootError> {
    let mut by_name: BTreeMap<&str, Vec<&Install>> = BTreeMap::new();
    for install in installs {
        // update-alternatives refuses a choice whose file does not exist.
        if root.exists(install.path.trim_start_matches('/')) {
            by_name.entry(&install.name).or_default().push(install);
        }
    }
    for (name, choices) in by_name {
        let Some(best) = choices.iter().copied().reduce(|best, choice| {
            if choice.priority > best.priority {
                choice
            } else {
                best
            }
        }) else {
            continue;
        };
        link(root, &best.link, name, &best.path)?;
        for slave in &best.slaves {
            if root.exists(slave.path.trim_start_matches('/')) {
                link(root, &slave.link, &slave.name, &slave.path)?;
            }
        }
        root.write(
            &format!("var/lib/dpkg/alternatives/{name}"),
            administrative_file(best, &choices).as_bytes(),
            0o644,
        )?;
    }
    Ok(())
}

/// `link -> /etc/alternatives/<name> -> path`. A real file at `link` is left alone, as
/// update-alternatives leaves it.
fn link(root: &Root, link: &str, name: &str, path: &str) -> Result<(), RootError> {
    let alternative = format!("etc/alternatives/{name}");
    root.symlink(&alternative, path)?;
    let relative = link.trim_start_matches('/');
    let existing = root
        .entry(relative, false)
        .ok()
        .and_then(|real| fs_err::symlink_metadata(real).ok());
    if existing.is_none_or(|metadata| metadata.file_type().is_symlink()) {
        root.symlink(relative, &format!("/{alternative}"))?;
    }
    Ok(())
}

/// The file `update-alternatives` keeps per name: mode, master link, slave names and links,
/// a blank line, then each choice's path, priority and slave paths, and a final blank line.
fn administrative_file(best: &Install, choices: &[&Install]) -> String {
    let mut slaves: Vec<(&str, &str)> = Vec::new();
    for choice in choices {
        for slave in &choice.slaves {
            if !slaves.iter().any(|(name, _)| *name == slave.name) {
                slaves.push((&slave.name, &slave.link));
            }
        }
    }
    let mut text = format!("auto\n{}\n", best.link);
    for (name, link) in &slaves {
        let _ = write!(text, "{name}\n{link}\n");
    }
    text.push('\n');
    for choice in choices {
        let _ = write!(text, "{}\n{}\n", choice.path, choice.priority);
        for (name, _) in &slaves {
            let path = choice
                .slaves
                .iter()
                .find(|slave| slave.name == *name)
                .map_or("", |slave| slave.path.as_str());
            let _ = writeln!(text, "{path}");
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const MAWK: &str = r#"#!/bin/sh
set -e
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
        update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 \
            --slave /usr/share/man/man1/awk.1.gz awk.1.gz /usr/share/man/man1/mawk.1.gz \
            --slave /usr/bin/nawk nawk /usr/bin/mawk
fi
update-alternatives --install "$DPKG_ROOT/usr/bin/x" x /usr/bin/x 1
update-alternatives --remove awk /usr/bin/mawk
"#;

    #[test]
    fn parses_literal_installs() {
        let installs = parse_installs(MAWK);
        assert_eq!(installs.len(), 1);
        let awk = &installs[0];
        assert_eq!(
            (
                awk.link.as_str(),
                awk.name.as_str(),
                awk.path.as_str(),
                awk.priority
            ),
            ("/usr/bin/awk", "awk", "/usr/bin/mawk", 5)
        );
        assert_eq!(awk.slaves.len(), 2);
        assert_eq!(awk.slaves[1].link, "/usr/bin/nawk");
    }

    #[test]
    fn applies_the_highest_priority() {
        let directory = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(directory.path().join("usr/bin")).unwrap();
        fs_err::write(directory.path().join("usr/bin/mawk"), "").unwrap();
        fs_err::write(directory.path().join("usr/bin/gawk"), "").unwrap();
        let root = Root::open(directory.path()).unwrap();
        let mut installs = parse_installs(MAWK);
        installs.extend(parse_installs(
            "update-alternatives --install /usr/bin/awk awk /usr/bin/gawk 10\n\
             update-alternatives --install /usr/bin/awk awk /usr/bin/missing 99\n",
        ));
        apply(&root, &installs).unwrap();
        let read_link = |path: &str| fs_err::read_link(directory.path().join(path)).unwrap();
        assert_eq!(read_link("usr/bin/awk"), Path::new("/etc/alternatives/awk"));
        assert_eq!(
            read_link("etc/alternatives/awk"),
            Path::new("/usr/bin/gawk")
        );
        // gawk has no `nawk` slave, so mawk's is not set up; the man page is missing.
        assert!(!directory.path().join("usr/bin/nawk").exists());
        insta::assert_snapshot!(
            fs_err::read_to_string(directory.path().join("var/lib/dpkg/alternatives/awk")).unwrap(),
            @r"
        auto
        /usr/bin/awk
        awk.1.gz
        /usr/share/man/man1/awk.1.gz
        nawk
        /usr/bin/nawk

        /usr/bin/mawk
        5
        /usr/share/man/man1/mawk.1.gz
        /usr/bin/mawk
        /usr/bin/gawk
        10


        "
        );
    }
}
