"""The seed's sentence-transformers service (seed section 6): POST /encode {"texts": [...]} -> {"embeddings": [...]}.

Run: gunicorn -w 1 -b 127.0.0.1:8014 server:app
Environment: ST_MODEL (a model name or a local sentence-transformers directory, default
all-mpnet-base-v2), ST_NORMALIZE (1 to L2-normalise; the model's own modules decide otherwise),
ST_MAX_TEXTS (default 256). Logs carry counts and lengths, never the texts.
"""
import logging
import os
import time

from flask import Flask, jsonify, request
from sentence_transformers import SentenceTransformer

MODEL_NAME = os.environ.get("ST_MODEL", "all-mpnet-base-v2")
NORMALIZE = os.environ.get("ST_NORMALIZE", "0") == "1"
MAX_TEXTS = int(os.environ.get("ST_MAX_TEXTS", "256"))

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("st-service")
model = SentenceTransformer(MODEL_NAME, device=os.environ.get("ST_DEVICE", "cpu"))
app = Flask(__name__)


def error(message, status=400):
    return jsonify({"error": message}), status


@app.get("/health")
def health():
    return jsonify({"status": "ok", "model": MODEL_NAME, "dimensions": model.get_sentence_embedding_dimension()})


@app.post("/encode")
def encode():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("the body must be a JSON object with `texts`")
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return error("`texts` must be a non-empty array of strings")
    if len(texts) > MAX_TEXTS:
        return error(f"at most {MAX_TEXTS} texts per request", 413)
    started = time.perf_counter()
    vectors = model.encode(texts, normalize_embeddings=NORMALIZE, convert_to_numpy=True)
    log.info("encoded texts=%d chars=%d ms=%.1f", len(texts), sum(map(len, texts)), (time.perf_counter() - started) * 1e3)
    return jsonify({"embeddings": vectors.tolist()})
