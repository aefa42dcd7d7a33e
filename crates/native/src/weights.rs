//! Model weights read into memory once at load: `model.safetensors`, or a PyTorch checkpoint
//! (`*.pt`, `pytorch_model.bin`) whose tensors are stored uncompressed.
//!
//! The file is read, not memory-mapped, so the serving process owns its weights: a weight file
//! truncated or rewritten in place while serving (an operator's `truncate`, a sync tool) would
//! otherwise fault the process with SIGBUS on the next page it touched. Reading costs what the
//! mapped pages cost in RSS (every page of a served model is touched by every request anyway),
//! and PyTorch, candle and TEI copy the weights into their tensors just the same.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use safetensors::{Dtype, SafeTensors};

use crate::checkpoint;
use crate::error::NativeError;

/// A tensor's element type, shape and bytes in the file.
type Entry = (Dtype, Vec<usize>, Range<usize>);

/// A weights file's bytes, held in 8-byte words so that every tensor the file aligns for `f32`
/// (safetensors pads its header to 8 bytes) is aligned in memory too.
struct FileBytes {
    words: Vec<u64>,
    len: usize,
}

impl FileBytes {
    /// Read the whole of `path`; the length is taken from the open file, so a file that shrinks
    /// while being read is an error rather than zeros.
    fn read(path: &Path) -> Result<Self, NativeError> {
        let mut file = File::open(path).map_err(|e| NativeError::file(path, e.to_string()))?;
        let len = file
            .metadata()
            .map_err(|e| NativeError::file(path, e.to_string()))?
            .len();
        let len = usize::try_from(len)
            .map_err(|_| NativeError::file(path, "too large for this platform's memory"))?;
        let mut words = vec![0u64; len.div_ceil(8)];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        file.read_exact(&mut bytes[..len])
            .map_err(|e| NativeError::file(path, format!("reading the weights: {e}")))?;
        Ok(Self { words, len })
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
}

/// An `f32` tensor whose data stays in its file's bytes, shared by every tensor of the file.
#[derive(Clone)]
pub struct Tensor {
    map: Arc<FileBytes>,
    bytes: Range<usize>,
    /// The tensor's shape, outermost first.
    pub shape: Vec<usize>,
}

impl Tensor {
    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        // Alignment and length were checked when the tensor was opened, so this cannot fail;
        // an empty slice (and a wrong answer caught by shape checks) beats a panic if it ever did.
        bytemuck::try_cast_slice(&self.map[self.bytes.clone()]).unwrap_or(&[])
    }
}

impl Tensor {
    /// Rows `start..start + count` of a matrix, sharing the file's bytes (a fused projection's
    /// parts: ModernBERT keeps Q, K and V in one tensor).
    pub fn rows(&self, start: usize, count: usize) -> Option<Tensor> {
        let [rows, cols] = self.shape[..] else {
            return None;
        };
        if start + count > rows {
            return None;
        }
        let row_bytes = cols * std::mem::size_of::<f32>();
        let from = self.bytes.start + start * row_bytes;
        Some(Tensor {
            map: self.map.clone(),
            bytes: from..from + count * row_bytes,
            shape: vec![count, cols],
        })
    }
}

/// The tensors of one weights file, by name.
pub struct Weights {
    path: PathBuf,
    map: Arc<FileBytes>,
    tensors: HashMap<String, Entry>,
}

impl Weights {
    /// Read `path` and its header; a truncated or corrupt file is an error naming it.
    pub fn open(path: &Path) -> Result<Self, NativeError> {
        let map = FileBytes::read(path)?;
        let tensors = if map.starts_with(b"PK") {
            checkpoint::tensors(path, &map)?
                .into_iter()
                .map(|(name, dtype, shape, range)| (name, (dtype, shape, range)))
                .collect()
        } else {
            safetensors_entries(path, &map)?
        };
        Ok(Self {
            path: path.to_owned(),
            map: Arc::new(map),
            tensors,
        })
    }

    /// The shape of the tensor `name`, if there is one.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|(_, shape, _)| shape.as_slice())
    }

    /// Whether a tensor of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The `f32` tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, NativeError> {
        let (dtype, actual, range) = self
            .tensors
            .get(name)
            .ok_or_else(|| NativeError::file(&self.path, format!("tensor `{name}` is missing")))?;
        if *dtype != Dtype::F32 {
            return Err(NativeError::file(
                &self.path,
                format!("tensor `{name}` is {dtype:?}; only F32 weights are supported"),
            ));
        }
        if actual != shape {
            return Err(NativeError::file(
                &self.path,
                format!(
                    "tensor `{name}` has shape {actual:?}, expected {shape:?} from config.json"
                ),
            ));
        }
        let tensor = Tensor {
            map: self.map.clone(),
            bytes: range.clone(),
            shape: actual.clone(),
        };
        if bytemuck::try_cast_slice::<u8, f32>(&self.map[range.clone()]).is_err() {
            return Err(NativeError::file(
                &self.path,
                format!("tensor `{name}` is not 4-byte aligned"),
            ));
        }
        Ok(tensor)
    }
}

/// The tensors of a safetensors file, as ranges of `map`.
fn safetensors_entries(path: &Path, map: &[u8]) -> Result<HashMap<String, Entry>, NativeError> {
    let parsed = SafeTensors::deserialize(map).map_err(|e| {
        NativeError::file(
            path,
            format!("not a valid safetensors file (truncated or corrupt?): {e}"),
        )
    })?;
    let base = map.as_ptr() as usize;
    Ok(parsed
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let start = view.data().as_ptr() as usize - base;
            let range = start..start + view.data().len();
            (name, (view.dtype(), view.shape().to_vec(), range))
        })
        .collect())
}
