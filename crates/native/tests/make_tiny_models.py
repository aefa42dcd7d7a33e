"""Make small random-weight models of each supported architecture and their reference vectors.

usage: make_tiny_models.py TOKENIZER_DIR OUT_DIR < texts.json > vectors.json
Each model is a sentence-transformers directory (modules.json, pooling config, safetensors), with
a different pooling and normalisation, so loading and pooling are checked beyond the two shipped
models. Weights come from a fixed seed; the reference is sentence-transformers itself.
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel, RobertaConfig, RobertaModel  # noqa: E402

tokenizer_dir, out = sys.argv[1], sys.argv[2]
texts = json.load(sys.stdin)
common = dict(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
specs = {
    "tiny-bert-cls": (BertModel, BertConfig(**common, max_position_embeddings=128, type_vocab_size=2), "cls", True),
    "tiny-roberta-max": (RobertaModel, RobertaConfig(**common, max_position_embeddings=130, type_vocab_size=1, pad_token_id=1), "max", False),
    "tiny-mpnet-mean": (MPNetModel, MPNetConfig(**common, max_position_embeddings=130, pad_token_id=1, layer_norm_eps=1e-5), "mean", True),
}
result = {}
for name, (cls, config, pooling, normalize) in specs.items():
    torch.manual_seed(20261124)
    model = cls(config, add_pooling_layer=False)
    for p in model.parameters():  # larger than the default init, so differences would show
        p.data.normal_(0.0, 0.2)
    d = os.path.join(out, name)
    model.save_pretrained(d, safe_serialization=True)
    for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]:
        shutil.copy(os.path.join(tokenizer_dir, f), d)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    json.dump(modules, open(os.path.join(d, "modules.json"), "w"))
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    json.dump({"word_embedding_dimension": 64, f"pooling_mode_{pooling}_tokens" if pooling != "cls" else "pooling_mode_cls_token": True},
              open(os.path.join(d, "1_Pooling", "config.json"), "w"))
    json.dump({"max_seq_length": 48, "do_lower_case": False}, open(os.path.join(d, "sentence_bert_config.json"), "w"))
    st = SentenceTransformer(d, device="cpu")
    result[name] = [st.encode([t])[0].tolist() for t in texts]
json.dump(result, sys.stdout)
