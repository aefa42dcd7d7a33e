//! The ONNX backend: a transformer exported to `onnx/model.onnx` (the layout sentence-transformers'
//! own ONNX backend reads), run by ONNX Runtime.
//!
//! The runtime is a shared library loaded when the first ONNX model loads, never linked or
//! downloaded at build time. It is looked for in this order: the file `ORT_DYLIB_PATH` names; the
//! one inside the `onnxruntime` package of `EMBEDD_PYTHON` (default `python3`), so
//! `pip install onnxruntime` is all a user does; the system's `libonnxruntime`.
//!
//! ONNX Runtime takes rectangular batches, so sequences are sorted by length and run in groups of
//! similar length (a group ends where padding would pass a quarter of its real tokens): padding
//! costs little, and the real tokens' states are taken back out in the caller's order, stacked as
//! embedd's own encoder gives them.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;

use crate::error::NativeError;

/// The environment variable naming the ONNX Runtime library (ort's own name for it).
pub const LIBRARY_VARIABLE: &str = "ORT_DYLIB_PATH";

/// The library looked up on the system's search path when the variable is unset.
#[cfg(target_os = "windows")]
const DEFAULT_LIBRARY: &str = "onnxruntime.dll";
#[cfg(target_os = "macos")]
const DEFAULT_LIBRARY: &str = "libonnxruntime.dylib";
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
const DEFAULT_LIBRARY: &str = "libonnxruntime.so";

/// The most sequences run together in one call.
const GROUP: usize = 32;

/// How much padding a group may carry, as a share of its real tokens, before the next (longer)
/// sequence starts a new group: every padded position costs as much as a real token.
const PADDING_ALLOWED: f32 = 0.25;

/// The inputs an exported transformer may take; any other is refused at load.
const INPUT_IDS: &str = "input_ids";
const ATTENTION_MASK: &str = "attention_mask";
const TOKEN_TYPE_IDS: &str = "token_type_ids";

/// The process's one ONNX Runtime environment, or why it could not start (kept, so every model
/// gets the same answer without retrying the load).
static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

fn environment() -> Result<&'static Environment, NativeError> {
    ENVIRONMENT
        .get_or_init(|| {
            let library = locate_library();
            tracing::info!(library = %library.display(), "loading ONNX Runtime");
            let builder = ort::init_from(&library).map_err(|e| {
                format!(
                    "cannot load ONNX Runtime: {e}; `pip install onnxruntime` and set \
                     {LIBRARY_VARIABLE} to the libonnxruntime.so.* in its onnxruntime/capi folder"
                )
            })?;
            builder
                .with_name("embedd")
                .build()
                .map_err(|e| format!("ONNX Runtime did not start: {e}"))
        })
        .as_ref()
        .map_err(|message| NativeError::Unsupported(message.clone()))
}

/// Where the ONNX Runtime library is: `ORT_DYLIB_PATH`, else the Python package's, else the
/// system's.
fn locate_library() -> PathBuf {
    if let Some(path) = std::env::var_os(LIBRARY_VARIABLE).filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    python_package_library().unwrap_or_else(|| PathBuf::from(DEFAULT_LIBRARY))
}

/// The library inside the `onnxruntime` Python package (`onnxruntime/capi/libonnxruntime.so.*`),
/// if that Python has the package.
fn python_package_library() -> Option<PathBuf> {
    let python = std::env::var("EMBEDD_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = std::process::Command::new(python)
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let capi = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join("capi");
    let stem = DEFAULT_LIBRARY.split('.').next().unwrap_or(DEFAULT_LIBRARY);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(&format!("{stem}.")))
        })
        .collect();
    found.sort();
    found.pop()
}

/// `order` (sequence indices sorted by length, shortest first) cut into groups: at most
/// [`GROUP`] sequences, and no more padding than [`PADDING_ALLOWED`] of the real tokens.
fn groups<'a>(order: &'a [usize], sequences: &[Vec<u32>]) -> Vec<&'a [usize]> {
    let mut out = Vec::new();
    let (mut start, mut tokens) = (0, 0usize);
    for (at, &i) in order.iter().enumerate() {
        let len = sequences[i].len();
        let members = at - start;
        // Sorted, so this sequence would be the group's longest: everyone pads to it.
        let padded = (members + 1) * len;
        let over = padded as f32 > (1.0 + PADDING_ALLOWED) * (tokens + len) as f32;
        if members > 0 && (members == GROUP || over) {
            out.push(&order[start..at]);
            (start, tokens) = (at, 0);
        }
        tokens += len;
    }
    if start < order.len() {
        out.push(&order[start..]);
    }
    out
}

/// An exported transformer and the session that runs it.
pub struct OnnxNetwork {
    /// ONNX Runtime runs one call at a time per session; each call uses every intra-op thread.
    session: Mutex<Session>,
    hidden: usize,
    /// Whether the graph takes `token_type_ids` (BERT does, MPNet and RoBERTa exports may not).
    token_types: bool,
    /// The output holding the token states (`last_hidden_state`, else the first).
    output: String,
    /// The id put in padding positions (masked out, and after every real token).
    pad_id: i64,
}

