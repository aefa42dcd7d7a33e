//! `${VAR}` interpolation of string values in the parsed YAML tree.
//!
//! Done on values, not on the raw text, so a variable's content can never change the YAML's
//! structure and comments are left alone. `${VAR:-default}` gives a default; `$${` writes a literal
//! `${`. A value that is nothing but one `${VAR}` is re-read as a YAML scalar, so
//! `dimensions: ${DIMS}` becomes a number.

use serde_norway::Value;

use super::ConfigIssue;

/// Replace every `${VAR}` in string values; report each unset variable with the key it sits under.
pub(super) fn interpolate(
    value: &mut Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    walk(value, "", env, &mut issues);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

fn walk(
    value: &mut Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<ConfigIssue>,
) {
    match value {
        Value::String(text) if text.contains('$') => match expand(text, env) {
            Ok(expanded) => {
                let whole_variable = text.starts_with("${")
                    && text.ends_with('}')
                    && text.matches("${").count() == 1;
                *value = retype(expanded, whole_variable);
            }
            Err(message) => issues.push(ConfigIssue {
                key: path.to_owned(),
                message,
            }),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{i}]"), env, issues);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = match key {
                    Value::String(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                walk(item, &child, env, issues);
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, env, issues),
        _ => {}
    }
}

/// A value made only of one variable takes the variable's YAML type (number, boolean); anything
/// else stays a string.
fn retype(expanded: String, whole_variable: bool) -> Value {
    if whole_variable {
        if let Ok(scalar @ (Value::Number(_) | Value::Bool(_))) =
            serde_norway::from_str::<Value>(&expanded)
        {
            return scalar;
        }
    }
    Value::String(expanded)
}

fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| "`${` without a closing `}`".to_owned())?;
            let (name, default) = match body[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&body[..end], None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{name}}}` is not a valid environment variable reference"
                ));
            }
            match (env(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (set it, or write ${{{name}:-default}})"
                    ))
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("ollama.internal".to_owned()),
            "DIMS" => Some("768".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_defaults_and_escapes() {
        assert_eq!(
            expand("http://${HOST}:11434", &env).as_deref(),
            Ok("http://ollama.internal:11434")
        );
        assert_eq!(
            expand("${MISSING:-fallback}", &env).as_deref(),
            Ok("fallback")
        );
        assert_eq!(
            expand("cost $5 and $${HOST}", &env).as_deref(),
            Ok("cost $5 and ${HOST}")
        );
        assert!(expand("${MISSING}", &env).unwrap_err().contains("MISSING"));
        assert!(expand("${HOST", &env).is_err());
        assert!(expand("${bad-name}", &env).is_err());
    }

    #[test]
    fn a_lone_variable_takes_its_yaml_type() {
        let mut value: Value = serde_norway::from_str("a: ${DIMS}\nb: x${DIMS}\n").unwrap();
        interpolate(&mut value, &env).unwrap();
        assert_eq!(value["a"], Value::Number(768.into()));
        assert_eq!(value["b"], Value::String("x768".into()));
    }

    #[test]
    fn unset_variables_are_reported_with_their_key() {
        let mut value: Value = serde_norway::from_str("m:\n  url: ${NOPE}\n").unwrap();
        let issues = interpolate(&mut value, &env).unwrap_err();
        assert_eq!(issues[0].key, "m.url");
        assert!(issues[0].message.contains("NOPE"));
    }
}
