"""Ask in plain words: the rules, proposals confirmed by a word or a tap, refusals, and the LLM
agent's tool calls against the loopback OpenAI server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat.agent import MAX_ROUNDS, TOOLS
from bot.chat.answer import answer
from bot.chat.ask import proposal_key
from bot.chat.commands import Context, Deps
from bot.chat.phrasing import interpret
from bot.chat.replies import Reply
from bot.platforms.slack import render_blocks
from bot.platforms.telegram import render_messages
from digest.day import Usage
from digest.store import Store
from tests.fakes.openai_server import FakeOpenAI

OWNER = Context("slack", "C1", "UOWNER", "owner")
MEMBER = Context("slack", "C1", "UMEMBER", "member")
TERMINAL = Context("terminal", "default", "you", dm=True)
CHANGE = "only show papers with relevance 9 or more"


def say(text: str, deps: Deps, ctx: Context = OWNER) -> Reply:
    return asyncio.run(answer(text, ctx, deps))


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("what's new today", "top"),
        ("best papers this morning", "top"),
        ("top ten papers please", "top 10"),
        ("why is #3 in", "why 3"),
        ("why not number 4?", "why 4"),
        ("papers about mixture of experts", "search mixture of experts"),
        ("anything on graph neural networks this week?", "search graph neural networks"),
        ("what am I subscribed to", "settings"),
        ("what are my criteria", "criteria"),
        ("follow Yann LeCun please", "follow Yann LeCun"),
        ("post at 8am Berlin time", "schedule 08:00 Europe/Berlin"),
        ("deliver it at 6:45 pm New York time", "schedule 18:45 America/New_York"),
        ("only relevance above 8 and novelty 7 or more", "threshold relevance=9 novelty=7"),
        ("just 3 papers a day", "topk 3"),
        ("undo my last criteria change", "criteria undo"),
    ],
)  # fmt: skip
def test_rules_map_plain_words_to_commands(text: str, command: str) -> None:
    found = interpret(text)
    assert found is not None and found.command == command


@pytest.mark.parametrize(
    "text", ["what's the weather in Berlin?", "write me a poem about transformers", "hello there"]
)
def test_rules_leave_what_they_cannot_map(text: str) -> None:
    assert interpret(text) is None


def test_the_issue_examples_in_the_terminal_chat(deps: Deps) -> None:
    """`paperdigest chat` runs the same core: each answer says which command it ran."""
    why = say("why did 2602.08923 score 10?", deps, TERMINAL)
    assert why.lines[0] == "(ran `why 2602.08923`)" and "2602.08923" in why.title
    top = say("what are the top papers today?", deps, TERMINAL)
    assert top.title == "Top 5 of 2026-02-10" and top.lines[0] == "(ran `top`)"
    moe = say("show me papers about mixture of experts", deps, TERMINAL)
    assert moe.title == "Search: mixture of experts" and moe.papers
    assert moe.lines[0] == "(ran `search mixture of experts`)"
    delta = say("why was the DeltaKV paper left out", deps, TERMINAL)
    assert "2602.08005" in delta.title and delta.lines[0] == "(ran `why 2602.08005`)"


def test_commands_as_typed_pass_through(subscribed: Deps) -> None:
    assert say("top 3", subscribed).lines == []
    assert say("threshold relevance=9", subscribed).title == "Cutoffs updated"
    assert "usage: top [n]" in say("top many", subscribed).text()


def test_a_settings_change_in_words_waits_for_a_yes(subscribed: Deps) -> None:
    proposal = say(CHANGE, subscribed)
    assert proposal.title == "Change a setting?" and "`threshold relevance=9`" in proposal.text()
    assert subscribed.store.subscription("slack:C1").relevance_cutoff == 8  # not applied
    applied = say("yes", subscribed)
    assert applied.title == "Cutoffs updated"
    assert applied.lines[0] == "(ran `threshold relevance=9`)"
    assert subscribed.store.subscription("slack:C1").relevance_cutoff == 9
    assert say("yes", subscribed).title == "Nothing to confirm"  # applied once


def test_no_drops_a_proposal(subscribed: Deps) -> None:
    say("post at 8am Berlin time", subscribed)
    assert say("no", subscribed).title == "Dropped"
    assert say("yes", subscribed).title == "Nothing to confirm"
    assert subscribed.store.subscription("slack:C1").schedule == "06:30"


def test_a_proposal_lapses(subscribed: Deps) -> None:
    store = subscribed.store
    store.propose(proposal_key(OWNER), OWNER.who, "topk 3", timedelta(seconds=-1))
    assert say("yes", subscribed).title == "Nothing to confirm"
    assert store.subscription("slack:C1").top_k == 10


def test_one_tap_applies_the_exact_command(subscribed: Deps) -> None:
    proposal = say("just 3 papers a day", subscribed)
    (button,) = proposal.buttons
    assert button.command == "topk 3"
    actions = [b for b in render_blocks(proposal) if b["type"] == "actions"]
    assert actions[-1]["elements"][0]["value"] == "topk 3"
    keyboard = render_messages(proposal)[-1][1]
    assert keyboard.inline_keyboard[-1][0].callback_data == "topk 3"
    assert say(button.command, subscribed).title == "Top-k updated"  # the tap runs it
    assert subscribed.store.subscription("slack:C1").top_k == 3


def test_a_change_in_words_is_refused_for_someone_not_allowed(subscribed: Deps) -> None:
    refused = say(CHANGE, subscribed, MEMBER)
    assert refused.title == "Not allowed" and "`threshold relevance=9`" in refused.text()
    assert say("yes", subscribed, MEMBER).title == "Nothing to confirm"
    owners = say(CHANGE, subscribed)  # the owner's proposal is the owner's alone
    assert say("yes", subscribed, MEMBER).title == "Nothing to confirm"
    assert say(owners.buttons[0].command, subscribed, MEMBER).title == "Not allowed"  # a tap
    assert subscribed.store.subscription("slack:C1").relevance_cutoff == 8


def test_a_write_command_with_stray_words_is_not_run(subscribed: Deps) -> None:
    reply = say("unsubscribe everyone in the workspace", subscribed)
    assert "takes no words" in reply.text()
    assert subscribed.store.subscription("slack:C1").active


def test_a_surname_is_settled_against_the_criteria(subscribed: Deps) -> None:
    reply = say("show me everything by Bengio", subscribed)
    assert "`follow Yoshua Bengio`" in reply.text()
    assert "first and last name" in say("show me everything by Nobodyknown", subscribed).text()


def test_what_no_rule_maps_gets_the_two_closest_commands(deps: Deps) -> None:
    reply = say("write me a poem about transformers", deps, TERMINAL)
    assert reply.title == "Not sure what you mean" and reply.error
    assert reply.lines[0].startswith("did you mean `") and reply.lines[0].count("`") == 4
    assert reply.lines[-1] == "send `help` for all commands" and len(reply.lines) == 2


def test_a_proposal_is_taken_once(store_url: str) -> None:
    """On SQLite and PostgreSQL: a later proposal replaces the earlier; a yes takes it once."""
    store = Store(store_url)
    try:
        store.propose("slack:C1:U1", "slack:U1", "topk 3", timedelta(minutes=10))
        store.propose("slack:C1:U1", "slack:U1", "topk 4", timedelta(minutes=10))
        assert store.take_proposal("slack:C1:U1") == "topk 4"
        assert store.take_proposal("slack:C1:U1") is None
        assert store.drop_proposal("slack:C1:U2") is None
    finally:
        store.close()


# -- the LLM agent, against the loopback OpenAI server ------------------------------------------

FREE = "how does DynamiQ compare with the Adam communication paper?"


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A loopback OpenAI server, and the key and address the agent reads from the environment."""
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        yield fake


