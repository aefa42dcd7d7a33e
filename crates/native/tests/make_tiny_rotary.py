"""Make small random-weight Qwen3-Embedding, EmbeddingGemma and ModernBERT embedding models and
their reference vectors.

usage: make_tiny_rotary.py OUT_DIR < texts.json > reference.json
Each model is a sentence-transformers directory laid out as the real repository is, built from
sentence-transformers' own modules and saved by it:

- tiny-qwen3-embedding: Qwen3 (causal, grouped-query attention, head_dim wider than hidden/heads),
  last-token pooling, Normalize; the tokenizer pads on the left and appends <|endoftext|>, as
  Qwen/Qwen3-Embedding's does; its `query` prompt is the repository's instruction.
- tiny-embeddinggemma: Gemma 3's text model (bidirectional, sliding-window and global layers with
  their own RoPE bases), mean pooling, two Dense layers, Normalize; <bos> ... <eos> around each
  text; the repository's `query` and `document` prompts.
- tiny-modernbert-embed: ModernBERT (global and local layers, a window of 8 tokens, fused
  projections, layer norms without bias), mean pooling, Normalize; [CLS] ... [SEP]; the
  `search_query: ` and `search_document: ` prompts of nomic-ai/modernbert-embed-base.

Tokenizers are byte-level BPE models trained here with `tokenizers`. The reference is
sentence-transformers itself, all texts in one batch (so padding is exercised), once without a
prompt and once with each prompt. Output: {model: {prompt or "": [vector per text]}}.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, models  # noqa: E402
from tokenizers import ByteLevelBPETokenizer  # noqa: E402
from tokenizers.processors import TemplateProcessing  # noqa: E402
from transformers import (  # noqa: E402
    Gemma3TextConfig, Gemma3TextModel, ModernBertConfig, ModernBertModel, PreTrainedTokenizerFast, Qwen3Config,
    Qwen3Model,
)

out = sys.argv[1]
texts = json.load(sys.stdin)
corpus = texts + [
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
    "task: search result | query: title: none | text: ",
    "Le modèle lit plusieurs langues. Das Modell liest viele Sprachen. 模型读取多种语言。",
    "the quick brown fox jumps over the lazy dog 0123456789",
]
MAX_LEN = 48


def tokenizer(specials, template, **kwargs):
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus * 10, vocab_size=400, special_tokens=specials, show_progress=False)
    ids = {token: bpe.token_to_id(token) for token in specials}
    bpe.post_processor = TemplateProcessing(single=template, special_tokens=list(ids.items()))
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, model_max_length=MAX_LEN, **kwargs)


def randomise(model):
    torch.manual_seed(20261124)
    for name, p in model.named_parameters():
        if "norm" in name:  # norms near their neutral value, as trained models are
            p.data.normal_(0.0, 0.1).add_(0.0 if "gemma" in type(model).__name__.lower() else 1.0)
        elif name.endswith("bias"):
            p.data.normal_(0.0, 0.1)
        else:
            p.data.normal_(0.0, 0.2)


def save(name, hf_model, hf_tokenizer, extra_modules, pooling, prompts):
    raw = os.path.join(out, name + "-hf")
    hf_model.save_pretrained(raw, safe_serialization=True)
    hf_tokenizer.save_pretrained(raw)
    transformer = models.Transformer(raw, max_seq_length=MAX_LEN)
    pool = models.Pooling(hf_model.config.hidden_size, pooling_mode=pooling)
    st = SentenceTransformer(modules=[transformer, pool, *extra_modules, models.Normalize()], device="cpu",
                             prompts=prompts)
    d = os.path.join(out, name)
    st.save(d)
    st = SentenceTransformer(d, device="cpu")
    result = {"": st.encode(texts, batch_size=len(texts)).tolist()}
    for prompt in prompts:
        result[prompt] = st.encode(texts, batch_size=len(texts), prompt_name=prompt).tolist()
    return result


reference = {}

qwen_tokenizer = tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], "$A <|endoftext|>",
                           eos_token="<|endoftext|>", pad_token="<|endoftext|>", padding_side="left")
qwen = Qwen3Model(Qwen3Config(vocab_size=len(qwen_tokenizer), hidden_size=64, intermediate_size=128,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                              max_position_embeddings=512, rope_theta=1000000.0, rms_norm_eps=1e-6,
                              tie_word_embeddings=False)).eval()
randomise(qwen)
reference["tiny-qwen3-embedding"] = save(
    "tiny-qwen3-embedding", qwen, qwen_tokenizer, [], "lasttoken",
    {"query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
     "document": ""})

gemma_tokenizer = tokenizer(["<pad>", "<eos>", "<bos>", "<unk>"], "<bos> $A <eos>", bos_token="<bos>",
                            eos_token="<eos>", pad_token="<pad>", unk_token="<unk>", padding_side="right")
gemma_config = Gemma3TextConfig(vocab_size=len(gemma_tokenizer), hidden_size=64, intermediate_size=128,
                                num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                                query_pre_attn_scalar=24, sliding_window=4, max_position_embeddings=512,
                                layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                                use_bidirectional_attention=True, pad_token_id=0, eos_token_id=1, bos_token_id=2)
gemma = Gemma3TextModel(gemma_config).eval()
randomise(gemma)
dense = [models.Dense(64, 96, bias=False, activation_function=torch.nn.Identity()),
         models.Dense(96, 64, bias=False, activation_function=torch.nn.Identity())]
for layer in dense:
    torch.nn.init.normal_(layer.linear.weight, 0.0, 0.2)
reference["tiny-embeddinggemma"] = save(
    "tiny-embeddinggemma", gemma, gemma_tokenizer, dense, "mean",
    {"query": "task: search result | query: ", "document": "title: none | text: "})
modern_tokenizer = tokenizer(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"], "[CLS] $A [SEP]", cls_token="[CLS]",
                             sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]")
modern = ModernBertModel(ModernBertConfig(vocab_size=len(modern_tokenizer), hidden_size=64, intermediate_size=96,
                                          num_hidden_layers=4, num_attention_heads=4, local_attention=8,
                                          global_attn_every_n_layers=3, global_rope_theta=160000.0,
                                          local_rope_theta=10000.0, max_position_embeddings=512, pad_token_id=0,
                                          cls_token_id=1, sep_token_id=2, norm_bias=False)).eval()
randomise(modern)
reference["tiny-modernbert-embed"] = save(
    "tiny-modernbert-embed", modern, modern_tokenizer, [], "mean",
    {"query": "search_query: ", "document": "search_document: "})
json.dump(reference, sys.stdout)
