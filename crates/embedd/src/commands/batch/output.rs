//! The finished output, written from the spool in one pass: `.jsonl`, `.npy` (with a sidecar of
//! ids) or `.parquet`. Each file is written under a temporary name and renamed into place, so
//! an output that exists is whole.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use super::input::RecordId;
use super::parquet_output;
use super::spool::{Rows, Written};

/// The output file types, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One JSON object per line: `id`, `text_sha256`, `model`, `embedding`.
    JsonLines,
    /// A NumPy `float32` array of shape (records, dimensions), and `NAME.ids.jsonl` beside it
    /// with each row's `id`, `text_sha256` and `model`.
    Npy,
    /// Columns `id`, `text_sha256`, `model` and `embedding` (a fixed-size list of `float32`).
    Parquet,
}

impl OutputFormat {
    /// The format `path`'s extension names.
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match extension.as_deref() {
            Some("jsonl" | "ndjson") => Self::JsonLines,
            Some("npy") => Self::Npy,
            Some("parquet") => Self::Parquet,
            _ => bail!(
                "{}: the output must end in .jsonl, .npy or .parquet",
                path.display()
            ),
        })
    }

    /// Every file this format writes for `output`.
    pub fn files(self, output: &Path) -> Vec<PathBuf> {
        match self {
            Self::Npy => vec![output.to_owned(), output.with_extension("ids.jsonl")],
            _ => vec![output.to_owned()],
        }
    }
}

/// What the output is made of.
pub struct Finished {
    /// The finished records and vectors, in input order.
    pub rows: Rows,
    /// How many there are.
    pub count: u64,
    /// The vector length.
    pub dimensions: usize,
    /// Whether ids are the input's own (text) or positions (integers).
    pub named_ids: bool,
}

/// Write `finished` to `output` in `format`.
pub fn write(format: OutputFormat, output: &Path, finished: Finished) -> anyhow::Result<()> {
    let files = format.files(output);
    let temporaries: Vec<PathBuf> = files.iter().map(|f| temporary(f)).collect();
    let result = match format {
        OutputFormat::JsonLines => json_lines(&temporaries[0], finished),
        OutputFormat::Npy => npy(&temporaries[0], &temporaries[1], finished),
        OutputFormat::Parquet => parquet_output::write(&temporaries[0], finished),
    };
    if let Err(error) = result {
        for file in &temporaries {
            let _ = std::fs::remove_file(file);
        }
        return Err(error).with_context(|| format!("writing {}", output.display()));
    }
    // The data file last: once it is in place, everything it refers to is too.
    for (temporary, file) in temporaries.iter().zip(&files).rev() {
        std::fs::rename(temporary, file)
            .with_context(|| format!("moving the output to {}", file.display()))?;
    }
    Ok(())
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

#[derive(Serialize)]
struct JsonRow<'a> {
    id: &'a RecordId,
    text_sha256: &'a str,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding: Option<&'a [f32]>,
}

impl<'a> JsonRow<'a> {
    fn of(written: &'a Written, embedding: Option<&'a [f32]>) -> Self {
        Self {
            id: &written.id,
            text_sha256: &written.text_sha256,
            model: &written.model,
            embedding,
        }
    }
}

fn json_lines(path: &Path, finished: Finished) -> anyhow::Result<()> {
    let mut out = create(path)?;
    for row in finished.rows {
        let (written, vector) = row?;
        serde_json::to_writer(&mut out, &JsonRow::of(&written, Some(&vector)))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn npy(path: &Path, ids_path: &Path, finished: Finished) -> anyhow::Result<()> {
    let mut out = create(path)?;
    let mut ids = create(ids_path)?;
    out.write_all(&npy_header(finished.count, finished.dimensions))?;
    for row in finished.rows {
        let (written, vector) = row?;
        for value in &vector {
            out.write_all(&value.to_le_bytes())?;
        }
        serde_json::to_writer(&mut ids, &JsonRow::of(&written, None))?;
        ids.write_all(b"\n")?;
    }
    out.flush()?;
    ids.flush()?;
    Ok(())
}

/// The header of a version 1.0 `.npy` file holding a C-order little-endian `float32` array of
/// `rows` x `columns`: the magic string, the header's length, and a Python dict literal padded
/// with spaces so the data starts on a 64-byte boundary, as NumPy writes it.
fn npy_header(rows: u64, columns: usize) -> Vec<u8> {
    let dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
    let unpadded = 10 + dict.len() + 1;
    let padding = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + padding + 1;
    let mut header = Vec::with_capacity(10 + header_len);
    header.extend_from_slice(b"\x93NUMPY\x01\x00");
    header.extend_from_slice(&(header_len as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.extend(std::iter::repeat_n(b' ', padding));
    header.push(b'\n');
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_npy_header_is_numpys() {
        // What numpy 2.4 writes for np.save(f, np.zeros((3, 384), np.float32)).
        let header = npy_header(3, 384);
        assert_eq!(header.len(), 128);
        assert_eq!(&header[8..10], b"v\x00");
        assert_eq!(&header[..8], b"\x93NUMPY\x01\x00");
        let text = std::str::from_utf8(&header[10..]).unwrap();
        assert_eq!(
            text.trim_end(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 384), }"
        );
        assert!(text.ends_with('\n'));
        assert_eq!(
            u16::from_le_bytes([header[8], header[9]]) as usize,
            header.len() - 10
        );
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(
            OutputFormat::of(Path::new("a.PARQUET")).unwrap(),
            OutputFormat::Parquet
        );
        assert_eq!(
            OutputFormat::Npy.files(Path::new("d/v.npy")),
            vec![PathBuf::from("d/v.npy"), PathBuf::from("d/v.ids.jsonl")]
        );
        assert!(OutputFormat::of(Path::new("a.csv")).is_err());
    }
}
