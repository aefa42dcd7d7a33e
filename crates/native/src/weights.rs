//! Model weights read straight from a memory-mapped file, never copied: `model.safetensors`,
//! or a PyTorch checkpoint (`*.pt`, `pytorch_model.bin`) whose tensors are stored uncompressed.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::checkpoint;
use crate::error::NativeError;

/// A tensor's element type, shape and bytes in the mapped file.
type Entry = (Dtype, Vec<usize>, Range<usize>);

/// An `f32` tensor whose data stays in the mapped file.
#[derive(Clone)]
pub struct Tensor {
    map: Arc<Mmap>,
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
    /// Rows `start..start + count` of a matrix, sharing the mapped file (a fused projection's
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
    map: Arc<Mmap>,
    tensors: HashMap<String, Entry>,
}

impl Weights {
    /// Map `path` and read its header; a truncated or corrupt file is an error naming it.
    pub fn open(path: &Path) -> Result<Self, NativeError> {
        let file = File::open(path).map_err(|e| NativeError::file(path, e.to_string()))?;
        // SAFETY: the map is read-only and embedd never writes model files in place: `embedd
        // fetch` builds a model directory elsewhere and renames it into place. Another program
        // truncating the file while it is mapped could fault the process; every memory-mapping
        // model loader (sentence-transformers' safetensors, candle, TEI) accepts that same risk.
        let map =
            unsafe { Mmap::map(&file) }.map_err(|e| NativeError::file(path, e.to_string()))?;
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
