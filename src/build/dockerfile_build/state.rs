//! A stage's state as its instructions change it: the layers so far, the image config as
//! Docker keeps it (inherited from the base, then `ENV`, `WORKDIR`, `USER`, `CMD`...), the
//! `ARG`s in scope, and the cache key of everything so far (`BuildKit`'s cache chain: an
//! instruction's result depends on this key and its own inputs only).

use std::collections::BTreeMap;

use crate::dockerfile::{Lexer, WordError};
use crate::oci::{HistoryEntry, ResolvedImage};

use super::super::{StagedLayer, cache};

/// The image config fields a Dockerfile sets.
#[derive(Debug, Clone, Default)]
pub(super) struct ImageConfig {
    pub(super) env: Vec<String>,
    pub(super) cmd: Vec<String>,
    pub(super) entrypoint: Vec<String>,
    pub(super) working_dir: String,
    pub(super) user: String,
    pub(super) exposed_ports: Vec<String>,
    pub(super) volumes: Vec<String>,
    pub(super) stop_signal: String,
    pub(super) labels: BTreeMap<String, String>,
    /// `SHELL` (not in the image config Docker writes for OCI, but kept for `RUN`).
    pub(super) shell: Vec<String>,
    /// `HEALTHCHECK`, as the config's `Healthcheck` object.
    pub(super) healthcheck: Option<serde_json::Value>,
    /// A `CMD` in this stage (so `ENTRYPOINT` keeps it).
    pub(super) cmd_set: bool,
}

impl ImageConfig {
    /// The config a `FROM` of `base` starts with (`None` for `scratch`).
    pub(super) fn inherit(base: Option<&ResolvedImage>) -> Self {
        let config = base
            .and_then(|image| image.config.config().clone())
            .unwrap_or_default();
        let mut env = config.env().clone().unwrap_or_default();
        if base.is_none() {
            // BuildKit gives `scratch` a default `PATH`, which `RUN` and the image then see.
            env.push(super::super::config::PATH.to_string());
        }
        Self {
            env,
            cmd: config.cmd().clone().unwrap_or_default(),
            entrypoint: config.entrypoint().clone().unwrap_or_default(),
            working_dir: config.working_dir().clone().unwrap_or_default(),
            user: config.user().clone().unwrap_or_default(),
            exposed_ports: config.exposed_ports().clone().unwrap_or_default(),
            volumes: config.volumes().clone().unwrap_or_default(),
            stop_signal: config.stop_signal().clone().unwrap_or_default(),
            labels: config
                .labels()
                .clone()
                .map(|labels| labels.into_iter().collect())
                .unwrap_or_default(),
            shell: vec!["/bin/sh".to_string(), "-c".to_string()],
            healthcheck: None,
            cmd_set: false,
        }
    }

    /// The value `ENV` gave `name`.
    pub(super) fn env_value(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|entry| {
            entry
                .split_once('=')
                .filter(|(key, _)| *key == name)
                .map(|(_, value)| value)
        })
    }

    /// Set `name=value`, replacing an earlier value in place as Docker does.
    pub(super) fn set_env(&mut self, name: &str, value: &str) {
        let entry = format!("{name}={value}");
        match self
            .env
            .iter_mut()
            .find(|existing| existing.split_once('=').map(|(key, _)| key) == Some(name))
        {
            Some(existing) => *existing = entry,
            None => self.env.push(entry),
        }
    }
}

/// A stage while it is built.
pub(super) struct StageState {
    pub(super) layers: Vec<StagedLayer>,
    pub(super) history: Vec<HistoryEntry>,
    pub(super) config: ImageConfig,
    /// `ARG`s declared in this stage, with their values.
    pub(super) args: BTreeMap<String, String>,
    /// The cache key of the state so far.
    pub(super) key: String,
    pub(super) base: Option<ResolvedImage>,
}

impl StageState {
    /// Word expansion with this stage's variables: `ENV` first, then its `ARG`s.
    pub(super) fn expand(&self, escape: char, text: &str) -> Result<String, WordError> {
        let lookup = |name: &str| self.lookup(name);
        Lexer::new(escape, &lookup).word(text)
    }

    /// A heredoc's body with the variables expanded, quotes kept (see [`Lexer::heredoc`]).
    pub(super) fn expand_heredoc(&self, escape: char, text: &str) -> Result<String, WordError> {
        let lookup = |name: &str| self.lookup(name);
        Lexer::new(escape, &lookup).heredoc(text)
    }

    /// [`StageState::expand`], split into words.
    pub(super) fn expand_words(&self, escape: char, text: &str) -> Result<Vec<String>, WordError> {
        let lookup = |name: &str| self.lookup(name);
        Lexer::new(escape, &lookup).words(text)
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.config
            .env_value(name)
            .map(str::to_string)
            .or_else(|| self.args.get(name).cloned())
    }

    /// The `ARG`s a `RUN` sees as environment variables: those no `ENV` overrides.
    pub(super) fn run_args(&self) -> Vec<String> {
        self.args
            .iter()
            .filter(|(name, _)| self.config.env_value(name).is_none())
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }

    /// Chain `parts` onto the cache key.
    pub(super) fn advance(&mut self, parts: &[String]) {
        let mut all = vec![self.key.clone()];
        all.extend_from_slice(parts);
        self.key = cache::key("mlpack-dockerfile-step-v1", &all);
    }

    /// Record a step that changed only the config.
    pub(super) fn note(&mut self, created_by: String) {
        self.history.push(HistoryEntry {
            created_by,
            comment: "buildkit.dockerfile.v0".to_string(),
            empty_layer: true,
        });
    }

    /// Record a step that added `layer`.
    pub(super) fn add_layer(&mut self, created_by: String, layer: StagedLayer) {
        self.history.push(HistoryEntry {
            created_by,
            comment: "buildkit.dockerfile.v0".to_string(),
            empty_layer: false,
        });
        self.layers.push(layer);
    }
}
