"""Make small random static models (model2vec) and model2vec's own vectors for them.

usage: make_tiny_static.py TOKENIZER_DIR OUT_DIR < texts.json > vectors.json
Each model is a token-embedding table over the WordPiece tokenizer in TOKENIZER_DIR, saved by
model2vec itself: one normalised with per-token weights, one raw and truncated at 8 tokens. The
reference is model2vec's `StaticModel.encode` on the saved directory, loaded back.
"""

import json
import sys
from pathlib import Path

import numpy as np
from model2vec import StaticModel
from tokenizers import Tokenizer

tokenizer_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
texts = json.load(sys.stdin)
tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
vocab = tokenizer.get_vocab_size(with_added_tokens=True)
rng = np.random.default_rng(20261125)
specs = {
    "static-normalized": dict(normalize=True, weights=rng.uniform(0.1, 2.0, vocab).astype(np.float32)),
    "static-raw-8": dict(normalize=False, max_length=8),
}
result = {}
for name, options in specs.items():
    vectors = rng.normal(0.0, 1.0, (vocab, 48)).astype(np.float32)
    StaticModel(vectors, tokenizer, **options).save_pretrained(out / name)
    loaded = StaticModel.from_pretrained(out / name)
    result[name] = loaded.encode(texts).tolist()
json.dump(result, sys.stdout)
