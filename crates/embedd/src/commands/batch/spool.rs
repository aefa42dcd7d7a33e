//! The work a batch job has finished, kept beside the output in `OUTPUT.partial/` until the
//! output is written: what makes a job resumable.
//!
//! Batches are appended in input order: their vectors to `vectors.f32` (little-endian, a fixed
//! number per record) and one JSON line per record to `records.jsonl` (id, text hash, model).
//! A killed run leaves at most a torn tail, which the next run cuts back to the last whole
//! batch; the batches after it are the same batches an uninterrupted run would have sent, so the
//! finished output is identical.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::input::{RecordId, Source};

/// What identifies a job: a spool made for another job is never resumed into this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The input and the fields read from it.
    pub source: Source,
    /// The model asked for (`None`: the default of the config or of the servers).
    pub model: Option<String>,
    /// Records per batch: batches must fall where they fell before for identical vectors.
    pub batch_size: usize,
    /// Records with a text in the input.
    pub total: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    job: Job,
    /// Known once the first batch is answered.
    dimensions: Option<usize>,
}

/// One finished record's line in `records.jsonl`, and its row's columns in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// The record's id.
    pub id: RecordId,
    /// The SHA-256 of its text, in hex.
    pub text_sha256: String,
    /// The model that embedded it.
    pub model: String,
}

/// The finished part of a job, open for appending.
pub struct Spool {
    dir: PathBuf,
    meta: Meta,
    vectors: File,
    records: File,
    /// Records finished, in input order from the first.
    done: u64,
}

const META: &str = "meta.json";
const VECTORS: &str = "vectors.f32";
const RECORDS: &str = "records.jsonl";

impl Spool {
    /// The spool directory for `output`.
    pub fn dir_for(output: &Path) -> PathBuf {
        let mut name = output.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    }

    /// Open the spool of `job` in `dir`, resuming what an earlier run of the same job left (cut
    /// back to its last whole batch), or start one.
    pub fn open(dir: &Path, job: Job) -> anyhow::Result<Self> {
        let meta = if dir.join(META).exists() {
            let text = std::fs::read_to_string(dir.join(META))?;
            let meta: Meta = serde_json::from_str(&text)
                .with_context(|| format!("{} is not embedd's", dir.display()))?;
            if meta.job != job {
                bail!(
                    "{} holds an unfinished job with another input, field, model or batch size; \
                     re-run that command to finish it, or delete the directory to start over",
                    dir.display()
                );
            }
            meta
        } else {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let meta = Meta {
                job,
                dimensions: None,
            };
            write_meta(dir, &meta)?;
            meta
        };
        let open = |name: &str| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(dir.join(name))
                .with_context(|| format!("opening {}", dir.join(name).display()))
        };
        let mut spool = Self {
            dir: dir.to_owned(),
            vectors: open(VECTORS)?,
            records: open(RECORDS)?,
            meta,
            done: 0,
        };
        spool.cut_to_whole_batches()?;
        Ok(spool)
    }

    /// Records already finished.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Whether every record of the input is finished.
    pub fn complete(&self) -> bool {
        self.done == self.meta.job.total
    }

    /// Records in the job.
    pub fn total(&self) -> u64 {
        self.meta.job.total
    }

    /// The vector length, once known.
    pub fn dimensions(&self) -> Option<usize> {
        self.meta.dimensions
    }

    /// Append the next batch: its records' lines and vectors, in input order.
    pub fn append(&mut self, written: &[Written], vectors: &[Vec<f32>]) -> anyhow::Result<()> {
        let Some(first) = vectors.first() else {
            return Ok(());
        };
        let dimensions = match self.meta.dimensions {
            Some(known) => known,
            None => {
                self.meta.dimensions = Some(first.len());
                write_meta(&self.dir, &self.meta)?;
                first.len()
            }
        };
        if let Some(other) = vectors.iter().find(|v| v.len() != dimensions) {
            bail!(
                "the model answered {} dimensions where earlier batches had {dimensions}",
                other.len()
            );
        }
        let mut bytes = Vec::with_capacity(vectors.len() * dimensions * 4);
        for value in vectors.iter().flatten() {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        let mut lines = Vec::new();
        for record in written {
            serde_json::to_writer(&mut lines, record)?;
            lines.push(b'\n');
        }
        // Vectors first: a record line is only ever behind a vector that is already there.
        self.vectors.write_all(&bytes)?;
        self.records.write_all(&lines)?;
        self.done += written.len() as u64;
        Ok(())
    }

    /// Every finished record's line (without its vector), in order: what a resumed job checks
    /// its input against.
    pub fn written(&self) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Written>>> {
        let lines = BufReader::new(File::open(self.dir.join(RECORDS))?).lines();
        Ok(lines.map(|line| Ok(serde_json::from_str(&line?)?)))
    }

    /// Every finished record with its vector, in order: what the output is written from.
    pub fn rows(&self) -> anyhow::Result<Rows> {
        Ok(Rows {
            records: BufReader::new(File::open(self.dir.join(RECORDS))?).lines(),
            vectors: BufReader::new(File::open(self.dir.join(VECTORS))?),
            dimensions: self.meta.dimensions.unwrap_or(0),
        })
    }

    /// Delete the spool once the output holds everything.
    pub fn remove(self) -> anyhow::Result<()> {
        std::fs::remove_dir_all(&self.dir)
            .with_context(|| format!("removing {}", self.dir.display()))
    }

    /// Count the whole records both files hold, round down to a whole batch (or the end), and
    /// cut both files there.
    fn cut_to_whole_batches(&mut self) -> anyhow::Result<()> {
        let Some(dimensions) = self.meta.dimensions else {
            self.records.set_len(0)?;
            self.vectors.set_len(0)?;
            return Ok(());
        };
        let record_bytes = (dimensions * 4) as u64;
        let vectors = self.vectors.metadata()?.len() / record_bytes;
        let line_ends = line_ends(&self.dir.join(RECORDS))?;
        let whole = vectors.min(line_ends.len() as u64);
        let job = &self.meta.job;
        let done = if whole == job.total {
            whole
        } else {
            whole - whole % job.batch_size as u64
        };
        let records_len = match done {
            0 => 0,
            n => line_ends[n as usize - 1],
        };
        self.records.set_len(records_len)?;
        self.vectors.set_len(done * record_bytes)?;
        self.done = done;
        Ok(())
    }
}

