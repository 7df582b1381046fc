//! Configuration as the contract describes it: the layers and which one wins, the shortcuts,
//! secrets from `_FILE` variables, unknown keys, production rules and start-up validation.
//!
//! Every test loads from its own temporary `config/` directory (or the repository's, for what
//! ships) and an environment given as a map, so none touches the process environment.

mod extension_keys;
mod layering;
mod production;
mod providers;
mod redis_cluster;
mod redis_tls;
mod seal_key;
mod secret_files;
mod shortcuts;
mod unknown_keys;
mod validation;

pub(super) use crate::helpers::SEAL_KEY;

use oauth_broker::settings::{self, Settings, Sources};
use oauth_broker::startup::{self, Validated};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A provider configured by URLs alone, so validation has something to work with.
pub(super) const ACME_PROVIDER: &str = r#"
[providers.acme]
client_id = "acme-id"
client_secret = "acme-secret"
authorize_url = "https://idp.example.com/authorize"
token_url = "https://idp.example.com/token"
"#;

/// A `config/` directory holding the given files.
pub(super) fn config_dir(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// The `config/` directory that ships in the repository.
pub(super) fn shipped_config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

pub(super) fn sources(dir: &Path, env: &[(&str, &str)]) -> Sources {
    Sources {
        config_dir: dir.to_path_buf(),
        config_file: None,
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
    }
}

pub(super) fn load(sources: &Sources) -> Settings {
    settings::load(sources).unwrap_or_else(|p| panic!("settings load:\n{p}"))
}

pub(super) fn load_problems(sources: &Sources) -> Vec<String> {
    match settings::load(sources) {
        Ok(_) => panic!("loading was expected to fail"),
        Err(problems) => problems.0,
    }
}

pub(super) fn validate(settings: Settings, production: bool) -> Validated {
    startup::validate(settings, production, None).unwrap_or_else(|p| panic!("validate:\n{p}"))
}

pub(super) fn validation_problems(settings: Settings, production: bool) -> Vec<String> {
    match startup::validate(settings, production, None) {
        Ok(_) => panic!("validation was expected to fail"),
        Err(problems) => problems.0,
    }
}

/// Loads `ACME_PROVIDER` plus the environment and validates; the problems found.
pub(super) fn acme_problems(env: &[(&str, &str)]) -> Vec<String> {
    let dir = config_dir(&[("default.toml", ACME_PROVIDER)]);
    validation_problems(load(&sources(dir.path(), env)), false)
}

/// Asserts exactly one problem, containing every one of `needles`.
pub(super) fn assert_one_problem(problems: &[String], needles: &[&str]) {
    assert_eq!(problems.len(), 1, "expected one problem, got {problems:#?}");
    for needle in needles {
        assert!(
            problems[0].contains(needle),
            "{:?} should mention {needle:?}",
            problems[0]
        );
    }
}

pub(super) fn assert_some_problem(problems: &[String], needles: &[&str]) {
    assert!(
        problems
            .iter()
            .any(|p| needles.iter().all(|needle| p.contains(needle))),
        "no problem mentions all of {needles:?}: {problems:#?}"
    );
}
