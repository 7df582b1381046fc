//! The same inputs over a real WebSocket: every frame gets the answer the contract promises and
//! the socket stays open; every `/ws` query upgrades (a bad resume secret is told `expired`).

use super::shared_app::{connect, networked, passed, run_cases, served};
use super::strategies::{any_frame, query_string};
use super::{HTTP_CASES, SEAL_KEY, WS_CASES};
use crate::helpers;
use oauth_broker::routes::ws::resume_param;
use oauth_broker::sealing::RefreshSealer;
use oauth_broker::secrets::RefreshToken;
use oauth_broker::ws::protocol::ClientMessage;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

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
        // Acks are not answered: the `begin` the test sends after one is.
        Ok(ClientMessage::Ack { .. }) => ("signin", None),
    }
}

#[test]
fn any_text_frame_gets_its_answer_and_the_socket_stays_open() {
    let app = served();
    let (system, ws) = connect(app);
    let mut runner = TestRunner::new(networked(WS_CASES));
    let outcome = runner.run(&any_frame(), |frame| {
        let mut guard = ws.borrow_mut();
        let ws = &mut *guard;
        let reply = system.block_on(async {
            ws.send_text(&frame).await;
            if let Ok(ClientMessage::Ack { .. }) = ClientMessage::parse(&frame) {
                ws.send_json(&json!({"type": "begin"})).await;
            }
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
    passed(outcome);
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
    let (system, ws) = connect(app);
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
    passed(outcome);
}

#[test]
fn any_tampered_refresh_handle_gets_reauth_required_and_the_socket_stays_open() {
    let app = served();
    let (system, ws) = connect(app);
    let sealer = RefreshSealer::from_key(&SEAL_KEY);
    // Sealed now: a handle older than `signin.refresh_handle_max_age_secs` is refused too.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let genuine = sealer
        .seal("mock", &RefreshToken::new("rt-genuine"), now)
        .expose()
        .to_owned();
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
            _ => RefreshSealer::from_key(&key)
                .seal("mock", &RefreshToken::new("rt-genuine"), 1_700_000_000)
                .expose()
                .to_owned(),
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
    passed(outcome);
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
fn any_ws_query_upgrades_and_a_bad_resume_is_told_expired() {
    let app = served();
    let ws_base = app.ws_url();
    let queries = prop_oneof![
        3 => query_string(),
        1 => "[A-Za-z0-9]{0,70}".prop_map(|s| format!("resume={s}")),
    ];
    run_cases(HTTP_CASES / 3, queries, |net, query| {
        let url = format!("{ws_base}?{query}");
        // Nobody was ever given any secret here: a resume of any shape gets a fresh session.
        let told_expired = !matches!(resume_param(&query), Ok(None));
        let outcome = net
            .system
            .block_on(upgrade_and_greet(&url, &app.base, told_expired));
        match outcome {
            Ok(frames) => {
                prop_assert_eq!(frames[0]["type"].as_str(), Some("hello"), "{}", url);
                if told_expired {
                    prop_assert_eq!(frames.len(), 2, "{}", url);
                    prop_assert_eq!(frames[1]["code"].as_str(), Some("expired"), "{}", url);
                }
            }
            Err(e) => prop_assert!(false, "{} should upgrade: {:?}", url, e),
        }
        Ok(())
    });
}

#[derive(Debug)]
enum Upgrade {
    Refused(#[allow(dead_code)] u16),
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