def test_the_agent_answers_with_tool_calls_and_names_its_papers(
    llm: FakeOpenAI, deps: Deps
) -> None:
    assert interpret(FREE) is None  # no rule maps it: the agent answers
    llm.call_tools_next(("why", {"paper": "2602.08923"}), ("paper", {"id": "2602.07360"}))
    llm.answer_next("DynamiQ (2602.08923) scored 10: it matches efficient distributed training.")
    reply = say(FREE, deps, TERMINAL)
    assert reply.title == "Answer" and not reply.error
    assert reply.lines[0].startswith("DynamiQ (2602.08923) scored 10")
    assert "(answered by gpt-5-mini with `why 2602.08923`)" in reply.lines
    assert [(p.id, p.url) for p in reply.papers] == [
        ("2602.08923", "https://arxiv.org/abs/2602.08923")
    ]
    first = llm.requests[0]
    assert {t["function"]["name"] for t in first["tools"]} == {t["function"]["name"] for t in TOOLS}
    why, paper = llm.tool_results(1)
    assert why["tool_call_id"] == "call_1_0" and "2602.08923" in why["content"]
    assert "relevance" in why["content"]
    assert paper["content"] == "error: no paper 2602.07360 in the store"
    ((_, usage),) = [(d, u) for d, u in deps.store.usage() if u.model == "ask:gpt-5-mini"]
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0 and usage.cost > 0


