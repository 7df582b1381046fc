//! Local use without `secrets.seal_key`: `serve` generates a key once, keeps it beside the
//! configuration (mode 0600, named in a warning), and a restart opens the handles sealed
//! before it; `check-config` reads the file but never creates it.

use super::{broker, run};
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::processes::{Replica, free_port, on};
use crate::helpers::{WsClient, get, http_client, query_value};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// A replica run from `dir` (so `dir/config` is its configuration directory), with no seal key.
fn replica_in(dir: &Path, port: u16, mock: &MockProvider) -> Replica {
    let mut env: HashMap<String, String> = mock.broker_env();
    env.insert("BROKER__SIGNIN__CONFIRM_CODE".into(), "false".into());
    let mut command = broker(&[], &[]);
    command
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env("BROKER__SERVER__METRICS_BIND", "")
        .envs(&env)
        .env("BROKER__SERVER__BIND", format!("127.0.0.1:{port}"));
    let replica = Replica::run(command, port);
    let ready = format!("{}/readyz", replica.base);
    crate::helpers::processes::wait_until("the broker is ready", || {
        crate::helpers::processes::http_status(&ready) == Some(200)
    });
    replica
}

#[actix_web::test]
async fn a_restart_without_seal_key_keeps_refresh_handles_working() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("config/seal_key.local");
    let mock = MockProvider::start();
    let port = free_port();
    let http = http_client();

    let mut first = replica_in(dir.path(), port, &mock);
    let mut ws = WsClient::connect(&first.ws_url(), None).await;
    let link = ws.begin("mock").await;
    let redirect = get(&http, &on(&first, &link)).await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let state = query_value(
        &Url::parse(redirect.header("location").unwrap()).unwrap(),
        "state",
    )
    .unwrap();
    let page = get(
        &http,
        &format!("{}/complete/mock?code=kept&state={state}", first.base),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let signedin = ws.expect("signedin").await;
    let handle = signedin["refresh"].clone();
    assert!(handle.is_string(), "{signedin}");
    ws.close().await;

    assert!(key_file.exists(), "no key file was written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is readable by others");
    }
    let kept = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        first.log().contains("seal_key.local"),
        "the warning names the file: {}",
        first.log()
    );
    assert!(
        !first.log().contains(kept.trim()),
        "the key reached the log"
    );
    assert!(
        first.log().contains("extension.tableau_api_url"),
        "start-up warns that Tableau's library is missing here: {}",
        first.log()
    );
    assert!(first.terminate(Duration::from_secs(15)).is_some());

    let second = replica_in(dir.path(), port, &mock);
    let mut ws = WsClient::connect(&second.ws_url(), None).await;
    ws.send_json(&json!({"type": "refresh", "refresh": handle}))
        .await;
    let renewed = ws.expect("signedin").await;
    assert_eq!(renewed["access_token"], "at-rt-kept");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), kept);
}

#[test]
fn check_config_names_the_local_key_file_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    let repo_default = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    std::fs::copy(repo_default, dir.path().join("config/default.toml")).unwrap();
    let mut command = broker(&["check-config"], &[]);
    command.current_dir(dir.path());
    let outcome = run(command);
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome.stderr.contains("seal_key.local"),
        "{}",
        outcome.describe()
    );
    assert!(!dir.path().join("config/seal_key.local").exists());
}
