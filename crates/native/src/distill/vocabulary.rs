//! Which tokens a distilled model keeps, and the tokenizer it is saved with, chosen as model2vec's
//! `distill` chooses them: every token of the source's vocabulary in id order, less the added
//! tokens other than the unknown and padding tokens (`[CLS]`, `[SEP]`, `[MASK]`) and those
//! matching the removal pattern (`[unused12]`); each is read by the transformer between the
//! source's first and last special tokens (`[CLS] token [SEP]`). The saved tokenizer has the kept tokens renumbered from 0 and
//! no post-processor: a static model adds no special tokens.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use regex::Regex;
use serde_json::{json, Value};

use crate::error::NativeError;

/// The source tokenizer and the tokens taken from it.
pub(super) struct Vocabulary {
    /// The kept tokens in order of their id in the source, with that id.
    pub tokens: Vec<(String, u32)>,
    /// The ids put before each token (the source's `[CLS]` / `<s>`).
    pub bos: Vec<u32>,
    /// The ids put after it (`[SEP]` / `</s>`).
    pub eos: Vec<u32>,
    /// The source's `tokenizer.json`.
    json: Value,
}

impl Vocabulary {
    /// Read `path` (a `tokenizer.json`) and choose its tokens; `remove` drops tokens it matches
    /// at their start (as Python's `re.match` does).
    pub fn read(path: &Path, remove: Option<&Regex>) -> Result<Self, NativeError> {
        let bad = |message: String| NativeError::file(path, message);
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("malformed: {e}")))?;
        let by_id = ids_to_tokens(&json).map_err(bad)?;
        let ids: HashMap<&str, u32> = by_id
            .iter()
            .enumerate()
            .map(|(id, token)| (token.as_str(), id as u32))
            .collect();
        let post = &json["post_processor"];
        let bos = edge_tokens(post, Edge::First);
        let eos = edge_tokens(post, Edge::Last);
        let unk = unknown_token(&json, &by_id);
        let pad = json["padding"]["pad_token"].as_str().map(str::to_owned);
        // Of the added tokens, a static model keeps only the unknown and padding tokens: it adds
        // no special tokens (model2vec prunes the rest once the post-processor is gone).
        let keep: HashSet<&str> = unk.iter().chain(&pad).map(String::as_str).collect();
        let mut removed: HashSet<&str> = json["added_tokens"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["content"].as_str())
            .filter(|t| !keep.contains(t))
            .collect();
        if let Some(pattern) = remove {
            removed.extend(
                by_id
                    .iter()
                    .map(String::as_str)
                    .filter(|t| pattern.find(t).is_some_and(|m| m.start() == 0)),
            );
        }
        let to_ids = |tokens: &[String]| -> Result<Vec<u32>, NativeError> {
            tokens
                .iter()
                .map(|t| {
                    ids.get(t.as_str()).copied().ok_or_else(|| {
                        bad(format!(
                            "the post-processor names `{t}`, which is not a token"
                        ))
                    })
                })
                .collect()
        };
        let (bos, eos) = (to_ids(&bos)?, to_ids(&eos)?);
        let tokens: Vec<(String, u32)> = by_id
            .iter()
            .enumerate()
            .filter(|(_, t)| !removed.contains(t.as_str()))
            .map(|(id, t)| (t.clone(), id as u32))
            .collect();
        if tokens.is_empty() {
            return Err(bad(
                "no token is left after the removal pattern; loosen it".to_owned()
            ));
        }
        Ok(Self {
            tokens,
            bos,
            eos,
            json,
        })
    }

    /// The id sequence the transformer reads for each kept token, in order.
    pub fn sequences(&self) -> Vec<Vec<u32>> {
        self.tokens
            .iter()
            .map(|(_, id)| [&self.bos[..], &[*id], &self.eos[..]].concat())
            .collect()
    }

    /// The static model's `tokenizer.json`: the source's, with the kept tokens numbered from 0
    /// in their order, the added tokens renumbered, and no post-processor or truncation.
    pub fn static_tokenizer(&self) -> Result<String, NativeError> {
        let new_id: HashMap<&str, u32> = self
            .tokens
            .iter()
            .enumerate()
            .map(|(id, (t, _))| (t.as_str(), id as u32))
            .collect();
        let mut json = self.json.clone();
        let model = &mut json["model"];
        if model["type"] == "Unigram" {
            let scores: HashMap<String, Value> = model["vocab"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| Some((e.get(0)?.as_str()?.to_owned(), e.get(1)?.clone())))
                .collect();
            let unk = model["unk_id"]
                .as_u64()
                .and_then(|id| self.json["model"]["vocab"][id as usize][0].as_str())
                .and_then(|t| new_id.get(t));
            model["unk_id"] = json!(unk);
            model["vocab"] = Value::Array(
                self.tokens
                    .iter()
                    .map(|(t, _)| json!([t, scores.get(t).cloned().unwrap_or(json!(0.0))]))
                    .collect(),
            );
        } else {
            model["vocab"] = Value::Object(
                self.tokens
                    .iter()
                    .enumerate()
                    .map(|(id, (t, _))| (t.clone(), json!(id)))
                    .collect(),
            );
            if model["unk_token"]
                .as_str()
                .is_some_and(|t| !new_id.contains_key(t))
            {
                model["unk_token"] = Value::Null;
            }
            if let Some(merges) = model.get_mut("merges").and_then(Value::as_array_mut) {
                // A merge that makes or uses a dropped token would point outside the vocabulary.
                merges.retain(|merge| {
                    merge_parts(merge).is_some_and(|(a, b)| {
                        [a.clone(), b.clone(), a + &b]
                            .iter()
                            .all(|t| new_id.contains_key(t.as_str()))
                    })
                });
            }
        }
        if let Some(added) = json["added_tokens"].as_array_mut() {
            added.retain(|t| {
                t["content"]
                    .as_str()
                    .is_some_and(|c| new_id.contains_key(c))
            });
            for token in added.iter_mut() {
                let id = token["content"]
                    .as_str()
                    .and_then(|c| new_id.get(c))
                    .copied();
                token["id"] = json!(id);
            }
        }
        if let Some(padding) = json.get_mut("padding").filter(|p| p.is_object()) {
            let id = padding["pad_token"]
                .as_str()
                .and_then(|t| new_id.get(t))
                .copied()
                .unwrap_or(0);
            padding["pad_id"] = json!(id);
            padding["pad_type_id"] = json!(0);
        }
        json["post_processor"] = Value::Null;
        json["truncation"] = Value::Null;
        // A byte-level pre-tokenizer reads a text's first word as any other (model2vec sets it).
        set_prefix_space(&mut json["pre_tokenizer"]);
        serde_json::to_string(&json).map_err(|e| NativeError::Bug(e.to_string()))
    }
}

