//! A Parquet input read a record batch at a time, only the text (and id) columns.

use std::collections::VecDeque;
use std::fs::File;

use anyhow::{bail, Context};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use super::input::RecordId;

/// Rows decoded at a time: small enough that memory stays flat, large enough to be cheap.
const DECODE_ROWS: usize = 1024;

/// The rows of a Parquet file as (id, text) pairs, in file order.
pub struct ParquetRecords {
    reader: ParquetRecordBatchReader,
    field: String,
    id_field: Option<String>,
    /// Decoded rows not handed out yet.
    pending: VecDeque<(Option<RecordId>, Option<String>)>,
}

impl ParquetRecords {
    /// Open `file`, reading only `field` (and `id_field`); a missing column is an error that
    /// lists the file's columns.
    pub fn open(file: File, field: &str, id_field: Option<&str>) -> anyhow::Result<Self> {
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).context("reading the Parquet footer")?;
        let schema = builder.schema().clone();
        for name in std::iter::once(field).chain(id_field) {
            if schema.field_with_name(name).is_err() {
                let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
                bail!("the input has no column `{name}` (its columns: {names:?})");
            }
        }
        let mask = ProjectionMask::columns(
            builder.parquet_schema(),
            std::iter::once(field).chain(id_field),
        );
        let reader = builder
            .with_projection(mask)
            .with_batch_size(DECODE_ROWS)
            .build()
            .context("reading the Parquet input")?;
        Ok(Self {
            reader,
            field: field.to_owned(),
            id_field: id_field.map(str::to_owned),
            pending: VecDeque::new(),
        })
    }

    /// The next row's id (when an id column was named) and text (`None` when null).
    #[allow(clippy::type_complexity)]
    pub fn next_row(&mut self) -> anyhow::Result<Option<(Option<RecordId>, Option<String>)>> {
        while self.pending.is_empty() {
            match self.reader.next() {
                None => return Ok(None),
                Some(batch) => {
                    let batch = batch.context(
                        "decoding the Parquet input (this build reads snappy, gzip and \
                         uncompressed files)",
                    )?;
                    self.decode(&batch)?;
                }
            }
        }
        Ok(self.pending.pop_front())
    }

    fn decode(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        let texts = column(batch, &self.field)?;
        let ids = match &self.id_field {
            Some(name) => Some(column(batch, name)?),
            None => None,
        };
        for row in 0..batch.num_rows() {
            let text = string_at(texts, row)
                .with_context(|| format!("column `{}`", self.field))?
                .map(str::to_owned);
            let id = match ids {
                Some(ids) => Some(id_at(ids, row).with_context(|| {
                    format!("id column `{}`", self.id_field.as_deref().unwrap_or(""))
                })?),
                None => None,
            };
            self.pending.push_back((id, text));
        }
        Ok(())
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> anyhow::Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .with_context(|| format!("the Parquet input lost its column `{name}`"))
}

/// The string at `row`, `None` when null; a column that is not text is an error.
fn string_at(array: &ArrayRef, row: usize) -> anyhow::Result<Option<&str>> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row),
        DataType::Utf8View => array.as_string_view().value(row),
        other => bail!("holds {other}, not text"),
    }))
}

/// The id at `row` as text: string and integer columns are accepted; a null id is an error,
/// since the output could not say which row a vector belongs to.
fn id_at(array: &ArrayRef, row: usize) -> anyhow::Result<RecordId> {
    if array.is_null(row) {
        bail!("is null at row {row}");
    }
    let id = match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        _ => match string_at(array, row) {
            Ok(Some(id)) => id.to_owned(),
            _ => bail!("holds {}, not text or integers", array.data_type()),
        },
    };
    Ok(RecordId::Named(id))
}
