//! `docs/protocol.schema.json`, loaded and compiled once, and assertions that a frame matches
//! it. `WsClient` checks every JSON frame it receives with [`assert_server_frame`], so every
//! WebSocket test also checks the schema (and the schema the broker).

use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where the schema lives, whatever directory the tests run in.
pub fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/protocol.schema.json")
}

/// The schema document as JSON.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = schema_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    })
}

/// Which way a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Server,
    Client,
}

impl Direction {
    fn def(self) -> &'static str {
        match self {
            Direction::Server => "serverFrame",
            Direction::Client => "clientFrame",
        }
    }
}

struct Compiled {
    /// `serverFrame` and `clientFrame`.
    frames: HashMap<Direction, jsonschema::Validator>,
    /// Each frame's own definition by its `type`, for saying precisely what is wrong.
    variants: HashMap<(Direction, String), jsonschema::Validator>,
}

/// A validator for `#/$defs/{name}` of the document, with the document's `$defs` around it.
fn compile_def(name: &str) -> jsonschema::Validator {
    let mut wrapper = schema().clone();
    let object = wrapper.as_object_mut().expect("the schema is an object");
    object.remove("anyOf");
    object.insert("$ref".into(), Value::from(format!("#/$defs/{name}")));
    jsonschema::draft202012::new(&wrapper)
        .unwrap_or_else(|e| panic!("{} does not compile: {e}", schema_path().display()))
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        // The document itself, as published, must be a valid 2020-12 schema.
        if let Err(e) = jsonschema::meta::validate(schema()) {
            panic!(
                "{} is not a valid JSON Schema: {e}",
                schema_path().display()
            );
        }
        jsonschema::draft202012::new(schema())
            .unwrap_or_else(|e| panic!("{} does not compile: {e}", schema_path().display()));
        let mut frames = HashMap::new();
        let mut variants = HashMap::new();
        for direction in [Direction::Server, Direction::Client] {
            frames.insert(direction, compile_def(direction.def()));
            for (kind, def) in variant_defs(direction) {
                variants.insert((direction, kind), compile_def(&def));
            }
        }
        Compiled { frames, variants }
    })
}

/// `(type, name of its $def)` for each frame of one direction, read from the `oneOf` of
/// `serverFrame` or `clientFrame` and the `const` of each referenced definition.
pub fn variant_defs(direction: Direction) -> Vec<(String, String)> {
    let defs = &schema()["$defs"];
    defs[direction.def()]["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("$defs/{} has a oneOf", direction.def()))
        .iter()
        .map(|branch| {
            let reference = branch["$ref"].as_str().expect("each branch is a $ref");
            let name = reference
                .strip_prefix("#/$defs/")
                .expect("local references only")
                .to_owned();
            let kind = defs[&name]["properties"]["type"]["const"]
                .as_str()
                .unwrap_or_else(|| panic!("$defs/{name} fixes its type with const"))
                .to_owned();
            (kind, name)
        })
        .collect()
}

/// Every validation error of `frame` as one direction's frame; empty when it matches.
pub fn errors(direction: Direction, frame: &Value) -> Vec<String> {
    let compiled = compiled();
    let validator = &compiled.frames[&direction];
    if validator.is_valid(frame) {
        return Vec::new();
    }
    // `oneOf` only says that no branch matched: ask the branch the frame's type names.
    let precise = frame["type"]
        .as_str()
        .and_then(|kind| compiled.variants.get(&(direction, kind.to_owned())));
    let validator = precise.unwrap_or(validator);
    let mut found: Vec<String> = validator
        .iter_errors(frame)
        .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
        .collect();
    if found.is_empty() {
        found.push(format!("not a {}", direction.def()));
    }
    found
}

pub fn is_server_frame(frame: &Value) -> bool {
    errors(Direction::Server, frame).is_empty()
}

pub fn is_client_frame(frame: &Value) -> bool {
    errors(Direction::Client, frame).is_empty()
}

fn assert_frame(direction: Direction, frame: &Value) {
    let found = errors(direction, frame);
    assert!(
        found.is_empty(),
        "this frame does not match $defs/{} of docs/protocol.schema.json:\n  {}\nframe: {frame}",
        direction.def(),
        found.join("\n  ")
    );
}

/// Panics, with the validation errors and the frame, unless `frame` is a server frame.
pub fn assert_server_frame(frame: &Value) {
    assert_frame(Direction::Server, frame);
}

/// Panics, with the validation errors and the frame, unless `frame` is a client frame.
pub fn assert_client_frame(frame: &Value) {
    assert_frame(Direction::Client, frame);
}
