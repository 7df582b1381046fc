//! The doc, the schema and the serde types held to one another: the doc's examples validate,
//! the error codes agree, malformed frames are refused, every `ServerMessage` variant is in the
//! schema.

use super::{doc_client_examples, doc_examples, protocol_doc};
use crate::helpers::schema::{
    self, Direction, assert_client_frame, assert_server_frame, is_client_frame, is_server_frame,
};
use oauth_broker::secrets::{AccessToken, RefreshHandle, ResumeSecret, SessionId, SigninLink};
use oauth_broker::ws::protocol::{ClientMessage, ErrorCode, ServerMessage};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[actix_web::test]
async fn every_frame_the_docs_show_matches_the_schema() {
    let examples = doc_examples();
    assert!(examples.len() >= 9, "PROTOCOL.md shows every frame");
    let mut shown = BTreeSet::new();
    for (line, frame) in &examples {
        let as_server = schema::errors(Direction::Server, frame);
        let as_client = schema::errors(Direction::Client, frame);
        let direction = match (as_server.is_empty(), as_client.is_empty()) {
            (true, false) => Direction::Server,
            (false, true) => Direction::Client,
            (true, true) => panic!("PROTOCOL.md line {line}: matches both directions: {frame}"),
            (false, false) => panic!(
                "PROTOCOL.md line {line}: this example matches no frame of the schema\n\
                 as a server frame: {as_server:?}\nas a client frame: {as_client:?}\n{frame}"
            ),
        };
        shown.insert((direction, frame["type"].as_str().unwrap().to_owned()));
    }
    for direction in [Direction::Server, Direction::Client] {
        for (kind, def) in schema::variant_defs(direction) {
            assert!(
                shown.contains(&(direction, kind.clone())),
                "PROTOCOL.md shows an example of $defs/{def}"
            );
        }
    }
}

/// Every error code of the broker; the test below fails to compile when one is added.
fn every_error_code() -> [ErrorCode; 10] {
    [
        ErrorCode::InvalidMessage,
        ErrorCode::UnknownProvider,
        ErrorCode::AccessDenied,
        ErrorCode::Expired,
        ErrorCode::ProviderError,
        ErrorCode::BadCode,
        ErrorCode::TooManyAttempts,
        ErrorCode::RateLimited,
        ErrorCode::ReauthRequired,
        ErrorCode::Unavailable,
    ]
}

#[test]
fn the_docs_and_the_schema_list_the_same_error_codes_as_the_broker() {
    let every = every_error_code();
    // Fails to compile when a code is added, so that it is added to the list above.
    for code in every {
        match code {
            ErrorCode::InvalidMessage
            | ErrorCode::UnknownProvider
            | ErrorCode::AccessDenied
            | ErrorCode::Expired
            | ErrorCode::ProviderError
            | ErrorCode::BadCode
            | ErrorCode::TooManyAttempts
            | ErrorCode::RateLimited
            | ErrorCode::ReauthRequired
            | ErrorCode::Unavailable => {}
        }
    }
    let broker: BTreeSet<String> = every.iter().map(|c| c.as_str().to_owned()).collect();
    let schema: BTreeSet<String> = schema::schema()["$defs"]["errorCode"]["enum"]
        .as_array()
        .expect("errorCode is an enum")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(broker, schema, "the schema's error codes are the broker's");
    let doc = protocol_doc();
    for code in &broker {
        assert!(
            doc.contains(&format!("| `{code}` |")),
            "PROTOCOL.md's error table has a row for {code}"
        );
    }
}

/// A valid frame, then the same frame broken one way: the schema takes the first and refuses
/// the second.
fn assert_refused(direction: Direction, valid: Value, break_it: impl FnOnce(&mut Value)) {
    let errors = schema::errors(direction, &valid);
    assert!(
        errors.is_empty(),
        "the base frame is valid: {errors:?} {valid}"
    );
    let mut broken = valid;
    break_it(&mut broken);
    assert!(
        !schema::errors(direction, &broken).is_empty(),
        "the schema refuses {broken}"
    );
}

