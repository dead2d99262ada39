//! The README's configuration reference is generated from `tfctl schema`
//! (the JSON Schema derived from `src/config/raw.rs`), so it cannot drift from
//! what tfctl accepts. The table sits between two markers in README.md:
//!
//! ```text
//! <!-- tfctl:config-reference:begin -->
//! ...generated...
//! <!-- tfctl:config-reference:end -->
//! ```
//!
//! `TFCTL_BLESS=1 cargo test --test integration ship_readme` rewrites it after a config
//! change; `TFCTL_README=PATH` points at another markdown file.

use std::path::PathBuf;

use serde_json::Value;

const BEGIN: &str = "<!-- tfctl:config-reference:begin -->";
const END: &str = "<!-- tfctl:config-reference:end -->";

/// The schema exactly as `tfctl schema` prints it.
fn schema() -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tfctl"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `#/definitions/X` a property refers to, directly or through `anyOf [X, null]`.
fn reference<'a>(schema: &'a Value, prop: &'a Value) -> Option<&'a Value> {
    let pointer = prop["$ref"].as_str().or_else(|| {
        prop["anyOf"]
            .as_array()?
            .iter()
            .find_map(|v| v["$ref"].as_str())
    })?;
    schema.pointer(pointer.trim_start_matches('#'))
}

/// A reader's name for a property's type.
fn type_name(schema: &Value, prop: &Value) -> String {
    if reference(schema, prop).is_some() {
        return "object".into();
    }
    let kinds: Vec<&str> = match &prop["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(v) => v.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    match kinds.iter().find(|k| **k != "null").copied() {
        Some("array") => format!("list of {}", type_name(schema, &prop["items"])),
        Some("object") => match reference(schema, &prop["additionalProperties"]) {
            Some(_) => "map of object".into(),
            None => format!(
                "map of {}",
                type_name(schema, &prop["additionalProperties"])
            ),
        },
        Some(kind) => kind.into(),
        None => "any".into(),
    }
}

fn description(schema: &Value, prop: &Value) -> String {
    let text = prop["description"]
        .as_str()
        .or_else(|| reference(schema, prop).and_then(|d| d["description"].as_str()))
        .unwrap_or("");
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// One row per property, depth first: `backend.settings`, `environments.<name>.branch`.
fn rows(schema: &Value, object: &Value, prefix: &str, out: &mut Vec<(String, String, String)>) {
    let Some(props) = object["properties"].as_object() else {
        return;
    };
    for (name, prop) in props {
        let key = format!("{prefix}{name}");
        out.push((
            key.clone(),
            type_name(schema, prop),
            description(schema, prop),
        ));
        if let Some(def) = reference(schema, prop) {
            rows(schema, def, &format!("{key}."), out);
        } else if let Some(def) = reference(schema, &prop["additionalProperties"]) {
            rows(schema, def, &format!("{key}.<name>."), out);
        }
    }
}

/// The markdown table of every `tfctl.yaml` key.
fn reference_table(schema: &Value) -> String {
    let mut out = Vec::new();
    rows(schema, schema, "", &mut out);
    let mut md = String::from("| key | type | meaning |\n|---|---|---|\n");
    for (key, kind, text) in out {
        md.push_str(&format!("| `{key}` | {kind} | {text} |\n"));
    }
    md
}

fn readme_path() -> PathBuf {
    std::env::var_os("TFCTL_README").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"),
        PathBuf::from,
    )
}

#[test]
fn reference_covers_every_key_of_the_schema() {
    let schema = schema();
    let table = reference_table(&schema);
    let mut names = Vec::new();
    for object in
        std::iter::once(&schema).chain(schema["definitions"].as_object().unwrap().values())
    {
        if let Some(props) = object["properties"].as_object() {
            names.extend(props.keys().cloned());
        }
    }
    assert!(names.len() > 40, "{names:?}");
    for name in names {
        assert!(
            table.lines().any(
                |l| l.starts_with(&format!("| `{name}`")) || l.contains(&format!(".{name}` |"))
            ),
            "`{name}` is missing from\n{table}"
        );
    }
    // Every key is explained: a new field without a `///` comment fails here.
    for line in table.lines().skip(2) {
        assert!(!line.ends_with("|  |"), "no description: {line}");
    }
    // Spot checks of the shapes: nested object, map of objects, list of lists.
    assert!(table.contains("| `backend.type` | string |"), "{table}");
    assert!(
        table.contains("| `environments` | map of object |"),
        "{table}"
    );
    assert!(
        table.contains("| `environments.<name>.approvals` | integer |"),
        "{table}"
    );
    assert!(
        table.contains("| `environments.<name>.variables` | map of string |"),
        "{table}"
    );
    assert!(
        table.contains("| `order` | list of list of string |"),
        "{table}"
    );
    assert!(
        table.contains("| `github.allow_forks` | boolean |"),
        "{table}"
    );
}

#[test]
fn readme_reference_matches_the_schema() {
    let path = readme_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        // The lead's README.md lands separately; until it exists there is nothing to keep in sync.
        eprintln!("{} not found; nothing to check", path.display());
        return;
    };
    let begin = text
        .find(BEGIN)
        .unwrap_or_else(|| panic!("{}: no {BEGIN} marker", path.display()));
    let end = text
        .find(END)
        .unwrap_or_else(|| panic!("{}: no {END} marker", path.display()));
    assert!(begin < end, "{}: markers out of order", path.display());
    let generated = format!("\n{}", reference_table(&schema()));
    let current = &text[begin + BEGIN.len()..end];
    if current == generated {
        return;
    }
    if std::env::var_os("TFCTL_BLESS").is_some() {
        let updated = format!(
            "{}{generated}{}",
            &text[..begin + BEGIN.len()],
            &text[end..]
        );
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "{}: the configuration reference is out of date with `tfctl schema`; \
         run `TFCTL_BLESS=1 cargo test --test integration ship_readme`",
        path.display()
    );
}
