"""Tiny cross-encoders with random weights, and sentence-transformers' scores for them.

Writes, under OUT_DIR, one model directory per architecture embedd reads as a reranker
(BertForSequenceClassification, XLMRobertaForSequenceClassification), each a few MB, with the
WordPiece tokenizer of the MiniLM model in TOKENIZER_DIR, and prints the reference as JSON:
CrossEncoder.predict's scores for fixed query-document pairs, with its default activation
(sigmoid for one label) and raw. Weights come from a fixed seed.

usage: make_tiny_rerankers.py TOKENIZER_DIR OUT_DIR > reference.json
"""

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from sentence_transformers import CrossEncoder  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"]
# Short enough that the long document below is truncated (longest first).
MAX_LENGTH = 48

PAIRS = [
    ["how do I reset my password?", "Open the settings page and choose 'forgot password'."],
    ["how do I reset my password?", "The quick brown fox jumps over the lazy dog."],
    ["what is rust?", "Rust is a systems programming language focused on safety and speed."],
    ["what is rust?", "Iron oxide forms when iron meets water and air. " * 8],
    ["a", "b"],
    ["Crème brûlée in Zürich", "a dessert of custard under burnt sugar"],
]


def shape(vocab_size):
    return dict(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=1,
        pad_token_id=0,
    )


def main():
    tokenizer_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    vocab_size = json.loads((tokenizer_dir / "config.json").read_text())["vocab_size"]
    models = {
        "bert": BertForSequenceClassification(
            BertConfig(**shape(vocab_size), max_position_embeddings=64, type_vocab_size=2)
        ),
        # RoBERTa counts positions from the padding id + 1, so its table needs two more rows.
        # Two token types, because the WordPiece tokenizer marks the second text with type 1
        # (XLM-R's own tokenizer gives every token type 0).
        "xlm-roberta": XLMRobertaForSequenceClassification(
            XLMRobertaConfig(**shape(vocab_size), max_position_embeddings=66, type_vocab_size=2)
        ),
    }
    reference = {"pairs": PAIRS, "models": {}}
    for name, model in models.items():
        torch.manual_seed(7)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0.0, 0.5)
        directory = out / name
        directory.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(directory, safe_serialization=True)
        for file in TOKENIZER_FILES:
            shutil.copy(tokenizer_dir / file, directory / file)
        config = json.loads((directory / "tokenizer_config.json").read_text())
        config["model_max_length"] = MAX_LENGTH
        (directory / "tokenizer_config.json").write_text(json.dumps(config))
        encoder = CrossEncoder(str(directory), device="cpu", max_length=MAX_LENGTH)
        scores = encoder.predict(PAIRS, batch_size=4, show_progress_bar=False)
        raw = encoder.predict(
            PAIRS, batch_size=4, activation_fn=torch.nn.Identity(), show_progress_bar=False
        )
        reference["models"][name] = {
            "scores": [float(s) for s in scores],
            "raw_scores": [float(s) for s in raw],
        }
    json.dump(reference, sys.stdout)


if __name__ == "__main__":
    main()
