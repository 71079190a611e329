"""Ranking: followed authors on top, cutoffs, order, top_k and papers already shown."""

from __future__ import annotations

import pytest

from digest.day import Cutoffs
from digest.papers import Paper
from digest.ranking import author_score, followed_in, rank, same_author
from digest.scoring import Score


@pytest.mark.parametrize(
    ("followed", "written"),
    [
        ("Yann LeCun", "yann lecun"),
        ("Yann LeCun", "YANN LECUN"),
        ("Domènec Ruiz-Balet", "Domenec Ruiz-Balet"),
        ("Domènec Ruiz-Balet", "Dom`enec Ruiz-Balet"),  # LaTeX accent, as arXiv listings have it
        ("Yann LeCun", "Y. LeCun"),
        ("Yann LeCun", "Y LeCun"),
        ("Y. LeCun", "Yann LeCun"),
    ],
)
def test_same_author_matches(followed, written):
    assert same_author(followed, written)


@pytest.mark.parametrize(
    ("followed", "written"),
    [
        ("Yoshua Bengio", "Samy Bengio"),
        ("Yoshua Bengio", "S. Bengio"),
        ("Yann LeCun", "Yann Dauphin"),
        ("Yann LeCun", ""),
    ],
)
def test_same_author_does_not_confuse(followed, written):
    assert not same_author(followed, written)


def _paper(pid: str, *authors: str) -> Paper:
    return Paper(id=pid, title=f"Title {pid}", abstract="...", authors=authors or ("Ada Lovelace",))


def _score(pid: str, relevance: int, novelty: int) -> Score:
    return Score(pid, relevance, novelty, "comment", None, "test")


def test_followed_in_finds_the_author_as_criteria_spell_it():
    paper = _paper("1", "Samy Bengio", "Y. LeCun")
    assert followed_in(paper, ["Yoshua Bengio", "Yann LeCun"]) == "Yann LeCun"
    assert followed_in(_paper("2", "Samy Bengio"), ["Yoshua Bengio"]) is None


@pytest.fixture
def day():
    papers = [
        _paper("a"),  # 8 + 7 = 15, passes
        _paper("b"),  # 9 + 9 = 18, best
        _paper("c"),  # 10 + 7 = 17
        _paper("d"),  # 9 + 8 = 17, same sum as c, lower relevance
        _paper("e"),  # relevance 7: below the relevance cutoff
        _paper("f"),  # novelty 6: below the novelty cutoff
        _paper("g", "Yann LeCun"),  # followed, low score
    ]
    scores = {
        "a": _score("a", 8, 7),
        "b": _score("b", 9, 9),
        "c": _score("c", 10, 7),
        "d": _score("d", 9, 8),
        "e": _score("e", 7, 10),
        "f": _score("f", 10, 6),
        "g": _score("g", 2, 1),
    }
    return papers, scores, {"g": "Yann LeCun"}


def test_followed_first_then_sum_then_relevance(day):
    papers, scores, followed = day
    entries = rank(papers, scores, followed, Cutoffs(8, 7))
    assert [e.paper.id for e in entries] == ["g", "b", "c", "d", "e", "f", "a"]
    assert [e.rank for e in entries] == list(range(1, 8))
    first = entries[0]
    assert first.selected and first.followed
    assert "Yann LeCun" in first.reason
    selected = [e.paper.id for e in entries if e.selected]
    assert selected == ["g", "b", "c", "d", "a"]


def test_followed_with_author_score_sorts_among_followed(day):
    papers, scores, followed = day
    scores["a"] = author_score(papers[0], "Yoshua Bengio")
    followed = {**followed, "a": "Yoshua Bengio"}
    entries = rank(papers, scores, followed, Cutoffs(8, 7))
    assert [e.paper.id for e in entries[:2]] == ["a", "g"]
    assert all(e.selected and e.followed for e in entries[:2])


def test_below_a_cutoff_is_not_selected_and_says_why(day):
    papers, scores, followed = day
    by_id = {e.paper.id: e for e in rank(papers, scores, followed, Cutoffs(8, 7))}
    for pid in ("e", "f"):
        assert not by_id[pid].selected
        assert "cutoff" in by_id[pid].reason
    assert "relevance 7 vs >= 8" in by_id["e"].reason
    assert "novelty 6 vs >= 7" in by_id["f"].reason


def test_stricter_cutoffs_select_fewer(day):
    papers, scores, followed = day
    selected = [e.paper.id for e in rank(papers, scores, followed, Cutoffs(9, 8)) if e.selected]
    assert selected == ["g", "b", "d"]


def test_top_k_limits_scored_papers_not_followed_authors(day):
    papers, scores, followed = day
    entries = rank(papers, scores, followed, Cutoffs(8, 7), top_k=2)
    assert [e.paper.id for e in entries if e.selected] == ["g", "b", "c"]
    by_id = {e.paper.id: e for e in entries}
    assert not by_id["d"].selected
    assert "top 2" in by_id["d"].reason


def test_already_shown_is_not_selected_again(day):
    papers, scores, followed = day
    entries = rank(papers, scores, followed, Cutoffs(8, 7), top_k=2, already_shown={"b"})
    by_id = {e.paper.id: e for e in entries}
    assert not by_id["b"].selected
    assert "already shown" in by_id["b"].reason
    # the slot it would have taken goes to the next paper
    assert [e.paper.id for e in entries if e.selected] == ["g", "c", "d"]
