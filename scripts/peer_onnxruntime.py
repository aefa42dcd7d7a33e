"""Python ONNX Runtime on an exported model (scripts/export_onnx.py), as fastembed and many Python
services run it: the texts tokenized with the model's tokenizer.json, sorted by length over the
whole corpus, run in batches padded to each batch's longest text. Prints one JSON object, the
median of the timed passes after a warm-up, in the shape of the sentence-transformers peer
(../shared/bench/peer_st.py), so `embedd bench --peer onnxruntime` reads either.

usage: peer_onnxruntime.py MODEL_DIR CORPUS [--n N] [--batch 32] [--runs 3] [--threads 2]
Sorting the whole corpus is the peer's own advantage: embedd takes requests in the order they
come, sorting only within each batch.
"""
import argparse
import json
import os
import resource
import statistics
import time

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

ap = argparse.ArgumentParser()
ap.add_argument("model_dir")
ap.add_argument("corpus")
ap.add_argument("--n", type=int, default=0, help="first N texts (0: all)")
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()

texts = [line.rstrip("\n") for line in open(a.corpus, encoding="utf-8") if line.strip()]
texts = texts[: a.n] if a.n else texts

tokenizer = Tokenizer.from_file(f"{a.model_dir}/tokenizer.json")
tokenizer.no_padding()
limit_file = f"{a.model_dir}/sentence_bert_config.json"
max_length = json.load(open(limit_file)).get("max_seq_length", 512) if os.path.exists(limit_file) else 512
tokenizer.enable_truncation(max_length)
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = a.threads
options.inter_op_num_threads = 1
session = onnxruntime.InferenceSession(
    f"{a.model_dir}/onnx/model.onnx", options, providers=["CPUExecutionProvider"]
)
takes_types = any(i.name == "token_type_ids" for i in session.get_inputs())


def one_pass():
    """Tokenize, sort and run every text once; the tokens read."""
    ids = [tokenizer.encode(t).ids for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for start in range(0, len(order), a.batch):
        group = [ids[i] for i in order[start : start + a.batch]]
        width = max(map(len, group))
        batch = np.zeros((len(group), width), np.int64)
        mask = np.zeros_like(batch)
        for row, seq in enumerate(group):
            batch[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": batch, "attention_mask": mask}
        if takes_types:
            feeds["token_type_ids"] = np.zeros_like(batch)
        session.run(None, feeds)
    return sum(map(len, ids))


tokens = one_pass()
times = []
for _ in range(a.runs):
    began = time.perf_counter()
    one_pass()
    times.append(time.perf_counter() - began)
med = statistics.median(times)
print(json.dumps({
    "peer": "onnxruntime", "version": onnxruntime.__version__,
    "model": os.path.basename(a.model_dir.rstrip("/")),
    "texts": len(texts), "tokens": tokens, "batch": a.batch, "threads": a.threads,
    "median_s": round(med, 4), "texts_per_s": round(len(texts) / med, 2),
    "tokens_per_s": round(tokens / med, 1), "runs_s": [round(t, 4) for t in times],
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}))
