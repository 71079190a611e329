"""Sentence embeddings of all-MiniLM-L6-v2, int8 ONNX, run by onnxruntime: no torch, no download.

The model file ships inside the package (see benchmarks/export_minilm.md for how it was made).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"
MODEL = DATA / "minilm-l6-int8.onnx"
TOKENIZER = DATA / "tokenizer.json"
# The bundled sample day's vectors as the model gives them (benchmarks/sample_vectors.py makes
# the file): `run --sample` and the tests embed none of its papers. Another CPU's encode differs a
# little (made on an AVX2 EPYC; on a Xeon with VNNI, a cosine of 0.998 at worst to its own).
SAMPLE_VECTORS = DATA / "sample-2026-02-10.vectors.npz"
DIM = 384
MAX_TOKENS = 256
# One kept-or-encode step at a time in a process: the builds of many criteria on a new day run
# side by side, and without this each would encode the whole day before any had kept it.
_KEEPING = threading.Lock()
_NOTHING = nullcontext()  # without a store there is nothing to share


class Counter:
    """How many texts `encode` has embedded in this process (tests count them)."""

    def __init__(self) -> None:
        self.texts = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.texts += n


ENCODED = Counter()
# Who hears of each batch encoded: (texts done, texts in all). Set by a front end's progress bar;
# asyncio.to_thread carries it into the worker thread.
_REPORT: ContextVar[Callable[[int, int], None] | None] = ContextVar("report", default=None)


@contextmanager
def reporting(report: Callable[[int, int], None]) -> Iterator[None]:
    """Within the block, `encode` calls report(done, total) after each batch."""
    token = _REPORT.set(report)
    try:
        yield
    finally:
        _REPORT.reset(token)


class VectorStore(Protocol):
    """Where paper embeddings are kept between runs (the Store implements it): each vector as
    int8 bytes and its scale (see `quantise`), under (paper id, text hash) and a model key."""

    def embeddings(
        self, model: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[bytes, float]]:
        """The kept (vector bytes, scale) of those (paper id, text hash) pairs it holds."""
        ...

    def save_embeddings(self, model: str, rows: Sequence[tuple[str, str, bytes, float]]) -> None:
        """Keep (paper id, text hash, vector bytes, scale) rows; rows kept already stay."""
        ...


@dataclass(frozen=True)
class Options:
    """How texts are run through the model (benchmarks/local_speed.py measures each)."""

    max_tokens: int = MAX_TOKENS
    batch: int = 1  # texts per ONNX run, in order of length: 1 pads nothing, and a text then
    # embeds the same whatever its neighbours (int8 activations are scaled per run)
    threads: int = 2  # texts run at once, each on one ORT thread: a text of one row is too small
    # a matrix to split across threads well (2 runs: 20% less wall and 10% less CPU than 1 run
    # on 2 intra-op threads), and a text embeds the same either way
    spinning: bool = False  # ORT threads spin while waiting: costs CPU, and a shared machine's
    arena: bool = True  # ORT's memory arena keeps the largest batch's buffers
    optimisation: str = "all"  # ORT graph optimisation level: basic, extended or all


DEFAULT = Options()


def model_key(options: Options = DEFAULT) -> str:
    """What a stored embedding was made by: another model file or token limit embeds again."""
    return f"minilm-l6-int8rr/{options.max_tokens}"


@cache
def _session(options: Options = DEFAULT) -> Any:
    import onnxruntime as ort

    level = ort.GraphOptimizationLevel
    settings = ort.SessionOptions()
    settings.intra_op_num_threads = 1  # runs go in parallel instead (see Options.threads)
    settings.inter_op_num_threads = 1
    settings.log_severity_level = 3
    settings.graph_optimization_level = {
        "basic": level.ORT_ENABLE_BASIC,
        "extended": level.ORT_ENABLE_EXTENDED,
        "all": level.ORT_ENABLE_ALL,
    }[options.optimisation]
    settings.enable_cpu_mem_arena = options.arena
    if not options.spinning:
        settings.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(MODEL), sess_options=settings, providers=["CPUExecutionProvider"]
    )


@cache
def _tokenizer(max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def encode(texts: list[str], options: Options = DEFAULT) -> np.ndarray:
    """(n, 384) L2-normalised float32 rows, as sentence-transformers computes them."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not texts:
        return out
    ENCODED.add(len(texts))
    session, report = _session(options), _REPORT.get()
    encodings = _tokenizer(options.max_tokens).encode_batch(list(texts))
    order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    batches = [
        order[start : start + options.batch] for start in range(0, len(texts), options.batch)
    ]
    done, lock = 0, threading.Lock()

    def run(rows: np.ndarray) -> None:
        nonlocal done
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
        if report is not None:
            with lock:  # one report at a time, counts increasing
                done += len(rows)
                report(done, len(texts))

    if options.threads <= 1 or len(batches) == 1:
        for rows in batches:
            run(rows)
    else:  # ORT's run is thread-safe and releases the GIL
        with ThreadPoolExecutor(options.threads, thread_name_prefix="encode") as pool:
            list(pool.map(run, batches))
    return out