def test_the_agent_sends_the_completion_controls_and_counts_reasoning(
    llm: FakeOpenAI, deps: Deps
) -> None:
    llm.reasoning_tokens = 120
    llm.call_tools_next(("top", {"n": 1}))
    reply = say(FREE, deps, TERMINAL)
    assert not reply.error and len(llm.requests) == 2
    for body in llm.requests:  # gpt-5-mini: the effort, and the cap by its new name
        assert body["reasoning_effort"] == "low" and body["max_completion_tokens"] == 16000
    ((_, usage),) = [(d, u) for d, u in deps.store.usage() if u.model == "ask:gpt-5-mini"]
    assert usage.reasoning_tokens == 240 and usage.completion_tokens > 240


def test_bad_tool_calls_get_errors_back_never_a_crash(llm: FakeOpenAI, deps: Deps) -> None:
    llm.call_tools_next(
        ("why", {"paper": "2602.99999"}),
        ("frobnicate", {}),
        ("search", "{not json"),
        ("propose", {"command": "top 3"}),
    )
    reply = say(FREE, deps, TERMINAL)
    results = [m["content"] for m in llm.tool_results()]
    assert results[0].startswith("error: ") and "2602.99999" in results[0]
    assert results[1] == "error: there is no tool 'frobnicate'"
    assert results[2] == "error: the arguments are not JSON"
    assert results[3].startswith("error: `top 3` changes no setting")
    assert reply.title == "Answer" and reply.lines[0].startswith("Found: error: `top 3`")


def test_the_agent_only_proposes(llm: FakeOpenAI, subscribed: Deps) -> None:
    llm.call_tools_next(("propose", {"command": "threshold relevance=9"}))
    llm.answer_next("I proposed a higher relevance cutoff; confirm it to apply.")
    reply = say("I'd like fewer but more on-topic papers", subscribed)
    assert [b.command for b in reply.buttons] == ["threshold relevance=9"]
    assert subscribed.store.subscription("slack:C1").relevance_cutoff == 8
    assert say("yes", subscribed).title == "Cutoffs updated"
    llm.call_tools_next(("propose", {"command": "topk 2"}))
    refused = say("I'd like fewer but more on-topic papers", subscribed, MEMBER)
    assert "Not allowed" in llm.tool_results()[0]["content"] and not refused.buttons
    assert say("yes", subscribed, MEMBER).title == "Nothing to confirm"
    assert subscribed.store.subscription("slack:C1").top_k == 10


def test_tool_rounds_are_capped(llm: FakeOpenAI, deps: Deps) -> None:
    for _ in range(MAX_ROUNDS + 1):
        llm.call_tools_next(("top", {"n": 1}))
    reply = say(FREE, deps, TERMINAL)
    assert len(llm.requests) == MAX_ROUNDS + 1
    assert llm.requests[-1]["tool_choice"] == "none" and reply.lines[0].startswith("Found: ")


def test_the_daily_budget_holds_the_agent_back(llm: FakeOpenAI, deps: Deps) -> None:
    spent = Usage("llm:gpt-5-mini", 1000, 0, 1000, cost=5.0)
    deps.store.record_usage(datetime.now(UTC).date(), "default", spent)
    reply = say(FREE, deps, TERMINAL)
    assert llm.requests == [] and "budget of $1.00 is spent" in reply.text()
    assert reply.lines[0].startswith("did you mean")


def test_a_failing_llm_gets_a_short_answer(llm: FakeOpenAI, deps: Deps) -> None:
    llm.fail_next("401")
    reply = say(FREE, deps, TERMINAL)
    assert reply.error and "(could not ask gpt-5-mini: the server answered 401)" in reply.lines
    assert "test-key" not in reply.text()


def test_a_mistyped_command_word_is_the_core_s_and_never_the_llm_s(
    llm: FakeOpenAI, deps: Deps
) -> None:
    reply = say("subscibe", deps, TERMINAL)
    assert "did you mean `subscribe`" in reply.text() and llm.requests == []