/// The byte offset just past each `\n` in `path`.
fn line_ends(path: &Path) -> anyhow::Result<Vec<u64>> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut ends = Vec::new();
    let mut offset = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Ok(ends);
        }
        offset += read as u64;
        ends.push(offset);
    }
}

/// Write `meta.json` whole or not at all.
fn write_meta(dir: &Path, meta: &Meta) -> anyhow::Result<()> {
    let temporary = dir.join("meta.json.tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(meta)?)?;
    std::fs::rename(&temporary, dir.join(META))?;
    Ok(())
}

/// The finished records and their vectors, read back in order.
pub struct Rows {
    records: std::io::Lines<BufReader<File>>,
    vectors: BufReader<File>,
    dimensions: usize,
}

impl Iterator for Rows {
    type Item = anyhow::Result<(Written, Vec<f32>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = self.records.next()?;
        Some((|| {
            let written: Written = serde_json::from_str(&line?)?;
            let mut bytes = vec![0u8; self.dimensions * 4];
            self.vectors
                .read_exact(&mut bytes)
                .context("the spool's vectors end before its records")?;
            let vector = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok((written, vector))
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::batch::input::InputFormat;

    fn job(total: u64) -> Job {
        Job {
            source: Source {
                path: "in.txt".into(),
                format: InputFormat::Lines,
                field: "text".into(),
                id_field: None,
            },
            model: None,
            batch_size: 2,
            total,
        }
    }

    fn batch(first: u64, n: u64) -> (Vec<Written>, Vec<Vec<f32>>) {
        (first..first + n)
            .map(|i| {
                let written = Written {
                    id: RecordId::Position(i),
                    text_sha256: format!("{i:064x}"),
                    model: "m".into(),
                };
                (written, vec![i as f32, -(i as f32), 0.5])
            })
            .unzip()
    }

    #[test]
    fn a_torn_tail_is_cut_back_to_the_last_whole_batch() {
        let dir = std::env::temp_dir().join(format!("embedd-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut spool = Spool::open(&dir, job(5)).unwrap();
        for first in [0, 2] {
            let (written, vectors) = batch(first, 2);
            spool.append(&written, &vectors).unwrap();
        }
        // A kill in the middle of the third batch: one line and a vector and a half.
        let (written, vectors) = batch(4, 1);
        spool.append(&written, &vectors).unwrap();
        drop(spool);
        let vectors = dir.join(VECTORS);
        let len = std::fs::metadata(&vectors).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&vectors)
            .unwrap()
            .set_len(len - 6)
            .unwrap();

        let spool = Spool::open(&dir, job(5)).unwrap();
        assert_eq!(spool.done(), 4);
        let rows: Vec<_> = spool.rows().unwrap().map(Result::unwrap).collect();
        let (written, vectors) = batch(0, 4);
        assert_eq!(rows, written.into_iter().zip(vectors).collect::<Vec<_>>());

        let refused = Spool::open(&dir, job(6)).err().unwrap();
        assert!(refused.to_string().contains("another input"), "{refused}");
        spool.remove().unwrap();
        assert!(!dir.exists());
    }
}
