//! PyTorch checkpoints (`torch.save` zip archives such as BGE-M3's `sparse_linear.pt` and
//! `colbert_linear.pt`) read without Python. The archive's `data.pkl` names each tensor's storage,
//! offset, shape and strides ([`pickle`]); each storage is a file stored uncompressed in the
//! archive, so a tensor is a range of the file's bytes, as with safetensors.

pub mod pickle;

use std::io::Cursor;
use std::ops::Range;
use std::path::Path;

use safetensors::Dtype;
use zip::{CompressionMethod, ZipArchive};

use crate::error::NativeError;
use pickle::{TensorRef, Value};

/// One tensor of a checkpoint: its name, element type, shape, and bytes in the file.
pub type Entry = (String, Dtype, Vec<usize>, Range<usize>);

/// The tensors of the state dict in `file` (the checkpoint's bytes), by name.
pub fn tensors(path: &Path, file: &[u8]) -> Result<Vec<Entry>, NativeError> {
    let bad = |message: String| NativeError::file(path, message);
    let mut archive = ZipArchive::new(Cursor::new(file))
        .map_err(|e| bad(format!("not a PyTorch checkpoint (zip): {e}")))?;
    let pickle_name = archive
        .file_names()
        .find_map(|name| {
            name.ok()
                .filter(|n| n.ends_with("data.pkl"))
                .map(|n| n.into_owned())
        })
        .ok_or_else(|| bad("has no data.pkl: not a PyTorch checkpoint".to_owned()))?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();
    let pickle_range = stored(&mut archive, &pickle_name, file.len()).map_err(&bad)?;
    let state = pickle::read(&file[pickle_range]).map_err(|e| bad(format!("data.pkl: {e}")))?;
    let Value::Dict(items) = state else {
        return Err(bad("is not a state dict (name -> tensor)".to_owned()));
    };
    let mut out = Vec::new();
    for (key, value) in items {
        let (Value::Str(name), Value::Tensor(tensor)) = (key, value) else {
            continue;
        };
        let storage = stored(
            &mut archive,
            &format!("{prefix}data/{}", tensor.key),
            file.len(),
        )
        .map_err(&bad)?;
        let (dtype, bytes) =
            view(&tensor, storage).map_err(|m| bad(format!("tensor `{name}`: {m}")))?;
        out.push((name, dtype, tensor.shape, bytes));
    }
    Ok(out)
}

/// Where the entry `name` lies in the archive; it must be stored uncompressed, as `torch.save`
/// writes it.
fn stored(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    name: &str,
    archive_len: usize,
) -> Result<Range<usize>, String> {
    let entry = archive
        .by_name(name)
        .map_err(|e| format!("entry {name}: {e}"))?;
    if entry.compression() != CompressionMethod::Stored {
        return Err(format!(
            "entry {name} is compressed; torch.save stores entries as they are"
        ));
    }
    let start = entry
        .data_start()
        .ok_or_else(|| format!("entry {name} has no data offset"))?;
    let start = usize::try_from(start).map_err(|_| format!("entry {name} is out of range"))?;
    let size =
        usize::try_from(entry.size()).map_err(|_| format!("entry {name} is out of range"))?;
    let end = start
        .checked_add(size)
        .filter(|end| *end <= archive_len)
        .ok_or_else(|| format!("entry {name} runs past the end of the file (truncated?)"))?;
    Ok(start..end)
}

/// The element type and byte range of a contiguous tensor within its storage's bytes.
fn view(tensor: &TensorRef, storage: Range<usize>) -> Result<(Dtype, Range<usize>), String> {
    let (dtype, width) = match tensor.kind.as_str() {
        "FloatStorage" => (Dtype::F32, 4),
        "HalfStorage" => (Dtype::F16, 2),
        "BFloat16Storage" => (Dtype::BF16, 2),
        "LongStorage" => (Dtype::I64, 8),
        other => return Err(format!("storage type {other} is not supported")),
    };
    // Row-major strides: the only layout a state dict saved from `nn.Linear` has.
    let mut expected = 1;
    for (size, stride) in tensor.shape.iter().zip(&tensor.stride).rev() {
        if *size > 1 && *stride != expected {
            return Err("is not contiguous".to_owned());
        }
        expected *= size;
    }
    let count = tensor
        .shape
        .iter()
        .try_fold(1usize, |n, size| n.checked_mul(*size))
        .ok_or_else(|| "has an impossible shape".to_owned())?;
    let start = tensor
        .offset
        .checked_mul(width)
        .and_then(|bytes| storage.start.checked_add(bytes));
    let end = count
        .checked_mul(width)
        .and_then(|bytes| start.and_then(|start| start.checked_add(bytes)));
    match (start, end) {
        (Some(start), Some(end)) if end <= storage.end => Ok((dtype, start..end)),
        _ => Err("runs past its storage (a truncated file?)".to_owned()),
    }
}