def text_hash(text: str) -> str:
    """What a stored embedding is valid for: a new version's abstract hashes differently."""
    return hashlib.sha256(text.encode()).hexdigest()


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and each row's float32 scale: row ~= int8 * scale (a quarter of the bytes)."""
    scale = (np.abs(vectors).max(axis=1) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    return np.round(vectors / scale[:, None]).astype(np.int8), scale


def dequantise(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float32 rows again, renormalised to unit length."""
    rows = values.astype(np.float32) * scale.astype(np.float32)[:, None]
    return rows / np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)


@cache
def _shipped(model: str) -> dict[tuple[str, str], tuple[bytes, float]]:
    """The bundled (paper id, text hash) -> (vector bytes, scale), if made by this model."""
    if not SAMPLE_VECTORS.exists():
        return {}
    with np.load(SAMPLE_VECTORS) as shipped:
        if str(shipped["model"]) != model:
            return {}
        columns = (shipped[name] for name in ("ids", "hashes", "values", "scale"))
        return {
            (str(i), str(h)): (v.tobytes(), float(s)) for i, h, v, s in zip(*columns, strict=True)
        }


def embed(
    ids: Sequence[str],
    texts: Sequence[str],
    store: VectorStore | None = None,
    options: Options = DEFAULT,
) -> np.ndarray:
    """(n, 384) unit rows for the papers: read from `store` where kept, else from the bundled
    sample day's, else encoded (and kept).

    Fresh vectors take the same int8 round trip as stored ones, so a paper scores the same
    whether its vector was just encoded or read back.
    """
    keys = [(pid, text_hash(t)) for pid, t in zip(ids, texts, strict=True)]
    model = model_key(options)
    values = np.zeros((len(keys), DIM), dtype=np.int8)
    scale = np.ones(len(keys), dtype=np.float32)
    with _KEEPING if store is not None else _NOTHING:  # a second caller reads what the first kept
        kept = store.embeddings(model, keys) if store is not None else {}
        shipped = _shipped(model)
        unseen, unsaved = [], []  # in neither the store nor the bundle; not in the store
        for i, key in enumerate(keys):
            found = kept.get(key) or shipped.get(key)
            if found is not None:
                values[i] = np.frombuffer(found[0], dtype=np.int8)
                scale[i] = found[1]
            else:
                unseen.append(i)
            if key not in kept:
                unsaved.append(i)
        if unseen:
            values[unseen], scale[unseen] = quantise(encode([texts[i] for i in unseen], options))
        if unsaved and store is not None:
            store.save_embeddings(
                model, [(*keys[i], values[i].tobytes(), float(scale[i])) for i in unsaved]
            )
    return dequantise(values, scale)


def lend(ids: Sequence[str], texts: Sequence[str], source: VectorStore, to: VectorStore) -> None:
    """Embed the texts into `source` (kept there, so the next call embeds nothing) and copy
    their vectors to `to`, a scratch store."""
    embed(ids, texts, source)
    model = model_key()
    keys = [(pid, text_hash(t)) for pid, t in zip(ids, texts, strict=True)]
    kept = source.embeddings(model, keys)
    to.save_embeddings(model, [(*key, *value) for key, value in kept.items()])
