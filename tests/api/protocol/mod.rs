//! `docs/PROTOCOL.md` and `docs/protocol.schema.json` against the broker: every frame a real
//! sign-in produces matches the schema, every example in the doc matches it, the schema refuses
//! what the contract rules out, and the serde types of `ws::protocol` agree with both.

mod over_the_wire;
mod schema_and_types;

use crate::helpers::schema::is_client_frame;
use serde_json::Value;

pub(super) fn protocol_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/PROTOCOL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The content of every ```json block of PROTOCOL.md, parsed, with its line number.
pub(super) fn doc_examples() -> Vec<(usize, Value)> {
    let doc = protocol_doc();
    let mut examples = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (index, line) in doc.lines().enumerate() {
        match &mut block {
            None if line.trim() == "```json" => block = Some((index + 2, String::new())),
            None => {}
            Some((start, text)) if line.trim() == "```" => {
                let frame = serde_json::from_str(text).unwrap_or_else(|e| {
                    panic!("PROTOCOL.md line {start}: the json block is not JSON ({e}): {text}")
                });
                examples.push((*start, frame));
                block = None;
            }
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(block.is_none(), "PROTOCOL.md ends inside a json block");
    examples
}

/// The doc's examples that are client frames.
pub(super) fn doc_client_examples() -> Vec<Value> {
    doc_examples()
        .into_iter()
        .map(|(_, frame)| frame)
        .filter(is_client_frame)
        .collect()
}
