"""The LLM judge in the digest: cascade, cache, budget, fallback, accounting, dry run, deep why."""

from __future__ import annotations

import asyncio
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from digest.config import load_settings
from digest.criteria import Criteria
from digest.evaluation import read_reference
from digest.papers import Paper
from digest.pipeline import build_digest, sample_listing
from digest.scoring import local
from digest.scoring.factory import make_scorer
from digest.store import Store
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-test-secret-key-1234"
REFERENCE = Path(__file__).parent / "data" / "digest-2026-02-10.txt"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A model that agrees with the reference: its papers 9/8, the rest 4/5."""
    wanted = {r.id: (9, 8) for r in read_reference(REFERENCE)}
    sample = {p.id: wanted.get(p.id, (4, 5)) for p in sample_listing().papers}
    with FakeOpenAI(scores=sample) as server:
        yield server


def env(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url, **extra}


def cascade(store: Store, criteria: Criteria, fake: FakeOpenAI, **extra: str):
    settings = load_settings(env={"PAPERDIGEST_LLM_MAX_RETRIES": "1", **extra})
    return make_scorer("auto", store, criteria, settings, env=env(fake))


def run(store: Store, criteria: Criteria, scorer, subscription: str = "default"):
    return asyncio.run(
        build_digest(store, sample_listing(), criteria, scorer, subscription=subscription)
    )


def test_cascade_sends_the_best_share_and_the_digest_says_so(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    scorer = cascade(scored_store, criteria, fake)
    assert scorer.name == "cascade:llm:gpt-5-mini@0.6"
    digest = run(scored_store, criteria, scorer)
    asked = {pid for ids in fake.ids_asked() for pid in ids}
    assert len(asked) == 414  # ceil(0.6 x 690); followed authors skip the scorer
    # the judge reads each paper whole, after a fixed part that is the same in every request
    by_id = {p.id: p for p in sample_listing().papers}
    users = [b["messages"][1]["content"] for b in fake.scoring_requests()]
    assert len({u[: u.index("<paper ")] for u in users}) == 1
    assert len({b["messages"][0]["content"] for b in fake.scoring_requests()}) == 1
    one = next(iter(asked))
    assert by_id[one].abstract.split(".")[-2].strip() in "".join(users)
    assert all("Abstract: " in u and "Gist: " not in u for u in users)
    reference = {r.id for r in read_reference(REFERENCE)}
    assert len(asked & reference) >= 0.97 * (len(reference) - 2)
    llm = next(u for u in digest.usage if u.model == "llm:gpt-5-mini")
    assert llm.prompt_tokens > 0 and llm.completion_tokens > 0
    assert llm.cost == pytest.approx(
        (llm.prompt_tokens * 0.25 + llm.completion_tokens * 2.0) / 1e6, rel=1e-6
    )
    selected = {e.paper.id for e in digest.selected}
    assert selected <= reference and len(selected) >= 0.97 * len(reference) - 2
    assert "LLM gpt-5-mini scored" in digest.message
    assert all(e.score.relevance <= 5 for e in digest.entries if e.paper.id not in asked
               and not e.followed)  # fmt: skip


def test_a_700_paper_day_costs_what_the_goal_allows_tldrs_included(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    """At the list prices of config/default.toml, 60% of the day sent, 200 reasoning tokens a
    request, a chat's 10 TL;DRs as long as real ones: a 700-paper day costs at most $0.05 with
    gpt-5-mini and $0.25 with gpt-5 (benchmarks/llm_cascade.py measures $0.046 and $0.230)."""
    fake.reasoning_tokens, fake.tldr_words = 200, 25
    scorer = cascade(scored_store, criteria, fake)
    listing = sample_listing()
    digest = asyncio.run(build_digest(scored_store, listing, criteria, scorer, top_k=10))
    asked = {pid for ids in fake.ids_asked() for pid in ids}
    assert len(asked) == math.ceil(0.6 * (len(listing.papers) - 2))  # 2 by followed authors
    assert all(e.tldr_by == "llm:gpt-5-mini" for e in digest.selected)
    rows = [u for u in digest.usage if u.total_tokens]
    assert {u.model for u in rows} == {"llm:gpt-5-mini", "tldr:gpt-5-mini"}
    assert all(u.reasoning_tokens >= 200 for u in rows)
    prices, scale = load_settings(env={}).llm.prices, 700 / len(listing.papers)

    def day(model: str) -> float:
        fresh, cached, completion = prices[model]
        return scale * sum((u.prompt_tokens - u.cached_tokens) * fresh + u.cached_tokens * cached
                           + u.completion_tokens * completion for u in rows) / 1e6  # fmt: skip

    assert day("gpt-5-mini") == pytest.approx(scale * sum(u.cost or 0 for u in rows))
    assert day("gpt-5-mini") <= 0.05 and day("gpt-5") <= 0.25


def test_only_papers_that_matter_get_a_comment_and_why_says_so(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    from digest.explain import explain

    digest = run(scored_store, criteria, cascade(scored_store, criteria, fake))
    judged = [e for e in digest.entries if e.score.scorer == "llm:gpt-5-mini"]
    low = [e for e in judged if e.score.relevance < 5]
    assert low and all(e.score.comment == "" and e.score.novelty == 5 for e in low)
    assert all(e.score.comment for e in judged if e.score.relevance >= 5)
    assert all(e.score.comment for e in digest.selected)
    lines = explain(scored_store, "default", low[0].paper.id)
    assert "relevance 4, novelty 5" in lines and "comment: none" in lines
    assert "the LLM gave no comment: it comments only on papers of relevance 5 or more" in lines
    evidence = next(line for line in lines if line.startswith("the local scorer's evidence: "))
    assert len(evidence) > len("the local scorer's evidence: none")


def test_the_dry_run_counts_completion_from_this_stores_history(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    from digest.scoring.cascade import COMPLETION_TOKENS_PER_PAPER, estimate

    papers = sample_listing().papers
    scorer = cascade(scored_store, criteria, fake)
    planned = asyncio.run(scorer.plan(papers, criteria))
    before = planned.line("gpt-5-mini")
    assert f"completion tokens (completion at {COMPLETION_TOKENS_PER_PAPER} a paper: no " \
        "history for the model)" in before  # fmt: skip
    assert planned.completion_tokens == COMPLETION_TOKENS_PER_PAPER * planned.papers
    fake.reasoning_tokens = 300
    digest = run(scored_store, criteria, scorer)
    llm = next(u for u in digest.usage if u.model == "llm:gpt-5-mini")
    per_paper, n = scored_store.completion_per_paper("llm:gpt-5-mini") or (0.0, 0)
    assert n == 414 and per_paper == pytest.approx(llm.completion_tokens / 414)
    after = asyncio.run(cascade(scored_store, criteria, fake).plan(papers, criteria))
    assert after.papers == planned.papers - 414  # those judged are not counted again
    assert f"completion at {per_paper:.0f} a paper, reasoning included, as in this store's last " \
        "414 papers" in after.line("gpt-5-mini")  # fmt: skip
    hundred = estimate(scorer.llm, papers[:100], criteria, (per_paper, n))
    assert hundred.completion_tokens == round(per_paper * 100)
    assert hundred.cost == pytest.approx((hundred.prompt_tokens * 0.25 + hundred.completion_tokens
                                          * 2.0) / 1e6)  # fmt: skip


def test_the_dry_run_counts_the_tldr_request_from_this_stores_history(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    from dataclasses import replace

    from digest.pipeline import REFERENCE_SHARE, plan_day
    from digest.scoring.cascade import dollars
    from digest.tldr import COMPLETION_PER_TLDR, writer_for

    listing, store = sample_listing(), scored_store
    followed = 2  # the sample day's papers by followed authors: shown, and given a TL;DR

    def plan(sub: str, top_k: int = 10, day: object = None):
        shown = listing if day is None else replace(listing, day=day)
        work = plan_day(store, shown, criteria, cascade(store, criteria, fake), subscription=sub,
                        top_k=top_k)  # fmt: skip
        return asyncio.run(work)

    first = plan("slack:C9")
    assert (
        f"TL;DR request (at most digest.top_k 10 and {followed} papers by followed authors): "
        f"{10 + followed} papers to gpt-5-mini: about" in first.tldrs
    )
    assert f"completion at {COMPLETION_PER_TLDR} a TL;DR: no history for the model" in first.tldrs
    scorer = cascade(store, criteria, fake)
    scoring = asyncio.run(scorer.plan(first.todo, criteria))  # followed authors: not scored
    writer = writer_for(scorer)
    assert writer is not None
    request = writer.plan(listing.papers, 10 + followed, "en", None)
    assert request.completion_tokens == COMPLETION_PER_TLDR * (10 + followed)
    assert scoring.cost and request.cost and first.cost is not None
    assert first.cost == pytest.approx(scoring.cost + request.cost)  # the day includes TL;DRs
    assert f"the day's LLM cost: about {dollars(first.cost)}" in first.tldrs
    assert fake.requests == []  # a dry run sends nothing
    fake.reasoning_tokens = 120
    built = asyncio.run(build_digest(store, listing, criteria, scorer, subscription="slack:C9",
                                     top_k=10))  # fmt: skip
    assert len(built.selected) == 10 + followed
    spent = next(u for u in built.usage if u.model == "tldr:gpt-5-mini").completion_tokens
    per_tldr, n = store.completion_per_tldr("gpt-5-mini") or (0.0, 0)
    assert n == 10 + followed and per_tldr == pytest.approx(spent / n)
    other = plan("slack:C8", top_k=5)  # another chat: this store's own figure, said so
    assert f"completion at {per_tldr:.0f} a TL;DR, reasoning included, as in this store's " \
        f"{n} TL;DRs" in other.tldrs  # fmt: skip
    assert "authors): 7 papers to gpt-5-mini" in other.tldrs
    again = plan("slack:C9")  # a re-run: the day's digest has its TL;DRs already
    assert f"(the day's digest shows {n} papers, 0 without one in en): 0 papers" in again.tldrs
    assert "0 prompt and 0 completion tokens" in again.tldrs
    new = plan("slack:C7", top_k=0).tldrs
    assert f"reference digest showed, 82 of 692): {round(REFERENCE_SHARE * len(listing.papers))} " \
        "papers to gpt-5-mini" in new  # fmt: skip
    tomorrow = plan("slack:C9", top_k=0, day=listing.day.replace(day=11))
    assert f"(as many papers as the latest digest, of {listing.day}, showed): {n} papers to " \
        "gpt-5-mini" in tomorrow.tldrs  # fmt: skip


def test_rerun_and_second_channel_cost_nothing(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    run(scored_store, criteria, cascade(scored_store, criteria, fake))
    calls = len(fake.requests)
    labels = scored_store.label_rows(criteria.scoring_hash)
    again = run(scored_store, criteria, cascade(scored_store, criteria, fake))
    other = run(scored_store, criteria, cascade(scored_store, criteria, fake), "slack:C2")
    assert len(fake.requests) == calls
    assert [u.total_tokens for u in again.usage + other.usage] == [0, 0]
    # each paper the LLM judged is a label for the criteria, once: a re-run adds none
    assert len(labels) == 414 and {src for _, _, src in labels} == {"llm:gpt-5-mini"}
    assert scored_store.label_rows(criteria.scoring_hash) == labels
    wanted = {pid for pid, grade, _ in labels if grade >= 0.5}
    assert wanted == {r.id for r in read_reference(REFERENCE)} & {pid for pid, _, _ in labels}
    assert [e.paper.id for e in other.selected] == [e.paper.id for e in again.selected]


def test_llm_down_falls_back_to_local_and_says_so(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    fake.fail_next("500", times=1000)
    digest = run(scored_store, criteria, cascade(scored_store, criteria, fake))
    assert digest.selected and "fell back to local" in digest.message
    judged, sent = [e for e in digest.entries if not e.followed], asked(fake)
    assert all("[local fallback]" in e.score.comment for e in judged if e.paper.id in sent)


def asked(fake: FakeOpenAI) -> set[str]:
    return {pid for ids in fake.ids_asked() for pid in ids}


def test_llm_without_usable_json_falls_back_counts_and_charges(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    """Prose for every request, re-asks included: no paper is lost, the chat header says how
    many the local scorer judged, and the wasted tokens count in usage and the budget."""
    from bot.service.outbox import digest_messages

    fake.fail_next("not_json", times=10_000)
    digest = run(scored_store, criteria, cascade(scored_store, criteria, fake))
    sent = asked(fake)
    assert len(sent) == 414 and digest.unscored == ()
    fell_back = [e for e in digest.entries if e.score.comment.startswith("[local fallback]")]
    assert {e.paper.id for e in fell_back} == sent
    header, _ = digest_messages(digest)
    assert "note: 414 papers were judged by the local scorer: the LLM failed on them" in (
        header.lines
    )
    llm = next(u for u in digest.usage if u.model == "llm:gpt-5-mini")
    assert llm.total_tokens > 0 and llm.cost and llm.cost > 0
    tldr = [u for u in digest.usage if u.model == "tldr:gpt-5-mini"]  # prose for it too
    both = [llm, *tldr]
    prompt, completion = sum(u.prompt_tokens for u in both), sum(u.completion_tokens for u in both)
    cost = sum(u.cost or 0 for u in both)
    assert (
        f"judged by {digest.scorer}; {prompt + completion:,} tokens ({prompt:,} prompt, "
        f"0 cached; {completion:,} completion, 0 reasoning), ${cost:.2f}"
    ) in " ".join(header.lines)
    assert scored_store.spent(__import__("datetime").date.today()) == pytest.approx(cost)


def test_daily_budget_caps_what_is_sent(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    scorer = cascade(scored_store, criteria, fake, PAPERDIGEST_LLM_DAILY_BUDGET="0.005")
    digest = run(scored_store, criteria, scorer)
    asked = {pid for ids in fake.ids_asked() for pid in ids}
    assert 0 < len(asked) < 414
    assert "daily LLM budget reached" in digest.message
    assert scored_store.spent(__import__("datetime").date.today()) <= 0.005 + 1e-9


def test_without_a_key_llm_is_a_clear_error(scored_store: Store, criteria: Criteria) -> None:
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="needs OPENAI_API_KEY"):
        make_scorer("llm", scored_store, criteria, load_settings(env={}), env={})
    assert (
        make_scorer("auto", scored_store, criteria, load_settings(env={}), env={}).name == "local"
    )


@pytest.fixture
def cli_env(scored_db: Path, tmp_path: Path, fake: FakeOpenAI) -> dict[str, str]:
    db = tmp_path / "cli.sqlite3"
    shutil.copy(scored_db, db)
    return env(fake, PAPERDIGEST_DATABASE_PATH=str(db), PAPERDIGEST_DIGEST_OUT_DIR=str(tmp_path))


def test_a_dry_run_of_the_cascade_stores_no_score(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    from digest.scoring.cascade import dry_run

    papers = [
        Paper(f"2699.0000{i}", f"Sparse mixture of experts, variant {i}", "We prune experts.")
        for i in range(5)
    ]
    scorer = cascade(scored_store, criteria, fake)
    line = asyncio.run(dry_run(scorer, papers, criteria))
    assert line.startswith("cascade: 3 papers to gpt-5-mini: about") and fake.requests == []
    ids = [p.id for p in papers]
    assert scored_store.scores(ids, criteria.scoring_hash, local.NAME) == {}


def test_cli_dry_run_run_usage_and_deep_why(cli_env: dict[str, str], fake: FakeOpenAI) -> None:
    runner = CliRunner()
    dry = runner.invoke(app, ["run", "--sample", "--dry-run"], env=cli_env)
    assert dry.exit_code == 0, dry.output
    flat = " ".join(dry.output.split())
    assert "cascade: 414 papers to gpt-5-mini: about" in flat and "prompt" in flat
    assert "TL;DR request (" in flat and "papers to gpt-5-mini: about" in flat.split("TL;DR")[1]
    assert "the day's LLM cost: about $" in flat
    assert fake.requests == []  # a dry run sends nothing
    fake.reasoning_tokens = 250
    done = runner.invoke(app, ["run", "--sample"], env=cli_env)
    assert done.exit_code == 0, done.output
    assert "judged by cascade:llm:gpt-5-mini@0.6" in " ".join(done.output.split())
    usage = runner.invoke(app, ["usage"], env={**cli_env, "COLUMNS": "150"})
    assert "llm:gpt-5-mini" in usage.output and "$" in usage.output
    row = next(line for line in usage.output.splitlines() if "llm:gpt-5-mini" in line)
    assert "reasoning" in usage.output and f"{250 * len(fake.scoring_requests()):,}" in row
    assert "tldr:gpt-5-mini" in usage.output  # the digest's TL;DR request, counted apart
    assert all(b["reasoning_effort"] == "low" for b in fake.requests)
    assert all(b["max_completion_tokens"] == 16000 and "max_tokens" not in b for b in fake.requests)
    fake.answer_next("It matches Model Compression: a low-rank Adam; novel two-sided sync.")
    deep = runner.invoke(app, ["why", "2602.08007", "--deep"], env=cli_env)
    assert deep.exit_code == 0, deep.output
    assert "low-rank Adam" in deep.output
    asked = len(fake.requests)
    again = runner.invoke(app, ["why", "2602.08007", "--deep"], env=cli_env)
    assert "low-rank Adam" in again.output and len(fake.requests) == asked  # cached
    for result in (dry, done, usage, deep, again):
        assert KEY not in result.output


def test_cli_score_records_usage_and_summarises_on_stderr(
    cli_env: dict[str, str], fake: FakeOpenAI, tmp_path: Path
) -> None:
    import json

    from digest.papers import dump_paper

    listing = tmp_path / "five.jsonl"
    papers = sample_listing().papers[:5]
    listing.write_text("".join(json.dumps(dump_paper(p)) + "\n" for p in papers))
    fake.fail_next("not_json", times=100)
    runner = CliRunner()
    done = runner.invoke(app, ["score", "-i", str(listing), "--scorer", "llm"], env=cli_env)
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["id"] for line in lines] == [p.id for p in papers]
    summary = " ".join(done.stderr.split())
    assert "scored 5 of 5 papers with llm:gpt-5-mini" in summary
    assert "5 by the local scorer after the LLM failed on them" in summary
    assert "recorded in `paperdigest usage`" in summary
    usage = runner.invoke(app, ["usage"], env={**cli_env, "COLUMNS": "150"})
    assert "llm:gpt-5-mini" in usage.output


def test_learning_from_the_llm_shrinks_what_the_cascade_sends(
    scored_store: Store, criteria: Criteria, fake: FakeOpenAI
) -> None:
    """Day 1: the LLM judges 414 papers and wants 80; before day 2 the local model is refitted,
    and each judged paper is scored by a model that never trained on it, which calibrates the
    model's score to the chance of an LLM pick. The next cascade chooses its share from the
    day's papers: the smallest top share whose unsent papers hold at most 3% of the day's
    expected picks, never above the configured 0.6 (after one day's one-sided labels it stays
    near it; benchmarks/learning_replay.py shows it falling over days); status shows that
    share and the recall it keeps of the measured picks. A cascade of another model is another
    name: no stale scores."""
    from datetime import date

    import numpy as np

    from digest.pipeline import learn_for_day
    from digest.scoring.factory import cascade_fraction
    from digest.scoring.learning import RECALL, day_share, measured_recall, picked_chance
    from digest.status import status_report
    from digest.subscriptions import Subscription

    run(scored_store, criteria, cascade(scored_store, criteria, fake))
    learned = asyncio.run(learn_for_day(scored_store, criteria, date(2026, 2, 11)))
    assert learned.startswith("learned from 414 labelled papers (80 wanted"), learned
    model = scored_store.model(criteria.scoring_hash, "local")
    assert model["calibration"]["on"] == 414 and len(model["measured"]) == 80
    tomorrow = cascade(scored_store, criteria, fake)
    assert tomorrow.name == f"cascade:llm:gpt-5-mini@cut-{model['id']}"

    papers = sample_listing().papers
    local = asyncio.run(tomorrow.local.score(papers, criteria))
    sent, unsent = tomorrow.split(local, papers)
    settings = load_settings(env={})
    raw = np.sort([s.raw for s in local])[::-1]
    assert tomorrow.fraction == cascade_fraction(settings, model, raw)
    assert 0.2 <= tomorrow.fraction <= 0.6 and len(sent) == math.ceil(
        tomorrow.fraction * len(papers)
    )
    chance = np.sort(picked_chance(model["calibration"], raw))[::-1]  # best-scored first
    cut = day_share(model["calibration"], raw)  # in whole papers: the share sent rounds it up
    assert tomorrow.fraction == math.ceil(round(cut * 100, 6)) / 100
    kept = round(cut * len(papers))
    assert chance[kept:].sum() <= 0.03 * chance.sum() < chance[kept - 1 :].sum()
    assert {p.id for p in unsent} <= {s.paper_id for s in local if s.raw <= raw[kept - 1]}

    scored_store.save_subscription(Subscription(id="default", platform="terminal", chat="x"))
    scored_store.save_criteria("default", criteria.to_text(), criteria.hash)
    learning = status_report(scored_store)["subscriptions"][0]["learning"]
    assert learning["cascade_share"] == cascade_fraction(settings, model) <= 0.6
    assert learning["measured_recall"] == measured_recall(model, learning["cascade_share"])
    assert learning["measured_recall"] >= RECALL > measured_recall(model, 0.2)
    assert learning["measured_on"].startswith("the LLM's 80 picks among 414 papers")


def test_eval_of_several_days_with_the_llm(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Several days scored by the LLM in one eval: one client, one event loop, every day."""
    import json

    sample = Path(__file__).parent.parent / "digest" / "data" / "sample-2026-02-10.jsonl"
    lines = sample.read_text().splitlines(keepends=True)
    for day, part in (("2026-02-09", lines[:20]), ("2026-02-10", lines[20:40])):
        (tmp_path / f"{day}.jsonl").write_text("".join(part))
    picks = {day: {json.loads(lines[i])["id"]: {} for i in (start, start + 1)}
             for day, start in (("2026-02-09", 0), ("2026-02-10", 20))}  # fmt: skip
    (tmp_path / "labels.json").write_text(json.dumps(picks))
    args = ["eval", "--listing", str(tmp_path / "2026-02-10.jsonl"), "--listing",
            str(tmp_path / "2026-02-09.jsonl"), "--labels", str(tmp_path / "labels.json"),
            "--scorer", "llm"]  # fmt: skip
    done = CliRunner().invoke(app, args, env={**cli_env, "COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    rows = [line.split("│")[1].strip() for line in done.output.splitlines() if "│" in line]
    assert rows == ["2026-02-09", "2026-02-10", "mean of 2 days"]
