"""A small random transformer, and model2vec's own distillation of it.

usage: make_tiny_distilled.py make TOKENIZER_DIR OUT_DIR < texts.json > vectors.json
         OUT_DIR/tiny-bert: a BERT with random weights and TOKENIZER_DIR's tokenizer;
         OUT_DIR/model2vec: model2vec.distill of it (32 dimensions by PCA, SIF 1e-4, float32);
         the answer: that static model's `encode` of each text.
       make_tiny_distilled.py encode MODEL_DIR < texts.json > vectors.json
         model2vec's `StaticModel.encode` of each text on a static model in MODEL_DIR.
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from model2vec import StaticModel  # noqa: E402

texts = json.load(sys.stdin)
if sys.argv[1] == "encode":
    model = StaticModel.from_pretrained(sys.argv[2])
    json.dump(model.encode(texts).tolist(), sys.stdout)
    sys.exit(0)

from model2vec.distill import distill  # noqa: E402
from transformers import BertConfig, BertModel  # noqa: E402

tokenizer_dir, out = sys.argv[2], sys.argv[3]
torch.manual_seed(20261207)
config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=128, max_position_embeddings=64, type_vocab_size=2)
model = BertModel(config, add_pooling_layer=False)
for p in model.parameters():  # larger than the default init, so the token vectors differ more
    p.data.normal_(0.0, 0.2)
source = os.path.join(out, "tiny-bert")
model.save_pretrained(source, safe_serialization=True)
for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]:
    shutil.copy(os.path.join(tokenizer_dir, f), source)
static = distill(source, pca_dims=32, sif_coefficient=1e-4, quantize_to="float32", device="cpu")
static.save_pretrained(os.path.join(out, "model2vec"))
json.dump(static.encode(texts).tolist(), sys.stdout)
