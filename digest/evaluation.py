"""Compare a scorer's ranking with a reference digest: R-precision, recall at a kept fraction,
and Spearman correlation of relevance on the reference's papers."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from digest.errors import ReferenceFormatError

_ID_LINE = re.compile(r"^ArXiv ID:\s*\[?(?P<id>[0-9]{4}\.[0-9]{4,5}|[a-z\-]+/\d{7})", re.M)
_SCORES = re.compile(r"^Relevance:\s*(?P<r>\d+)\s+Novelty:\s*(?P<n>\d+)", re.M)


@dataclass(frozen=True)
class ReferencePaper:
    id: str
    relevance: int | None  # None for "Author match" papers, which the reference did not score
    novelty: int | None


def read_reference(path: Path) -> list[ReferencePaper]:
    """The selected papers of a digest in the reference format, in their order."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceFormatError(f"cannot read reference digest {path}: {exc.strerror}") from exc
    found = list(_ID_LINE.finditer(text))
    if not found:
        raise ReferenceFormatError(f"{path} has no 'ArXiv ID:' lines; is it a digest page?")
    papers = []
    for i, match in enumerate(found):
        block = text[match.start() : found[i + 1].start() if i + 1 < len(found) else len(text)]
        pid = match.group("id")
        scores = _SCORES.search(block)
        papers.append(
            ReferencePaper(
                pid,
                int(scores.group("r")) if scores else None,
                int(scores.group("n")) if scores else None,
            )
        )
    return papers


def read_labels(path: Path) -> dict[str, list[ReferencePaper]]:
    """Each day's selection from a labels file: `{"2025-12-19": {"2512.1234": {"relevance": 9,
    "novelty": 8}, ...}, ...}` (the shape of data/arxiv/selected.json; null scores allowed)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReferenceFormatError(f"cannot read labels {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ReferenceFormatError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ReferenceFormatError(
            f'{path}: expected {{"YYYY-MM-DD": {{"arXiv id": {{"relevance": r, "novelty": n}}}}}}'
        )
    return {
        day: [
            ReferencePaper(pid, *(_score(v, key) for key in ("relevance", "novelty")))
            for pid, v in sorted(picks.items())
        ]
        for day, picks in data.items()
    }


def _score(value: object, key: str) -> int | None:
    found = value.get(key) if isinstance(value, dict) else None
    return int(found) if isinstance(found, int | float) else None


def day_of(listing: Path) -> date | None:
    """The day a listing file is named for (`2026-02-10.jsonl`, `2026-02-10-cs.LG.jsonl`)."""
    try:
        return date.fromisoformat(listing.name[:10])
    except ValueError:
        return None


def listings_in_date_order(paths: list[Path]) -> list[Path]:
    """Listing files, directories expanded to their `*.jsonl`, ordered by the day each is named
    for (then by path): days from several folders interleave as they happened."""
    files = [f for p in paths for f in (sorted(Path(p).glob("*.jsonl")) if Path(p).is_dir()
                                        else [Path(p)])]  # fmt: skip
    return sorted(files, key=lambda f: (day_of(f) or date.max, str(f)))


@dataclass(frozen=True)
class EvalResult:
    papers: int
    positives: int
    found: int  # reference papers present in the listing
    r_precision: float
    recall_at: dict[float, float]
    spearman: float | None

    def lines(self) -> list[str]:
        out = [
            f"papers in listing: {self.papers}",
            f"reference papers found in listing: {self.found} of {self.positives}",
            f"R-precision (recall at k={self.found}): {self.r_precision:.3f}",
        ]
        out += [f"recall keeping top {int(f * 100)}%: {r:.3f}" for f, r in self.recall_at.items()]
        rho = "n/a" if self.spearman is None else f"{self.spearman:.3f}"
        out.append(f"Spearman of relevance on reference papers: {rho}")
        return out


def evaluate(
    ranked_ids: list[str],
    relevance: Mapping[str, float],
    reference: list[ReferencePaper],
    fractions: tuple[float, ...] = (0.25, 0.40),
) -> EvalResult:
    """`ranked_ids` is the scorer's order (best first) over the whole listing."""
    wanted = {p.id for p in reference}
    hits = [pid in wanted for pid in ranked_ids]
    found = sum(hits)
    n = len(ranked_ids)
    r_precision = sum(hits[:found]) / found if found else 0.0
    recall_at = {
        f: (sum(hits[: max(1, math.ceil(f * n))]) / found if found else 0.0) for f in fractions
    }
    pairs = [
        (float(p.relevance), relevance[p.id])
        for p in reference
        if p.relevance is not None and p.id in relevance
    ]
    spearman = None
    if len(pairs) >= 2:
        spearman = _spearman([theirs for theirs, _ in pairs], [ours for _, ours in pairs])
    return EvalResult(n, len(reference), found, r_precision, recall_at, spearman)


def _spearman(a: list[float], b: list[float]) -> float | None:
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(values: list[float]) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's rho needs."""
    arr = np.asarray(values, dtype=float)
    order = arr.argsort(kind="stable")
    ranks = np.empty(len(arr))
    ranks[order] = np.arange(1, len(arr) + 1)
    for value in np.unique(arr):
        mask = arr == value
        ranks[mask] = ranks[mask].mean()
    return ranks
