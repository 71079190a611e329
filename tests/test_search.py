"""Search by meaning over the chat's recent days, through the command core."""

from __future__ import annotations

from bot.chat.answer import run
from bot.chat.commands import Context, Deps
from digest.criteria import Criteria
from digest.scoring import embedding
from tests.conftest import sample_digest

TERMINAL = Context("terminal", "default", "me")


def test_search_ranks_by_meaning_and_encodes_only_the_question(
    deps: Deps, criteria: Criteria
) -> None:
    sample_digest(deps.store, criteria)  # the day's scored papers are embedded and kept
    run("search attention", TERMINAL, deps)  # embeds, once, the two followed authors' papers
    before = embedding.ENCODED.texts
    reply = run("search sparse mixture of experts routing", TERMINAL, deps)
    assert embedding.ENCODED.texts - before == 1  # the question; every paper came from the store
    assert "by meaning and words, in 1 day of papers (2026-02-10)" in reply.lines
    assert len(reply.papers) == 10
    top = " ".join(f"{p.title}" for p in reply.papers[:5]).lower()
    assert "expert" in top or "moe" in top
    # by meaning: a paper without the words "mixture" or "experts" can still be found
    same = run("search conditional computation in large language models", TERMINAL, deps)
    assert same.papers and any("expert" in p.title.lower() for p in same.papers)


def test_search_with_nothing_close_says_so(deps: Deps, criteria: Criteria) -> None:
    sample_digest(deps.store, criteria)
    reply = run("search zzqx vlorb", TERMINAL, deps)
    assert reply.papers == [] and any("nothing close" in line for line in reply.lines)


def test_search_with_no_papers_stored(tmp_path) -> None:
    from digest.config import load_settings
    from digest.scoring.local import LocalScorer
    from digest.store import Store

    store = Store(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    deps = Deps(store, load_settings(env={}), lambda c: LocalScorer())
    reply = run("search attention", TERMINAL, deps)
    assert reply.papers == [] and reply.lines == ["no papers stored yet"]
