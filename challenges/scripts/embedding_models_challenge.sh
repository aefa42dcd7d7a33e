#!/bin/bash
# challenges/scripts/embedding_models_challenge.sh — the seed's challenge script (seed §8), adapted:
# the addresses come from the environment (so a test can start everything on free ports), curl
# fails on HTTP errors (-f), and each answer is checked to hold an embedding. The seed piped to
# `jq .`; JSON_TOOL defaults to jq when it is installed, else to Python's json.tool.
set -euo pipefail

EMBEDD_URL=${EMBEDD_URL:-http://localhost:8080}
OLLAMA_URL=${OLLAMA_URL:-http://localhost:11434}
ST_URL=${ST_URL:-http://localhost:8014}
if [ -z "${JSON_TOOL:-}" ]; then
  if command -v jq >/dev/null; then JSON_TOOL="jq ."; else JSON_TOOL="python3 -m json.tool"; fi
fi

# Pretty-print an answer, and fail unless it holds a non-empty vector under one of the keys.
check() {
  local answer
  answer=$(cat)
  local formatted
  formatted=$(printf '%s\n' "$answer" | $JSON_TOOL)
  printf '%s ...\n' "${formatted:0:300}"
  printf '%s' "$answer" | python3 -c '
import json, sys
d = json.load(sys.stdin)
v = d.get("embedding") or (d.get("embeddings") or [[]])[0]
assert isinstance(v, list) and len(v) > 0 and all(isinstance(x, float) for x in v), "no embedding in the answer"
'
}

echo "Testing Embedding Models Infrastructure..."

# Test OpenAI embeddings
curl -sf "$EMBEDD_URL/v1/embeddings/generate" \
  -H "Content-Type: application/json" \
  -d '{"text": "test", "model": "text-embedding-3-small"}' | check

# Test Ollama embeddings
curl -sf "$OLLAMA_URL/api/embeddings" \
  -d '{"model": "nomic-embed-text", "prompt": "test"}' | check

# Test sentence-transformers
curl -sf "$ST_URL/encode" \
  -H "Content-Type: application/json" \
  -d '{"texts": ["test"]}' | check

# Test fallback chain
curl -sf "$EMBEDD_URL/v1/embeddings/generate" \
  -H "Content-Type: application/json" \
  -d '{"text": "test", "use_fallback": true}' | check

echo "All embedding model tests passed!"
