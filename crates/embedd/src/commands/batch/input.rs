//! The texts of a batch job, read one record at a time from `.txt`, `.jsonl`, `.csv`, `.tsv` or
//! `.parquet`, so that memory does not grow with the file.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

use super::parquet_input::ParquetRecords;

/// What a record is known by in the output: its position in the input (a line of `.txt` or
/// `.jsonl`, a data row of a table, counted from 0, empty texts included) or the value of the
/// id field the user named.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum RecordId {
    /// The record's position in the input.
    Position(u64),
    /// The value of the `--id-field` column or field, as text.
    Named(String),
}

/// One text to embed and what it is known by.
#[derive(Debug, Clone)]
pub struct Record {
    /// The record's id in the output.
    pub id: RecordId,
    /// The text.
    pub text: String,
}

impl Record {
    /// The SHA-256 of the text's UTF-8 bytes in lowercase hex: the output's `text_sha256`, and
    /// how a resumed job checks that the input is still the one it started on.
    pub fn text_sha256(&self) -> String {
        let digest = Sha256::digest(self.text.as_bytes());
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// The input file types, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InputFormat {
    /// `.txt`: each line is a text.
    Lines,
    /// `.jsonl`/`.ndjson`: each line is a JSON object; the text is one field.
    JsonLines,
    /// `.csv` (`,`) or `.tsv` (tab) with a header row; the text is one column.
    Delimited(u8),
    /// `.parquet`; the text is one string column.
    Parquet,
}

impl InputFormat {
    /// The format `path`'s extension names.
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match extension.as_deref() {
            Some("txt") => Self::Lines,
            Some("jsonl" | "ndjson") => Self::JsonLines,
            Some("csv") => Self::Delimited(b','),
            Some("tsv") => Self::Delimited(b'\t'),
            Some("parquet") => Self::Parquet,
            _ => bail!(
                "{}: the input must end in .txt, .jsonl, .ndjson, .csv, .tsv or .parquet",
                path.display()
            ),
        })
    }
}

/// Where the texts are and which field (or column) holds them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// The input file.
    pub path: PathBuf,
    /// Its format.
    pub format: InputFormat,
    /// The field or column holding the text (ignored for `.txt`).
    pub field: String,
    /// The field or column holding each record's id; positions when absent.
    pub id_field: Option<String>,
}

impl Source {
    /// Every record of the input with a non-empty text, in order; empty texts are counted in
    /// `skipped` as they are passed over.
    pub fn records(&self) -> anyhow::Result<Records> {
        let file = File::open(&self.path)
            .with_context(|| format!("opening the input {}", self.path.display()))?;
        let inner = match self.format {
            InputFormat::Lines => Inner::Lines(BufReader::new(file)),
            InputFormat::JsonLines => Inner::JsonLines(BufReader::new(file)),
            InputFormat::Delimited(delimiter) => Inner::Delimited(self.delimited(file, delimiter)?),
            InputFormat::Parquet => Inner::Parquet(Box::new(ParquetRecords::open(
                file,
                &self.field,
                self.id_field.as_deref(),
            )?)),
        };
        Ok(Records {
            source: self.clone(),
            inner,
            position: 0,
            line: String::new(),
            skipped: 0,
        })
    }

    fn delimited(&self, file: File, delimiter: u8) -> anyhow::Result<Delimited> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(BufReader::new(file));
        let headers = reader.headers().context("reading the header row")?.clone();
        let column = |name: &str| {
            headers.iter().position(|h| h == name).with_context(|| {
                let names: Vec<&str> = headers.iter().collect();
                format!("the input has no column `{name}` (its columns: {names:?})")
            })
        };
        let text = column(&self.field)?;
        let id = self.id_field.as_deref().map(column).transpose()?;
        Ok(Delimited {
            reader,
            text,
            id,
            row: csv::StringRecord::new(),
        })
    }
}

/// A CSV/TSV reader and the columns it takes.
pub struct Delimited {
    reader: csv::Reader<BufReader<File>>,
    text: usize,
    id: Option<usize>,
    row: csv::StringRecord,
}

enum Inner {
    Lines(BufReader<File>),
    JsonLines(BufReader<File>),
    Delimited(Delimited),
    Parquet(Box<ParquetRecords>),
}

/// The records of one input, read lazily (see [`Source::records`]).
pub struct Records {
    source: Source,
    inner: Inner,
    /// The position of the next line or row.
    position: u64,
    line: String,
    /// Empty texts passed over so far.
    pub skipped: u64,
}

impl Records {
    /// The next record, `None` at the end, or an error naming the line or row at fault.
    pub fn next_record(&mut self) -> anyhow::Result<Option<Record>> {
        loop {
            let position = self.position;
            let Some((id, text)) = self.next_raw(position)? else {
                return Ok(None);
            };
            self.position += 1;
            match text {
                Some(text) if !text.is_empty() => {
                    let id = id.unwrap_or(RecordId::Position(position));
                    return Ok(Some(Record { id, text }));
                }
                _ => self.skipped += 1,
            }
        }
    }

