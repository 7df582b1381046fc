//! Imports run one way: from the web layer (routes, the connection actor, the hub, the
//! transport) down to the sign-in steps, then to the OAuth client, the store and sealing, and
//! never back up. Read from the source itself, so a new upward import fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of `src/` and its layer: a module may import only from lower layers
/// (or its own). Equal layers may not import each other either.
const LAYERS: &[(&str, u8)] = &[
    ("clock", 0),
    ("secrets", 0),
    ("settings", 0),
    ("query", 0),
    ("random", 1),
    ("telemetry", 1),
    ("single_flight", 1),
    ("sealing", 2),
    ("tls", 2),
    ("oauth", 3),
    ("store", 4),
    ("validation", 4),
    ("limits", 5),
    ("broker", 6),
    ("signin", 7),
    ("pages", 8),
    ("access_log", 8),
    ("demo", 9),
    ("ws", 9),
    ("transport", 10),
    ("routes", 11),
    ("startup", 12),
    ("cli", 13),
];

/// Below the web layer nothing knows about actors, sockets or HTTP handlers.
const WEB_CRATES: &[&str] = &[
    "actix_web::",
    "actix_web_actors::",
    "actix::",
    "actix_http::",
];
const BELOW_WEB: &[&str] = &[
    "clock",
    "secrets",
    "settings",
    "query",
    "random",
    "sealing",
    "oauth",
    "store",
    "limits",
    "broker",
    "signin",
    "single_flight",
];

fn source_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to, and its code without comments and unit tests.
fn module_and_code(src: &Path, file: &Path) -> (String, String) {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a component");
    let module = first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned();
    let text = std::fs::read_to_string(file).expect("readable");
    (module, code_of(&text))
}

/// Source without its comments and its unit tests (which may import anything).
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn imports_of(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn imports_run_from_the_web_layer_down_and_never_back_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut checked = 0;
    for file in &files {
        let (module, code) = module_and_code(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&own) = layers.get(module.as_str()) else {
            panic!(
                "{module} (in {}) has no layer in LAYERS: give it one",
                file.display()
            );
        };
        for import in imports_of(&code) {
            if import == module {
                continue;
            }
            let theirs = layers
                .get(import.as_str())
                .unwrap_or_else(|| panic!("crate::{import} has no layer in LAYERS"));
            checked += 1;
            if *theirs >= own {
                upward.push(format!("{} imports crate::{import}", file.display()));
            }
        }
        if BELOW_WEB.contains(&module.as_str()) {
            for web in WEB_CRATES {
                if code.contains(web) {
                    upward.push(format!(
                        "{} (below the web layer) uses {web}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "the scan found only {checked} imports: is it reading src/?"
    );
    assert!(
        upward.is_empty(),
        "imports against the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_layer_check_sees_an_upward_import() {
    let text = "use crate::ws::hub::SessionHub;\n// use crate::routes::x;\nfn f() { crate::store::x(); }\n#[cfg(test)]\nuse crate::cli;";
    assert_eq!(
        imports_of(&code_of(text)),
        BTreeSet::from(["store".to_owned(), "ws".to_owned()])
    );
}
