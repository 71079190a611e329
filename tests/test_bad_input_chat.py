"""Issue 11: every bad input gets one clear line, on every platform and in the terminal."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient
from typer.testing import CliRunner

from bot.chat.answer import run
from bot.chat.commands import Context, Deps
from bot.chat.replies import PaperCard, Reply
from bot.cli import app
from bot.platforms.slack import SlackSender
from bot.platforms.telegram import render_messages
from bot.service.outbox import deliver, enqueue
from digest.criteria import Criteria
from digest.day import Cutoffs, DayStatus, Digest, Entry
from digest.papers import Paper
from digest.render import render_markdown
from digest.scoring import Score
from digest.store import Store
from digest.subscriptions import Subscription
from tests.conftest import sample_digest
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram, parse_html
from tests.test_slack import answer, bolt, slash  # noqa: F401  (bolt: a fixture)
from tests.test_telegram import GROUP, OWNER, process

runner = CliRunner()


# 1. unknown commands ------------------------------------------------------------------------


def test_unknown_word_suggests_the_closest_command_not_the_whole_help(deps: Deps) -> None:
    reply = run("subscibe", Context("slack", "C1", "U1"), deps)
    assert "`subscribe`" in reply.text() and "send `help` for all commands" in reply.text()
    assert "top [n]" not in reply.text() and len(reply.lines) <= 2


def test_telegram_unknown_commands_are_answered(tg: FakeTelegram, deps: Deps) -> None:
    process(tg, deps, tg.send_text(GROUP, "/subscibe", user_id=OWNER))
    [typo] = tg.sent(GROUP)
    assert "subscribe" in typo["text"] and "help" in typo["text"]
    assert deps.store.subscription(f"telegram:{GROUP}") is None  # a suggestion, not a guess
    process(tg, deps, tg.send_text(GROUP, "/foo", user_id=OWNER))
    assert len(tg.sent(GROUP)) == 2 and "foo" in tg.sent(GROUP)[-1]["text"]
    process(tg, deps, tg.send_text(GROUP, "/foo@some_other_bot", user_id=OWNER))
    assert len(tg.sent(GROUP)) == 2  # another bot's command is not ours to answer


# 2. long Telegram replies ---------------------------------------------------------------------


def _long_reply() -> Reply:
    lines = [f"{i}. <topic> & " + "x&y<z> " * 120 for i in range(40)]
    lines.append("&" * 5000)  # one line longer than a message once escaped
    card = PaperCard(
        "2601.00001", "<b>" * 900, "https://arxiv.org/abs/2601.00001", ("A B",), 9, 8,
        "&<>" * 2000, 1,
    )  # fmt: skip
    return Reply("Criteria <v2>", lines, [card])


def test_long_telegram_replies_split_into_valid_html() -> None:
    messages = render_messages(_long_reply())
    assert len(messages) > 3
    for text, _ in messages:
        assert len(text) <= 4096
        parse_html(text)  # raises on a cut tag or entity
    assert messages[-1][1] is not None  # the paper keeps its buttons


def test_long_criteria_reach_the_chat_in_parts(
    tg: FakeTelegram, deps: Deps, criteria: Criteria
) -> None:
    process(tg, deps, tg.send_text(OWNER, "/subscribe", user_id=OWNER))
    topics = "\n".join(
        f"## Topic {i} <{i}> & more\n- Relevant: " + "sparse & dense <experts> " * 40
        for i in range(12)
    )
    process(tg, deps, tg.send_text(OWNER, f"/criteria set\n{topics}", user_id=OWNER))
    assert "Criteria replaced" in tg.sent(OWNER)[-1]["text"]
    before = len(tg.sent(OWNER))
    process(tg, deps, tg.send_text(OWNER, "/criteria", user_id=OWNER))
    parts = tg.sent(OWNER)[before:]
    assert len(parts) >= 2 and all(len(p["text"]) <= 4096 for p in parts)
    assert "Topic 11 &lt;11&gt;" in parts[-1]["text"]


# 3. the terminal prints messages, not Rich markup ---------------------------------------------


def test_cli_error_with_brackets_is_printed_as_is() -> None:
    result = runner.invoke(app, ["score", "--input", "[/x].jsonl"])
    assert result.exit_code == 1, result.output
    assert "[/x].jsonl" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, no MarkupError


def test_cli_unknown_config_key_names_its_section(tmp_path: Path) -> None:
    (tmp_path / "paperdigest.toml").write_text("[digest]\nbogus = 1\n")
    result = runner.invoke(app, ["criteria"])
    assert result.exit_code == 1, result.output
    assert "known keys of [digest]" in " ".join(result.output.split())


# 4. why on a paper paperdigest never read -----------------------------------------------------


def test_why_unknown_paper_says_what_the_user_can_do(deps: Deps, criteria: Criteria) -> None:
    ctx = Context("slack", "C1", "U1")
    run("subscribe", ctx, deps)
    sample_digest(deps.store, criteria, "slack:C1")
    reply = run("why 2601.99999", ctx, deps)
    text = reply.text()
    assert reply.error and "2601.99999" in text
    assert "run a digest" not in text
    assert "`search <words>`" in text and "the day arXiv announces it" in text


# 5. Slack fallback text is escaped ------------------------------------------------------------


def test_slack_fallback_text_is_escaped(bolt: str, slack: FakeSlack) -> None:  # noqa: F811
    slash(bolt, slack, "search <!channel> & co")
    posted = answer(slack)
    assert "&lt;!channel&gt; &amp; co" in posted["text"]
    assert "<!channel>" not in posted["text"]
    assert "<!channel>" not in json.dumps(posted.get("blocks"))


# 6. Markdown shows titles as text -------------------------------------------------------------


def test_markdown_escapes_html_in_titles_authors_comments() -> None:
    paper = Paper(
        id="2602.00009",
        title="<script>alert(1)</script> & co",
        abstract="An abstract.",
        authors=("Eve <img src=x onerror=alert(1)>",),
        version=1,
    )
    score = Score("2602.00009", 9, 8, "<b>matches</b>", "Model Architecture", "local")
    digest = Digest(
        day=date(2026, 2, 10), status=DayStatus.BUILT, message="", categories=("cs.LG",),
        total_entries=1, scanned=1, entries=[Entry(paper, score, 1, True, "cutoffs met", False)],
        usage=[], scorer="local", cutoffs=Cutoffs(8, 7), prompt="", criteria_text="",
    )  # fmt: skip
    md = render_markdown(digest)
    assert "<script>" not in md and "<img" not in md and "<b>" not in md
    assert "## 1. &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in md
    assert "Comment: &lt;b&gt;matches&lt;/b&gt;" in md


# 7. the Slack header's fallback counts the whole digest ---------------------------------------


def test_slack_header_text_states_the_digest_total(
    slack: FakeSlack, scored_store: Store, criteria: Criteria
) -> None:
    sub = Subscription("slack:C1", "slack", "C1", top_k=12, subscribed_by="slack:U1")
    scored_store.save_subscription(sub)
    digest = sample_digest(scored_store, criteria, sub.id, cutoffs=Cutoffs(1, 1), top_k=12)
    assert len(digest.selected) >= 12
    total = len(digest.selected)
    sender = SlackSender(AsyncWebClient(token="xoxb-test", base_url=slack.url))
    enqueue(scored_store, sender, sub, digest)
    assert not asyncio.run(deliver(scored_store, sender)).failed
    header = slack.posted("C1")[0]
    assert f"{total} papers" in header["text"] and "5 papers" not in header["text"]
