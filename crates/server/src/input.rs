//! Reading the inputs of an embedding request from JSON, as OpenAI (and TEI) write them.

use axum::http::HeaderMap;
use embedd_core::token_ids::TokenIds;
use embedd_core::Input;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ApiError;

/// What an OpenAI-style `input` field holds: the shapes [`parse_input`] reads, as a schema.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum InputSchema {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One text as token ids of the model's vocabulary.
    TokenIds(Vec<u32>),
    /// Several texts as token ids.
    TokenIdLists(Vec<Vec<u32>>),
}

/// The header a request names its token ids' vocabulary in, overriding the model's
/// `token_ids` setting: `cl100k_base` for ids from tiktoken, `model` for the model's own.
pub const TOKEN_IDS_HEADER: &str = "x-embedd-token-ids";

/// The vocabulary [`TOKEN_IDS_HEADER`] names, if the request sent it.
pub fn token_ids_header(headers: &HeaderMap) -> Result<Option<TokenIds>, ApiError> {
    let Some(value) = headers.get(TOKEN_IDS_HEADER) else {
        return Ok(None);
    };
    let invalid = |message: String| ApiError::invalid(TOKEN_IDS_HEADER, message);
    let value = value
        .to_str()
        .map_err(|_| invalid(format!("the `{TOKEN_IDS_HEADER}` header is not text")))?;
    value
        .parse()
        .map(Some)
        .map_err(|e| invalid(format!("the `{TOKEN_IDS_HEADER}` header: {e}")))
}

/// What a texts-only `input` field holds: the shapes [`parse_texts`] reads, as a schema.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TextsSchema {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
}

/// Read OpenAI's `input`: a string, an array of strings, an array of token ids, or an array of
/// arrays of token ids. `field` names it in errors.
pub fn parse_input(value: Value, field: &str) -> Result<Input, ApiError> {
    let shape = "must be a string, an array of strings, an array of token ids or an array of arrays of token ids";
    match value {
        Value::String(text) => Ok(Input::Texts(vec![text])),
        Value::Array(items) => match items.first() {
            None => Err(ApiError::invalid(
                field,
                format!("`{field}` is an empty array; send at least one input"),
            )),
            Some(Value::String(_)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s),
                    other => Err(ApiError::invalid(
                        format!("{field}[{i}]"),
                        format!(
                            "`{field}[{i}]` is {}, but the other inputs are strings",
                            describe(&other)
                        ),
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Input::Texts),
            Some(Value::Number(_)) => Ok(Input::Tokens(vec![token_ids(&items, field)?])),
            Some(Value::Array(_)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Array(ids) => token_ids(ids, &format!("{field}[{i}]")),
                    other => Err(ApiError::invalid(
                        format!("{field}[{i}]"),
                        format!(
                            "`{field}[{i}]` is {}, but the other inputs are arrays of token ids",
                            describe(other)
                        ),
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Input::Tokens),
            Some(other) => Err(ApiError::invalid(
                format!("{field}[0]"),
                format!("`{field}[0]` is {}; `{field}` {shape}", describe(other)),
            )),
        },
        Value::Null => Err(ApiError::invalid(
            field,
            format!("`{field}` is required; it {shape}"),
        )),
        other => Err(ApiError::invalid(
            field,
            format!("`{field}` is {}; it {shape}", describe(&other)),
        )),
    }
}

/// Read `value` as texts only (a string or an array of strings), for routes without token ids.
pub fn parse_texts(value: Value, field: &str) -> Result<Vec<String>, ApiError> {
    match parse_input(value, field)? {
        Input::Texts(texts) => Ok(texts),
        Input::Tokens(_) => Err(ApiError::invalid(
            field,
            format!("`{field}` must be a string or an array of strings"),
        )),
    }
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

    fn parse(v: Value) -> Result<Input, ApiError> {
        parse_input(v, "input")
    }

    #[test]
    fn every_openai_shape_is_read() {
        assert_eq!(parse(json!("a")).unwrap(), Input::Texts(vec!["a".into()]));
        assert_eq!(parse(json!(["a", "b"])).unwrap().len(), 2);
        assert_eq!(
            parse(json!([1, 2, 3])).unwrap(),
            Input::Tokens(vec![vec![1, 2, 3]])
        );
        assert_eq!(
            parse(json!([[1], [2, 3]])).unwrap(),
            Input::Tokens(vec![vec![1], vec![2, 3]])
        );
        assert!(parse_texts(json!([1, 2]), "inputs").is_err());
    }

    #[test]
    fn the_published_schemas_describe_what_the_parsers_read() {
        for shape in [
            json!("a"),
            json!(["a", "b"]),
            json!([1, 2]),
            json!([[1], [2]]),
        ] {
            assert!(parse(shape.clone()).is_ok());
            assert!(serde_json::from_value::<InputSchema>(shape).is_ok());
        }
        for shape in [json!("a"), json!(["a"])] {
            assert!(parse_texts(shape.clone(), "input").is_ok());
            assert!(serde_json::from_value::<TextsSchema>(shape).is_ok());
        }
        for wrong in [json!(true), json!({"a": 1}), json!([1, -2]), json!(null)] {
            assert!(parse(wrong.clone()).is_err());
            assert!(serde_json::from_value::<InputSchema>(wrong).is_err());
        }
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
}
