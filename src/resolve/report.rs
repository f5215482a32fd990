//! Conflict explanations in plain words, naming the import or manifest line behind each root
//! requirement (`the import of sklearn at train.py:3 requires scikit-learn >=1.5`), and
//! writing "every version but one" the way people say it.
//!
//! The sentence structure is PubGrub's derivation walk; only how terms and external facts are
//! worded is mlpack's.

use pep440_rs::Version;
use pubgrub::{Derived, External, Map, Ranges, ReportFormatter, Term};

use super::RootRequirement;
use super::package::ResolvePackage;

type Incompatibility = External<ResolvePackage, Ranges<Version>, String>;

pub(crate) struct Formatter<'a> {
    pub(crate) roots: &'a [RootRequirement],
}

fn name(package: &ResolvePackage) -> String {
    match package {
        ResolvePackage::Root => "the project".to_string(),
        ResolvePackage::Package { .. } => format!("`{package}`"),
    }
}

fn term(package: &ResolvePackage, range: &Ranges<Version>) -> String {
    match package {
        ResolvePackage::Package { .. } if *range != Ranges::full() => {
            format!("{} {range}", name(package))
        }
        _ => name(package),
    }
}

impl Formatter<'_> {
    /// Where the project asks for `package`: "`alpha>=1` at mlpack.toml:4".
    fn origins(&self, package: &ResolvePackage) -> String {
        let ResolvePackage::Package { name, .. } = package else {
            return name(package);
        };
        let origins: Vec<&str> = self
            .roots
            .iter()
            .filter(|root| root.requirement.name == *name)
            .map(|root| root.origin.as_str())
            .collect();
        if origins.is_empty() {
            "the project".to_string()
        } else {
            origins.join(" and ")
        }
    }
}

impl ReportFormatter<ResolvePackage, Ranges<Version>, String> for Formatter<'_> {
    type Output = String;

    fn format_external(&self, external: &Incompatibility) -> String {
        match external {
            External::NotRoot(..) => "mlpack is locking the project".to_string(),
            External::NoVersions(package, range) => {
                if *range == Ranges::full() {
                    format!("no version of {} can be used", name(package))
                } else if let Some(only) = range.complement().as_singleton() {
                    format!("{} {only} is the only usable version", name(package))
                } else {
                    format!("no usable version of {} matches {range}", name(package))
                }
            }
            External::Custom(package, range, reason) => {
                format!("{} cannot be used {reason}", term(package, range))
            }
            External::FromDependencyOf(package, range, dependency, dependency_range) => {
                match package {
                    ResolvePackage::Root => format!(
                        "{} requires {}",
                        self.origins(dependency),
                        term(dependency, dependency_range)
                    ),
                    ResolvePackage::Package { .. } => format!(
                        "{} depends on {}",
                        term(package, range),
                        term(dependency, dependency_range)
                    ),
                }
            }
        }
    }

    fn format_terms(&self, terms: &Map<ResolvePackage, Term<Ranges<Version>>>) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] => "the requirements cannot all be met".to_string(),
            [(ResolvePackage::Root, Term::Positive(_))] => {
                "the project's requirements cannot all be met".to_string()
            }
            [(package, Term::Positive(range))] => {
                format!("{} cannot be used", term(package, range))
            }
            [(package, Term::Negative(range))] => {
                format!("{} is required", term(package, range))
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => self.format_external(
                &External::FromDependencyOf((*p1).clone(), r1.clone(), (*p2).clone(), r2.clone()),
            ),
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .map(|(package, polarity)| match polarity {
                        Term::Positive(range) => term(package, range),
                        Term::Negative(range) => format!("not {}", term(package, range)),
                    })
                    .collect();
                format!("{} are incompatible", parts.join(", "))
            }
        }
    }

    fn explain_both_external(
        &self,
        first: &Incompatibility,
        second: &Incompatibility,
        current: &Map<ResolvePackage, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(first),
            self.format_external(second),
            self.format_terms(current)
        )
    }

    fn explain_both_ref(
        &self,
        first_id: usize,
        first: &Derived<ResolvePackage, Ranges<Version>, String>,
        second_id: usize,
        second: &Derived<ResolvePackage, Ranges<Version>, String>,
        current: &Map<ResolvePackage, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} ({first_id}) and {} ({second_id}), {}.",
            self.format_terms(&first.terms),
            self.format_terms(&second.terms),
            self.format_terms(current)
        )
    }

    fn explain_ref_and_external(
        &self,
        id: usize,
        derived: &Derived<ResolvePackage, Ranges<Version>, String>,
        external: &Incompatibility,
        current: &Map<ResolvePackage, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} ({id}) and {}, {}.",
            self.format_terms(&derived.terms),
            self.format_external(external),
            self.format_terms(current)
        )
    }

    fn and_explain_external(
        &self,
        external: &Incompatibility,
        current: &Map<ResolvePackage, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(external),
            self.format_terms(current)
        )
    }

    fn and_explain_ref(
        &self,
        id: usize,
        derived: &Derived<ResolvePackage, Ranges<Version>, String>,
        current: &Map<ResolvePackage, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {} ({id}), {}.",
            self.format_terms(&derived.terms),
            self.format_terms(current)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior: &Incompatibility,
        external: &Incompatibility,
        current: &Map<ResolvePackage, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior),
            self.format_external(external),
            self.format_terms(current)
        )
    }
}

