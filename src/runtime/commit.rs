//! `mlpack commit`: a container's changes as a new image. The overlay's upper dir becomes one
//! reproducible layer (overlay whiteouts turned back into OCI `.wh.` entries, the runtime's
//! own mount points left out) on top of the container's image, whose config is kept but for
//! what `--change` says, in Docker's Dockerfile syntax (`LABEL k=v`, `CMD ["a", "b"]`).

use std::collections::BTreeMap;
use std::str::FromStr;

use oci_spec::image::Descriptor;

use super::container::Container;
use super::error::RuntimeError;
use crate::oci::{self, Derivation, HistoryEntry, ImageReference, LayerWriter, Store};

/// Write the image and name it `reference`; its manifest descriptor.
pub fn commit(
    store: &Store,
    container: &Container,
    reference: &ImageReference,
    changes: &[ConfigChange],
) -> Result<Descriptor, RuntimeError> {
    let base = store.resolve(&container.config.image.digest)?;
    let layer = LayerWriter::from_env()?.write_overlay_upper(
        store,
        &container.upper_dir(),
        &container.state.created_paths,
    )?;
    let name = &container.config.name;
    let mut labels = BTreeMap::new();
    let mut cmd = None;
    for change in changes {
        match change {
            ConfigChange::Label(pairs) => labels.extend(pairs.clone()),
            ConfigChange::Cmd(args) => cmd = Some(args.clone()),
        }
    }
    let derivation = Derivation {
        cmd,
        labels,
        created: oci::created_now()?,
        history: Some(HistoryEntry {
            created_by: format!("mlpack commit {name}"),
            comment: format!("changes made in container {name}"),
            empty_layer: false,
        }),
    };
    let descriptor = oci::derive_image(store, &base, layer, derivation)?;
    let _lock = store.lock()?;
    store.tag(reference, &descriptor)?;
    Ok(descriptor)
}

/// One `--change`: the Dockerfile instructions that edit only the config and that mlpack
/// supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// `LABEL key=value [key2="value 2" ...]`
    Label(Vec<(String, String)>),
    /// `CMD ["exec", "form"]`, or `CMD words` split on whitespace (no shell is added).
    Cmd(Vec<String>),
}

impl FromStr for ConfigChange {
    type Err = RuntimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| RuntimeError::InvalidOption {
            what: "--change",
            value: text.to_string(),
            reason: reason.to_string(),
        };
        let (instruction, rest) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("write an instruction and its value, like `LABEL key=value`"))?;
        match instruction.to_ascii_uppercase().as_str() {
            "LABEL" => label_pairs(rest.trim())
                .map(Self::Label)
                .ok_or_else(|| invalid("write `LABEL key=value`, quoting values with spaces")),
            "CMD" => cmd_args(rest.trim())
                .map(Self::Cmd)
                .ok_or_else(|| invalid("write `CMD [\"program\", \"arg\"]` or `CMD program arg`")),
            _ => Err(invalid("mlpack supports `LABEL` and `CMD` here")),
        }
    }
}

/// `a=1 b="two words"` → pairs; `None` when a word has no `=` or a quote is not closed.
fn label_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_at(after.find(char::is_whitespace).unwrap_or(after.len())),
        };
        pairs.push((key.to_string(), value.to_string()));
        rest = after.trim_start();
    }
    (!pairs.is_empty()).then_some(pairs)
}

fn cmd_args(text: &str) -> Option<Vec<String>> {
    if text.starts_with('[') {
        return serde_json::from_str(text).ok();
    }
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    (!words.is_empty()).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_in_dockerfile_syntax() {
        let change = |text: &str| text.parse::<ConfigChange>();
        assert_eq!(
            change("LABEL dev.mlpack.cuda=13.0 note=\"two words\"").unwrap(),
            ConfigChange::Label(vec![
                ("dev.mlpack.cuda".to_string(), "13.0".to_string()),
                ("note".to_string(), "two words".to_string()),
            ])
        );
        assert_eq!(
            change("CMD [\"python3\", \"-c\", \"print(1)\"]").unwrap(),
            ConfigChange::Cmd(vec!["python3".into(), "-c".into(), "print(1)".into()])
        );
        assert_eq!(
            change("cmd python3 serve.py").unwrap(),
            ConfigChange::Cmd(vec!["python3".into(), "serve.py".into()])
        );
        for bad in [
            "LABEL",
            "LABEL novalue",
            "LABEL a=\"open",
            "EXPOSE 80",
            "CMD [1",
        ] {
            let error = change(bad).unwrap_err().to_string();
            assert!(error.starts_with("invalid --change"), "{bad}: {error}");
        }
    }
}
