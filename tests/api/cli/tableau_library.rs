//! Tableau's Extensions API library is fetched, not committed: `check-config` and `serve` warn
//! when the configured file is missing from the vendor folder, and not when it is there.

use super::{broker, run};
use std::path::Path;

/// A directory to run the binary from, with the repository's `config/default.toml` and,
/// when `with_library`, a file where the page loads the library from.
fn workdir(with_library: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        repo.join("config/default.toml"),
        dir.path().join("config/default.toml"),
    )
    .unwrap();
    if with_library {
        let vendor = dir.path().join("assets/static/vendor");
        std::fs::create_dir_all(&vendor).unwrap();
        std::fs::write(
            vendor.join("tableau.extensions.1.latest.min.js"),
            "/* stand-in */",
        )
        .unwrap();
    }
    dir
}

fn check_config_in(dir: &Path, env: &[(&str, &str)]) -> super::Outcome {
    let mut command = broker(&["check-config"], env);
    command.current_dir(dir);
    run(command)
}

#[test]
fn check_config_warns_when_the_tableau_library_is_missing() {
    let dir = workdir(false);
    let outcome = check_config_in(dir.path(), &[]);
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let warning = outcome
        .stderr
        .lines()
        .find(|l| l.contains("extension.tableau_api_url"))
        .unwrap_or_else(|| panic!("no warning: {}", outcome.describe()));
    assert!(warning.contains("fetch-tableau-lib.sh"), "{warning}");
}

#[test]
fn check_config_is_quiet_about_a_library_that_is_there_or_elsewhere() {
    let dir = workdir(true);
    let outcome = check_config_in(dir.path(), &[]);
    assert!(
        !outcome.stderr.contains("extension.tableau_api_url"),
        "{}",
        outcome.describe()
    );
    let bare = workdir(false);
    let outcome = check_config_in(
        bare.path(),
        &[(
            "BROKER__EXTENSION__TABLEAU_API_URL",
            "https://cdn.example.com/tableau.extensions.1.latest.min.js",
        )],
    );
    assert!(
        !outcome.stderr.contains("extension.tableau_api_url"),
        "{}",
        outcome.describe()
    );
}

/// `scripts/fetch-tableau-lib.sh` with an `npm` that cannot reach the registry: it says so in
/// one line, exits 1 (so `scripts/run.sh` carries on without it) and writes nothing.
#[test]
fn the_fetch_script_without_network_says_so_and_writes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let npm = bin.path().join("npm");
    std::fs::write(
        &npm,
        "#!/bin/sh\necho 'npm error code ENOTFOUND registry.npmjs.org' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = std::process::Command::new("bash");
    command
        .arg(repo.join("scripts/fetch-tableau-lib.sh"))
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.path().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("TABLEAU_LIB_DIR", dest.path());
    let outcome = run(command);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let said = super::lines(&outcome.stderr);
    assert_eq!(said.len(), 1, "{}", outcome.describe());
    assert!(said[0].contains("no network?"), "{}", said[0]);
    assert!(said[0].contains("standalone"), "{}", said[0]);
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
}
