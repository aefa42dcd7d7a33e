"""Drive embedd with the official OpenAI SDK; exit non-zero on any mismatch."""
import math
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="not-needed", max_retries=0)
texts = ["The quick brown fox", "jumps over the lazy dog", "  "]

# The SDK asks for base64 by default and decodes it to floats itself.
default = client.embeddings.create(model="local-hash", input=texts)
floats = client.embeddings.create(model="local-hash", input=texts, encoding_format="float")
assert default.model == "local-hash", default.model
assert [d.index for d in default.data] == [0, 1, 2]
for a, b in zip(default.data, floats.data):
    assert len(a.embedding) == 384, len(a.embedding)
    assert max(abs(x - y) for x, y in zip(a.embedding, b.embedding)) < 1e-6, "base64 and float disagree"
assert floats.usage.prompt_tokens == floats.usage.total_tokens == 9, floats.usage

short = client.embeddings.create(model="local-hash", input=texts[0], dimensions=128)
vector = short.data[0].embedding
assert len(vector) == 128, len(vector)
assert abs(math.sqrt(sum(x * x for x in vector)) - 1.0) < 1e-5, "not re-normalised"
full = floats.data[0].embedding[:128]
cos = sum(x * y for x, y in zip(vector, full)) / math.sqrt(sum(x * x for x in full))
assert cos > 0.9999, cos

try:
    client.embeddings.create(model="no-such-model", input="x")
    raise SystemExit("an unknown model was accepted")
except openai.NotFoundError as e:
    assert e.body["code"] == "model_not_found", e.body
try:
    client.embeddings.create(model="local-hash", input="x", dimensions=4096)
    raise SystemExit("dimensions beyond the model were accepted")
except openai.BadRequestError as e:
    assert e.body["param"] == "dimensions", e.body

models = [m.id for m in client.models.list()]
assert "local-hash" in models, models
print("openai sdk: ok")
