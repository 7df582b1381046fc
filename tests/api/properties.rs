//! Properties of everything that parses outside input: WebSocket frames, the `/complete` and
//! `/signin` query strings and paths, sealed refresh handles, resume secrets, `Origin` values and
//! typed confirmation codes. The pure parsers first, then the same inputs over real HTTP and a
//! real WebSocket against one app shared by the whole file.
//!
//! Whatever the input, the answer is a refusal the contract names (a 400 page, an `error`
//! frame), never a panic, a 500 or a dropped socket.

use crate::helpers;
use crate::helpers::mock_provider::MockProvider;
use crate::helpers::{TestApp, WsClient, assert_strict_headers, settings_with};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oauth_broker::routes::query::{QueryError, parse_unique};
use oauth_broker::routes::ws::{normalise_origin, resume_param};
use oauth_broker::seal::{RefreshSealer, SealError};
use oauth_broker::sensitive::Sensitive;
use oauth_broker::store::{code_matches, normalise_code};
use oauth_broker::ws::protocol::ClientMessage;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::sync::OnceLock;

/// The key the shared app seals refresh handles with, so the tests can forge near-misses.
const SEAL_KEY: [u8; 32] = [0x5e; 32];

/// Case counts: the pure parsers are cheap; every HTTP or WebSocket case is a real request.
const PURE_CASES: u32 = 1024;
const HTTP_CASES: u32 = 256;
const WS_CASES: u32 = 256;

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Any text, biased towards what a parser has to think about: JSON punctuation, URL syntax,
/// percent escapes, non-ASCII and control characters.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        r#"[{}\[\]":,0-9a-z \\\-.eE+]{0,60}"#,
        "[a-zA-Z0-9=&%+;#?/._~-]{0,80}",
        "(%[0-9a-fA-F]{0,2}|[a-z]|[=&]|\u{e9}|\u{0}|\u{202e}|\u{1F600}){0,40}",
    ]
}

/// A JSON value of any shape, small.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        hostile_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::hash_map("[a-z_]{0,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Frames that look like the protocol's: a `type` that is right, nearly right or wrong, and
/// fields of the right or wrong kind.
fn protocol_like_frame() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just(json!("begin")),
        Just(json!("confirm")),
        Just(json!("refresh")),
        Just(json!("Begin")),
        Just(json!("hello")),
        Just(json!("signedin")),
        json_value(),
    ];
    let field = prop_oneof![
        Just("provider".to_owned()),
        Just("code".to_owned()),
        Just("refresh".to_owned()),
        Just("type".to_owned()),
        "[a-z_]{1,10}",
    ];
    let value = prop_oneof![
        Just(json!("mock")),
        Just(json!("v1.")),
        hostile_text().prop_map(Value::from),
        json_value(),
    ];
    (
        kind,
        any::<bool>(),
        prop::collection::vec((field, value), 0..4),
    )
        .prop_map(|(kind, with_type, fields)| {
            let mut object = serde_json::Map::new();
            if with_type {
                object.insert("type".into(), kind);
            }
            for (k, v) in fields {
                object.insert(k, v);
            }
            Value::Object(object).to_string()
        })
}

/// Any text frame within `sessions.max_message_bytes` (a larger one closes the socket, as it
/// should, and is not what these properties are about).
fn any_frame() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile_text(),
        json_value().prop_map(|v| v.to_string()),
        protocol_like_frame(),
    ]
    .prop_filter("within the frame limit", |f| f.len() < 8000)
}

/// Query strings as a provider, a browser or an attacker might send them: known keys, repeats,
/// empty values, stray separators, escapes good and bad.
fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("state".to_owned()),
        Just("code".to_owned()),
        Just("error".to_owned()),
        Just("error_description".to_owned()),
        Just("resume".to_owned()),
        hostile_text(),
    ];
    let value = prop_oneof![
        Just(String::new()),
        "[A-Za-z0-9]{1,70}",
        Just("access_denied".to_owned()),
        hostile_text(),
    ];
    let pair = (key, prop::option::of(value)).prop_map(|(k, v)| match v {
        Some(v) => format!("{}={}", escape_some(&k), escape_some(&v)),
        None => escape_some(&k),
    });
    prop_oneof![
        4 => prop::collection::vec(pair, 0..20).prop_map(|pairs| pairs.join("&")),
        1 => hostile_text().prop_map(|t| escape_some(&t)),
    ]
}

