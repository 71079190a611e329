"""Zero-shot quality of the local scorer on the five labelled days, and what its constants
are worth on days they were not fitted on.

The days are the listings in ../shared/data/arxiv/ with the reference system's selections
(benchmarks/data/selected.json). Each paper is embedded once into a store kept between runs
(--store). Printed, per day and as the mean over days, R-precision and recall when keeping the
top 40%, ranking as a digest does (followed authors first):

1. the shipped scorer (LocalScorer; its constants were fitted on all five days, so this row
   is in-sample: the leave-one-day-out row of the same signals is the honest figure);
2. leave one day out: the constants (normalisers and weights) fitted on the other four days,
   measured on the fifth, for each variant of the zero-shot score;
3. the 128-token limit against 256 (benchmarks/local_speed.py prints its speed);
4. learned: learn on one half of a day, measure on the other half (the dev day).

    python benchmarks/local_quality.py [--store PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.evaluation import EvalResult, ReferencePaper, evaluate  # noqa: E402
from digest.papers import Paper, read_listing  # noqa: E402
from digest.ranking import followed_in  # noqa: E402
from digest.scoring import embedding  # noqa: E402
from digest.scoring.learning import learn as learn_from_labels  # noqa: E402
from digest.scoring.lexical import PhraseIndex  # noqa: E402
from digest.scoring.local import NAME, TOPIC_ID, LocalScorer  # noqa: E402
from digest.store import Store  # noqa: E402

LISTINGS = ROOT.parent / "shared" / "data" / "arxiv"
SELECTED = json.loads((ROOT / "benchmarks" / "data" / "selected.json").read_text())
DEV_DAY = "2026-02-10"


@dataclass
class Day:
    """One labelled day and the features every variant reads."""

    name: str
    papers: list[Paper]
    reference: list[ReferencePaper]
    followed: set[str]
    cos: np.ndarray  # (n, topics): paper to each topic's relevant part
    cos_title: np.ndarray  # (n, topics): title alone
    cos_irrelevant: np.ndarray  # (n, topics): paper to each topic's irrelevant part
    cos_keywords: np.ndarray  # (n, keyword phrases)
    lex: np.ndarray  # log1p(phrase strength)
    penalty: np.ndarray


def load_day(
    name: str, criteria: Criteria, store: Store, options: embedding.Options = embedding.DEFAULT
) -> Day:
    papers = read_listing(LISTINGS / f"{name}.jsonl")
    wanted = SELECTED[name]
    reference = [
        ReferencePaper(pid, v["relevance"], v["novelty"]) for pid, v in sorted(wanted.items())
    ]
    ids = [p.id for p in papers]

    def vectors(texts: list[str], key: str | None = None) -> np.ndarray:
        return embedding.embed([key] * len(texts) if key else ids, texts, store, options)

    emb = vectors([p.text for p in papers])
    titles = embedding.embed([f"{p.id}:title" for p in papers], [p.title for p in papers], store)
    relevant = vectors([f"{t.name}: {t.relevant}" for t in criteria.topics], TOPIC_ID)
    irrelevant = vectors([f"{t.name}: {t.irrelevant}" for t in criteria.topics], TOPIC_ID)
    index = PhraseIndex(criteria)
    keywords = vectors([p.text for p in index.phrases], TOPIC_ID)
    matches = [index.match(p.title, p.abstract) for p in papers]
    return Day(
        name,
        papers,
        reference,
        {p.id for p in papers if followed_in(p, criteria.authors)},
        emb @ relevant.T,
        titles @ relevant.T,
        emb @ irrelevant.T,
        emb @ keywords.T,
        np.log1p([m.strength for m in matches]),
        np.array([m.penalty for m in matches]),
    )


def measure(day: Day, raw: np.ndarray, subset: slice = slice(None)) -> EvalResult:
    """Rank as a digest does (followed authors first, then raw) and compare."""
    papers = day.papers[subset]
    score = dict(zip([p.id for p in day.papers], raw, strict=True))
    ranked = sorted(papers, key=lambda p: (p.id not in day.followed, -score[p.id], p.id))
    ids = {p.id for p in papers}
    reference = [r for r in day.reference if r.id in ids]
    return evaluate([p.id for p in ranked], {p.id: score[p.id] for p in papers}, reference)


def show(label: str, results: list[EvalResult]) -> None:
    r = [x.r_precision for x in results]
    k = [x.recall_at[0.40] for x in results]
    per_day = "  ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(r, k, strict=True))
    print(f"{label:<44} {np.mean(r):.3f} / {np.mean(k):.3f}   {per_day}", flush=True)


# The zero-shot score's meaning part, per variant: one number per paper, before normalising.
MEANING: dict[str, Callable[[Day], np.ndarray]] = {
    "mean over topics (before)": lambda d: d.cos.mean(1),
    "max over topics": lambda d: d.cos.max(1),
    "mean + max": lambda d: d.cos.mean(1) + d.cos.max(1),
    "mean, title alone added": lambda d: d.cos.mean(1) + 0.5 * d.cos_title.mean(1),
    "mean minus irrelevant parts": lambda d: d.cos.mean(1) - 0.5 * d.cos_irrelevant.mean(1),
    "keywords as queries (max)": lambda d: d.cos_keywords.max(1),
    "mean + keywords as queries (max)": lambda d: d.cos.mean(1) + d.cos_keywords.max(1),
}
LEX_WEIGHTS = (0.0, 0.15, 0.3, 0.5, 0.8)
PENALTIES = (0.0, 0.15, 0.3, 0.5)


def zero_shot(
    day: Day, meaning: np.ndarray, norms: tuple[float, ...], weights: tuple[float, float]
) -> np.ndarray:
    cos_mean, cos_std, lex_mean, lex_std = norms
    lex_weight, penalty = weights
    return (
        (meaning - cos_mean) / cos_std
        + lex_weight * (day.lex - lex_mean) / lex_std
        - penalty * day.penalty
    )


def fitted(days: list[Day], variant: str) -> tuple[tuple[float, ...], tuple[float, float]]:
    """Normalisers and weights fitted on `days`: the weights best by mean R-precision."""
    meaning = np.concatenate([MEANING[variant](d) for d in days])
    lex = np.concatenate([d.lex for d in days])
    norms = (meaning.mean(), meaning.std(), lex.mean(), lex.std())

    def quality(weights: tuple[float, float]) -> float:
        return float(
            np.mean(
                [measure(d, zero_shot(d, MEANING[variant](d), norms, weights)).r_precision
                 for d in days]
            )
        )  # fmt: skip

    return norms, max(itertools.product(LEX_WEIGHTS, PENALTIES), key=quality)


def leave_one_day_out(days: list[Day], variant: str) -> list[EvalResult]:
    out = []
    for held in days:
        norms, weights = fitted([d for d in days if d is not held], variant)
        out.append(measure(held, zero_shot(held, MEANING[variant](held), norms, weights)))
    return out


SIGNALS = ("topic mean", "topic max", "title", "closest phrase", "irrelevant parts", "phrases",
           "off-topic terms")  # fmt: skip
SHIPPED = (0, 3, 4, 5, 6)  # the columns digest/scoring/local.py weighs


def components(day: Day, columns: tuple[int, ...] = SHIPPED) -> np.ndarray:
    """The zero-shot signals, one column each, for a weighted sum fitted across days."""
    return np.column_stack(
        [day.cos.mean(1), day.cos.max(1), day.cos_title.mean(1), day.cos_keywords.max(1),
         day.cos_irrelevant.mean(1), day.lex, day.penalty]
    )[:, columns]  # fmt: skip


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 30.0, steps: int = 25) -> np.ndarray:
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


def leave_one_day_out_weighted(
    days: list[Day], columns: tuple[int, ...] = SHIPPED
) -> list[EvalResult]:
    """The components' weights fitted (logistic) on four days, measured on the fifth."""
    out = []
    for held in days:
        train = [d for d in days if d is not held]
        x = np.concatenate([components(d, columns) for d in train])
        mean, std = x.mean(0), x.std(0)
        y = np.concatenate([[float(p.id in {r.id for r in d.reference}) for p in d.papers]
                            for d in train])  # fmt: skip
        w = logistic((x - mean) / std, y)
        out.append(measure(held, ((components(held, columns) - mean) / std) @ w[:-1]))
    return out