    /// The id (when the input names one) and text of the line or row at `position`; `None`
    /// at the end of the input.
    #[allow(clippy::type_complexity)]
    fn next_raw(
        &mut self,
        position: u64,
    ) -> anyhow::Result<Option<(Option<RecordId>, Option<String>)>> {
        let path = self.source.path.display();
        match &mut self.inner {
            Inner::Lines(reader) => {
                if !read_line(reader, &mut self.line)? {
                    return Ok(None);
                }
                Ok(Some((None, Some(self.line.clone()))))
            }
            Inner::JsonLines(reader) => {
                if !read_line(reader, &mut self.line)? {
                    return Ok(None);
                }
                if self.line.trim().is_empty() {
                    return Ok(Some((None, None)));
                }
                let at = || format!("{path}: line {}", position + 1);
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&self.line).with_context(at)?;
                let text = json_text(&object, &self.source.field).with_context(at)?;
                let id = match &self.source.id_field {
                    Some(name) => Some(json_id(&object, name).with_context(at)?),
                    None => None,
                };
                Ok(Some((id, text)))
            }
            Inner::Delimited(table) => {
                let more = table
                    .reader
                    .read_record(&mut table.row)
                    .with_context(|| format!("{path}: data row {}", position + 1))?;
                if !more {
                    return Ok(None);
                }
                let text = table.row.get(table.text).map(str::to_owned);
                let id = table
                    .id
                    .and_then(|column| table.row.get(column))
                    .map(|id| RecordId::Named(id.to_owned()));
                Ok(Some((id, text)))
            }
            Inner::Parquet(rows) => rows.next_row(),
        }
    }
}

/// Read one line into `line` without its `\n` or `\r\n`; false at the end of the input.
fn read_line(reader: &mut impl BufRead, line: &mut String) -> anyhow::Result<bool> {
    line.clear();
    if reader.read_line(line).context("reading the input")? == 0 {
        return Ok(false);
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(true)
}

/// The text field of a JSON line: a string, or null for no text; anything else is an error.
fn json_text(
    object: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> anyhow::Result<Option<String>> {
    match object.get(field) {
        Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
        Some(serde_json::Value::Null) => Ok(None),
        Some(_) => bail!("field `{field}` is not a string"),
        None => bail!("no field `{field}` (choose the text's field with --field)"),
    }
}

/// The id field of a JSON line: a string or a number, kept as text.
fn json_id(
    object: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> anyhow::Result<RecordId> {
    match object.get(field) {
        Some(serde_json::Value::String(id)) => Ok(RecordId::Named(id.clone())),
        Some(serde_json::Value::Number(id)) => Ok(RecordId::Named(id.to_string())),
        Some(_) => bail!("id field `{field}` is not a string or a number"),
        None => bail!("no id field `{field}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, name: &str, content: &str, id_field: Option<&str>) -> Source {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        Source {
            format: InputFormat::of(&path).unwrap(),
            path,
            field: "text".into(),
            id_field: id_field.map(str::to_owned),
        }
    }

    fn all(source: &Source) -> anyhow::Result<(Vec<(RecordId, String)>, u64)> {
        let mut records = source.records()?;
        let mut out = Vec::new();
        while let Some(record) = records.next_record()? {
            out.push((record.id, record.text));
        }
        Ok((out, records.skipped))
    }

    #[test]
    fn lines_keep_their_positions_across_empty_lines() {
        let dir = std::env::temp_dir().join(format!("embedd-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (records, skipped) = all(&source(&dir, "a.txt", "one\r\n\ntwo\nthree", None)).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(
            records,
            vec![
                (RecordId::Position(0), "one".to_owned()),
                (RecordId::Position(2), "two".to_owned()),
                (RecordId::Position(3), "three".to_owned()),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_lines_and_tables_take_the_named_fields() {
        let dir = std::env::temp_dir().join(format!("embedd-input-j-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jsonl =
            "{\"text\":\"a\",\"k\":7}\n\n{\"text\":null,\"k\":8}\n{\"text\":\"b\",\"k\":\"x\"}\n";
        let (records, skipped) = all(&source(&dir, "a.jsonl", jsonl, Some("k"))).unwrap();
        assert_eq!(skipped, 2);
        assert_eq!(
            records,
            vec![
                (RecordId::Named("7".into()), "a".to_owned()),
                (RecordId::Named("x".into()), "b".to_owned())
            ]
        );
        let tsv = "k\ttext\n1\t\"quoted, text\"\n2\t\n";
        let (records, skipped) = all(&source(&dir, "a.tsv", tsv, None)).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(
            records,
            vec![(RecordId::Position(0), "quoted, text".to_owned())]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_records_are_errors_that_name_their_line() {
        let dir = std::env::temp_dir().join(format!("embedd-input-e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            ("a.jsonl", "{\"text\":\"a\"}\n{\"body\":\"b\"}\n", "line 2"),
            ("b.jsonl", "{\"text\":\"a\"}\nnot json\n", "line 2"),
            ("c.jsonl", "{\"text\":3}\n", "not a string"),
            ("d.csv", "body\nx\n", "no column `text`"),
        ];
        for (name, content, expected) in cases {
            let error = all(&source(&dir, name, content, None)).unwrap_err();
            assert!(format!("{error:#}").contains(expected), "{name}: {error:#}");
        }
        let unknown = InputFormat::of(Path::new("x.xlsx")).unwrap_err();
        assert!(unknown.to_string().contains(".parquet"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
