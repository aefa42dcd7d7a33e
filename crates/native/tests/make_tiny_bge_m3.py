"""Make a small random-weight BGE-M3 (XLM-RoBERTa, CLS pooling, normalised, with the sparse and
ColBERT heads as BAAI/bge-m3 ships them) and the reference outputs of each text.

usage: make_tiny_bge_m3.py OUT_DIR < texts.json > reference.json
The tokenizer is of BGE-M3's own kind, XLM-RoBERTa's (a SentencePiece unigram model; `<s>`,
`<pad>`, `</s>`, `<unk>` as ids 0-3), trained here on a small corpus with `tokenizers`.
Dense vectors come from sentence-transformers; the sparse and multi-vector outputs are computed
with FlagEmbedding's formulas (BGEM3FlagModel: `_sparse_embedding`, `_process_token_weights`,
`_colbert_embedding`, `_process_colbert_vecs`) on the model's last hidden states.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from tokenizers import SentencePieceUnigramTokenizer  # noqa: E402
from tokenizers.processors import TemplateProcessing  # noqa: E402
from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast  # noqa: E402

out = sys.argv[1]
texts = json.load(sys.stdin)
hidden, max_len = 64, 48
corpus = texts + [
    "Sparse retrieval weighs each token; dense retrieval compares whole vectors.",
    "Multi-vector retrieval keeps one vector per token, as ColBERT does.",
    "Le modèle lit plusieurs langues. Das Modell liest viele Sprachen. 模型读取多种语言。",
    "the quick brown fox jumps over the lazy dog 0123456789",
]
unigram = SentencePieceUnigramTokenizer()
unigram.train_from_iterator(corpus * 10, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                            unk_token="<unk>", show_progress=False)
unigram.post_processor = TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                            special_tokens=[("<s>", 0), ("</s>", 2)])
fast = XLMRobertaTokenizerFast(tokenizer_object=unigram._tokenizer, bos_token="<s>", eos_token="</s>",
                               sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                               mask_token="<unk>")
torch.manual_seed(20261124)
config = XLMRobertaConfig(vocab_size=len(fast), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=128, max_position_embeddings=130, type_vocab_size=1, pad_token_id=1)
model = XLMRobertaModel(config, add_pooling_layer=False)
sparse_linear = torch.nn.Linear(hidden, 1)
colbert_linear = torch.nn.Linear(hidden, hidden)
for module in (model, sparse_linear, colbert_linear):
    for p in module.parameters():  # larger than the default init, so differences would show
        p.data.normal_(0.0, 0.2)
model.eval()
d = os.path.join(out, "tiny-bge-m3")
model.save_pretrained(d, safe_serialization=True)
# The same weights as a PyTorch checkpoint, beside the directory, for the loader's other format.
torch.save(model.state_dict(), os.path.join(out, "pytorch_model.bin"))
fast.save_pretrained(d)
modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
           {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
           {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
json.dump(modules, open(os.path.join(d, "modules.json"), "w"))
os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
json.dump({"word_embedding_dimension": hidden, "pooling_mode_cls_token": True},
          open(os.path.join(d, "1_Pooling", "config.json"), "w"))
json.dump({"max_seq_length": max_len, "do_lower_case": False}, open(os.path.join(d, "sentence_bert_config.json"), "w"))

tokenizer = AutoTokenizer.from_pretrained(d)
with torch.no_grad():
    # Random states are much alike from token to token: move the sparse head's bias so about
    # half the tokens get a positive weight and the test sees both kinds. The cut goes in the
    # widest gap between neighbouring weights of the middle half, so no weight sits near zero,
    # where rounding (here or in embedd) could flip a token in or out.
    raw = torch.cat([sparse_linear(model(**tokenizer([t], truncation=True, max_length=max_len,
                                                      return_tensors="pt")).last_hidden_state)[0, :, 0]
                     for t in texts]).sort().values
    n = len(raw)
    k = max(range(n // 4, max(n // 4 + 1, 3 * n // 4)), key=lambda i: float(raw[i + 1] - raw[i]))
    sparse_linear.bias -= (raw[k] + raw[k + 1]) / 2
torch.save(sparse_linear.state_dict(), os.path.join(d, "sparse_linear.pt"))
torch.save(colbert_linear.state_dict(), os.path.join(d, "colbert_linear.pt"))
st = SentenceTransformer(d, device="cpu")
unused = {tokenizer.cls_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id}
result = []
with torch.no_grad():
    for text in texts:
        encoded = tokenizer([text], truncation=True, max_length=max_len, return_tensors="pt")
        states = model(**encoded).last_hidden_state
        ids = encoded["input_ids"][0].tolist()
        weights = torch.relu(sparse_linear(states))[0].squeeze(-1).tolist()
        sparse = {}
        for weight, idx in zip(weights, ids):
            if idx not in unused and weight > 0 and weight > sparse.get(idx, 0):
                sparse[idx] = weight
        colbert = torch.nn.functional.normalize(colbert_linear(states[:, 1:])[0], dim=-1)
        result.append({
            "dense": st.encode([text])[0].tolist(),
            "sparse": {str(k): v for k, v in sparse.items()},
            "multi_vector": colbert[: len(ids) - 1].tolist(),
        })
json.dump(result, sys.stdout)