/// Two packages that need disjoint versions of one NVIDIA library: the conflict told in the
/// terms that matter to an ML project (one image holds one cuDNN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LibraryClash {
    /// `cuDNN`.
    pub(crate) library: &'static str,
    /// The distribution holding it, `nvidia-cudnn-cu12`.
    pub(crate) distribution: String,
    /// Who needs which versions, in the order the tree gives them.
    pub(crate) needs: Vec<(String, String)>,
    /// The projects behind them, `torch` and `tensorflow`, for the hint.
    pub(crate) projects: Vec<String>,
}

impl LibraryClash {
    pub(crate) fn explain(&self) -> String {
        let needs: Vec<String> = self
            .needs
            .iter()
            .map(|(dependent, range)| format!("{dependent} needs {range}"))
            .collect();
        format!(
            "{} need different builds of {} (`{}`): {}. An image holds one build of each NVIDIA library, so the frameworks in it must be built against the same CUDA libraries.",
            self.dependents().join(" and "),
            self.library,
            self.distribution,
            needs.join("; ")
        )
    }

    fn dependents(&self) -> Vec<String> {
        self.needs
            .iter()
            .map(|(dependent, _)| dependent.clone())
            .collect()
    }
}

/// By NVIDIA distribution: each dependent, its versions, and the versions it needs.
type LibraryNeeds =
    std::collections::BTreeMap<String, Vec<(ResolvePackage, Ranges<Version>, Ranges<Version>)>>;

/// The NVIDIA libraries that two packages in the derivation need in versions that share
/// nothing, one clash per library.
pub(crate) fn library_clashes(
    tree: &pubgrub::DerivationTree<ResolvePackage, Ranges<Version>, String>,
) -> Vec<LibraryClash> {
    let mut needs = LibraryNeeds::new();
    collect_library_needs(tree, &mut needs);
    let mut clashes = Vec::new();
    for (distribution, edges) in needs {
        let Some(library) = crate::hardware::library_name(&distribution) else {
            continue;
        };
        let disjoint = edges.iter().enumerate().find_map(|(index, first)| {
            edges[index + 1..]
                .iter()
                .find(|second| {
                    base_name(&first.0) != base_name(&second.0)
                        && first.2.intersection(&second.2) == Ranges::empty()
                })
                .map(|second| [first, second])
        });
        if let Some(pair) = disjoint {
            clashes.push(LibraryClash {
                library,
                distribution,
                needs: pair
                    .iter()
                    .map(|(package, range, needed)| (term(package, range), needed.to_string()))
                    .collect(),
                projects: pair
                    .iter()
                    .filter_map(|(package, _, _)| base_name(package))
                    .map(|name| format!("`{name}`"))
                    .collect(),
            });
        }
    }
    clashes
}

fn collect_library_needs(
    tree: &pubgrub::DerivationTree<ResolvePackage, Ranges<Version>, String>,
    needs: &mut LibraryNeeds,
) {
    match tree {
        pubgrub::DerivationTree::External(External::FromDependencyOf(
            package @ ResolvePackage::Package { .. },
            range,
            ResolvePackage::Package { name, .. },
            needed,
        )) if crate::hardware::library_name(name.as_ref()).is_some() => {
            needs.entry(name.to_string()).or_default().push((
                package.clone(),
                range.clone(),
                needed.clone(),
            ));
        }
        pubgrub::DerivationTree::External(_) => {}
        pubgrub::DerivationTree::Derived(derived) => {
            collect_library_needs(&derived.cause1, needs);
            collect_library_needs(&derived.cause2, needs);
        }
    }
}

fn base_name(package: &ResolvePackage) -> Option<&pep508_rs::PackageName> {
    match package {
        ResolvePackage::Package { name, .. } => Some(name),
        ResolvePackage::Root => None,
    }
}
