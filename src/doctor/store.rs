//! The store's integrity ([`Store::verify`]): corrupt and unreadable blobs fail the check,
//! since `run` or `push` would stop on them; blobs an image names but the store lacks only
//! warn, since the rest of the store is sound and the image may still run from its unpacked
//! layers. `--repair` ([`Store::repair`]) deletes the corrupt blobs, which turns their images
//! into the "missing" case, fixed by pulling or building them again. Temp trees that killed
//! processes left ([`oci::temp`](crate::oci::TempTree)) warn; `--repair` removes them.

use std::collections::BTreeSet;

use super::{Check, Status, gib};
use crate::error::Diagnostic;
use crate::oci::{self, BlobProblem, Leftover, OciError, ProblemKind, Store, StoreCheck};
use crate::runtime::LayerCache;

const NAME: &str = "store";

pub(super) fn check(repair: bool) -> Check {
    let root = match oci::default_root() {
        Ok(root) => root,
        Err(error) => {
            return Check::fail(
                NAME,
                error.to_string(),
                error.hints().into_iter().next().unwrap_or_default(),
            );
        }
    };
    // Opening would create an empty store; a doctor only looks.
    if !root.join("index.json").is_file() {
        return Check::ok(NAME, format!("no store yet at `{}`", root.display()));
    }
    let result = Store::inspect(&root).and_then(|store| {
        let check = if repair {
            store.repair()?
        } else {
            store.verify()?
        };
        Ok((check, leftovers(&store, repair)?))
    });
    match result {
        Ok((check, leftovers)) => with_leftovers(
            assess(&check, &root.display().to_string()),
            &leftovers,
            repair,
        ),
        Err(error) => Check::fail(
            NAME,
            format!("could not check the store `{}`: {error}", root.display()),
            error.hints().into_iter().next().unwrap_or_else(|| {
                "check the store's permissions, or point `MLPACK_HOME` at another directory"
                    .to_string()
            }),
        ),
    }
}

/// The temp trees killed processes left in `tmp/` and `layers/`: listed, or removed and
/// listed with `repair`.
fn leftovers(store: &Store, repair: bool) -> Result<Vec<Leftover>, OciError> {
    let layers = LayerCache::for_store(store).leftovers(repair)?;
    Ok([store.leftovers(repair)?, layers].concat())
}

/// `check` with the leftover temp trees added: a warning while they are there, a note once
/// `--repair` removed them.
fn with_leftovers(mut check: Check, leftovers: &[Leftover], removed: bool) -> Check {
    if leftovers.is_empty() {
        return check;
    }
    let bytes = leftovers.iter().map(|leftover| leftover.bytes).sum();
    let what = format!(
        "{} ({}) left by killed mlpack processes",
        plural(leftovers.len(), "temp tree"),
        gib(bytes)
    );
    let verb = if removed { "removed " } else { "" };
    check.summary = format!("{}; {verb}{what}", check.summary);
    check.details.extend(leftovers.iter().map(|leftover| {
        format!(
            "{verb}`{}` ({})",
            leftover.path.display(),
            gib(leftover.bytes)
        )
    }));
    if !removed && check.status == Status::Ok {
        check.status = Status::Warn;
        check.hint = Some(
            "`mlpack doctor --repair` or `mlpack prune` removes them (any mlpack command removes those in `tmp/`)"
                .to_string(),
        );
    }
    check
}

/// The check's status, summary and hint from what verification found.
fn assess(check: &StoreCheck, root: &str) -> Check {
    let checked = format!(
        "{} ({}) of {} checked in `{root}`",
        plural(check.blobs_checked, "blob"),
        gib(check.bytes_checked),
        plural(check.images, "image")
    );
    if check.problems.is_empty() {
        return Check::ok(NAME, checked);
    }
    let count = |wanted: fn(&BlobProblem) -> bool| {
        check
            .problems
            .iter()
            .filter(|problem| wanted(problem))
            .count()
    };
    let removed = count(|p| p.removed);
    let corrupt = count(|p| !p.removed && matches!(p.kind, ProblemKind::Corrupt { .. }));
    let unreadable = count(|p| matches!(p.kind, ProblemKind::Unreadable { .. }));
    let invalid = count(|p| matches!(p.kind, ProblemKind::Invalid { .. }));
    let missing = count(|p| matches!(p.kind, ProblemKind::Missing));
    let found: Vec<String> = [
        (removed, "deleted ", "corrupt blob"),
        (corrupt, "", "corrupt blob"),
        (unreadable, "", "unreadable blob"),
        (invalid, "", "invalid manifest"),
        (missing, "", "missing blob"),
    ]
    .into_iter()
    .filter(|(count, _, _)| *count > 0)
    .map(|(count, verb, noun)| format!("{verb}{}", plural(count, noun)))
    .collect();
    let summary = format!("{}; {checked}", found.join(", "));
    let details = check.problems.iter().map(describe).collect();
    let rebuild = rebuild_hint(&affected_images(check));
    let (fail, hint) = if corrupt > 0 {
        let then = rebuild.map_or_else(String::new, |rebuild| format!(", then {rebuild}"));
        let hint = format!(
            "run `mlpack doctor --repair` to delete the corrupt blobs{then}; if this happens again, check the disk"
        );
        (true, hint)
    } else if unreadable > 0 {
        let hint =
            "give this user read access to the store's blobs, or run as the user who owns them";
        (true, hint.to_string())
    } else if let Some(rebuild) = rebuild {
        // Invalid manifests fail (nothing can read those images); missing blobs only warn.
        (invalid > 0, rebuild)
    } else {
        // Only deleted blobs that no image used: nothing is left to do.
        return Check::ok(NAME, summary).details(details);
    };
    if fail {
        Check::fail(NAME, summary, hint).details(details)
    } else {
        Check::warn(NAME, summary, hint).details(details)
    }
}

