"""Close to your own work: the group's own papers (`ours`), and the day's papers that come close
to one of them. Such a paper leads the digest, whatever its score, with the two papers'
closest sentences.

THRESHOLD was measured on the 47 labelled days (`python benchmarks/ours.py`): the closest pairs
of picked papers by one group (two or more shared authors), follow-ups of one another, reach
0.75-0.82 (e.g. "Compiling to linear neurons" / "Compiling to recurrent neurons": 0.82), while
pairs of picked papers on the same topics by different groups pass 0.78 in 6.5 of 100,000
(0.75: 18.5, 0.80: 1.9).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from digest.day import CloseTo, Entry
from digest.papers import Paper
from digest.ranking import lead_pinned
from digest.scoring import embedding

THRESHOLD = 0.78  # cosine of MiniLM embeddings (title + abstract)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def sentences(text: str) -> list[str]:
    """An abstract's sentences (a short one joins the next)."""
    out: list[str] = []
    for part in _SENTENCE.split(" ".join(text.split())):
        if out and len(out[-1]) < 40:
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return [s for s in out if s] or [text]


def closest_sentences(theirs: Paper, ours: Paper) -> tuple[str, str]:
    """The sentence of each abstract that is closest in meaning to one of the other's."""
    a, b = sentences(theirs.abstract), sentences(ours.abstract)
    emb = embedding.embed([":sentence"] * (len(a) + len(b)), [*a, *b])
    sim = emb[: len(a)] @ emb[len(a) :].T
    i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
    return a[int(i)], b[int(j)]


def close_to(
    papers: list[Paper],
    ours: list[Paper],
    vectors: embedding.VectorStore | None = None,
    threshold: float = THRESHOLD,
) -> dict[str, CloseTo]:
    """The papers (not ours themselves) whose closest own paper is above `threshold`."""
    own = {p.id for p in ours}
    papers = [p for p in papers if p.id not in own]
    if not papers or not ours:
        return {}
    emb = embedding.embed([p.id for p in papers], [p.text for p in papers], vectors)
    mine = embedding.embed([p.id for p in ours], [p.text for p in ours], vectors)
    sim = emb @ mine.T
    found: dict[str, CloseTo] = {}
    for i in np.flatnonzero(sim.max(1) >= threshold):
        j = int(np.argmax(sim[i]))
        theirs, our = closest_sentences(papers[i], ours[j])
        found[papers[i].id] = CloseTo(ours[j].id, ours[j].title, float(sim[i, j]), theirs, our)
    return found


def pin(entries: list[Entry], close: dict[str, CloseTo]) -> list[Entry]:
    """Papers close to the group's own lead the ranking, selected whatever their score."""
    return lead_pinned([
        replace(e, selected=True, close_to=close[e.paper.id],
                reason=f"close to your paper {close[e.paper.id].paper_id}")
        if e.paper.id in close else e
        for e in entries
    ])  # fmt: skip


def line(close: CloseTo) -> str:
    """The 📌 line a digest shows above the paper's comment."""
    return (
        f"📌 close to {close.title} ({close.paper_id}, similarity {close.similarity:.2f}): "
        f"“{close.theirs}” — yours: “{close.ours}”"
    )
