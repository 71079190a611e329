"""Every chat command through the platform-neutral core, as a channel member would use it."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from bot.chat.commands import SPECS, Context, Deps, handle, is_slow, parse
from digest.config import load_settings
from digest.criteria import Criteria
from digest.pipeline import sample_listing
from digest.scoring.factory import make_scorer
from digest.store import Store
from tests.conftest import sample_digest

OWNER = Context("slack", "C1", "UOWNER", "owner")
MEMBER = Context("slack", "C1", "UMEMBER", "member")


@pytest.fixture
def deps(scored_store: Store) -> Deps:
    settings = load_settings(env={"PAPERDIGEST_BOT_ADMINS": "slack:UADMIN"})
    return Deps(scored_store, settings, lambda c: make_scorer("local", scored_store, c, settings))


def say(text: str, deps: Deps, ctx: Context = OWNER):
    return asyncio.run(handle(text, ctx, deps))


def test_parse_same_words_everywhere() -> None:
    for text in (
        "why 2602.08007",
        "/why 2602.08007",
        "/digest why 2602.08007",
        "/why@paperdigest_bot 2602.08007",
        "why did 2602.08007 score 9?",
    ):
        assert parse(text).name == "why", text
    assert parse("top").name == "top" and parse("give me the top 3").args == ("3",)
    assert parse("criteria add X: y").name == "criteria add"
    assert parse("").name == "help"


def test_help_lists_every_command(deps: Deps) -> None:
    reply = say("help", deps)
    text = reply.text()
    for name, spec in SPECS.items():
        if name != "rate":
            assert spec.usage in text


def test_unknown_command_answers_with_a_pointer_to_help(deps: Deps) -> None:
    reply = say("frobnicate the papers", deps)
    assert "I don't know 'frobnicate'" in reply.title and "send `help`" in reply.text()
    assert "top [n]" not in reply.text()  # not the whole help


def test_subscribe_settings_unsubscribe(deps: Deps) -> None:
    assert "06:30 UTC" in say("subscribe", deps).text()
    assert say("subscribe", deps).title == "Already subscribed"
    settings = say("settings", deps, MEMBER).text()
    assert "categories: cs.LG, cs.AI" in settings and "top-k: 10" in settings
    assert "criteria: version 1" in settings
    assert say("unsubscribe", deps).title == "Unsubscribed"
    assert not deps.store.subscription("slack:C1").active
    assert "paused (unsubscribed)" in say("settings", deps).text()


def test_top_and_why(subscribed: Deps) -> None:
    top = say("top 3", subscribed, MEMBER)
    assert [p.rank for p in top.papers] == [1, 2, 3]
    assert top.papers[0].comment == "Author match: Yoshua Bengio"
    assert top.papers[0].relevance is None
    assert [b.command for b in top.papers[2].buttons()][2] == f"why {top.papers[2].id}"
    why = say("why 3", subscribed, MEMBER).text()
    assert top.papers[2].id in why and "made the digest" in why and "cutoffs" in why
    dm = say("why did 2602.07160 score so low?", subscribed, MEMBER).text()
    assert "2602.07160" in dm and "matched criterion" in dm
    more = say("more 3", subscribed, MEMBER)  # a rank names the same paper as for `why`
    assert more.title == top.papers[2].title and top.papers[2].url in more.text()
    assert say(f"more {top.papers[2].id}", subscribed, MEMBER).text() == more.text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("top many", "usage: top [n]"),
        ("top 0", "out of range"),
        ("why", "usage: why"),
        ("why banana", "not an arXiv id"),
        ("why 999", "the latest digest has"),
        ("why 2602.99999", "not in the store"),
        ("more", "usage: more"),
        ("more banana", "not an arXiv id"),
        ("more 999", "the latest digest has"),
        ("more 2602.99999", "not among the stored papers"),
        ("threshold relevance=high", "usage: threshold"),
        ("threshold quality=9", "usage: threshold"),
        ("threshold relevance=11", "out of range 1-10"),
        ("topk", "usage: topk"),
        ("follow Bengio", "first and last name"),
        ("unfollow Nobody Here", "not following"),
        ("categories cs.XX", "'cs.XX' is not an arXiv category"),
        ("schedule 25:00 UTC", "not a time of day"),
        ("schedule 07:00 Mars/Olympus", "not an IANA time zone"),
        ("criteria remove 9", "out of range"),
        ("criteria set", "usage: criteria set"),
        ("criteria rename x", "usage: criteria add"),
        ("search", "usage: search"),
        ("rate 2602.08007 +5", "usage: rate"),
    ],
)
def test_wrong_arguments_answer_with_usage(subscribed: Deps, text: str, expected: str) -> None:
    reply = say(text, subscribed)
    assert reply.error and expected in reply.text(), reply.text()


def test_settings_commands_change_the_subscription(subscribed: Deps) -> None:
    assert not say("threshold relevance=9 novelty=6", subscribed).error
    assert not say("topk 5", subscribed).error
    assert not say("categories cs.lg stat.ML", subscribed).error
    assert not say("schedule 07:15 Europe/Paris", subscribed).error
    sub = subscribed.store.subscription("slack:C1")
    assert (sub.relevance_cutoff, sub.novelty_cutoff, sub.top_k) == (9, 6, 5)
    assert sub.categories == ("cs.LG", "stat.ML")
    assert (sub.schedule, sub.timezone) == ("07:15", "Europe/Paris")


def test_criteria_edit_history_undo(subscribed: Deps) -> None:
    shown = say("criteria", subscribed, MEMBER).text()
    assert "1. Model Architecture" in shown and "following: Yoshua Bengio, Yann LeCun" in shown
    assert not say("criteria add Graph Learning: message passing, over-smoothing", subscribed).error
    assert "5. Graph Learning: message passing" in say("criteria", subscribed).text()
    assert not say("criteria remove 1", subscribed).error
    assert "Model Architecture" not in say("criteria", subscribed).text()
    history = say("criteria history", subscribed).text()
    assert history.index("v3") < history.index("v2") < history.index("v1")
    assert not say("criteria undo", subscribed).error
    assert "1. Model Architecture" in say("criteria", subscribed).text()
    new = "## Only Topic\n- Relevant: sparse autoencoders\n"
    assert not say(f"criteria set\n{new}", subscribed).error
    assert "1. Only Topic: sparse autoencoders" in say("criteria", subscribed).text()


def test_follow_and_unfollow(subscribed: Deps) -> None:
    assert not say("follow Shihao Yang", subscribed).error
    assert say("follow shihao yang", subscribed).title == "Already following"
    assert "Shihao Yang" in say("criteria", subscribed).text()
    assert not say("unfollow Shihao Yang", subscribed).error
    assert "Shihao Yang" not in say("criteria", subscribed).text()


def test_members_may_read_but_not_change(subscribed: Deps) -> None:
    changes = [
        "threshold relevance=9",
        "topk 3",
        "follow Ada Lovelace",
        "criteria remove 1",
        "categories cs.CL",
        "schedule 08:00 UTC",
        "unsubscribe",
        "criteria undo",
    ]
    for text in changes:
        reply = say(text, subscribed, MEMBER)
        assert reply.error and reply.title == "Not allowed", text
    assert not say("criteria", subscribed, MEMBER).error
    admin = Context("slack", "C1", "UADMIN")
    assert not say("topk 3", subscribed, admin).error  # a configured admin may


def test_rate_is_stored_as_a_label(subscribed: Deps, criteria: Criteria) -> None:
    reply = say("rate 2602.08007 -1", subscribed, MEMBER)
    assert reply.ephemeral and not reply.error
    assert subscribed.store.ratings("slack:C1") == {"2602.08007": -1}
    assert subscribed.store.labels(criteria.scoring_hash)["2602.08007"] == 0.0


def test_search(subscribed: Deps) -> None:
    """Papers holding every word come first; then papers close in meaning; all of the day."""
    papers = {p.id: p for p in sample_listing().papers}  # what the store holds, read apart
    text = {pid: f"{p.title} {p.abstract}".lower() for pid, p in papers.items()}
    both = {pid for pid, t in text.items() if "kv" in t and "cache" in t}
    assert 1 < len(both) <= 10
    assert any("cache" not in papers[pid].title.lower() for pid in both)

    reply = say("search KV cache", subscribed, MEMBER)
    assert reply.title == "Search: KV cache"
    assert reply.lines == ["by meaning and words, in 1 day of papers (2026-02-10)"]
    found = [card.id for card in reply.papers]
    assert len(found) == len(set(found)) == 10 and set(found[: len(both)]) == both, found
    for card in reply.papers:
        assert card.title == papers[card.id].title and card.url == papers[card.id].url
    nothing = say("search zzzqqq", subscribed)
    assert not nothing.papers and "nothing close" in nothing.lines[-1]


def test_preview_shows_what_enters_and_leaves(deps: Deps, criteria: Criteria) -> None:
    assert is_slow("preview")
    assert say("subscribe", deps).title == "Subscribed"
    store, sub = deps.store, deps.store.subscription("slack:C1")
    probe = sample_digest(store, criteria, "probe", cutoffs=sub.cutoffs, top_k=sub.top_k)
    seen = probe.selected[-1].paper.id
    store.mark_shown(sub.id, date(2026, 2, 9), [seen])  # shown in this chat yesterday
    sample_digest(store, criteria, sub.id, cutoffs=sub.cutoffs, top_k=sub.top_k)
    assert store.digest(sub.id).already_shown == (seen,)
    unchanged = say("preview", deps)  # ranked as the digest is: nothing moves
    assert unchanged.lines[0].endswith("(0 enter, 0 leave).") and not unchanged.papers
    assert not say("topk 5", deps).error
    reply = say("preview", deps)
    assert reply.lines[0].endswith("(0 enter, 5 leave).") and len(reply.lines) == 6
    assert all(line.startswith("leaves: 2602.") for line in reply.lines[1:])


def test_commands_before_subscribing_say_so(deps: Deps) -> None:
    reply = say("topk 3", deps)
    assert reply.error and "send `subscribe` first" in reply.text()


def test_a_criteria_edit_that_would_not_read_back_is_refused(scored_store: Store) -> None:
    """A multi-line topic once wrote criteria no later run could read; now it is refused."""
    from bot.chat.answer import run
    from bot.chat.commands import Context, Deps
    from digest.config import load_settings
    from digest.scoring.local import LocalScorer

    deps = Deps(scored_store, load_settings(env={}), lambda c: LocalScorer())
    ctx = Context("terminal", "default", "me")
    run("criteria", ctx, deps)  # the first read stores version 1 from the bundled file
    before = scored_store.criteria_versions("default")
    assert len(before) == 1
    reply = run("criteria add Evil: x\n## Keywords\n- Bogus: z", ctx, deps)
    assert reply.error and "line break" in reply.text()
    assert scored_store.criteria_versions("default") == before
    assert not run("criteria", ctx, deps).error  # the stored criteria still read


def test_a_search_of_five_thousand_words_answers(scored_store: Store) -> None:
    from bot.chat.answer import run
    from bot.chat.commands import Context, Deps
    from digest.config import load_settings
    from digest.scoring.local import LocalScorer

    deps = Deps(scored_store, load_settings(env={}), lambda c: LocalScorer())
    reply = run(
        "search " + " ".join(f"w{i}" for i in range(5000)), Context("slack", "C1", "U1"), deps
    )
    assert not reply.error and reply.title.startswith("Search: w0 w1") and len(reply.title) <= 90
