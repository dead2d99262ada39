//! Turning a `deny`/`violation`/`warn` rule value into message strings,
//! conftest-style. Pure: no IO.
//!
//! A message is a string, or an object whose `msg` is a string (conftest's
//! structured form); anything else is shown as compact JSON so it is never
//! silently dropped.

/// The messages of one rule value: a set (`deny contains msg`), an array,
/// an object (`deny[msg] if ...` in v1 makes `{msg: true}`: its keys), or a
/// single value. Undefined yields nothing.
pub fn messages(value: &regorus::Value) -> Vec<String> {
    if *value == regorus::Value::Undefined {
        return Vec::new();
    }
    // Sets serialize as arrays, so one JSON view covers every shape.
    let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    match json {
        serde_json::Value::Array(items) => items.iter().map(message).collect(),
        serde_json::Value::Object(map) if !map.contains_key("msg") => map.keys().cloned().collect(),
        serde_json::Value::Null | serde_json::Value::Bool(false) => Vec::new(),
        other => vec![message(&other)],
    }
}

fn message(item: &serde_json::Value) -> String {
    match item {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => match map.get("msg") {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => item.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> regorus::Value {
        regorus::Value::from_json_str(json).unwrap()
    }

    #[test]
    fn strings_objects_and_other_values() {
        assert_eq!(
            messages(&v(r#"["a", {"msg": "b", "details": 1}, {"x": 1}, 3]"#)),
            ["a", "b", r#"{"x":1}"#, "3"]
        );
        assert_eq!(messages(&v(r#"{"m1": true, "m2": true}"#)), ["m1", "m2"]);
        assert_eq!(messages(&v(r#""one""#)), ["one"]);
        assert!(messages(&regorus::Value::Undefined).is_empty());
        assert!(messages(&v("[]")).is_empty());
    }
}
