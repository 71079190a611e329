"""`like` / `unlike` / `preview like`: papers fetched from the arXiv export API (a loopback
fake) become wanted examples for the chat's criteria, and the next scoring ranks papers like
them higher."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from bot.chat.commands import Context, Deps, handle
from digest.config import load_settings
from digest.criteria import Criteria
from digest.papers import Paper, read_sample
from digest.scoring import embedding
from digest.scoring.factory import make_scorer
from digest.scoring.learning import WEIGHTS, label_counts
from tests.fakes.arxiv import FakeArxiv

OWNER = Context("slack", "C1", "UOWNER", "owner")
MEMBER = Context("slack", "C1", "UMEMBER", "member")


@pytest.fixture
def theme(subscribed: Deps, criteria: Criteria) -> tuple[list[Paper], list[Paper]]:
    """Eight papers of the sample day on one theme that the criteria rank low (below 150th),
    and their twins under new ids: the papers a person likes, as arXiv serves them."""
    papers = read_sample()
    scores = asyncio.run(subscribed.scorer_for(criteria).score(papers, criteria))
    order = np.argsort([-(s.raw or 0.0) for s in scores])
    rank = {papers[i].id: r for r, i in enumerate(order)}
    emb = embedding.embed([p.id for p in papers], [p.text for p in papers], subscribed.store)
    seed = order[300]
    near = [i for i in np.argsort(-(emb @ emb[seed]))[1:40] if rank[papers[i].id] > 150][:8]
    low = [papers[i] for i in near]
    return low, [replace(p, id=f"2601.{90000 + k}") for k, p in enumerate(low)]


@pytest.fixture
def liking(subscribed: Deps, theme: tuple[list[Paper], list[Paper]]) -> Iterator[FakeArxiv]:
    with FakeArxiv(papers=theme[1]) as fake:
        env = {"PAPERDIGEST_ARXIV_EXPORT_URL": fake.api_url_format,
               "PAPERDIGEST_ARXIV_EXPORT_DELAY": "0"}  # fmt: skip
        subscribed.settings = load_settings(env=env)
        yield fake


def say(text: str, deps: Deps, ctx: Context = OWNER):
    return asyncio.run(handle(text, ctx, deps))


def ranks(deps: Deps, criteria: Criteria, ids: list[str]) -> list[int]:
    papers = read_sample()
    scores = asyncio.run(deps.scorer_for(criteria).score(papers, criteria))
    order = np.argsort([-(s.raw or 0.0) for s in scores])
    rank = {papers[i].id: r for r, i in enumerate(order)}
    return [rank[i] for i in ids]


def test_like_makes_the_next_scoring_rank_papers_like_them_higher(
    subscribed: Deps, criteria: Criteria, theme, liking: FakeArxiv
) -> None:
    low, twins = theme
    before = ranks(subscribed, criteria, [p.id for p in low])
    url = f"https://arxiv.org/abs/{twins[1].id}v2"
    reply = say(f"like {twins[0].id} {url} {' '.join(p.id for p in twins[2:])} 2601.99999",
                subscribed)  # fmt: skip
    assert not reply.error and reply.title == "8 wanted examples added", reply.text()
    assert "not found on arXiv, so not added: 2601.99999" in reply.text()
    assert f"{twins[0].id}: {twins[0].title[:40]}" in reply.text()
    assert len([r for r in liking.requests if "id_list" in r]) == 1  # one batch, one request
    after = ranks(subscribed, criteria, [p.id for p in low])
    assert min(before) > 150, before
    assert all(a < b for a, b in zip(after, before, strict=True)), (before, after)
    assert np.median(after) < np.median(before) / 2, (before, after)  # every one rose, most far
    settings = say("settings", subscribed, MEMBER).text()
    assert "wanted examples (`like`): 8" in settings and f"  {twins[0].id}: " in settings
    assert "8 wanted examples" in settings  # counted among the labels, weighed as a rating
    assert WEIGHTS["example"] == WEIGHTS["rating"]
    assert label_counts(subscribed.store, criteria)["example"] == 8
    again = say(f"like {twins[0].id}", subscribed)  # kept in the store: arXiv is not asked
    assert "this chat has 8 examples" in again.text()
    assert len([r for r in liking.requests if "id_list" in r]) == 1

    gone = say(f"unlike {' '.join(p.id for p in twins)} 2602.00001", subscribed)
    assert gone.title == "8 examples removed" and "not examples of this chat: 2602.00001" in (
        gone.text()
    )
    assert "wanted examples: none" in say("settings", subscribed).text()
    assert make_scorer("local", subscribed.store, criteria, subscribed.settings).name == "local"
    assert ranks(subscribed, criteria, [p.id for p in low]) == before


def test_preview_like_shows_what_they_change_and_keeps_nothing(
    subscribed: Deps, theme, liking: FakeArxiv
) -> None:
    low, twins = theme
    reply = say(f"preview like {' '.join(p.id for p in twins)}", subscribed)
    assert not reply.error, reply.text()
    entering = [card.id for card in reply.papers]
    leaving = [line.split(": ")[1] for line in reply.lines if line.startswith("leaves: ")]
    assert len(entering) >= 3 and len(leaving) == len(entering), reply.text()
    papers = {p.id: p for p in read_sample()}
    liked = embedding.embed([p.id for p in low], [p.text for p in low], subscribed.store)

    def likeness(ids: list[str]) -> float:  # mean cosine to the nearest liked paper
        emb = embedding.embed(ids, [papers[i].text for i in ids], subscribed.store)
        return float((emb @ liked.T).max(axis=1).mean())

    # the theme sits far down the day (past rank 150, rising to the top 60 or so when liked:
    # the first test), so what enters the digest's top is what lies closer to the examples
    assert likeness(entering) > likeness(leaving) + 0.03, reply.text()
    assert "Nothing was kept" in reply.lines[0] and "would enter" in reply.lines[0]
    assert "wanted examples: none" in say("settings", subscribed).text()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("like", "usage: like <arXiv id | arXiv URL>"),
        ("like 2601.90000 banana", "not an arXiv id or URL: 'banana'; nothing was changed"),
        ("like " + " ".join(f"2601.{80000 + i}" for i in range(51)), "more than 50"),
        ("like 2601.77777", "arXiv knows none of 2601.77777; nothing added"),
        ("unlike", "usage: unlike"),
        ("preview like nope", "not an arXiv id or URL: 'nope'"),
    ],
)
def test_bad_likes_get_one_line_and_change_nothing(
    subscribed: Deps, criteria: Criteria, liking: FakeArxiv, text: str, says: str
) -> None:
    reply = say(text, subscribed)
    assert reply.error and says in reply.text(), reply.text()
    assert label_counts(subscribed.store, criteria)["example"] == 0


def test_like_when_arxiv_is_down_or_by_a_member(
    subscribed: Deps, criteria: Criteria, theme, liking: FakeArxiv
) -> None:
    liking.fail("api", 503)
    reply = say(f"like {theme[1][0].id}", subscribed)
    assert reply.error and "could not reach the arXiv export API" in reply.text()
    assert "try again in a few minutes" in reply.text()
    assert say(f"like {theme[1][0].id}", subscribed, MEMBER).title == "Not allowed"
    assert label_counts(subscribed.store, criteria)["example"] == 0