#[test]
fn schema_refuses_malformed_frames() {
    use Direction::{Client, Server};
    let hello = json!({
        "type": "hello", "session": "a".repeat(20), "resume": "b".repeat(32),
        "providers": ["mock"], "heartbeat_secs": 10
    });
    let signedin = json!({
        "type": "signedin", "provider": "mock", "access_token": "at", "token_type": "Bearer"
    });
    let error = json!({"type": "error", "code": "expired", "message": "Sign in again."});
    let signin = json!({
        "type": "signin", "provider": "mock",
        "url": "https://broker.example.com/signin/abc123", "expires_in": 120
    });

    assert_refused(Server, hello.clone(), |f| {
        f["session"] = json!("a".repeat(19))
    });
    assert_refused(Server, hello.clone(), |f| {
        f["session"] = json!("a".repeat(21))
    });
    assert_refused(Server, hello.clone(), |f| {
        f["session"] = json!("aaaaaaaaaa-aaaaaaaaa")
    });
    assert_refused(Server, hello.clone(), |f| {
        f.as_object_mut().unwrap().remove("resume");
    });
    assert_refused(Server, hello.clone(), |f| f["heartbeat_secs"] = json!("10"));
    assert_refused(Server, hello.clone(), |f| f["surprise"] = json!(true));
    assert_refused(Server, error.clone(), |f| f["code"] = json!("oops"));
    assert_refused(Server, error.clone(), |f| f["code"] = json!("cancelled"));
    assert_refused(Server, error.clone(), |f| {
        f.as_object_mut().unwrap().remove("message");
    });
    assert_refused(Server, signedin.clone(), |f| {
        f.as_object_mut().unwrap().remove("access_token");
    });
    assert_refused(Server, signedin.clone(), |f| f["access_token"] = json!(""));
    assert_refused(Server, signedin.clone(), |f| f["expires_in"] = json!(-1));
    assert_refused(Server, signedin.clone(), |f| f["id_token"] = json!("a.b.c"));
    assert_refused(Server, signedin.clone(), |f| {
        f["id_token"] = json!("a.b.c");
        f["claims"] = json!({"email": "no-sub@example.com"});
    });
    assert_refused(Server, signin.clone(), |f| {
        f["url"] = json!("https://broker.example.com/complete/mock")
    });
    assert_refused(Server, signin.clone(), |f| f["id"] = json!("f1"));
    for kind in ["launch", "ack", "begin", "Hello"] {
        assert_refused(Server, hello.clone(), |f| f["type"] = json!(kind));
    }
    assert_refused(Server, hello.clone(), |f| {
        f.as_object_mut().unwrap().remove("type");
    });

    let begin = json!({"type": "begin", "provider": "mock"});
    assert_refused(Client, begin.clone(), |f| f["provider"] = json!(7));
    assert_refused(Client, begin.clone(), |f| f["type"] = json!("launch"));
    assert_refused(Client, begin.clone(), |f| f["type"] = json!("signin"));
    assert_refused(
        Client,
        json!({"type": "confirm", "code": "K7MPQ2XR"}),
        |f| {
            f.as_object_mut().unwrap().remove("code");
        },
    );
    assert_refused(
        Client,
        json!({"type": "confirm", "code": "K7MPQ2XR"}),
        |f| f["code"] = json!(1234),
    );
    assert_refused(Client, json!({"type": "refresh", "refresh": "v1.x"}), |f| {
        f["refresh"] = json!(["v1.x"])
    });
    assert_refused(Client, json!({"type": "ack", "id": "f1"}), |f| {
        f.as_object_mut().unwrap().remove("id");
    });
    for not_a_frame in [json!([]), json!("hello"), json!(null), json!({})] {
        assert!(!is_server_frame(&not_a_frame), "{not_a_frame}");
        assert!(!is_client_frame(&not_a_frame), "{not_a_frame}");
    }

    // The helper WsClient calls on every frame fails loudly, naming the problem and the frame.
    let mut bad = hello;
    bad["session"] = json!("short");
    let panic = std::panic::catch_unwind(|| assert_server_frame(&bad)).expect_err("it panics");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        text.contains("\"short\""),
        "the panic shows the frame: {text}"
    );
    assert!(
        text.contains("/session"),
        "the panic names the field: {text}"
    );
    assert!(std::panic::catch_unwind(|| assert_client_frame(&signedin)).is_err());
}

