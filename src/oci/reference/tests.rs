use super::*;
use crate::oci::registry::RegistryError;

type Parts<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// `(registry, repository, tag, digest)` of `input`, normalized.
fn parts(input: &str) -> (String, String, Option<String>, Option<String>) {
    let reference = input.parse::<ImageReference>().unwrap().normalized();
    (
        reference.registry().to_string(),
        reference.repository().into_owned(),
        reference.tag().map(str::to_string),
        reference.digest().map(ToString::to_string),
    )
}

#[test]
fn parses_and_normalizes_references() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let table: &[(&str, Parts<'_>)] = &[
        (
            "localhost:5000/iris:latest",
            ("localhost:5000", "iris", Some("latest"), None),
        ),
        (
            "localhost/iris",
            ("localhost", "iris", Some("latest"), None),
        ),
        (
            "python:3.11-slim",
            ("docker.io", "library/python", Some("3.11-slim"), None),
        ),
        (
            "python",
            ("docker.io", "library/python", Some("latest"), None),
        ),
        (
            "someone/tool:v1",
            ("docker.io", "someone/tool", Some("v1"), None),
        ),
        (
            "docker.io/python",
            ("docker.io", "library/python", Some("latest"), None),
        ),
        (
            "index.docker.io/library/python:3",
            ("docker.io", "library/python", Some("3"), None),
        ),
        ("ghcr.io/org/x", ("ghcr.io", "org/x", Some("latest"), None)),
        (
            "registry.example.com:443/a/b/c:1.0",
            ("registry.example.com:443", "a/b/c", Some("1.0"), None),
        ),
        (
            "[::1]:5000/iris",
            ("[::1]:5000", "iris", Some("latest"), None),
        ),
        (
            "registry.example.com/a__b/c-d.e:1",
            ("registry.example.com", "a__b/c-d.e", Some("1"), None),
        ),
    ];
    for (input, (registry, repository, tag, digest)) in table {
        assert_eq!(
            parts(input),
            (
                registry.to_string(),
                repository.to_string(),
                tag.map(str::to_string),
                digest.map(str::to_string)
            ),
            "{input}"
        );
    }
    assert_eq!(
        parts(&format!("127.0.0.1:5000/team/iris@{digest}")),
        (
            "127.0.0.1:5000".to_string(),
            "team/iris".to_string(),
            None,
            Some(digest.clone())
        )
    );
    assert_eq!(
        parts(&format!("python:3.11@{digest}")),
        (
            "docker.io".to_string(),
            "library/python".to_string(),
            Some("3.11".to_string()),
            Some(digest.clone())
        )
    );
}

#[test]
fn display_gives_back_what_was_parsed() {
    let digest = format!("sha256:{}", "cd".repeat(32));
    for input in [
        "iris".to_string(),
        "iris:v1.2".to_string(),
        "team/iris".to_string(),
        "localhost:5000/team/iris:tag".to_string(),
        "[::1]:5000/iris".to_string(),
        format!("ghcr.io/org/x@{digest}"),
        format!("localhost:5000/iris:v1@{digest}"),
    ] {
        let reference: ImageReference = input.parse().unwrap();
        assert_eq!(reference.to_string(), input);
        assert_eq!(
            reference.to_string().parse::<ImageReference>(),
            Ok(reference)
        );
    }
    let normalized = "python:3.11-slim"
        .parse::<ImageReference>()
        .unwrap()
        .normalized();
    assert_eq!(normalized.to_string(), "docker.io/library/python:3.11-slim");
    assert_eq!(normalized.to_string().parse(), Ok(normalized));
}

#[test]
fn names_tags_and_registry_addresses() {
    let digest = format!("sha256:{}", "cd".repeat(32));
    let reference: ImageReference = "localhost:5000/team/img:tag".parse().unwrap();
    assert_eq!(reference.name(), "localhost:5000/team/img");
    assert_eq!(reference.repository_name(), "img");
    assert_eq!(reference.tag(), Some("tag"));
    assert_eq!(
        reference.with_tag("v2").unwrap().to_string(),
        "localhost:5000/team/img:v2"
    );
    assert_eq!(
        reference.with_tag("-bad").unwrap_err().to_string(),
        "invalid image reference `localhost:5000/team/img:-bad`: the tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
    );
    let pinned: ImageReference = format!("localhost:5000/iris:v1@{digest}").parse().unwrap();
    assert_eq!(pinned.manifest_reference(), digest);
    assert_eq!(
        pinned.with_tag("v2").unwrap().to_string(),
        "localhost:5000/iris:v2"
    );
    let python: ImageReference = "python:3.11-slim".parse().unwrap();
    assert_eq!(python.manifest_reference(), "3.11-slim");
    assert_eq!(python.registry(), "docker.io");
    assert_eq!(python.name(), "python");
    assert_eq!(python.repository_name(), "python");
    let bare: ImageReference = "iris".parse().unwrap();
    assert_eq!(bare.tag(), None);
    assert_eq!(bare.manifest_reference(), "latest");
    assert_eq!(bare.with_default_tag().to_string(), "iris:latest");
}

