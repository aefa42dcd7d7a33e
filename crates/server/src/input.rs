//! The inputs of an embedding request and the limits they must respect.

use serde_json::Value;

use crate::error::ApiError;

/// What the caller sent to embed: texts, or token ids of the model's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedInput {
    /// One or more texts.
    Texts(Vec<String>),
    /// One or more token-id sequences.
    Tokens(Vec<Vec<u32>>),
}

impl EmbedInput {
    /// Read OpenAI's `input`: a string, an array of strings, an array of token ids, or an array of
    /// arrays of token ids. `field` names it in errors.
    pub fn from_openai(value: Value, field: &str) -> Result<Self, ApiError> {
        let shape = "must be a string, an array of strings, an array of token ids or an array of arrays of token ids";
        match value {
            Value::String(text) => Ok(Self::Texts(vec![text])),
            Value::Array(items) => match items.first() {
                None => Err(ApiError::invalid(field, format!("`{field}` is an empty array; send at least one input"))),
                Some(Value::String(_)) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(s) => Ok(s),
                        other => Err(ApiError::invalid(
                            format!("{field}[{i}]"),
                            format!("`{field}[{i}]` is {}, but the other inputs are strings", describe(&other)),
                        )),
                    })
                    .collect::<Result<_, _>>()
                    .map(Self::Texts),
                Some(Value::Number(_)) => Ok(Self::Tokens(vec![token_ids(&items, field)?])),
                Some(Value::Array(_)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::Array(ids) => token_ids(ids, &format!("{field}[{i}]")),
                        other => Err(ApiError::invalid(
                            format!("{field}[{i}]"),
                            format!("`{field}[{i}]` is {}, but the other inputs are arrays of token ids", describe(other)),
                        )),
                    })
                    .collect::<Result<_, _>>()
                    .map(Self::Tokens),
                Some(other) => Err(ApiError::invalid(
                    format!("{field}[0]"),
                    format!("`{field}[0]` is {}; `{field}` {shape}", describe(other)),
                )),
            },
            Value::Null => Err(ApiError::invalid(field, format!("`{field}` is required; it {shape}"))),
            other => Err(ApiError::invalid(field, format!("`{field}` is {}; it {shape}", describe(&other)))),
        }
    }

    /// How many inputs there are.
    pub fn len(&self) -> usize {
        match self {
            Self::Texts(t) => t.len(),
            Self::Tokens(t) => t.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total size for logs: bytes of text, or token ids; never the content.
    pub fn total_len(&self) -> usize {
        match self {
            Self::Texts(t) => t.iter().map(String::len).sum(),
            Self::Tokens(t) => t.iter().map(Vec::len).sum(),
        }
    }

    /// Check the count against `max_inputs` and refuse empty texts and empty token arrays.
    pub fn check(&self, field: &str, max_inputs: usize) -> Result<(), ApiError> {
        if self.is_empty() {
            return Err(ApiError::invalid(
                field,
                format!("`{field}` holds no inputs; send at least one"),
            ));
        }
        if self.len() > max_inputs {
            return Err(ApiError::invalid(
                field,
                format!(
                    "`{field}` holds {} inputs; at most {max_inputs} are allowed in one request",
                    self.len()
                ),
            ));
        }
        let empty = match self {
            Self::Texts(t) => t.iter().position(String::is_empty),
            Self::Tokens(t) => t.iter().position(Vec::is_empty),
        };
        match empty {
            Some(i) => {
                let at = if self.len() == 1 && matches!(self, Self::Texts(_)) {
                    field.to_owned()
                } else {
                    format!("{field}[{i}]")
                };
                Err(ApiError::invalid(
                    at.clone(),
                    format!("`{at}` is empty; every input needs at least one character or token"),
                ))
            }
            None => Ok(()),
        }
    }
}

/// A requested `dimensions`, checked against the model's width when known.
pub fn check_dimensions(requested: u64, model: Option<usize>) -> Result<usize, ApiError> {
    let max = model.unwrap_or(embedd_core::catalog::MAX_DIMENSIONS);
    match usize::try_from(requested) {
        Ok(d) if (1..=max).contains(&d) => Ok(d),
        _ => Err(ApiError::invalid(
            "dimensions",
            format!("`dimensions` is {requested}; this model takes 1 to {max}"),
        )),
    }
}

/// Shorten every vector to `dims` and re-normalise (Matryoshka), after checking that the model
/// that answered (perhaps a fallback) is that wide.
pub fn shorten(
    vectors: &mut [Vec<f32>],
    dims: Option<usize>,
    produced: usize,
) -> Result<(), ApiError> {
    if let Some(d) = dims {
        check_dimensions(d as u64, Some(produced))?;
        for vector in vectors {
            embedd_core::vector::truncate_normalized(vector, d);
        }
    }
    Ok(())
}

fn token_ids(items: &[Value], field: &str) -> Result<Vec<u32>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        format!("{field}[{i}]"),
                        format!(
                            "`{field}[{i}]` is {}; token ids are integers from 0 to {}",
                            describe(item),
                            u32::MAX
                        ),
                    )
                })
        })
        .collect()
}