/// Every token by id: the model's vocabulary, and added tokens beyond it.
fn ids_to_tokens(json: &Value) -> Result<Vec<String>, String> {
    let model = &json["model"];
    let mut by_id: HashMap<u64, String> = HashMap::new();
    match &model["vocab"] {
        Value::Object(map) => {
            for (token, id) in map {
                let id = id.as_u64().ok_or("a vocabulary id is not a number")?;
                by_id.insert(id, token.clone());
            }
        }
        Value::Array(list) => {
            for (id, entry) in list.iter().enumerate() {
                let token = entry[0].as_str().ok_or("a vocabulary entry has no token")?;
                by_id.insert(id as u64, token.to_owned());
            }
        }
        _ => return Err("the tokenizer's model has no vocabulary".to_owned()),
    }
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        if let (Some(id), Some(content)) = (added["id"].as_u64(), added["content"].as_str()) {
            by_id.entry(id).or_insert_with(|| content.to_owned());
        }
    }
    (0..by_id.len() as u64)
        .map(|id| by_id.remove(&id))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "the vocabulary's ids have gaps".to_owned())
}

#[derive(Clone, Copy)]
enum Edge {
    First,
    Last,
}

/// The special tokens the post-processor puts first or last around a single text; none for a
/// processor sequence or a byte-level one (as model2vec reads them).
fn edge_tokens(post: &Value, edge: Edge) -> Vec<String> {
    match post["type"].as_str() {
        Some("BertProcessing" | "RobertaProcessing") => {
            let key = match edge {
                Edge::First => "cls",
                Edge::Last => "sep",
            };
            post[key][0]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect()
        }
        Some("TemplateProcessing") => {
            let single = post["single"].as_array();
            let piece = single.and_then(|s| match edge {
                Edge::First => s.first(),
                Edge::Last => s.last(),
            });
            let Some(id) = piece.and_then(|p| p["SpecialToken"]["id"].as_str()) else {
                return Vec::new();
            };
            post["special_tokens"][id]["tokens"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The unknown token's text, if the model has one.
fn unknown_token(json: &Value, by_id: &[String]) -> Option<String> {
    let model = &json["model"];
    match model["unk_token"].as_str() {
        Some(token) => Some(token.to_owned()),
        None => model["unk_id"]
            .as_u64()
            .and_then(|id| by_id.get(id as usize).cloned()),
    }
}

/// A BPE merge's two parts, in either of the file's spellings (`"a b"` or `["a", "b"]`).
fn merge_parts(merge: &Value) -> Option<(String, String)> {
    match merge {
        Value::String(s) => s.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())),
        Value::Array(parts) => Some((
            parts.first()?.as_str()?.to_owned(),
            parts.get(1)?.as_str()?.to_owned(),
        )),
        _ => None,
    }
}

/// Set `add_prefix_space` on every byte-level pre-tokenizer in `pre`.
fn set_prefix_space(pre: &mut Value) {
    if pre["type"] == "ByteLevel" {
        pre["add_prefix_space"] = json!(true);
    }
    if let Some(list) = pre.get_mut("pretokenizers").and_then(Value::as_array_mut) {
        list.iter_mut().for_each(set_prefix_space);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch `tokenizer.json`, deleted when dropped.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn write(json: Value) -> Scratch {
        // Tests run on threads of one process: the thread's id keeps their files apart.
        let path = std::env::temp_dir().join(format!(
            "embedd-vocab-{}-{:?}.json",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, json.to_string()).unwrap();
        Scratch(path)
    }

    fn wordpiece() -> Value {
        json!({
            "added_tokens": [
                {"id": 0, "content": "[PAD]", "special": true},
                {"id": 2, "content": "[UNK]", "special": true},
                {"id": 3, "content": "[CLS]", "special": true},
                {"id": 4, "content": "[SEP]", "special": true},
                {"id": 5, "content": "[MASK]", "special": true}
            ],
            "padding": {"pad_id": 0, "pad_token": "[PAD]", "pad_type_id": 0},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [3], "tokens": ["[CLS]"]},
                                   "[SEP]": {"id": "[SEP]", "ids": [4], "tokens": ["[SEP]"]}}
            },
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {
                "[PAD]": 0, "[unused0]": 1, "[UNK]": 2, "[CLS]": 3, "[SEP]": 4, "[MASK]": 5,
                "the": 6, "cat": 7, "##s": 8
            }}
        })
    }

    #[test]
    fn keeps_what_model2vec_keeps_and_renumbers_it() {
        let file = write(wordpiece());
        let pattern = Regex::new(r"\[unused\d+\]").unwrap();
        let vocab = Vocabulary::read(&file.0, Some(&pattern)).unwrap();
        let kept: Vec<&str> = vocab.tokens.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(kept, ["[PAD]", "[UNK]", "the", "cat", "##s"]);
        assert_eq!((vocab.bos.clone(), vocab.eos.clone()), (vec![3], vec![4]));
        assert_eq!(vocab.sequences()[2], vec![3, 6, 4]);
        let saved: Value = serde_json::from_str(&vocab.static_tokenizer().unwrap()).unwrap();
        assert_eq!(saved["model"]["vocab"]["the"], 2);
        assert_eq!(saved["model"]["vocab"]["##s"], 4);
        for gone in ["[CLS]", "[SEP]", "[MASK]", "[unused0]"] {
            assert!(saved["model"]["vocab"].get(gone).is_none(), "{gone}");
        }
        assert_eq!(saved["post_processor"], Value::Null);
        let added: Vec<(String, u64)> = saved["added_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["content"].as_str().unwrap().to_owned(),
                    t["id"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            added,
            [("[PAD]", 0), ("[UNK]", 1)].map(|(t, id)| (t.to_owned(), id))
        );
        // Without a pattern the unused token stays.
        let all = Vocabulary::read(&file.0, None).unwrap();
        assert_eq!(all.tokens.len(), 6);
    }

    #[test]
    fn a_pattern_that_removes_everything_is_refused() {
        let file = write(wordpiece());
        let everything = Regex::new(".").unwrap();
        let Err(error) = Vocabulary::read(&file.0, Some(&everything)) else {
            panic!("an empty vocabulary was accepted");
        };
        assert!(error.to_string().contains("no token is left"), "{error}");
    }

    #[test]
    fn gaps_in_the_ids_are_refused() {
        let mut json = wordpiece();
        json["model"]["vocab"]["cat"] = json!(70);
        let file = write(json);
        let Err(error) = Vocabulary::read(&file.0, None) else {
            panic!("a vocabulary with gaps was accepted");
        };
        assert!(error.to_string().contains("gaps"), "{error}");
    }
}