#[test]
fn store_names_and_familiar_names() {
    let digest: Digest = format!("sha256:0123456789ab{}", "0".repeat(52))
        .parse()
        .unwrap();
    let name = |input: &str| {
        input
            .parse::<ImageReference>()
            .unwrap()
            .store_name()
            .to_string()
    };
    assert_eq!(name("python"), "docker.io/library/python:latest");
    assert_eq!(name("localhost:5000/iris:v1"), "localhost:5000/iris:v1");
    assert_eq!(
        name(&format!("ghcr.io/org/x@{digest}")),
        "ghcr.io/org/x:sha256-0123456789ab"
    );
    assert_eq!(
        name(&format!("ghcr.io/org/x:v1@{digest}")),
        "ghcr.io/org/x:v1"
    );
    let familiar = |input: &str| {
        input
            .parse::<ImageReference>()
            .unwrap()
            .familiar()
            .to_string()
    };
    assert_eq!(
        familiar("docker.io/library/busybox:latest"),
        "busybox:latest"
    );
    assert_eq!(familiar("index.docker.io/library/busybox:1"), "busybox:1");
    assert_eq!(familiar("docker.io/team/iris:v1"), "team/iris:v1");
    assert_eq!(familiar("ghcr.io/team/iris:v1"), "ghcr.io/team/iris:v1");
    assert_eq!(familiar("iris:latest"), "iris:latest");
}

#[test]
fn names_to_tag_get_latest_and_no_digest() {
    let name = |input: &str| ImageReference::parse_name(input).map(|name| name.to_string());
    assert_eq!(name("iris").unwrap(), "iris:latest");
    assert_eq!(name("iris:v1.2").unwrap(), "iris:v1.2");
    assert_eq!(
        name("localhost:5000/team/iris").unwrap(),
        "localhost:5000/team/iris:latest"
    );
    assert_eq!(
        name("iris@sha256:00").unwrap_err().reason,
        "the digest is not valid: a sha256 digest has 64 hex digits"
    );
    let digest = format!("sha256:{}", "ab".repeat(32));
    assert_eq!(
        name(&format!("iris@{digest}")).unwrap_err().reason,
        "a name to tag cannot carry a digest (`@sha256:…`)"
    );
    assert_eq!(with_default_tag("iris"), "iris:latest");
    assert_eq!(with_default_tag("iris:x"), "iris:x");
    assert_eq!(
        with_default_tag("localhost:5000/iris"),
        "localhost:5000/iris:latest"
    );
}

#[test]
fn rejects_what_docker_would() {
    let long = format!("{}:v1", "a".repeat(256));
    let table = [
        ("", "it is empty"),
        (
            "https://ghcr.io/org/x",
            "a reference has no scheme (`registry.example.com/iris:v1`, not `https://…`)",
        ),
        (
            "Iris",
            "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
        ),
        (
            "ghcr.io/org/x:-bad",
            "the tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
        ),
        (
            "iris:",
            "the tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
        ),
        (
            "iris@sha256:00",
            "the digest is not valid: a sha256 digest has 64 hex digits",
        ),
        (
            "localhost:99999/iris",
            "the registry is not a valid `host[:port]`",
        ),
        (
            "bad_host.com/iris",
            "the registry is not a valid `host[:port]`",
        ),
        ("ghcr.io/", "the repository name is empty"),
        (
            "ghcr.io//x",
            "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
        ),
        (
            "a//b",
            "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
        ),
        (
            "-iris",
            "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
        ),
        (
            "a_-b",
            "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
        ),
        (&long, "the name is longer than 255 characters"),
    ];
    for (input, reason) in table {
        let error = input.parse::<ImageReference>().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("invalid image reference `{input}`: {reason}"),
            "{input}"
        );
        assert!(error.is_user_error());
        assert!(RegistryError::from(error).is_user_error());
    }
}
