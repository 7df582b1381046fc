//! The app the HTTP and WebSocket properties share, started once for all of them, and how their
//! cases reach it.

use super::SEAL_KEY;
use crate::helpers;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, WsClient, settings_with};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use secrecy::SecretString;
use std::cell::RefCell;
use std::sync::OnceLock;

pub(super) struct Served {
    pub(super) base: String,
}

impl Served {
    pub(super) fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replacen("http", "ws", 1))
    }
}

/// A socket to the shared app and the actix system on this thread that drives it, for cases that
/// all go over one connection (in a `RefCell`: the runner's check is a `Fn`).
pub(super) fn connect(app: &Served) -> (actix_rt::SystemRunner, RefCell<WsClient>) {
    let system = actix_rt::System::new();
    let ws = system.block_on(WsClient::connect(&app.ws_url(), Some(&app.base)));
    (system, RefCell::new(ws))
}

/// The app, started once in its own thread and actix system; tests talk to it from theirs.
pub(super) fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let mock = MockProvider::start();
                let mut settings = settings_with(&mock);
                // Rate limits would turn hundreds of requests from one address into 429s; the
                // properties here are about parsing.
                helpers::per_client_limits_off(&mut settings);
                settings.limits.signin_links_per_session = 0;
                settings.sessions.idle_timeout_secs = 60;
                settings.secrets.seal_key = Some(SecretString::from(STANDARD.encode(SEAL_KEY)));
                let app = TestApp::spawn(settings).await;
                tx.send(Served {
                    base: app.base.clone(),
                })
                .unwrap();
                let _keep = (app, mock);
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("the shared app starts")
    })
}

/// A status, the headers the contract cares about, and whether it was answered at all.
pub(super) async fn fetch(http: &awc::Client, url: &str) -> Result<helpers::Response, String> {
    let mut response = http.get(url).send().await.map_err(|e| e.to_string())?;
    helpers::read_response(&mut response).await
}

/// Cases over the network: a failure caused by a stall shrinks for a bounded time only.
pub(super) fn networked(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_time: 30_000,
        failure_persistence: None,
        ..Config::default()
    }
}

/// This thread's actix system and HTTP client, for cases that talk to the shared app.
pub(super) struct Net {
    pub(super) system: actix_rt::SystemRunner,
    http: awc::Client,
}

impl Net {
    fn new() -> Net {
        let system = actix_rt::System::new();
        let http = system.block_on(async { helpers::http_client() });
        Net { system, http }
    }

    pub(super) fn get(&self, url: &str) -> Result<helpers::Response, String> {
        self.system.block_on(fetch(&self.http, url))
    }
}

/// Runs `cases` cases of `strategy` through `check`, each over this thread's `Net`.
pub(super) fn run_cases<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl Fn(&Net, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let net = Net::new();
    let mut runner = TestRunner::new(networked(cases));
    passed(runner.run(&strategy, |value| check(&net, value)));
}

/// Fails the test with proptest's report (the smallest failing case it found), if any.
pub(super) fn passed<V: std::fmt::Debug>(outcome: Result<(), TestError<V>>) {
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