impl OnnxNetwork {
    /// Load the graph at `path`, whose token states are `hidden` wide, to run on `threads` threads.
    pub fn load(
        path: &Path,
        hidden: usize,
        threads: usize,
        pad_id: u32,
    ) -> Result<Self, NativeError> {
        let environment = environment()?;
        let refused = |e: String| NativeError::file(path, format!("ONNX Runtime: {e}"));
        let session = Session::builder(environment)
            .map_err(|e| refused(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| refused(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| refused(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| refused(e.to_string()))?;
        let names: Vec<&str> = session.inputs().iter().map(|input| input.name()).collect();
        for required in [INPUT_IDS, ATTENTION_MASK] {
            if !names.contains(&required) {
                return Err(NativeError::file(
                    path,
                    format!("the graph has no `{required}` input (it has {names:?})"),
                ));
            }
        }
        if let Some(other) = names
            .iter()
            .find(|name| ![INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS].contains(name))
        {
            return Err(NativeError::file(
                path,
                format!("the graph takes an input embedd does not give: `{other}`"),
            ));
        }
        let token_types = names.contains(&TOKEN_TYPE_IDS);
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        let output = outputs
            .iter()
            .find(|name| **name == "last_hidden_state")
            .or(outputs.first())
            .map(|name| (*name).to_owned())
            .ok_or_else(|| NativeError::file(path, "the graph has no output"))?;
        Ok(Self {
            session: Mutex::new(session),
            hidden,
            token_types,
            output,
            pad_id: i64::from(pad_id),
        })
    }

    /// Width of every token's hidden state.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Hidden states of every real token, sequences stacked in the order given.
    pub fn forward(&self, sequences: &[Vec<u32>]) -> Result<Vec<f32>, NativeError> {
        let h = self.hidden;
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| sequences[i].len());
        // Where each sequence's rows go in the stacked output.
        let mut starts = Vec::with_capacity(sequences.len());
        let mut total = 0;
        for seq in sequences {
            starts.push(total);
            total += seq.len();
        }
        let mut out = vec![0.0f32; total * h];
        for group in groups(&order, sequences) {
            let members: Vec<&[u32]> = group.iter().map(|&i| sequences[i].as_slice()).collect();
            let states = self.run(&members)?;
            let width = members.iter().map(|s| s.len()).max().unwrap_or(0);
            for (row, &i) in group.iter().enumerate() {
                let len = sequences[i].len();
                let from = &states[row * width * h..(row * width + len) * h];
                out[starts[i] * h..(starts[i] + len) * h].copy_from_slice(from);
            }
        }
        Ok(out)
    }

    /// One call: the group padded to its longest sequence; the states `group × width × hidden`.
    fn run(&self, group: &[&[u32]]) -> Result<Vec<f32>, NativeError> {
        let width = group.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut ids = vec![self.pad_id; group.len() * width];
        let mut mask = vec![0i64; group.len() * width];
        for (row, seq) in group.iter().enumerate() {
            for (column, &id) in seq.iter().enumerate() {
                ids[row * width + column] = i64::from(id);
                mask[row * width + column] = 1;
            }
        }
        let shape = [group.len(), width];
        let tensor = |data: Vec<i64>| {
            Tensor::from_array((shape, data))
                .map_err(|e| NativeError::Bug(format!("an ONNX input could not be made: {e}")))
        };
        let mut inputs: Vec<(Cow<'_, str>, Tensor<i64>)> = Vec::with_capacity(3);
        if self.token_types {
            inputs.push((TOKEN_TYPE_IDS.into(), tensor(vec![0; ids.len()])?));
        }
        inputs.push((INPUT_IDS.into(), tensor(ids)?));
        inputs.push((ATTENTION_MASK.into(), tensor(mask)?));
        let mut session = self
            .session
            .lock()
            .map_err(|_| NativeError::Bug("an ONNX call panicked earlier".to_owned()))?;
        let outputs = session
            .run(inputs)
            .map_err(|e| NativeError::Bug(format!("ONNX Runtime failed: {e}")))?;
        let (dims, values) = outputs
            .get(self.output.as_str())
            .ok_or_else(|| NativeError::Bug(format!("the ONNX output `{}` is gone", self.output)))?
            .try_extract_tensor::<f32>()
            .map_err(|e| NativeError::Bug(format!("the ONNX output is not f32 states: {e}")))?;
        let expected = [group.len() as i64, width as i64, self.hidden as i64];
        if **dims != expected {
            return Err(NativeError::Bug(format!(
                "the ONNX output has shape {:?}, expected {expected:?}",
                &**dims
            )));
        }
        Ok(values.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_padding_small_and_cover_every_sequence_once() {
        let lengths = [3, 3, 4, 4, 10, 11, 40];
        let sequences: Vec<Vec<u32>> = lengths.iter().map(|n| vec![0; *n]).collect();
        let order: Vec<usize> = (0..sequences.len()).collect();
        let cut = groups(&order, &sequences);
        assert_eq!(cut, vec![&[0, 1, 2, 3][..], &[4, 5], &[6]]);
        let many: Vec<Vec<u32>> = vec![vec![0; 5]; 70];
        let order: Vec<usize> = (0..70).collect();
        let sizes: Vec<usize> = groups(&order, &many).iter().map(|g| g.len()).collect();
        assert_eq!(sizes, vec![32, 32, 6]);
    }
}
