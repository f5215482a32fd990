//! Archive entry names (tar paths, hard link targets, zip names) as untrusted input: the
//! components they name inside the tree they are unpacked into, or why they are refused.

/// Why an entry name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnsafePath {
    Absolute,
    /// A `..` component, which could climb out of the tree.
    ParentComponent,
    /// An empty or `.` component, which two tools could read differently (zip names only).
    EmptyOrDot,
    Nul,
}

impl UnsafePath {
    /// The reason, with `subject` (`it`, `` its hard link target `x` ``) naming the entry.
    pub(crate) fn reason(self, subject: &str) -> String {
        match self {
            Self::Absolute => format!("{subject} is an absolute path"),
            Self::ParentComponent => format!("{subject} has a `..` component"),
            Self::EmptyOrDot => format!("{subject} has an empty or `.` component"),
            Self::Nul => format!("{subject} holds a NUL byte"),
        }
    }
}

/// `path`'s components, less empty and `.` ones, with no `..` among them. Whether it is
/// absolute is the caller's business: a symlink target may be.
pub(crate) fn components(path: &str) -> Result<Vec<&str>, UnsafePath> {
    let mut components = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(UnsafePath::ParentComponent),
            _ => components.push(component),
        }
    }
    Ok(components)
}

/// A tar entry's path (or hard link target) as components below the tree's root: relative
/// after an optional leading `./`, and without `..`. No component means the root itself.
pub(crate) fn tar_entry(path: &str) -> Result<Vec<&str>, UnsafePath> {
    let relative = path.strip_prefix("./").unwrap_or(path);
    if relative.starts_with('/') {
        return Err(UnsafePath::Absolute);
    }
    components(relative)
}

/// A zip entry's name as components: relative, and without NUL bytes, `..`, `.` or empty
/// components, so that no two readers of the archive disagree on where it goes.
pub(crate) fn zip_entry(name: &str) -> Result<Vec<&str>, UnsafePath> {
    if name.starts_with('/') {
        return Err(UnsafePath::Absolute);
    }
    if name.contains('\0') {
        return Err(UnsafePath::Nul);
    }
    let components: Vec<&str> = name.split('/').collect();
    if components.contains(&"..") {
        return Err(UnsafePath::ParentComponent);
    }
    if components
        .iter()
        .any(|part| part.is_empty() || *part == ".")
    {
        return Err(UnsafePath::EmptyOrDot);
    }
    Ok(components)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_entries_are_relative_and_stay_below_the_root() {
        assert_eq!(
            tar_entry("./usr//bin/./tool"),
            Ok(vec!["usr", "bin", "tool"])
        );
        assert_eq!(tar_entry("./"), Ok(vec![]));
        assert_eq!(tar_entry("/etc/passwd"), Err(UnsafePath::Absolute));
        assert_eq!(tar_entry(".//etc"), Err(UnsafePath::Absolute));
        assert_eq!(tar_entry("a/../../b"), Err(UnsafePath::ParentComponent));
        assert_eq!(components("/usr/./lib/"), Ok(vec!["usr", "lib"]));
    }

    #[test]
    fn zip_entries_have_one_reading() {
        assert_eq!(zip_entry("pkg/mod.py"), Ok(vec!["pkg", "mod.py"]));
        assert_eq!(zip_entry("/abs.py"), Err(UnsafePath::Absolute));
        assert_eq!(zip_entry("a\0b"), Err(UnsafePath::Nul));
        assert_eq!(zip_entry("../evil.py"), Err(UnsafePath::ParentComponent));
        assert_eq!(zip_entry("./pkg/mod.py"), Err(UnsafePath::EmptyOrDot));
        assert_eq!(zip_entry("pkg//mod.py"), Err(UnsafePath::EmptyOrDot));
        assert_eq!(
            UnsafePath::ParentComponent.reason("it"),
            "it has a `..` component"
        );
    }
}
