"""Quality of the local scorer on the dev day (2026-02-10 listing vs the reference digest).

Zero-shot on the whole day, then learned: learn on one half of the day's papers, measure on
the other half, both ways round. Prints R-precision, recall at 25% / 40%, Spearman.

    python benchmarks/local_quality.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.evaluation import EvalResult, evaluate, read_reference  # noqa: E402
from digest.papers import Paper, read_sample  # noqa: E402
from digest.ranking import followed_in  # noqa: E402
from digest.scoring.learning import learn_from_labels  # noqa: E402
from digest.scoring.local import NAME, LocalScorer  # noqa: E402
from digest.store import Store  # noqa: E402

REFERENCE = ROOT / "tests" / "data" / "digest-2026-02-10.txt"


def measure(scorer: LocalScorer, papers: list[Paper], criteria: Criteria) -> EvalResult:
    """Rank as a digest does (followed authors first, then the scorer) and compare."""
    scores = {s.paper_id: s for s in asyncio.run(scorer.score(papers, criteria))}
    followed = {p.id for p in papers if followed_in(p, criteria.authors)}
    ranked = sorted(papers, key=lambda p: (p.id not in followed, -scores[p.id].raw, p.id))
    ids = {p.id for p in papers}
    reference = [r for r in read_reference(REFERENCE) if r.id in ids]
    return evaluate([p.id for p in ranked], {k: s.relevance for k, s in scores.items()}, reference)


def show(label: str, result: EvalResult) -> None:
    rho = "n/a" if result.spearman is None else f"{result.spearman:.3f}"
    print(
        f"{label:<34} papers {result.papers:>3}  positives {result.found:>2}  "
        f"R-precision {result.r_precision:.3f}  recall@25% {result.recall_at[0.25]:.3f}  "
        f"recall@40% {result.recall_at[0.40]:.3f}  Spearman {rho}"
    )


def main() -> None:
    criteria = Criteria.load(default_criteria_path())
    papers = read_sample()
    wanted = {r.id for r in read_reference(REFERENCE)}
    show("zero-shot, whole day", measure(LocalScorer(), papers, criteria))
    halves = {"even": papers[0::2], "odd": papers[1::2]}
    learned = []
    for train_name, test_name in (("even", "odd"), ("odd", "even")):
        train, test = halves[train_name], halves[test_name]
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{tmp}/bench.sqlite3")
            labels = {p.id: float(p.id in wanted) for p in train}
            store.save_labels(criteria.scoring_hash, labels, "reference")
            learn_from_labels(store, criteria, train)
            model = store.model(criteria.scoring_hash, NAME)
            store.close()
        show(f"zero-shot, {test_name} half", measure(LocalScorer(), test, criteria))
        result = measure(LocalScorer(model), test, criteria)
        learned.append(result)
        show(f"learned on {train_name}, tested on {test_name}", result)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print(
        f"learned, mean of both halves: R-precision {mean([r.r_precision for r in learned]):.3f}  "
        f"recall@40% {mean([r.recall_at[0.40] for r in learned]):.3f}"
    )


if __name__ == "__main__":
    main()