def fit_constants(days: list[Day]) -> None:
    """The constants of digest/scoring/local.py, fitted on every labelled day."""
    x = np.concatenate([components(d) for d in days])
    y = np.concatenate([[float(p.id in {r.id for r in d.reference}) for p in d.papers]
                        for d in days])  # fmt: skip
    mean, std = x.mean(0), x.std(0)
    w = logistic((x - mean) / std, y)
    raw = ((x - mean) / std) @ w[:-1]
    threshold = np.quantile(raw, 1 - y.mean())  # relevance 8 starts at the selected share
    per_unit = 1.2  # relevance steps per unit of raw: the shipped spread
    print(f"SIGNAL_MEAN = {np.round(mean, 4).tolist()}")
    print(f"SIGNAL_STD = {np.round(std, 4).tolist()}")
    print(f"SIGNAL_WEIGHT = {np.round(w[:-1], 3).tolist()}")
    print(f"REL_AT_ZERO, REL_PER_UNIT = {7.5 - per_unit * threshold:.2f}, {per_unit}")


def shipped(days: list[Day], criteria: Criteria, store: Store) -> list[EvalResult]:
    scorer = LocalScorer(vectors=store)
    out = []
    for day in days:
        scores = {s.paper_id: s.raw for s in asyncio.run(scorer.score(day.papers, criteria))}
        out.append(measure(day, np.array([scores[p.id] for p in day.papers])))
    return out