/// A short description of a JSON value's kind for error messages; never its content.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() => "an integer",
        Value::Number(n) if n.is_i64() => "a negative integer",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<EmbedInput, ApiError> {
        EmbedInput::from_openai(v, "input")
    }

    #[test]
    fn every_openai_shape_is_read() {
        assert_eq!(
            parse(json!("a")).unwrap(),
            EmbedInput::Texts(vec!["a".into()])
        );
        assert_eq!(parse(json!(["a", "b"])).unwrap().len(), 2);
        assert_eq!(
            parse(json!([1, 2, 3])).unwrap(),
            EmbedInput::Tokens(vec![vec![1, 2, 3]])
        );
        assert_eq!(
            parse(json!([[1], [2, 3]])).unwrap(),
            EmbedInput::Tokens(vec![vec![1], vec![2, 3]])
        );
    }

    #[test]
    fn wrong_shapes_name_the_item() {
        assert_eq!(
            parse(json!(["a", 1])).unwrap_err().param.as_deref(),
            Some("input[1]")
        );
        assert_eq!(
            parse(json!([1, -2])).unwrap_err().param.as_deref(),
            Some("input[1]")
        );
        assert_eq!(
            parse(json!([1, 2.5])).unwrap_err().param.as_deref(),
            Some("input[1]")
        );
        assert_eq!(
            parse(json!([1, 4294967296u64]))
                .unwrap_err()
                .param
                .as_deref(),
            Some("input[1]")
        );
        assert_eq!(
            parse(json!([[1], "x"])).unwrap_err().param.as_deref(),
            Some("input[1]")
        );
        assert_eq!(
            parse(json!([[1, null]])).unwrap_err().param.as_deref(),
            Some("input[0][1]")
        );
        assert!(parse(json!({"a": 1})).is_err());
        assert!(parse(json!(null)).is_err());
        assert!(parse(json!(true)).is_err());
        assert!(parse(json!([])).is_err());
        assert!(parse(json!([{}])).is_err());
    }

    #[test]
    fn limits_are_checked() {
        let many = EmbedInput::Texts(vec!["x".into(); 3]);
        assert!(many.check("input", 3).is_ok());
        assert!(many
            .check("input", 2)
            .unwrap_err()
            .message
            .contains("at most 2"));
        let empty = EmbedInput::Texts(vec!["a".into(), String::new()]);
        assert_eq!(
            empty.check("input", 10).unwrap_err().param.as_deref(),
            Some("input[1]")
        );
        assert!(EmbedInput::Texts(vec!["  ".into()])
            .check("input", 10)
            .is_ok());
        assert!(EmbedInput::Tokens(vec![vec![]]).check("input", 10).is_err());
    }
}