/// Keeps `&`, `=`, `%` and `+` as typed (so the parser sees them) and escapes only what would
/// not fit in a URL at all.
fn escape_some(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One path segment, escaped to stay one segment, with the odd raw escape or dot segment.
fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => hostile_text().prop_map(|s| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        }),
        2 => "[A-Za-z0-9]{0,80}",
        1 => prop_oneof![
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("%2F".to_owned()),
            Just("%00".to_owned()),
            Just("%".to_owned()),
            Just("%zz".to_owned()),
            Just("a%2Fb".to_owned()),
        ],
    ]
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames, pure
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES))]

    /// Any text frame is understood or refused with a reason; parsing never panics.
    #[test]
    fn any_frame_parses_or_is_refused_with_a_reason(text in any_frame()) {
        if let Err(why) = ClientMessage::parse(&text) {
            prop_assert!(!why.0.is_empty());
        }
    }

    /// Every well-formed frame of the protocol parses to what it says, whatever its strings.
    #[test]
    fn well_formed_frames_parse_to_what_they_say(
        provider in prop::option::of(any::<String>()),
        secret in any::<String>(),
        kind in 0..3u8,
    ) {
        let (frame, expected) = match kind {
            0 => (
                match &provider {
                    Some(p) => json!({"type": "begin", "provider": p}),
                    None => json!({"type": "begin"}),
                },
                ClientMessage::Begin { provider: provider.clone() },
            ),
            1 => (
                json!({"type": "confirm", "code": secret}),
                ClientMessage::Confirm { code: Sensitive::new(secret.as_str()) },
            ),
            _ => (
                json!({"type": "refresh", "refresh": secret}),
                ClientMessage::Refresh { refresh: Sensitive::new(secret.as_str()) },
            ),
        };
        prop_assert_eq!(ClientMessage::parse(&frame.to_string()), Ok(expected));
    }

    /// A frame whose `type` is not one the extension may send is refused, whatever else it has.
    #[test]
    fn frames_of_another_type_are_refused(kind in any::<String>(), extra in json_value()) {
        prop_assume!(!matches!(kind.as_str(), "begin" | "confirm" | "refresh"));
        let frame = json!({"type": kind, "provider": "mock", "code": "X", "refresh": "v1.", "extra": extra});
        prop_assert!(ClientMessage::parse(&frame.to_string()).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Query strings, pure
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES))]

    /// Whatever the query, what comes back is within the bounds the routes rely on.
    #[test]
    fn any_query_parses_within_bounds_or_is_refused(query in query_string()) {
        if let Ok(params) = parse_unique(&query) {
            prop_assert!(params.len() <= 16);
            for (key, value) in &params {
                prop_assert!(key.len() <= 64, "key {key:?}");
                prop_assert!(value.len() <= 4096);
            }
        }
    }

    /// Distinct parameters within bounds come back exactly as a browser encoded them.
    #[test]
    fn distinct_parameters_round_trip(
        params in prop::collection::hash_map("[^\u{0}]{1,16}", any::<String>(), 0..=16),
    ) {
        prop_assume!(params.values().all(|v| v.len() <= 4096) && params.keys().all(|k| k.len() <= 64));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        prop_assert_eq!(parse_unique(&query), Ok(params));
    }

    /// A parameter given twice is refused, naming it, wherever the repeat is.
    #[test]
    fn a_repeated_parameter_is_refused(
        params in prop::collection::hash_map("[a-z]{1,8}", "[a-zA-Z0-9]{0,8}", 1..=15),
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        again in "[a-zA-Z0-9]{0,8}",
    ) {
        let mut pairs: Vec<(String, String)> = params.into_iter().collect();
        let repeated = pairs[pick.index(pairs.len())].0.clone();
        pairs.insert(at.index(pairs.len() + 1), (repeated.clone(), again));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        prop_assert_eq!(parse_unique(&query), Err(QueryError::Repeated(repeated)));
    }

    /// More than 16 parameters, or one too long, is refused.
    #[test]
    fn too_many_or_too_long_parameters_are_refused(extra in 17..40usize, long in 4097..6000usize) {
        let many: Vec<String> = (0..extra).map(|i| format!("p{i}=1")).collect();
        prop_assert_eq!(parse_unique(&many.join("&")), Err(QueryError::TooMany));
        prop_assert_eq!(
            parse_unique(&format!("state=abc&code={}", "x".repeat(long))),
            Err(QueryError::TooLong)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Resume secrets, origins and typed codes, pure
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES))]

    /// Whatever `/ws` is asked with, a secret it accepts is one of ours in shape.
    #[test]
    fn any_ws_query_yields_a_well_formed_secret_or_none(query in query_string()) {
        if let Ok(Some(secret)) = resume_param(&query) {
            prop_assert!(!secret.is_empty() && secret.len() <= 64);
            prop_assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    /// One well-formed secret is taken as is; anything next to it, or instead of it, is refused.
    #[test]
    fn resume_takes_one_alphanumeric_secret_only(
        secret in "[A-Za-z0-9]{1,64}",
        other_key in "[a-z]{1,8}",
        long in "[A-Za-z0-9]{65,100}",
        bad in "[A-Za-z0-9]{0,10}[^A-Za-z0-9][A-Za-z0-9]{0,10}",
    ) {
        prop_assert_eq!(resume_param(&format!("resume={secret}")), Ok(Some(secret.clone())));
        let twice = format!("resume={secret}&resume={secret}");
        prop_assert!(resume_param(&twice).is_err(), "{}", twice);
        prop_assert!(resume_param(&format!("resume={}", long)).is_err(), "{} characters", long.len());
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("resume", &bad)
            .finish();
        prop_assert!(resume_param(&encoded).is_err(), "{}", encoded);
        if other_key != "resume" {
            for query in [format!("{other_key}={secret}"), format!("resume={secret}&{other_key}=1")] {
                prop_assert!(resume_param(&query).is_err(), "{}", query);
            }
        }
    }

    /// Normalising an `Origin` twice changes nothing the first time did not.
    #[test]
    fn origin_normalisation_is_idempotent(origin in hostile_text()) {
        let once = normalise_origin(&origin);
        prop_assert_eq!(normalise_origin(&once), once);
    }

    /// Origins compare as browsers send them: case and default ports do not matter.
    #[test]
    fn origins_ignore_case_and_default_ports(
        https in any::<bool>(),
        host in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        port in prop::option::of(1u16..),
    ) {
        // Punycode labels must be valid punycode; browsers never send a broken one.
        prop_assume!(!host.contains("xn--"));
        let scheme = if https { "https" } else { "http" };
        let default_port = if https { 443 } else { 80 };
        let plain = match port {
            Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        };
        let sent = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        prop_assert_eq!(normalise_origin(&sent.to_uppercase()), plain.clone());
        prop_assert_eq!(normalise_origin(&format!(" {sent}/ ")), plain);
    }

    /// A code is accepted however the person types it: lower case, hyphens, spaces.
    #[test]
    fn a_code_matches_however_it_is_typed(
        code in "[A-Z2-9]{8}",
        lower in any::<bool>(),
        separators in prop::collection::vec(prop::sample::select(vec!["", "-", " ", "\t", " - "]), 9),
    ) {
        let held = Sensitive::new(normalise_code(&code));
        let mut typed = String::new();
        for (i, c) in code.chars().enumerate() {
            typed.push_str(separators[i]);
            typed.push(if lower { c.to_ascii_lowercase() } else { c });
        }
        typed.push_str(separators[8]);
        prop_assert!(code_matches(&held, &typed), "{typed:?}");
    }

    /// No other text matches a held code, and normalising never grows without bound.
    #[test]
    fn other_text_does_not_match_a_code(code in "[A-Z2-9]{8}", typed in hostile_text()) {
        let held = Sensitive::new(code.as_str());
        let normalised = normalise_code(&typed);
        prop_assert!(normalised.chars().count() <= 64);
        prop_assert_eq!(code_matches(&held, &typed), normalised == code);
    }
}

// ---------------------------------------------------------------------------------------------
// Sealed refresh handles, pure
// ---------------------------------------------------------------------------------------------

fn sealed_handle() -> impl Strategy<Value = (String, String, u64, String)> {
    ("[a-z]{1,12}", any::<String>(), any::<u64>()).prop_map(|(provider, token, at)| {
        let handle =
            RefreshSealer::from_key(&SEAL_KEY).seal(&provider, &Sensitive::new(token.as_str()), at);
        (provider, token, at, handle)
    })
}

proptest! {
    #![proptest_config(Config::with_cases(PURE_CASES / 4))]

    /// A handle opens to exactly what was sealed, with the same key.
    #[test]
    fn a_handle_opens_to_what_was_sealed((provider, token, at, handle) in sealed_handle()) {
        let opened = RefreshSealer::from_key(&SEAL_KEY).open(&handle).unwrap();
        prop_assert_eq!(opened.provider, provider);
        prop_assert_eq!(opened.refresh_token.expose(), token.as_str());
        prop_assert_eq!(opened.sealed_at, at);
    }

    /// Any flipped bit of the handle as sent (prefix, nonce, ciphertext, tag) is refused.
    #[test]
    fn a_flipped_bit_is_refused(
        (_, _, _, handle) in sealed_handle(),
        at in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let mut bytes = handle.into_bytes();
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        let forged = String::from_utf8_lossy(&bytes);
        prop_assert_eq!(RefreshSealer::from_key(&SEAL_KEY).open(&forged), Err(SealError::Unreadable));
    }

    /// A truncated or extended handle is refused.
    #[test]
    fn a_truncated_or_extended_handle_is_refused(
        (_, _, _, handle) in sealed_handle(),
        cut in any::<prop::sample::Index>(),
        tail in "[A-Za-z0-9_=.-]{1,40}|\\PC{1,10}",
    ) {
        let sealer = RefreshSealer::from_key(&SEAL_KEY);
        let short = &handle[..cut.index(handle.len())];
        prop_assert_eq!(sealer.open(short), Err(SealError::Unreadable));
        prop_assert_eq!(sealer.open(&format!("{handle}{tail}")), Err(SealError::Unreadable));
    }

    /// A handle sealed under another key is refused.
    #[test]
    fn a_handle_of_another_key_is_refused(
        (_, _, _, handle) in sealed_handle(),
        key in any::<[u8; 32]>(),
    ) {
        prop_assume!(key != SEAL_KEY);
        prop_assert_eq!(RefreshSealer::from_key(&key).open(&handle), Err(SealError::Unreadable));
    }

    /// Text that was never sealed does not open, however it is shaped.
    #[test]
    fn arbitrary_text_is_not_a_handle(
        body in hostile_text(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let sealer = RefreshSealer::from_key(&SEAL_KEY);
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
        for handle in [body.clone(), format!("v1.{body}"), format!("v1.{encoded}")] {
            prop_assert!(sealer.open(&handle).is_err(), "{:?} opened", handle);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Over HTTP and the WebSocket, against one app shared by this file
// ---------------------------------------------------------------------------------------------

struct Served {
    base: String,
}

/// The app, started once in its own thread and actix system; tests talk to it from theirs.
fn served() -> &'static Served {
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
async fn fetch(http: &awc::Client, url: &str) -> Result<helpers::Response, String> {
    let mut response = http.get(url).send().await.map_err(|e| e.to_string())?;
    helpers::read_response(&mut response).await
}

/// Cases over the network: a failure caused by a stall shrinks for a bounded time only.
fn networked(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_time: 30_000,
        failure_persistence: None,
        ..Config::default()
    }
}

/// This thread's actix system and HTTP client, for cases that talk to the shared app.
struct Net {
    system: actix_rt::SystemRunner,
    http: awc::Client,
}

impl Net {
    fn new() -> Net {
        let system = actix_rt::System::new();
        let http = system.block_on(async { helpers::http_client() });
        Net { system, http }
    }

    fn get(&self, url: &str) -> Result<helpers::Response, String> {
        self.system.block_on(fetch(&self.http, url))
    }
}

/// Runs `cases` cases of `strategy` through `check`, each over this thread's `Net`.
fn run_cases<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl Fn(&Net, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let net = Net::new();
    let mut runner = TestRunner::new(networked(cases));
    if let Err(e) = runner.run(&strategy, |value| check(&net, value)) {
        panic!("{e}");
    }
}

#[test]
fn any_query_to_complete_answers_400_never_500() {
    let app = served();
    run_cases(HTTP_CASES, query_string(), |net, query| {
        let url = format!("{}/complete/mock?{query}", app.base);
        let response = net.get(&url);
        let response = response.map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
        prop_assert_eq!(response.status, 400, "{} answered {}", url, response.body);
        assert_strict_headers(&response);
        Ok(())
    });
}

#[test]
fn any_provider_and_query_to_complete_answers_400_or_404_never_500() {
    let app = served();
    run_cases(
        HTTP_CASES,
        (path_segment(), query_string()),
        |net, (provider, query)| {
            let url = format!("{}/complete/{provider}?{query}", app.base);
            let response = net.get(&url);
            let response = response.map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
            if provider.is_empty() {
                prop_assert_eq!(response.status, 404, "{}", url);
            } else {
                prop_assert_eq!(response.status, 400, "{} answered {}", url, response.body);
                assert_strict_headers(&response);
            }
            Ok(())
        },
    );
}

#[test]
fn any_signin_path_answers_400_or_404_never_500() {
    let app = served();
    run_cases(
        HTTP_CASES,
        (path_segment(), prop::option::of(query_string())),
        |net, (ticket, query)| {
            let mut url = format!("{}/signin/{ticket}", app.base);
            if let Some(query) = query {
                url = format!("{url}?{query}");
            }
            let response = net.get(&url);
            let response = response.map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
            if ticket.is_empty() {
                prop_assert_eq!(response.status, 404, "{}", url);
            } else {
                prop_assert_eq!(response.status, 400, "{} answered {}", url, response.body);
                assert_strict_headers(&response);
            }
            Ok(())
        },
    );
}

/// The reply the contract promises for a frame, worked out from the pure parser.
fn expected_reply(frame: &str) -> (&'static str, Option<&'static str>) {
    match ClientMessage::parse(frame) {
        Err(_) => ("error", Some("invalid_message")),
        Ok(ClientMessage::Begin { provider }) => match provider.as_deref() {
            None | Some("mock") => ("signin", None),
            Some(_) => ("error", Some("unknown_provider")),
        },
        // Nothing is held for this session, so there is no code to match.
        Ok(ClientMessage::Confirm { .. }) => ("error", Some("expired")),
        // Nothing random opens under the app's key.
        Ok(ClientMessage::Refresh { .. }) => ("error", Some("reauth_required")),
    }
}

#[test]
fn any_text_frame_gets_its_answer_and_the_socket_stays_open() {
    let app = served();
    let system = actix_rt::System::new();
    let ws_url = format!("{}/ws", app.base.replacen("http", "ws", 1));
    let ws = RefCell::new(system.block_on(WsClient::connect(&ws_url, Some(&app.base))));
    let mut runner = TestRunner::new(networked(WS_CASES));
    let outcome = runner.run(&any_frame(), |frame| {
        let mut guard = ws.borrow_mut();
        let ws = &mut *guard;
        let reply = system.block_on(async {
            ws.send_text(&frame).await;
            ws.try_recv(helpers::WAIT).await
        });
        let reply = reply.ok_or_else(|| TestCaseError::fail(format!("no answer to {frame:?}")))?;
        let (kind, code) = expected_reply(&frame);
        prop_assert_eq!(
            reply["type"].as_str(),
            Some(kind),
            "{} got {}",
            frame,
            reply
        );
        if let Some(code) = code {
            prop_assert_eq!(
                reply["code"].as_str(),
                Some(code),
                "{} got {}",
                frame,
                reply
            );
            prop_assert!(!reply["message"].as_str().unwrap_or("").is_empty());
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // Still the same connection, still answering.
    let mut guard = ws.borrow_mut();
    let ws = &mut *guard;
    system.block_on(async {
        ws.send_json(&json!({"type": "begin"})).await;
        ws.expect("signin").await;
    });
}

#[test]
fn any_binary_frame_gets_invalid_message_and_the_socket_stays_open() {
    use tokio_tungstenite::tungstenite::Message;
    let app = served();
    let system = actix_rt::System::new();
    let ws_url = format!("{}/ws", app.base.replacen("http", "ws", 1));
    let ws = RefCell::new(system.block_on(WsClient::connect(&ws_url, Some(&app.base))));
    let mut runner = TestRunner::new(networked(WS_CASES / 4));
    let outcome = runner.run(&prop::collection::vec(any::<u8>(), 0..2048), |bytes| {
        let mut guard = ws.borrow_mut();
        let ws = &mut *guard;
        let reply = system.block_on(async {
            ws.send_raw(Message::binary(bytes)).await;
            ws.try_recv(helpers::WAIT).await
        });
        let reply = reply.ok_or_else(|| TestCaseError::fail("no answer to a binary frame"))?;
        prop_assert_eq!(reply["code"].as_str(), Some("invalid_message"), "{}", reply);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

#[test]
fn any_tampered_refresh_handle_gets_reauth_required_and_the_socket_stays_open() {
    let app = served();
    let system = actix_rt::System::new();
    let ws_url = format!("{}/ws", app.base.replacen("http", "ws", 1));
    let ws = RefCell::new(system.block_on(WsClient::connect(&ws_url, Some(&app.base))));
    let sealer = RefreshSealer::from_key(&SEAL_KEY);
    let genuine = sealer.seal("mock", &Sensitive::new("rt-genuine"), 1_700_000_000);
    let tampering = (
        0..4u8,
        any::<prop::sample::Index>(),
        0..7u8,
        any::<[u8; 32]>(),
        "[A-Za-z0-9_-]{1,8}",
    );
    let mut runner = TestRunner::new(networked(WS_CASES / 2));
    let outcome = runner.run(&tampering, |(how, at, bit, key, tail)| {
        let forged = match how {
            0 => {
                let mut bytes = genuine.clone().into_bytes();
                let at = at.index(bytes.len());
                bytes[at] ^= 1 << bit;
                String::from_utf8(bytes).expect("flipping a low bit keeps ASCII")
            }
            1 => genuine[..at.index(genuine.len())].to_owned(),
            2 => format!("{genuine}{tail}"),
            _ => RefreshSealer::from_key(&key).seal(
                "mock",
                &Sensitive::new("rt-genuine"),
                1_700_000_000,
            ),
        };
        prop_assume!(forged != genuine && key != SEAL_KEY);
        let mut guard = ws.borrow_mut();
        let ws = &mut *guard;
        let reply = system.block_on(async {
            ws.send_json(&json!({"type": "refresh", "refresh": forged}))
                .await;
            ws.try_recv(helpers::WAIT).await
        });
        let reply = reply.ok_or_else(|| TestCaseError::fail(format!("no answer to {forged:?}")))?;
        prop_assert_eq!(reply["type"].as_str(), Some("error"), "{}", reply);
        prop_assert_eq!(reply["code"].as_str(), Some("reauth_required"), "{}", reply);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // The untampered handle, on the same socket, still renews: the refusals were the handles'.
    let mut guard = ws.borrow_mut();
    let ws = &mut *guard;
    system.block_on(async {
        ws.send_json(&json!({"type": "refresh", "refresh": genuine}))
            .await;
        let signedin = ws.expect("signedin").await;
        assert_eq!(signedin["provider"], "mock");
    });
}

#[test]
fn any_ws_query_is_refused_with_400_or_upgrades_as_resume_param_says() {
    let app = served();
    let ws_base = format!("{}/ws", app.base.replacen("http", "ws", 1));
    let queries = prop_oneof![
        3 => query_string(),
        1 => "[A-Za-z0-9]{0,70}".prop_map(|s| format!("resume={s}")),
    ];
    run_cases(HTTP_CASES / 3, queries, |net, query| {
        let url = format!("{ws_base}?{query}");
        let expected = resume_param(&query);
        let resumed = matches!(expected, Ok(Some(_)));
        let outcome = net
            .system
            .block_on(upgrade_and_greet(&url, &app.base, resumed));
        match (expected, outcome) {
            (Err(_), Err(Upgrade::Refused(status))) => prop_assert_eq!(status, 400, "{}", url),
            (Err(_), other) => prop_assert!(false, "{} should be refused: {:?}", url, other),
            (Ok(_), Ok(frames)) => {
                prop_assert_eq!(frames[0]["type"].as_str(), Some("hello"), "{}", url);
                if resumed {
                    // Nobody was ever given this secret: a fresh session, told so.
                    prop_assert_eq!(frames.len(), 2, "{}", url);
                    prop_assert_eq!(frames[1]["code"].as_str(), Some("expired"), "{}", url);
                }
            }
            (Ok(_), Err(e)) => prop_assert!(false, "{} should upgrade: {:?}", url, e),
        }
        Ok(())
    });
}

#[derive(Debug)]
enum Upgrade {
    Refused(u16),
    Failed(#[allow(dead_code)] String),
}

/// Opens `/ws` with the query; when it upgrades, reads `hello` (and the `expired` error that
/// follows it when a resume secret was sent) and closes. Every wait is bounded and nothing
/// panics, so a failing case shrinks instead of stalling.
async fn upgrade_and_greet(url: &str, origin: &str, resumed: bool) -> Result<Vec<Value>, Upgrade> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::{Error, Message};
    let mut request = url
        .into_client_request()
        .map_err(|e| Upgrade::Failed(format!("not a request: {e}")))?;
    request
        .headers_mut()
        .insert("Origin", origin.parse().expect("a header value"));
    let mut stream = match tokio::time::timeout(
        helpers::WAIT,
        tokio_tungstenite::connect_async(request),
    )
    .await
    {
        Err(_) => return Err(Upgrade::Failed("no answer to the upgrade".into())),
        Ok(Err(Error::Http(response))) => {
            return Err(Upgrade::Refused(response.status().as_u16()));
        }
        Ok(Err(e)) => return Err(Upgrade::Failed(e.to_string())),
        Ok(Ok((stream, _))) => stream,
    };
    let want = if resumed { 2 } else { 1 };
    let mut frames = Vec::new();
    while frames.len() < want {
        match tokio::time::timeout(helpers::WAIT, stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str(&text) {
                Ok(frame) => frames.push(frame),
                Err(e) => return Err(Upgrade::Failed(format!("not JSON: {e}"))),
            },
            Ok(Some(Ok(_))) => continue,
            Ok(other) => return Err(Upgrade::Failed(format!("ended early: {other:?}"))),
            Err(_) => return Err(Upgrade::Failed(format!("no frame after {frames:?}"))),
        }
    }
    let _ = tokio::time::timeout(helpers::WAIT, stream.close(None)).await;
    Ok(frames)
}

/// A real sign-in link answers 303 once, then 400, whatever the query next to it.
#[test]
fn a_real_ticket_works_once_whatever_else_is_sent() {
    let app = served();
    let system = actix_rt::System::new();
    let ws_url = format!("{}/ws", app.base.replacen("http", "ws", 1));
    let ws = RefCell::new(system.block_on(WsClient::connect(&ws_url, Some(&app.base))));
    let http = system.block_on(async { helpers::http_client() });
    let mut runner = TestRunner::new(networked(32));
    let outcome = runner.run(&query_string(), |query| {
        let mut guard = ws.borrow_mut();
        let ws = &mut *guard;
        let answers = system.block_on(async {
            ws.send_json(&json!({"type": "begin"})).await;
            let signin = ws.try_recv(helpers::WAIT).await.ok_or("no signin frame")?;
            let link = signin["url"]
                .as_str()
                .ok_or(format!("not a signin: {signin}"))?;
            let link = format!("{link}?{query}");
            Ok::<_, String>((fetch(&http, &link).await?, fetch(&http, &link).await?))
        });
        let (first, second) = answers.map_err(TestCaseError::fail)?;
        prop_assert_eq!(first.status, 303);
        prop_assert_eq!(second.status, 400);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// The query strategy reaches both sides of `parse_unique`, so the HTTP properties above probe
/// the accepted and the refused paths alike.
#[test]
fn query_strategy_reaches_accepted_and_refused_queries() {
    let mut runner = TestRunner::deterministic();
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..512 {
        let query = query_string()
            .new_tree(&mut runner)
            .expect("a case")
            .current();
        match parse_unique(&query) {
            Ok(_) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(
        accepted > 50 && refused > 50,
        "accepted {accepted}, refused {refused}"
    );
}
