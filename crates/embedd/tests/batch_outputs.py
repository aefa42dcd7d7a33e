"""What `embedd embed --input/--output` writes, read by pyarrow and numpy as their users would.

  make-parquet TEXTS.txt OUT.parquet   a Parquet input as pandas/pyarrow write it (snappy), with
                                       a string id column `key`, the text in `body`, one null
                                       text and one empty text
  check TEXTS.txt OUT.parquet OUT.npy OUT.jsonl
                                       the three outputs of one corpus: same ids, hashes of the
                                       texts, models and vectors; the Parquet schema as promised
"""

import hashlib
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def make_parquet(texts_path, out_path):
    texts = open(texts_path, encoding="utf-8").read().split("\n")[:-1]
    body = list(texts) + [None, ""]
    keys = [f"k{i}" for i in range(len(body))]
    table = pa.table({"key": keys, "body": body, "other": list(range(len(body)))})
    pq.write_table(table, out_path, row_group_size=1000)
    assert pq.ParquetFile(out_path).metadata.row_group(0).column(0).compression == "SNAPPY"


def check(texts_path, parquet_path, npy_path, jsonl_path):
    texts = [t for t in open(texts_path, encoding="utf-8").read().split("\n")[:-1]]
    table = pq.read_table(parquet_path)
    schema = table.schema
    assert schema.field("id").type == pa.int64(), schema
    assert schema.field("text_sha256").type == pa.string(), schema
    assert schema.field("model").type == pa.string(), schema
    embedding = schema.field("embedding").type
    assert pa.types.is_fixed_size_list(embedding), embedding
    assert embedding.value_type == pa.float32(), embedding
    dims = embedding.list_size

    vectors = np.load(npy_path)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), dims), vectors.shape
    sidecar = [json.loads(line) for line in open(npy_path[: -len(".npy")] + ".ids.jsonl")]
    lines = [json.loads(line) for line in open(jsonl_path)]
    from_parquet = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))

    assert len(table) == len(sidecar) == len(lines) == len(texts)
    for i, text in enumerate(texts):
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert table["id"][i].as_py() == sidecar[i]["id"] == lines[i]["id"] == i
        assert table["text_sha256"][i].as_py() == sidecar[i]["text_sha256"] == lines[i]["text_sha256"] == digest
        assert table["model"][i].as_py() == sidecar[i]["model"] == lines[i]["model"]
    assert np.array_equal(from_parquet, vectors)
    assert np.array_equal(np.array([line["embedding"] for line in lines], dtype=np.float32), vectors)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4), norms[:5]
    print(json.dumps({"rows": len(texts), "dims": dims, "model": lines[0]["model"]}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"make-parquet": make_parquet, "check": check}[command](*args)
