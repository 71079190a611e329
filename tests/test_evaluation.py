"""Evaluation against a reference digest: reading it, and the metrics by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ReferenceFormatError
from digest.evaluation import ReferencePaper, evaluate, read_reference

REFERENCE = Path(__file__).parent / "data" / "digest-2026-02-10.txt"

TINY = """\
Personalized Daily ArXiv Papers 2026-02-10

1. A followed author's paper

ArXiv ID: 2602.00001

Authors: Yann LeCun

Comment: Author match


2. A scored paper

ArXiv ID: 2602.00002

Comment: Model Architecture: a new mixer.

Relevance: 9 Novelty: 8


3. An old-style id

ArXiv ID: hep-th/9901001

Relevance: 8 Novelty: 7
"""


def test_read_reference_day():
    papers = read_reference(REFERENCE)
    assert len(papers) == 82
    assert [p.relevance for p in papers[:2]] == [None, None]  # Author match
    assert papers[0].id == "2602.08235"
    assert papers[2] == ReferencePaper("2602.08007", 10, 9)
    assert len({p.id for p in papers}) == 82
    assert all(p.relevance is not None for p in papers[2:])


def test_read_tiny_reference(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TINY, encoding="utf-8")
    assert read_reference(path) == [
        ReferencePaper("2602.00001", None, None),
        ReferencePaper("2602.00002", 9, 8),
        ReferencePaper("hep-th/9901001", 8, 7),
    ]


def test_reference_without_ids_is_an_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Just some notes.\nRelevance: 9 Novelty: 8\n", encoding="utf-8")
    with pytest.raises(ReferenceFormatError, match="ArXiv ID"):
        read_reference(path)


def test_missing_reference_file_is_an_error(tmp_path):
    with pytest.raises(ReferenceFormatError, match=r"missing\.txt"):
        read_reference(tmp_path / "missing.txt")


def _ref(*ids: str, relevance: list[int] | None = None) -> list[ReferencePaper]:
    values = relevance or [None] * len(ids)
    return [ReferencePaper(pid, r, r) for pid, r in zip(ids, values, strict=True)]


def test_metrics_by_hand():
    # 10 papers; the reference's 3 sit at positions 1, 4 and 9.
    ranked = [f"p{i}" for i in range(1, 11)]
    result = evaluate(ranked, {}, _ref("p1", "p4", "p9"))
    assert (result.papers, result.positives, result.found) == (10, 3, 3)
    # R-precision: of the top 3 (= found), only p1 is a reference paper -> 1/3
    assert result.r_precision == pytest.approx(1 / 3)
    # top 25%: ceil(2.5) = 3 papers -> p1 -> 1/3; top 40%: 4 papers -> p1, p4 -> 2/3
    assert result.recall_at[0.25] == pytest.approx(1 / 3)
    assert result.recall_at[0.40] == pytest.approx(2 / 3)
    assert result.spearman is None  # no relevance given


def test_perfect_ranking():
    result = evaluate(["a", "b", "c", "d"], {}, _ref("a", "b"), fractions=(0.5,))
    assert result.r_precision == 1.0
    assert result.recall_at[0.5] == 1.0


def test_spearman_monotone_and_reversed():
    reference = _ref("a", "b", "c", "d", relevance=[10, 9, 8, 7])
    ranked = ["a", "b", "c", "d", "x"]
    # any increasing map of the reference relevance -> rank correlation 1
    same = evaluate(ranked, {"a": 0.9, "b": 0.5, "c": 0.4, "d": 0.1}, reference)
    assert same.spearman == pytest.approx(1.0)
    reversed_ = evaluate(ranked, {"a": 1, "b": 2, "c": 3, "d": 4}, reference)
    assert reversed_.spearman == pytest.approx(-1.0)


def test_spearman_skips_author_matches():
    # "a" has no reference relevance (Author match): only b, c, d are compared
    reference = [ReferencePaper("a", None, None), *_ref("b", "c", "d", relevance=[9, 8, 7])]
    result = evaluate(["a", "b", "c", "d"], {"a": 0.0, "b": 3, "c": 2, "d": 1}, reference)
    assert result.spearman == pytest.approx(1.0)


def test_reference_paper_missing_from_listing_reduces_found():
    result = evaluate(["a", "b", "c", "d"], {}, _ref("a", "c", "zz"))
    assert result.positives == 3
    assert result.found == 2
    # R-precision over the 2 found: top 2 = a, b -> 1 of 2
    assert result.r_precision == pytest.approx(1 / 2)
    assert any("2 of 3" in line for line in result.lines())