def learned_halves(day: Day, criteria: Criteria, store: Store) -> None:
    """Learn on one half of the dev day, measure on the other, both ways round."""
    wanted = {r.id for r in day.reference}
    results = []
    even, odd = slice(0, None, 2), slice(1, None, 2)
    for train, test in ((even, odd), (odd, even)):
        with tempfile.TemporaryDirectory() as tmp:
            learner = Store(f"sqlite:///{tmp}/learn.sqlite3")
            papers = day.papers[train]
            learner.save_papers(papers)
            learner.save_labels(
                criteria.scoring_hash, {p.id: float(p.id in wanted) for p in papers}, "reference"
            )
            learn_from_labels(learner, criteria)
            model = learner.model(criteria.scoring_hash, NAME)
            learner.close()
        scores = asyncio.run(LocalScorer(model, store).score(day.papers[test], criteria))
        raw = dict.fromkeys((p.id for p in day.papers), -1e9)
        raw.update({s.paper_id: s.raw for s in scores})
        results.append(measure(day, np.array([raw[p.id] for p in day.papers]), test))
    r = np.mean([x.r_precision for x in results])
    k = np.mean([x.recall_at[0.40] for x in results])
    print(f"{'learned on one half, tested on the other':<44} {r:.3f} / {k:.3f}   (dev day)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_store = Path(tempfile.gettempdir()) / "paperdigest-quality.sqlite3"
    parser.add_argument("--store", type=Path, default=default_store, help="embeddings kept here")
    parser.add_argument("--fit", action="store_true", help="print local.py's constants")
    args = parser.parse_args()
    criteria = Criteria.load(default_criteria_path())
    store = Store(f"sqlite:///{args.store}")
    names = sorted(SELECTED)
    days = [load_day(name, criteria, store) for name in names]
    if args.fit:
        fit_constants(days)
    print(f"R-precision / recall@40%: mean of {len(days)} days, then each ({', '.join(names)})")
    show("shipped scorer (in-sample)", shipped(days, criteria, store))
    for variant in MEANING:
        show(f"leave-one-day-out: {variant}", leave_one_day_out(days, variant))
    every = tuple(range(len(SIGNALS)))
    show("leave-one-day-out: logistic, all 7 signals", leave_one_day_out_weighted(days, every))
    shipped_signals = ", ".join(SIGNALS[i] for i in SHIPPED)
    show(
        f"leave-one-day-out: logistic, shipped ({shipped_signals})",
        leave_one_day_out_weighted(days),
    )
    short = replace(embedding.DEFAULT, max_tokens=128)
    days_128 = [load_day(name, criteria, store, short) for name in names]
    show("leave-one-day-out, 128 tokens: mean", leave_one_day_out(days_128, next(iter(MEANING))))
    show("leave-one-day-out, 128 tokens: shipped", leave_one_day_out_weighted(days_128))
    learned_halves(days[names.index(DEV_DAY)], criteria, store)
    store.close()


if __name__ == "__main__":
    main()
