//! Resolving a path inside a root the way `chroot` would, one component at a time, with
//! symlinks followed by mlpack's code rather than the kernel's: what [`Root`](super::Root)
//! (a directory on disk), [`MergedView`](super::MergedView) (layers on disk) and the image
//! inspector (a map of paths) share. Each looks a component up in its own way; the walk
//! keeps what is left to resolve. A symlink's target is spliced in front of the rest, an
//! absolute one starting again at the root (the caller clears what it resolved so far).

use std::collections::VecDeque;

/// As Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// The components left to resolve, each marked with whether the path itself names it (rather
/// than a symlink's target met on the way).
#[derive(Debug)]
pub(crate) struct PathWalk {
    pending: VecDeque<(String, bool)>,
    symlinks: usize,
}

/// What a component asks of the caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// `..`: go up one level (refused or clamped at the root, as the caller decides).
    Up,
    /// A name to look up. `named` says whether the path itself names it, `last` whether it
    /// is the path's own last component.
    Name {
        name: String,
        named: bool,
        last: bool,
    },
}

/// Why a walk stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WalkError {
    TooManySymlinks,
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("too many levels of symlinks on its path")
    }
}

impl PathWalk {
    /// A walk of `components` (relative to the root; `.`, `..` and empty ones allowed).
    pub(crate) fn new<S: AsRef<str>>(components: impl IntoIterator<Item = S>) -> Self {
        Self {
            pending: components
                .into_iter()
                .map(|component| (component.as_ref().to_string(), true))
                .collect(),
            symlinks: 0,
        }
    }

    /// The next step, skipping empty and `.` components; `None` when the walk is done.
    pub(crate) fn next_step(&mut self) -> Option<Step> {
        while let Some((component, named)) = self.pending.pop_front() {
            match component.as_str() {
                "" | "." => {}
                ".." => return Some(Step::Up),
                _ => {
                    let last = named && self.pending.iter().all(|(_, named)| !named);
                    return Some(Step::Name {
                        name: component,
                        named,
                        last,
                    });
                }
            }
        }
        None
    }

    /// Resolve the rest of the path through a symlink's `target`: its components come next.
    /// Returns whether it is absolute, in which case the caller starts again at the root.
    pub(crate) fn follow(&mut self, target: &str) -> Result<bool, WalkError> {
        self.symlinks += 1;
        if self.symlinks > MAX_SYMLINKS {
            return Err(WalkError::TooManySymlinks);
        }
        for part in target.split('/').rev() {
            self.pending.push_front((part.to_string(), false));
        }
        Ok(target.starts_with('/'))
    }

    /// Whether components are left.
    pub(crate) fn is_done(&self) -> bool {
        self.pending
            .iter()
            .all(|(component, _)| matches!(component.as_str(), "" | "."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(name: &str, named: bool, last: bool) -> Step {
        Step::Name {
            name: name.to_string(),
            named,
            last,
        }
    }

    #[test]
    fn symlink_targets_come_before_the_rest() {
        let mut walk = PathWalk::new(["usr", "bin", ".", "tool"]);
        assert_eq!(walk.next_step(), Some(name("usr", true, false)));
        assert_eq!(walk.next_step(), Some(name("bin", true, false)));
        // `bin` was a symlink to `../lib`.
        assert_eq!(walk.follow("../lib"), Ok(false));
        assert_eq!(walk.next_step(), Some(Step::Up));
        assert_eq!(walk.next_step(), Some(name("lib", false, false)));
        assert!(!walk.is_done());
        assert_eq!(walk.next_step(), Some(name("tool", true, true)));
        assert!(walk.is_done());
        assert_eq!(walk.next_step(), None);
        assert_eq!(walk.follow("/abs"), Ok(true));
        for _ in 0..MAX_SYMLINKS - 2 {
            walk.follow("x").unwrap();
        }
        assert_eq!(walk.follow("x"), Err(WalkError::TooManySymlinks));
    }
}