/// Every variant of `ServerMessage`, with and without its optional fields. The `match` stops
/// compiling when a variant is added, so that it is added here (and to the schema).
fn every_server_message() -> Vec<ServerMessage> {
    let mut frames = vec![
        ServerMessage::Hello {
            session: SessionId::new("Xq3vR8pLm2Tz9KbW4nYc"),
            resume: ResumeSecret::new("h7Kq2Lw9Zx4Mv8Nb3Rt6Yp1Sd5Fg0Jce"),
            providers: vec!["spotify".into(), "demo".into()],
            heartbeat_secs: 10,
        },
        ServerMessage::Signin {
            provider: "demo".into(),
            url: SigninLink::new("http://127.0.0.1:8080/signin/Qm8xT2vL9kRw4Zp7Hc3Nb6Yd1Sf5Gj0E"),
            expires_in: 120,
        },
        ServerMessage::Confirm {
            provider: "demo".into(),
            expires_in: 300,
        },
        ServerMessage::Signedin {
            provider: "spotify".into(),
            access_token: AccessToken::new("at"),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            scope: Some("user-top-read".into()),
            refresh: Some(RefreshHandle::new("v1.handle")),
            id_token: None,
            claims: None,
        },
        ServerMessage::Signedin {
            provider: "google".into(),
            access_token: AccessToken::new("at"),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            scope: Some("openid email".into()),
            refresh: None,
            id_token: Some(oauth_broker::secrets::IdToken::new(
                "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
            )),
            claims: Some(oauth_broker::oauth::oidc::IdClaims {
                sub: "248289761001".into(),
                email: Some("jane@example.com".into()),
                name: None,
            }),
        },
        ServerMessage::Signedin {
            provider: "spotify".into(),
            access_token: AccessToken::new("at"),
            token_type: "bearer".into(),
            expires_in: None,
            scope: None,
            refresh: None,
            id_token: None,
            claims: None,
        },
    ];
    for code in every_error_code() {
        frames.push(ServerMessage::error(code, "Something for people."));
        frames.push(ServerMessage::provider_error(
            code,
            "spotify",
            "For people.",
        ));
    }
    for frame in &frames {
        match frame {
            ServerMessage::Hello { .. }
            | ServerMessage::Signin { .. }
            | ServerMessage::Confirm { .. }
            | ServerMessage::Signedin { .. }
            | ServerMessage::Error { .. } => {}
        }
    }
    frames
}

#[test]
fn every_serde_frame_variant_is_in_the_schema() {
    let mut kinds = BTreeSet::new();
    for message in every_server_message() {
        let frame: Value = serde_json::from_str(&message.to_json()).unwrap();
        assert_server_frame(&frame);
        assert_eq!(frame["type"], message.kind(), "{frame}");
        kinds.insert(message.kind().to_owned());
    }
    let schema_kinds: BTreeSet<String> = schema::variant_defs(Direction::Server)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(
        kinds, schema_kinds,
        "the schema has each ServerMessage, no more"
    );

    // Each client frame the doc shows is one the broker's parser reads as that frame.
    let examples = doc_client_examples();
    let mut parsed = BTreeSet::new();
    for frame in &examples {
        let text = frame.to_string();
        let kind = frame["type"].as_str().unwrap();
        match (kind, ClientMessage::parse(&text)) {
            ("begin", Ok(ClientMessage::Begin { provider })) => {
                assert_eq!(provider.as_deref(), frame["provider"].as_str());
            }
            ("confirm", Ok(ClientMessage::Confirm { code })) => {
                assert_eq!(code.expose(), frame["code"].as_str().unwrap());
            }
            ("refresh", Ok(ClientMessage::Refresh { refresh })) => {
                assert_eq!(refresh.expose(), frame["refresh"].as_str().unwrap());
            }
            ("ack", Ok(ClientMessage::Ack { id })) => {
                assert_eq!(id.0, frame["id"].to_string().trim_matches('"'));
            }
            (kind, result) => panic!("the doc's {kind} example {text} parses as {result:?}"),
        }
        parsed.insert(kind.to_owned());
    }
    let client_kinds: BTreeSet<String> = schema::variant_defs(Direction::Client)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(parsed, client_kinds, "the doc shows every client frame");

    // The broker's parser is more lenient than the schema: it ignores unknown fields (the doc
    // says so). A frame the schema refuses for that reason still parses.
    let lenient = r#"{"type":"begin","provider":"demo","extra":1}"#;
    assert!(!is_client_frame(&serde_json::from_str(lenient).unwrap()));
    assert_eq!(
        ClientMessage::parse(lenient),
        Ok(ClientMessage::Begin {
            provider: Some("demo".into())
        })
    );
}
