"""Python ONNX Runtime on an exported model (scripts/export_onnx.py), as fastembed and many Python
services run it: the texts tokenized with the model's tokenizer.json, sorted by length over the
whole corpus, run in batches of 32 padded to each batch's longest text. Prints texts per second,
the median of three passes after a warm-up.

usage: peer_onnxruntime.py MODEL_DIR CORPUS LIMIT [THREADS]
The same figure `embedd bench` prints for a model, so the two can be set side by side in one run.
Sorting the whole corpus is the peer's own advantage: embedd takes requests in the order they
come, sorting only within each batch.
"""
import json
import os
import sys
import time

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

model_dir, corpus, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
texts = [line.rstrip("\n") for line in open(corpus, encoding="utf-8") if line.strip()]
texts = texts[:limit] if limit else texts

tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
tokenizer.no_padding()
limit_file = f"{model_dir}/sentence_bert_config.json"
max_length = json.load(open(limit_file)).get("max_seq_length", 512) if os.path.exists(limit_file) else 512
tokenizer.enable_truncation(max_length)
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
session = onnxruntime.InferenceSession(f"{model_dir}/onnx/model.onnx", options, providers=["CPUExecutionProvider"])
takes_types = any(i.name == "token_type_ids" for i in session.get_inputs())


def one_pass():
    ids = [tokenizer.encode(t).ids for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for start in range(0, len(order), 32):
        group = [ids[i] for i in order[start:start + 32]]
        width = max(map(len, group))
        batch = np.zeros((len(group), width), np.int64)
        mask = np.zeros_like(batch)
        for row, seq in enumerate(group):
            batch[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        feeds = {"input_ids": batch, "attention_mask": mask}
        if takes_types:
            feeds["token_type_ids"] = np.zeros_like(batch)
        session.run(None, feeds)


one_pass()
times = []
for _ in range(3):
    began = time.perf_counter()
    one_pass()
    times.append(time.perf_counter() - began)
print(f"onnxruntime (python): {len(texts)} texts, {len(texts) / sorted(times)[1]:.1f} texts/s (median of 3 runs)")
