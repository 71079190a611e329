"""The digest learning from its LLM, replayed over the 47 days of ../shared/data/arxiv/ in
date order (2025-10-17 ... 2026-02-10), with the default criteria and the local scorer.

Each day, as `serve` does it: the local model is refitted from the labels so far (once, before
the day is scored; kept only if it ranks held-back labels better) and calibrated
(`learning.cascade_share`): every paper the LLM judged on the latest judged days, scored by a
model that never trained on it, fits the chance that the LLM picks a paper from its score (a
logistic fit). The day's papers are then ranked by the model, and the cascade sends the smallest
top share whose unsent papers hold at most 3% of the day's expected picks, each chance taken at
its upper 75% bound (`learning.day_share`), between `scoring.cascade_floor` and
`scoring.cascade_fraction` (0.6, also the share before any calibration). The judge is simulated
by the reference system's selection of that day (selected.json there: its LLM's picks, so the
judge is the real one of that system); the papers sent become LLM labels (wanted:
selected), and only those: the picks never sent stay unknown to the service. Per day: the
calibration in use (judged papers, picks), the day's expected picks, the share sent, the
recall of the judge's selection among the papers sent, and the share that would have sufficed
(the smallest top share of the day, by the model in use, holding 97% of the judge's picks: known
only afterwards). Last, the share the zero-shot scorer needs on each day: the first day is
sent at `scoring.cascade_fraction`, which the prompt-token goal of benchmarks/llm_cascade.py
holds at 0.6. Then, over the last 20 days: the recall of the judge's picks pooled, the worst
day's, and the mean share sent. Goal: the share falls while recall stays >= 0.97.

    python benchmarks/learning_replay.py [--embeddings STORE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import load_settings  # noqa: E402
from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.papers import read_listing  # noqa: E402
from digest.pipeline import learn_for_day  # noqa: E402
from digest.scoring import learning, local  # noqa: E402
from digest.scoring.factory import cascade_fraction  # noqa: E402
from digest.store import Store  # noqa: E402

DAYS = ROOT.parent / "shared" / "data" / "arxiv"
SELECTED = DAYS / "selected.json"
LAST = 20  # the days the summary is over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--embeddings",
        type=Path,
        help="start from a copy of this store "
        "(benchmarks/local_quality.py's --store keeps every day's embeddings)",
    )
    args = parser.parse_args()
    criteria = Criteria.load(default_criteria_path())
    settings = load_settings(env={})
    selected = json.loads(SELECTED.read_text())
    print("| day | papers | judge's picks | learned model (labels) | calibrated on (picks) "
          "| expected picks | share sent | recall | share needed |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    zero_shot = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.embeddings:
            shutil.copy(args.embeddings, f"{tmp}/replay.sqlite3")
        store = Store(f"sqlite:///{tmp}/replay.sqlite3")
        tally: list[tuple[int, int, float]] = []  # per day: picks sent, picks, share sent
        for path in sorted(DAYS.glob("*.jsonl")):
            day = date.fromisoformat(path.stem)
            papers = read_listing(path)
            store.save_listing(day, papers)
            asyncio.run(learn_for_day(store, criteria, day))
            model = store.model(criteria.scoring_hash, local.NAME)
            feats = local.features(papers, criteria, store)  # once: the model's and zero-shot
            scores = local.raw_scores(feats, model)
            order = np.argsort(-scores, kind="stable")
            raw, ranked = scores[order], [papers[i].id for i in order]
            by_zero = [papers[i].id for i in np.argsort(-feats.zero_shot, kind="stable")]
            share = cascade_fraction(settings, model, raw)
            sent = set(ranked[: math.ceil(share * len(papers))])
            wanted = set(selected[path.stem]) & {p.id for p in papers}
            recall = len(sent & wanted) / len(wanted)
            tally.append((len(sent & wanted), len(wanted), share))
            needed = learning.share_for(ranked, wanted)
            zero_shot.append(f"{day} {learning.share_for(by_zero, wanted):.3f}")
            store.save_labels(
                criteria.scoring_hash, {pid: float(pid in wanted) for pid in sent}, "llm:judge"
            )
            learned = f"{model['id']} ({model['labels']})" if model else "none (zero-shot)"
            calibration = (model or {}).get("calibration")
            measured, expected = "none", "none"
            if calibration:
                measured = f"{calibration['on']} ({len(model['measured'])})"
                expected = f"{learning.picked_chance(calibration, raw).sum():.1f}"
            print(f"| {day} | {len(papers)} | {len(wanted)} | {learned} | {measured} | "
                  f"{expected} | {share:.2f} | {recall:.3f} | {needed:.3f} |")  # fmt: skip
        store.close()
    last = tally[-LAST:]
    print(
        f"\nlast {len(last)} days: recall of the judge's picks pooled "
        f"{sum(a for a, _, _ in last) / sum(b for _, b, _ in last):.3f}, worst day "
        f"{min(a / b for a, b, _ in last):.3f}, mean share sent "
        f"{np.mean([c for _, _, c in last]):.3f}"
    )
    print(f"the zero-shot scorer needs, for 97% of the judge's picks: {', '.join(zero_shot)}")


if __name__ == "__main__":
    main()