/// What to do about images that lost blobs; `None` when no image uses the damaged ones.
fn rebuild_hint(images: &[String]) -> Option<String> {
    if images.is_empty() {
        return None;
    }
    Some(format!(
        "pull or build {} again (`mlpack pull REF`, `mlpack build`), or remove {} with `mlpack rmi`",
        images.join(", "),
        if images.len() == 1 { "it" } else { "them" }
    ))
}

/// The images that use a damaged or missing blob, quoted, sorted.
fn affected_images(check: &StoreCheck) -> Vec<String> {
    let images: BTreeSet<&String> = check
        .problems
        .iter()
        .flat_map(|problem| &problem.images)
        .collect();
    images
        .into_iter()
        .map(|image| format!("`{image}`"))
        .collect()
}

/// One line per problem: what, which blob, and who uses it.
fn describe(problem: &BlobProblem) -> String {
    let what = match &problem.kind {
        ProblemKind::Corrupt { actual } if problem.removed => {
            format!(
                "deleted corrupt blob `{}` (it hashed to `{actual}`)",
                problem.digest
            )
        }
        ProblemKind::Corrupt { actual } => format!(
            "corrupt blob `{}`: hashes to `{actual}` (`{}`)",
            problem.digest,
            problem.path.display()
        ),
        ProblemKind::Unreadable { message } => {
            format!("unreadable blob `{}`: {message}", problem.digest)
        }
        ProblemKind::Invalid { message } => format!("invalid blob `{}`: {message}", problem.digest),
        ProblemKind::Missing => format!("missing blob `{}`", problem.digest),
    };
    if problem.images.is_empty() {
        format!("{what}; no image uses it")
    } else {
        let images: Vec<String> = problem
            .images
            .iter()
            .map(|image| format!("`{image}`"))
            .collect();
        format!("{what}; used by {}", images.join(", "))
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::oci::Digest;

    fn problem(kind: ProblemKind, removed: bool) -> BlobProblem {
        let digest = Digest::of(b"layer");
        BlobProblem {
            path: PathBuf::from(format!("/store/blobs/sha256/{}", digest.hex())),
            digest,
            kind,
            images: BTreeSet::from(["tiny:1".to_string()]),
            removed,
        }
    }

    fn check_with(problems: Vec<BlobProblem>) -> Check {
        let check = StoreCheck {
            blobs_checked: 3,
            bytes_checked: 2048,
            images: 1,
            problems,
        };
        assess(&check, "/store")
    }

    #[test]
    fn intact_store_is_ok() {
        let check = check_with(Vec::new());
        assert_eq!(check.status, Status::Ok);
        assert_eq!(
            check.summary,
            "3 blobs (2.0 KiB) of 1 image checked in `/store`"
        );
    }

    #[test]
    fn corrupt_fails_repaired_and_missing_warn() {
        let corrupt = ProblemKind::Corrupt {
            actual: Digest::of(b"x"),
        };
        let check = check_with(vec![problem(corrupt.clone(), false)]);
        assert_eq!(check.status, Status::Fail);
        assert!(
            check.summary.starts_with("1 corrupt blob; "),
            "{}",
            check.summary
        );
        insta::assert_snapshot!(check.hint.unwrap(), @"run `mlpack doctor --repair` to delete the corrupt blobs, then pull or build `tiny:1` again (`mlpack pull REF`, `mlpack build`), or remove it with `mlpack rmi`; if this happens again, check the disk");

        let repaired = check_with(vec![problem(corrupt, true)]);
        assert_eq!(repaired.status, Status::Warn);
        assert!(
            repaired.summary.starts_with("deleted 1 corrupt blob; "),
            "{}",
            repaired.summary
        );
        assert!(repaired.details[0].starts_with("deleted corrupt blob `sha256:"));

        let mut unused = problem(
            ProblemKind::Corrupt {
                actual: Digest::of(b"x"),
            },
            true,
        );
        unused.images.clear();
        assert_eq!(check_with(vec![unused]).status, Status::Ok);

        let missing = check_with(vec![problem(ProblemKind::Missing, false)]);
        assert_eq!(missing.status, Status::Warn);
        assert!(
            missing.details[0].ends_with("; used by `tiny:1`"),
            "{:?}",
            missing.details
        );
    }

    #[test]
    fn temp_trees_of_killed_processes_warn_until_removed() {
        let leftovers = [Leftover {
            path: PathBuf::from("/store/tmp/build-abc"),
            bytes: 3 << 20,
        }];
        let check = with_leftovers(check_with(Vec::new()), &leftovers, false);
        assert_eq!(check.status, Status::Warn);
        insta::assert_snapshot!(check.summary, @"3 blobs (2.0 KiB) of 1 image checked in `/store`; 1 temp tree (3.0 MiB) left by killed mlpack processes");
        assert_eq!(check.details, ["`/store/tmp/build-abc` (3.0 MiB)"]);
        insta::assert_snapshot!(check.hint.unwrap(), @"`mlpack doctor --repair` or `mlpack prune` removes them (any mlpack command removes those in `tmp/`)");

        let repaired = with_leftovers(check_with(Vec::new()), &leftovers, true);
        assert_eq!(repaired.status, Status::Ok);
        assert!(
            repaired
                .summary
                .ends_with("; removed 1 temp tree (3.0 MiB) left by killed mlpack processes")
        );
    }
}
