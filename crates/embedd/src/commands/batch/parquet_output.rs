//! The Parquet output: `id`, `text_sha256`, `model`, and `embedding` as a fixed-size list of
//! `float32`, written a few thousand rows at a time.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::input::RecordId;
use super::output::Finished;

/// Rows per record batch handed to the writer.
const BATCH_ROWS: usize = 4096;
/// Rows per row group: what the writer holds in memory before it writes.
const ROW_GROUP_ROWS: usize = 8192;

/// Write `finished` to `path` as Parquet.
pub fn write(path: &Path, finished: Finished) -> anyhow::Result<()> {
    let dimensions = i32::try_from(finished.dimensions).context("too many dimensions")?;
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let id_type = if finished.named_ids {
        DataType::Utf8
    } else {
        DataType::Int64
    };
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("id", id_type, false),
        Field::new("text_sha256", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item.clone(), dimensions),
            false,
        ),
    ]));
    // Floats neither repeat nor sort: dictionaries and statistics on them would be wasted work.
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("model"), true)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
        .build();
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
    let mut rows = finished.rows.peekable();
    while rows.peek().is_some() {
        let mut columns = Columns::new(finished.named_ids, finished.dimensions);
        for row in rows.by_ref().take(BATCH_ROWS) {
            let (written, vector) = row?;
            columns.push(&written.id, &written.text_sha256, &written.model, &vector)?;
        }
        let batch = columns.finish(schema.clone(), item.clone(), dimensions)?;
        writer.write(&batch)?;
    }
    writer.close()?;
    Ok(())
}

/// One record batch's columns as they are filled.
struct Columns {
    positions: Int64Builder,
    names: StringBuilder,
    named_ids: bool,
    hashes: StringBuilder,
    models: StringBuilder,
    values: Vec<f32>,
}

impl Columns {
    fn new(named_ids: bool, dimensions: usize) -> Self {
        Self {
            positions: Int64Builder::with_capacity(BATCH_ROWS),
            names: StringBuilder::new(),
            named_ids,
            hashes: StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 64),
            models: StringBuilder::new(),
            values: Vec::with_capacity(BATCH_ROWS * dimensions),
        }
    }

    fn push(
        &mut self,
        id: &RecordId,
        hash: &str,
        model: &str,
        vector: &[f32],
    ) -> anyhow::Result<()> {
        match (id, self.named_ids) {
            (RecordId::Named(name), true) => self.names.append_value(name),
            (RecordId::Position(position), false) => self
                .positions
                .append_value(i64::try_from(*position).context("position out of range")?),
            _ => bail!("the spool mixes named and positional ids"),
        }
        self.hashes.append_value(hash);
        self.models.append_value(model);
        self.values.extend_from_slice(vector);
        Ok(())
    }

    fn finish(
        mut self,
        schema: SchemaRef,
        item: Arc<Field>,
        dimensions: i32,
    ) -> anyhow::Result<RecordBatch> {
        let ids: ArrayRef = if self.named_ids {
            Arc::new(self.names.finish())
        } else {
            Arc::new(self.positions.finish())
        };
        let values = Arc::new(Float32Array::from(self.values));
        let embeddings = FixedSizeListArray::try_new(item, dimensions, values, None)?;
        Ok(RecordBatch::try_new(
            schema,
            vec![
                ids,
                Arc::new(self.hashes.finish()),
                Arc::new(self.models.finish()),
                Arc::new(embeddings),
            ],
        )?)
    }
}
