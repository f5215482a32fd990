//! Canonical JSON for blobs and `index.json`: object keys sorted, no insignificant whitespace.
//!
//! A config's or manifest's digest is the sha256 of its bytes, so the bytes must not depend on
//! `HashMap` order (`oci-spec` keeps labels and annotations in `HashMap`s). Going through
//! [`serde_json::Value`] and sorting every object fixes the order. This is the key-sorting half
//! of the canonical form the spec recommends:
//! <https://github.com/opencontainers/image-spec/blob/v1.1.0/considerations.md#json>.

use serde::Serialize;

use super::error::OciError;

/// `value` as compact JSON with every object's keys in sorted order.
pub(crate) fn to_canonical_json(value: &impl Serialize, what: &str) -> Result<Vec<u8>, OciError> {
    let invalid = |source| OciError::InvalidJson {
        what: what.to_string(),
        source,
    };
    let mut value = serde_json::to_value(value).map_err(invalid)?;
    value.sort_all_objects();
    serde_json::to_vec(&value).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn sorts_keys_at_every_level() {
        let inner: HashMap<&str, u32> = [("zeta", 1), ("alpha", 2), ("mid", 3)].into();
        let outer: HashMap<&str, HashMap<&str, u32>> = [("b", inner.clone()), ("a", inner)].into();
        let json = to_canonical_json(&outer, "test").unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"a":{"alpha":2,"mid":3,"zeta":1},"b":{"alpha":2,"mid":3,"zeta":1}}"#
        );
    }
}
