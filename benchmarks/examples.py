"""What `like` buys on day one: from the default criteria with zero labels, 10 of a day's picks
liked as wanted examples, then the next 10 days ranked by the local scorer with them
(digest/scoring/examples.py) against the zero-shot scorer alone.

The days are the labelled listings of ../shared/data/arxiv/ (selected.json: the reference
system's picks), in date order; the 10 picks liked are the first 10 by the SHA-256 of their id
(an arbitrary, fixed choice). Nothing is fitted on a measured day: the signal's WEIGHT was
chosen on the first TUNED starting days only (their windows end on day 15), and the rows after
them start on day 16 or later. The zero-shot scorer is the shipped one (its
constants fitted on the days of 2025, for both columns alike).

    python benchmarks/examples.py [--store PATH]   # PATH: an embedding store (see local_quality)
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from local_quality import Day, arguments, labelled_days, measure  # noqa: E402

from digest.scoring import examples  # noqa: E402

LIKED = 10  # picks liked on the starting day
AHEAD = 10  # days measured after it
TUNED = (0, 1, 2, 3, 4)  # starting days WEIGHT was chosen on
HELD_OUT = (16, 20, 24, 28, 32, 36)  # starting days measured only (windows after day 15)


def liked_rows(day: Day) -> np.ndarray:
    """The rows in `day.papers` of LIKED of the day's picks (the first by the hash of their id)."""
    ids = sorted(day.wanted, key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:LIKED]
    at = {p.id: i for i, p in enumerate(day.papers)}
    return np.array([at[i] for i in ids])


def liked(day: Day) -> np.ndarray:
    """The embeddings of LIKED of the day's picks."""
    return day.feats.embeddings[liked_rows(day)]


def window(days: list[Day], start: int) -> tuple[float, float]:
    """Mean R-precision of the AHEAD days after `start`: zero-shot, and with the examples."""
    wanted = liked(days[start])
    zero, with_examples = [], []
    for day in days[start + 1 : start + 1 + AHEAD]:
        zero.append(measure(day, day.feats.refined).result.r_precision)
        lifted = examples.lift(day.feats.embeddings, day.feats.refined, wanted)
        with_examples.append(measure(day, lifted).result.r_precision)
    return float(np.mean(zero)), float(np.mean(with_examples))


def main() -> None:
    args = arguments(__doc__ or "").parse_args()
    days = labelled_days(args.store)
    print(
        f"like {LIKED} picks of a day, R-precision of the next {AHEAD} days (mean); "
        f"WEIGHT {examples.WEIGHT} (NEAREST {examples.NEAREST}), chosen on the tuned rows only"
    )
    print("| starting day | measured days | zero-shot | with 10 examples | gain | rows |")
    print("| --- | --- | --- | --- | --- | --- |")
    gains: dict[str, list[float]] = {"tuned": [], "held out": []}
    for part, starts in (("tuned", TUNED), ("held out", HELD_OUT)):
        for start in starts:
            zero, lifted = window(days, start)
            gains[part].append(lifted - zero)
            span = f"{days[start + 1].name} .. {days[min(start + AHEAD, len(days) - 1)].name}"
            print(f"| {days[start].name} | {span} | {zero:.3f} | {lifted:.3f} | "
                  f"{lifted - zero:+.3f} | {part} |", flush=True)  # fmt: skip
    for part, values in gains.items():
        print(f"mean gain, {part} ({len(values)} starting days): {np.mean(values):+.3f}")


if __name__ == "__main__":
    main()
