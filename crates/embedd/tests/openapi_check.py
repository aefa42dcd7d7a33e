"""Check a running embedd's /openapi.json: a valid OpenAPI document, and every answer of a set of
requests (successes and each dialect's errors) valid against the schema it declares for that route
and status. Usage: openapi_check.py BASE_URL MODEL. Prints one line per request; exits non-zero on
the first mismatch."""

import json
import sys
import urllib.error
import urllib.request

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

base, model = sys.argv[1], sys.argv[2]


def call(method, path, body=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


status, _, body = call("GET", "/openapi.json")
assert status == 200, status
spec = json.loads(body)
validate(spec)
print("valid OpenAPI", spec["openapi"], "with", len(spec["paths"]), "paths")

# (method, path as the spec writes it, the path sent, body or raw bytes)
too_long = "word " * 100_000
requests = [
    ("post", "/v1/embeddings", "/v1/embeddings", {"input": ["a", "b"]}),
    ("post", "/v1/embeddings", "/v1/embeddings", {"input": "a", "encoding_format": "base64"}),
    ("post", "/v1/embeddings", "/v1/embeddings", {"input": [1, 2, 3]}),
    ("post", "/v1/embeddings", "/v1/embeddings", {"input": []}),
    ("post", "/v1/embeddings", "/v1/embeddings", {"input": "a", "model": "nope"}),
    ("post", "/v1/embeddings", "/v1/embeddings", None, b"{not json"),
    ("get", "/v1/models", "/v1/models", None),
    ("get", "/v1/models/{model}", "/v1/models/" + model, None),
    ("get", "/v1/models/{model}", "/v1/models/nope", None),
    ("post", "/v1/embeddings/generate", "/v1/embeddings/generate", {"text": "a"}),
    ("post", "/v1/embeddings/generate", "/v1/embeddings/generate", {"texts": ["a", "b"], "use_fallback": True}),
    ("post", "/v1/embeddings/generate", "/v1/embeddings/generate", {}),
    ("post", "/api/embed", "/api/embed", {"model": model, "input": ["a", "b"]}),
    ("post", "/api/embed", "/api/embed", {"model": model, "input": 5}),
    ("post", "/api/embeddings", "/api/embeddings", {"model": model, "prompt": "a"}),
    ("post", "/api/embeddings", "/api/embeddings", {"model": model}),
    ("get", "/api/tags", "/api/tags", None),
    ("get", "/api/version", "/api/version", None),
    ("post", "/embed", "/embed", {"inputs": ["a", "b"]}),
    ("post", "/embed", "/embed", {"inputs": too_long}),
    ("post", "/embed", "/embed", {"inputs": {}}),
    ("post", "/embed_sparse", "/embed_sparse", {"inputs": "a"}),
    ("post", "/similarity", "/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b", "c"]}}),
    ("post", "/similarity", "/similarity", {"inputs": {"source_sentence": "a", "sentences": []}}),
    ("post", "/similarity", "/similarity", {"inputs": {"source_sentence": "a", "sentences": [too_long]}}),
    # The server's models embed; a reranker's answers are checked in tests/rerank.rs.
    ("post", "/rerank", "/rerank", {"query": "q", "texts": ["a"]}),
    ("post", "/rerank", "/rerank", {"query": "q"}),
    ("post", "/v1/rerank", "/v1/rerank", {"query": "q", "documents": ["a"]}),
    ("post", "/v1/rerank", "/v1/rerank", {"query": "q", "documents": [5]}),
    ("post", "/v2/rerank", "/v2/rerank", {"query": "q", "documents": ["a"]}),
    ("post", "/tokenize", "/tokenize", {"inputs": "a b"}),
    ("get", "/info", "/info", None),
    ("post", "/encode", "/encode", {"texts": ["a"]}),
    ("post", "/encode", "/encode", {"texts": "a"}),
    ("get", "/health", "/health", None),
    ("get", "/ready", "/ready", None),
    ("get", "/status/models", "/status/models", None),
    ("get", "/metrics", "/metrics", None),
    ("get", "/", "/", None),
    ("get", "/docs", "/docs", None),
    ("get", "/openapi.json", "/openapi.json", None),
]

covered = set()
for method, route, path, body, *raw in requests:
    status, content_type, answer = call(method.upper(), path, body, raw[0] if raw else None)
    operation = spec["paths"][route][method]
    declared = operation["responses"].get(str(status))
    assert declared is not None, f"{method} {path} answered {status}, which the description does not list"
    media = declared.get("content", {})
    kind = content_type.split(";")[0].strip()
    assert kind in media, f"{method} {path} answered {kind}, described as {list(media)}"
    schema = media[kind].get("schema", {})
    if kind == "application/json":
        # The route's schema, with the document's components beside it so its $refs resolve.
        Draft202012Validator({**schema, "components": spec["components"]}).validate(json.loads(answer))
    if 200 <= status < 300 and body is not None:
        # A request the server took must be one its description allows.
        request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        Draft202012Validator({**request_schema, "components": spec["components"]}).validate(body)
    covered.add((route, method))
    print(status, method, route, "matches its schema")

described = {(route, method) for route, item in spec["paths"].items() for method in item}
missing = described - covered
assert not missing, f"routes described but never checked: {sorted(missing)}"
print("every described route answered as described")
