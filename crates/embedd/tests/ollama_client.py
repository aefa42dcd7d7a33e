"""Drive embedd with the official Ollama Python client; exit non-zero on any mismatch."""
import math
import sys

import ollama

client = ollama.Client(host=sys.argv[1])

batch = client.embed(model="all-minilm", input=["The quick brown fox", "jumps over the lazy dog"])
assert batch.model == "all-minilm-l6-v2", batch.model
assert len(batch.embeddings) == 2 and len(batch.embeddings[0]) == 384
assert abs(math.sqrt(sum(x * x for x in batch.embeddings[0])) - 1.0) < 1e-4
assert batch.prompt_eval_count == 6 + 7, batch.prompt_eval_count

one = client.embed(model="sentence-transformers/all-MiniLM-L6-v2:latest", input="The quick brown fox")
assert max(abs(a - b) for a, b in zip(one.embeddings[0], batch.embeddings[0])) < 1e-5

legacy = client.embeddings(model="all-minilm-l6-v2", prompt="The quick brown fox")
assert max(abs(a - b) for a, b in zip(legacy.embedding, batch.embeddings[0])) < 1e-5

try:
    client.embed(model="all-minilm-l6-v2", input="word " * 1000, truncate=False)
    raise SystemExit("an over-long input was accepted with truncate=False")
except ollama.ResponseError as e:
    assert e.status_code == 400 and "tokens" in e.error, (e.status_code, e.error)
try:
    client.embed(model="no-such-model", input="x")
    raise SystemExit("an unknown model was accepted")
except ollama.ResponseError as e:
    assert e.status_code == 404, e.status_code

names = [m.model for m in client.list().models]
assert "all-minilm-l6-v2:latest" in names, names
print("ollama client: ok")
