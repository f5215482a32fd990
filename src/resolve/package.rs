//! The solver's notion of a package: the project root, and distributions with an optional
//! extra (`torch[opt]` depends on `torch` at the same version).

use std::fmt;

use pep508_rs::{ExtraName, PackageName};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResolvePackage {
    Root,
    Package {
        name: PackageName,
        extra: Option<ExtraName>,
    },
}

impl ResolvePackage {
    pub(crate) fn package(name: PackageName, extra: Option<ExtraName>) -> Self {
        Self::Package { name, extra }
    }
}

impl fmt::Display for ResolvePackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("the project"),
            Self::Package { name, extra: None } => write!(f, "{name}"),
            Self::Package {
                name,
                extra: Some(extra),
            } => write!(f, "{name}[{extra}]"),
        }
    }
}
