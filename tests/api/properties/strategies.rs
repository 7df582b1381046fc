//! Strategies: the outside input the properties feed the parsers, and a check that the query
//! strategy reaches both what is accepted and what is refused.

use oauth_broker::query::{QueryError, StrictQuery};

/// The strict parser's view of every parameter, empty ones too.
pub fn parse_unique(query: &str) -> Result<std::collections::HashMap<String, String>, QueryError> {
    StrictQuery::parse(query.as_bytes()).map(StrictQuery::into_map)
}
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

/// Any text, biased towards what a parser has to think about: JSON punctuation, URL syntax,
/// percent escapes, non-ASCII and control characters.
pub(super) fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        r#"[{}\[\]":,0-9a-z \\\-.eE+]{0,60}"#,
        "[a-zA-Z0-9=&%+;#?/._~-]{0,80}",
        "(%[0-9a-fA-F]{0,2}|[a-z]|[=&]|\u{e9}|\u{0}|\u{202e}|\u{1F600}){0,40}",
    ]
}

/// A JSON value of any shape, small.
pub(super) fn json_value() -> impl Strategy<Value = Value> {
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
pub(super) fn protocol_like_frame() -> impl Strategy<Value = String> {
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
pub(super) fn any_frame() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile_text(),
        json_value().prop_map(|v| v.to_string()),
        protocol_like_frame(),
    ]
    .prop_filter("within the frame limit", |f| f.len() < 8000)
}

/// Query strings as a provider, a browser or an attacker might send them: known keys, repeats,
/// empty values, stray separators, escapes good and bad.
pub(super) fn query_string() -> impl Strategy<Value = String> {
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
pub(super) fn escape_some(text: &str) -> String {
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
pub(super) fn path_segment() -> impl Strategy<Value = String> {
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

/// The query strategy reaches both sides of `parse_unique`, so the properties over HTTP and the
/// WebSocket probe the accepted and the refused paths alike.
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
