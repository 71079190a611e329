"""Quality of the local scorer on the labelled days, date-ordered: whatever is fitted is fitted on
days before the day it is measured on, as a running service meets them.

The days are the listings of ../shared/data/arxiv/ (47 days, 2025-10-17 .. 2026-02-10) with the
reference system's selection of each (selected.json there). Each paper is embedded once into a
store kept between runs (--store). Per day, ranking as a digest does (followed authors first):
R-precision, recall keeping the top 25% and 40%, and the share of the day holding 97% of the
picks. Rows:

1. zero-shot, shipped: digest/scoring/local.py's constants, fitted (--fit) on the days before
   2026, so in-sample on those days and out of sample on 2026-02-10;
2. zero-shot, date-ordered: the constants fitted on the days before each day, with the day's
   feedback (what the scorer does) and without it (the signals alone);
3. learned: `local.fit` on the references of every day before (weighted as references are,
   the penalty chosen on them as `learn` chooses it), measured on the day, from the sixth day on.

Means are printed over the days measured by every row (the sixth day on) and over the last 20.

    python benchmarks/local_quality.py [--store PATH] [--fit]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.evaluation import EvalResult, ReferencePaper, evaluate  # noqa: E402
from digest.papers import Paper, read_listing  # noqa: E402
from digest.ranking import followed_in  # noqa: E402
from digest.scoring import learning, local  # noqa: E402
from digest.store import Store  # noqa: E402

LISTINGS = ROOT.parent / "shared" / "data" / "arxiv"
FIRST = 5  # days before the first measured day: every row is measured from the sixth day on
LAST = 20


@dataclass
class Day:
    name: str
    papers: list[Paper]
    wanted: set[str]
    followed: set[str]
    feats: local.Features


@dataclass(frozen=True)
class Figures:
    result: EvalResult
    share: float

    def cells(self) -> str:
        r = self.result
        values = (r.r_precision, r.recall_at[0.25], r.recall_at[0.40], self.share)
        return " ".join(f"{v:.2f}" for v in values)


def load_day(name: str, selected: dict, criteria: Criteria, store: Store) -> Day:
    papers = read_listing(LISTINGS / f"{name}.jsonl")
    return Day(
        name,
        papers,
        set(selected[name]) & {p.id for p in papers},
        {p.id for p in papers if followed_in(p, criteria.authors)},
        local.features(papers, criteria, store),
    )


def measure(day: Day, raw: np.ndarray) -> Figures:
    """Rank as a digest does (followed authors first, then raw) and compare."""
    score = dict(zip([p.id for p in day.papers], raw, strict=True))
    ranked = [p.id for p in sorted(day.papers, key=lambda p: (p.id not in day.followed,
                                                               -score[p.id], p.id))]  # fmt: skip
    reference = [ReferencePaper(pid, None, None) for pid in sorted(day.wanted)]
    return Figures(evaluate(ranked, score, reference), learning.share_for(ranked, day.wanted))


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 30) -> np.ndarray:
    """Weights (bias last) of an L2-regularised logistic regression, by Newton's method."""
    x = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(x.shape[1])
    ridge = l2 * np.eye(x.shape[1])
    ridge[-1, -1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge
        w -= np.linalg.solve(hessian, x.T @ (p - y) + ridge @ w)
    return w


def labels(day: Day) -> np.ndarray:
    return np.array([float(p.id in day.wanted) for p in day.papers])


def constants(days: list[Day]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """SIGNAL_MEAN, SIGNAL_STD, SIGNAL_WEIGHT and REL_AT_ZERO fitted on `days`."""
    x = np.concatenate([d.feats.signals for d in days])
    y = np.concatenate([labels(d) for d in days])
    mean, std = x.mean(0), x.std(0)
    weight = logistic((x - mean) / std, y)[:-1]
    refined = np.concatenate(
        [local.feedback(d.feats.embeddings, ((d.feats.signals - mean) / std) @ weight)
         for d in days]
    )  # fmt: skip
    threshold = float(np.quantile(refined, 1 - y.mean()))  # relevance 8 starts at the picks' share
    return mean, std, weight, 7.5 - local.REL_PER_UNIT * threshold


def zero_shot(day: Day, fitted: tuple[np.ndarray, ...], refine: bool = True) -> np.ndarray:
    mean, std, weight = fitted[:3]
    zero = ((day.feats.signals - mean) / std) @ weight
    return local.feedback(day.feats.embeddings, zero) if refine else zero


def learned(train: list[Day], day: Day) -> np.ndarray:
    return local.raw_scores(day.feats, learned_model(train))


def learned_model(train: list[Day]) -> dict:
    """The local model learned from every paper of `train` labelled, as `learn` fits it."""
    feats = local.Features(
        np.concatenate([d.feats.embeddings for d in train]),
        np.concatenate([d.feats.topic_cos for d in train]),
        [m for d in train for m in d.feats.matches],
        np.concatenate([d.feats.signals for d in train]),
        np.concatenate([d.feats.zero_shot for d in train]),
        np.concatenate([d.feats.refined for d in train]),
    )
    y = np.concatenate([labels(d) for d in train])
    w = np.full(len(y), learning.WEIGHTS["reference"])
    ids = [p.id for d in train for p in d.papers]
    return local.fit(feats, y, w, learning.choose_penalty(feats, y, w, ids))


def arguments(doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line: `--store`, where the days' embeddings are kept."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    default_store = Path(tempfile.gettempdir()) / "paperdigest-quality.sqlite3"
    parser.add_argument("--store", type=Path, default=default_store, help="embeddings kept here")
    return parser


def labelled_days(store_path: Path) -> list[Day]:
    """The labelled days of LISTINGS, in date order, under the default criteria."""
    criteria = Criteria.load(default_criteria_path())
    selected = json.loads((LISTINGS / "selected.json").read_text())
    store = Store(f"sqlite:///{store_path}")
    days = [load_day(name, selected, criteria, store) for name in sorted(selected)]
    store.close()
    return days


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--fit", action="store_true", help="print local.py's constants")
    args = parser.parse_args()
    days = labelled_days(args.store)
    if args.fit:
        mean, std, weight, at_zero = constants([d for d in days if d.name < "2026"])
        print(f"SIGNAL_MEAN = np.array({np.round(mean, 4).tolist()})")
        print(f"SIGNAL_STD = np.array({np.round(std, 4).tolist()})")
        print(f"SIGNAL_WEIGHT = np.array({np.round(weight, 3).tolist()})")
        print(f"REL_AT_ZERO, REL_PER_UNIT = {at_zero:.2f}, {local.REL_PER_UNIT}\n")
    rows = ("shipped zero-shot", "zero-shot, fitted before", "signals alone, fitted before",
            "learned from the days before")  # fmt: skip
    print("R-precision, recall@25%, recall@40%, share for 97%, per row: " + "; ".join(rows))
    print("| day | papers | picks | " + " | ".join(rows) + " |")
    print("|" + " --- |" * (3 + len(rows)))
    figures: list[list[Figures]] = []
    for i, day in enumerate(days[FIRST:], FIRST):
        fitted = constants(days[:i])
        row = [
            measure(day, day.feats.refined),
            measure(day, zero_shot(day, fitted)),
            measure(day, zero_shot(day, fitted, refine=False)),
            measure(day, learned(days[:i], day)),
        ]
        figures.append(row)
        print(f"| {day.name} | {len(day.papers)} | {len(day.wanted)} | "
              + " | ".join(f.cells() for f in row) + " |", flush=True)  # fmt: skip
    for label, part in ((f"mean of {len(figures)} days", figures),
                        (f"mean of the last {LAST}", figures[-LAST:])):  # fmt: skip
        cells = []
        for j in range(len(rows)):
            col = [r[j] for r in part]
            cells.append(" ".join(f"{np.mean(v):.3f}" for v in (
                [f.result.r_precision for f in col], [f.result.recall_at[0.25] for f in col],
                [f.result.recall_at[0.40] for f in col], [f.share for f in col],
            )))  # fmt: skip
        print(f"| {label} | | | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
