"""Dev-time step: rebuild digest/data/sample-2026-02-10.vectors.npz, the bundled sample day's
embeddings, after the model, its token limit or the sample day changes.

    python benchmarks/sample_vectors.py      # encodes the 692 papers, prints the file's size

`embed` reads a paper's vector from it before encoding (tests/test_embedding_store.py checks
that they are what an encode gives), so `run --sample` and the tests embed none of its papers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.papers import read_sample  # noqa: E402
from digest.scoring import embedding  # noqa: E402


def main() -> None:
    papers = read_sample()
    texts = [p.text for p in papers]
    start = time.perf_counter()
    values, scale = embedding.quantise(embedding.encode(texts))
    took = time.perf_counter() - start
    target = embedding.SAMPLE_VECTORS
    np.savez_compressed(
        target,
        model=np.array(embedding.model_key()),
        ids=np.array([p.id for p in papers]),
        hashes=np.array([embedding.text_hash(t) for t in texts]),
        values=values,
        scale=scale,
    )
    print(f"{len(papers)} papers encoded in {took:.1f} s; {target.name}: "
          f"{target.stat().st_size / 1024:.0f} KB")  # fmt: skip


if __name__ == "__main__":
    main()
