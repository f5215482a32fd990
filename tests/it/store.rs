//! The store's lifecycle end to end: what `rmi` and `prune` keep for containers, and what
//! they free.

use crate::common::TestContext;
use crate::common::images::BUSYBOX;
use crate::run::{busybox_image, json, mlpack, ok};

/// `rmi` refuses the last name of an image a container uses, whatever the container's state;
/// `rmi -f` removes only the name, and `prune` keeps what the container needs to start again.
#[test]
fn rmi_and_prune_keep_what_a_container_needs() {
    let context = TestContext::new();
    busybox_image(&context);
    ok(&context, &["run", "--name", "keeper", BUSYBOX, "true"]);

    let (code, _, stderr) = mlpack(&context, &["rmi", BUSYBOX]);
    assert_eq!(code, 1, "{stderr}");
    let stderr = mask_ids(&stderr);
    insta::assert_snapshot!(stderr, @"
    error: image `busybox:test` is used by container `keeper` ([ID])

    hint: remove the container first (`mlpack rm keeper`), or remove only the name with `mlpack rmi -f busybox:test`: the container keeps its image until it is removed
    ");
    assert!(ok(&context, &["images"]).contains(BUSYBOX));

    // Another name for it: removing one of two names is always fine.
    ok(&context, &["tag", BUSYBOX, "busybox:other"]);
    ok(&context, &["rmi", BUSYBOX]);
    let (code, _, _) = mlpack(&context, &["rmi", "busybox:other"]);
    assert_eq!(code, 1);
    let (code, _, stderr) = mlpack(&context, &["rmi", "-f", "busybox:other"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("the image stays for `keeper`"), "{stderr}");

    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(pruned["blobs_removed"], 0, "{pruned}");
    let (code, stdout, stderr) = mlpack(&context, &["start", "-a", "keeper"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");

    // Once the container is gone, so is the image.
    ok(&context, &["rm", "keeper"]);
    let pruned = json(&ok(&context, &["--json", "prune"]));
    assert_eq!(pruned["blobs_removed"], 3, "{pruned}");
}

/// `text` with each 12-digit hex container ID replaced by `[ID]`.
fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('(') {
        out.push_str(&rest[..=start]);
        rest = &rest[start + 1..];
        let id_len = rest.chars().take_while(char::is_ascii_hexdigit).count();
        if id_len == 12 && rest[id_len..].starts_with(')') {
            out.push_str("[ID]");
            rest = &rest[id_len..];
        }
    }
    out.push_str(rest);
    out
}
