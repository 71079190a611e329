"""The similarity above which a new paper is "close to your own work" (digest/ours.py THRESHOLD).

On the 47 labelled days of ../shared/data/arxiv/, among the picked papers (all on the criteria's
topics): pairs by the same group (two or more shared authors), whose closest pairs are
follow-ups of one another, against pairs by different groups (no shared author), which are
ordinary same-topic papers. Prints, per threshold, the share of each kind of pair above it,
and the closest same-group pairs with their titles.

    python benchmarks/ours.py [--store PATH]   # PATH: an embedding store (see local_quality)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from local_quality import arguments, labelled_days  # noqa: E402

from digest.ours import THRESHOLD  # noqa: E402


def main() -> None:
    args = arguments(__doc__ or "").parse_args()
    days = labelled_days(args.store)
    picked: dict[str, tuple[object, np.ndarray]] = {}
    for day in days:
        for i, paper in enumerate(day.papers):
            if paper.id in day.wanted:
                picked.setdefault(paper.id, (paper, day.feats.embeddings[i]))
    papers = [p for p, _ in picked.values()]
    emb = np.array([e for _, e in picked.values()])
    authors = [{a.lower() for a in p.authors} for p in papers]  # type: ignore[attr-defined]
    sim = emb @ emb.T
    group, other, closest = [], [], []
    for i in range(len(papers)):
        for j in range(i + 1, len(papers)):
            shared = len(authors[i] & authors[j])
            if shared >= 2:
                group.append(sim[i, j])
                closest.append((sim[i, j], papers[i].title, papers[j].title))  # type: ignore[attr-defined]
            elif shared == 0:
                other.append(sim[i, j])
    g, o = np.array(group), np.array(other)
    print(f"{len(papers)} picked papers: {len(g)} same-group pairs, {len(o)} other-group pairs")
    print("| threshold | same-group pairs above | other-group pairs above |")
    print("| --- | --- | --- |")
    for t in (0.6, 0.65, 0.7, 0.75, THRESHOLD, 0.8, 0.85):
        print(f"| {t:.2f} | {(g >= t).mean():.3f} | {(o >= t).mean():.6f} |")
    print("closest same-group pairs:")
    for s, a, b in sorted(closest, reverse=True)[:10]:
        print(f"  {s:.3f}  {a[:60]} / {b[:60]}")


if __name__ == "__main__":
    main()
