"""Sentence embeddings of all-MiniLM-L6-v2, int8 ONNX, run by onnxruntime: no torch, no download.

The model file ships inside the package (see benchmarks/export_minilm.md for how it was made).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"
MODEL = DATA / "minilm-l6-int8.onnx"
TOKENIZER = DATA / "tokenizer.json"
DIM = 384
MAX_TOKENS = 256


@cache
def _session() -> tuple:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(MODEL), sess_options=options, providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return session, tokenizer


def encode(texts: list[str], batch: int = 32) -> np.ndarray:
    """(n, 384) L2-normalised float32 rows, as sentence-transformers computes them."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not texts:
        return out
    session, tokenizer = _session()
    encodings = tokenizer.encode_batch(list(texts))
    order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    for start in range(0, len(texts), batch):
        rows = order[start : start + batch]
        width = max(len(encodings[i].ids) for i in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, i in enumerate(rows):
            n = len(encodings[i].ids)
            ids[r, :n] = encodings[i].ids
            mask[r, :n] = 1
        hidden = session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
        out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return out
