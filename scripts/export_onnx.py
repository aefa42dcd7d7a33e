"""Export a sentence-transformers model directory to the layout sentence-transformers' ONNX backend
reads, which embedd's `onnx` provider loads:

    DEST/               every file of SRC but the weights (configs, tokenizer, pooling, Normalize)
    DEST/onnx/model.onnx  the transformer: inputs input_ids, attention_mask (and token_type_ids
                          where the model has token types), output last_hidden_state, batch and
                          sequence length dynamic, fp32, one self-contained file

Usage: python scripts/export_onnx.py SRC DEST
Needs torch, transformers, onnx and onnxscript (torch's exporter); checks the graph with
onnxruntime against transformers before it finishes.
"""

import os
import shutil
import sys

import numpy as np
import torch
from transformers import AutoConfig, AutoModel

# Not copied: the weights (the graph holds them) and embedd's install manifest, which lists them.
SKIPPED = {"model.safetensors", "pytorch_model.bin", "embedd-manifest.json"}


class LastHiddenState(torch.nn.Module):
    """The model called by keyword, so the graph's inputs keep their names."""

    def __init__(self, model, token_types):
        super().__init__()
        self.model = model
        self.token_types = token_types

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.token_types:
            kwargs["token_type_ids"] = token_type_ids
        return self.model(**kwargs).last_hidden_state


def main(src, dest):
    config = AutoConfig.from_pretrained(src)
    model = AutoModel.from_pretrained(src, attn_implementation="eager").eval()
    token_types = getattr(config, "type_vocab_size", 0) > 0 and config.model_type != "mpnet"
    for root, _, files in os.walk(src):
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), src)
            if name in SKIPPED or relative.split(os.sep)[0] in ("onnx", ".git"):
                continue
            os.makedirs(os.path.dirname(os.path.join(dest, relative)), exist_ok=True)
            shutil.copy2(os.path.join(src, relative), os.path.join(dest, relative))

    # A batch of two different lengths, so nothing is traced as a constant.
    ids = torch.tensor([[5, 6, 7, 8, 9, 10], [5, 6, 7, 0, 0, 0]])
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]])
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    example = (ids, mask) + ((torch.zeros_like(ids),) if token_types else ())
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", min=2, max=config.max_position_embeddings - 2)
    out = os.path.join(dest, "onnx", "model.onnx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    torch.onnx.export(
        LastHiddenState(model, token_types),
        example,
        out,
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
        opset_version=18,
        dynamo=True,
        external_data=False,
    )
    check(model, out, names)


def check(model, path, names):
    """The graph's states equal transformers' on real tokens, at a shape it was not traced at."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12, 13], [5, 6, 7, 8, 0, 0, 0, 0, 0], [5, 6] + [0] * 7])
    mask = (ids != 0).long()
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    if "token_type_ids" in names:
        feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
    got = session.run(["last_hidden_state"], feeds)[0]
    with torch.no_grad():
        kwargs = {k: torch.from_numpy(v) for k, v in feeds.items()}
        want = model(**kwargs).last_hidden_state.numpy()
    real = mask.numpy().astype(bool)
    worst = float(np.abs(got - want)[real].max())
    if worst > 1e-3:
        sys.exit(f"the exported graph differs from transformers by {worst}")
    print(f"exported {path}; largest difference to transformers {worst:.2e}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
