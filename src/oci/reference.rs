//! Image names as the store and Docker write them: `name[:tag]`, `name` meaning `name:latest`.
//!
//! The name follows the distribution reference grammar
//! (<https://github.com/distribution/reference/blob/main/reference.go>): lowercase path
//! components joined by `/`, the first of which may be a registry host with a port. Checking
//! it when tagging means a later `docker load` of an exported archive accepts the name.

use super::error::OciError;

/// The annotation holding an image's name in `index.json`
/// (<https://github.com/opencontainers/image-spec/blob/v1.1.0/annotations.md>).
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

const DEFAULT_TAG: &str = "latest";

/// `reference` with `:latest` added when it has no tag, checked against the grammar.
pub fn normalize_reference(reference: &str) -> Result<String, OciError> {
    let invalid = |reason| OciError::InvalidReference {
        reference: reference.to_string(),
        reason,
    };
    if reference.contains('@') {
        return Err(invalid("a name to tag cannot carry a digest (`@sha256:…`)"));
    }
    let (name, tag) = split_tag(reference);
    let tag = tag.unwrap_or(DEFAULT_TAG);
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.len() > 255 {
        return Err(invalid("the name is longer than 255 characters"));
    }
    let mut components = name.split('/').peekable();
    let mut first = true;
    while let Some(component) = components.next() {
        let is_domain = first && components.peek().is_some() && looks_like_domain(component);
        first = false;
        if is_domain {
            if !valid_domain(component) {
                return Err(invalid("the registry host is not a valid host name"));
            }
        } else if !valid_path_component(component) {
            return Err(invalid(
                "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
            ));
        }
    }
    if !valid_tag(tag) {
        return Err(invalid(
            "the tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
        ));
    }
    Ok(format!("{name}:{tag}"))
}

/// `reference` with `:latest` added when it has no tag; no checks (for look-ups).
pub(crate) fn with_default_tag(reference: &str) -> String {
    match split_tag(reference) {
        (_, Some(_)) => reference.to_string(),
        (name, None) => format!("{name}:{DEFAULT_TAG}"),
    }
}

/// Split at the last `:` that comes after the last `/` (`localhost:5000/iris` has no tag).
pub(crate) fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let after_slash = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[after_slash..].rfind(':') {
        Some(colon) => {
            let colon = after_slash + colon;
            (&reference[..colon], Some(&reference[colon + 1..]))
        }
        None => (reference, None),
    }
}

/// The first component is a registry host when it has a `.` or a port, or is `localhost`.
fn looks_like_domain(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn valid_domain(component: &str) -> bool {
    let (host, port) = match component.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (component, None),
    };
    let port_ok =
        port.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    host_ok && port_ok
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        if alnum(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && !alnum(bytes[index]) {
            index += 1;
        }
        let separator = &component[start..index];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.len() <= 128
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_latest_and_keeps_ports() {
        assert_eq!(normalize_reference("iris").unwrap(), "iris:latest");
        assert_eq!(normalize_reference("iris:v1.2").unwrap(), "iris:v1.2");
        assert_eq!(
            normalize_reference("localhost:5000/team/iris").unwrap(),
            "localhost:5000/team/iris:latest"
        );
        assert_eq!(
            normalize_reference("registry.example.com/a__b/c-d.e:1").unwrap(),
            "registry.example.com/a__b/c-d.e:1"
        );
        assert_eq!(with_default_tag("iris"), "iris:latest");
        assert_eq!(with_default_tag("iris:x"), "iris:x");
    }

    #[test]
    fn rejects_what_docker_would() {
        for bad in [
            "Iris",
            "iris:",
            "iris:-x",
            "",
            "a//b",
            "iris@sha256:00",
            "-iris",
            "a_-b",
        ] {
            assert!(
                normalize_reference(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        let error = normalize_reference("Iris").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid image reference `Iris`: each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes"
        );
    }
}
