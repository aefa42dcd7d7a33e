"""Reference vectors from Python sentence-transformers, for parity tests at test time.

usage: reference_st.py MODEL_DIR [PROMPT_NAME] < texts.json > vectors.json
Each text is encoded alone (no padding), normalize_embeddings as the model's modules say; with
PROMPT_NAME, that prompt of the model's goes before each text (else its default prompt, if any).
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from sentence_transformers import SentenceTransformer  # noqa: E402

model = SentenceTransformer(sys.argv[1], device="cpu")
texts = json.load(sys.stdin)
prompt_name = sys.argv[2] if len(sys.argv) > 2 else None
vectors = [model.encode([t], batch_size=1, prompt_name=prompt_name)[0].tolist() for t in texts]
json.dump(vectors, sys.stdout)
