"""LLM cost of the cascade on the dev day (2026-02-10, 692 papers), against a loopback server.

1. Prompt tokens sent per scanned paper, counted with o200k_base on the actual request bodies
   the real `openai` client sent (reference system: 114,967 prompt tokens for 852 scanned, 135
   a paper; the cascade sends whole abstracts, PAPERDIGEST_LLM_ABSTRACT_WORDS=25 the gist),
   and the share of the reference's selection that reached the LLM
   (goal >= 97%; followed authors' papers count as reached: they skip scoring by design).
2. The day's bill at the list prices of config/default.toml, for gpt-5-mini and gpt-5 with the
   fake's reasoning tokens set to 0, 200 and 1,000 per request, the digest's TL;DR request
   included: papers sent, requests, prompt / cached / completion tokens per scanned paper (as
   the fake counts them, o200k_base; cached as OpenAI's prompt cache would serve them: a prefix
   of 1,024 tokens or more shared with a prompt answered earlier, in steps of 128) and dollars
   for the day, also scaled to a 700-paper day. The judge agrees with the reference: its picks
   9/8, every other paper 4/5, so those get no comment. The fake's TL;DRs are 25 words of the
   abstract, as long as a real one. The TL;DR request is the chat digest's (bot.top_k, 10
   papers); the page of every selected paper (`run`, top_k 0) asks for all of them: its own
   column. The cascade sends ceil(0.6 x 690) = 414 of 692 papers (59.8%: the goal's 60%) until
   the local model is calibrated; then the share it needs per day (benchmarks/learning_replay.py:
   0.50 on average), the last line. The last two columns: completion tokens (reasoning
   included) per paper the judge was sent, and per TL;DR the chat's request wrote: the defaults
   a dry run estimates with before the store has its own (cascade.COMPLETION_TOKENS_PER_PAPER,
   tldr.COMPLETION_PER_TLDR).
3. Wall time with the server answering each call after 2 s, sequential (concurrency 1) against
   the default concurrency (goal: within 1.5x of 2 s x (ceil(batches / concurrency) + 1), the
   TL;DR request coming after the scoring).

    python benchmarks/llm_cascade.py [--no-timing]
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import load_settings  # noqa: E402
from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.evaluation import read_reference  # noqa: E402
from digest.papers import read_sample  # noqa: E402
from digest.pipeline import build_digest, sample_listing  # noqa: E402
from digest.ranking import followed_in  # noqa: E402
from digest.scoring import finish  # noqa: E402
from digest.scoring.factory import make_scorer  # noqa: E402
from digest.scoring.local import LocalScorer  # noqa: E402
from digest.store import Store  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, count_tokens  # noqa: E402

REFERENCE = ROOT / "tests" / "data" / "digest-2026-02-10.txt"


CHAT_TOP_K = 10  # bot.top_k: the papers of a chat's digest, each with a TL;DR
DAY = 700  # the goal's day


def cascade_run(
    store: Store, criteria: Criteria, fake: FakeOpenAI, top_k: int = 0, language: str = "en",
    **env: str,
):  # fmt: skip
    settings = load_settings(env=env)
    keys = {"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": fake.url}
    scorer = make_scorer("cascade", store, criteria, settings, env=keys)
    start = time.perf_counter()
    work = build_digest(
        store, sample_listing(), criteria, scorer, top_k=top_k, language=language,
        subscription=f"bench-{top_k}-{language}",
    )  # fmt: skip
    digest = asyncio.run(finish(scorer, work))
    return digest, time.perf_counter() - start


def prompt_tokens(body: dict) -> int:
    return sum(count_tokens(m["content"]) for m in body["messages"])


def main() -> None:
    criteria = Criteria.load(default_criteria_path())
    papers = read_sample()
    reference = {r.id for r in read_reference(REFERENCE)}
    followed = {p.id for p in papers if followed_in(p, criteria.authors)}
    defaults = load_settings(env={})
    with tempfile.TemporaryDirectory() as tmp:
        local = asyncio.run(LocalScorer().score(papers, criteria))

        def store_with_local_scores(name: str) -> Store:
            """The local prefilter's scores are cached, so timings are the LLM's alone."""
            store = Store(f"sqlite:///{tmp}/{name}.sqlite3")
            store.save_scores(local, criteria.scoring_hash, "local")
            return store

        with FakeOpenAI() as fake:
            cascade_run(store_with_local_scores("tokens"), criteria, fake)
            bodies = fake.scoring_requests()
        sent = sum(prompt_tokens(b) for b in bodies)
        asked = {pid for ids in fake.ids_asked() for pid in ids}
        reached = len((asked | followed) & reference)
        print(f"requests: {len(bodies)}, papers sent to the LLM: {len(asked)} of {len(papers)}")
        print(f"prompt tokens sent: {sent:,} = {sent / len(papers):.1f} per scanned paper "
              f"(reference: 135)")  # fmt: skip
        print(f"reference selection that reached the LLM: {reached}/{len(reference)} = "
              f"{reached / len(reference):.1%}")  # fmt: skip
        print(f"\nthe day's bill, TL;DRs of a chat's top {CHAT_TOP_K} included (per scanned paper: "
              "prompt / cached / completion tokens)")  # fmt: skip
        print("model       reasoning/request  sent  requests  prompt  cached  completion  "
              f"$/692 papers  $/{DAY} papers  of it TL;DR  TL;DR of all selected  "
              "completion/paper: judged  TL;DR")  # fmt: skip
        for model in ("gpt-5-mini", "gpt-5"):
            for reasoning in (0, 200, 1000):
                bill(model, reasoning, store_with_local_scores, criteria, papers, reference)
        bill("gpt-5-mini", 200, store_with_local_scores, criteria, papers, reference,
             PAPERDIGEST_SCORING_CASCADE_FRACTION="0.5")  # fmt: skip
        if "--no-timing" in sys.argv:
            return
        batches = len(bodies)
        for concurrency in (1, defaults.llm.concurrency):
            fresh = store_with_local_scores(f"timing-{concurrency}")
            with FakeOpenAI(delay_seconds=2.0) as slow:
                _, wall = cascade_run(
                    fresh, criteria, slow, PAPERDIGEST_LLM_CONCURRENCY=str(concurrency)
                )
            ideal = 2.0 * (math.ceil(batches / concurrency) + 1)  # then the TL;DR request
            print(f"concurrency {concurrency}: {wall:.1f} s wall for {batches} calls of 2 s "
                  "and the TL;DR request "
                  f"(ideal {ideal:.0f} s, ratio {wall / ideal:.2f})")  # fmt: skip


def bill(model, reasoning, store_with_local_scores, criteria, papers, reference, **env) -> None:
    """One row of the bill: the cascade's day and the chat digest's TL;DR request; then the
    TL;DR request of the page of every selected paper (asked in another language, so that the
    cache does not answer it)."""
    store = store_with_local_scores(f"bill-{model}-{reasoning}-{len(env)}")
    judge = {p.id: (9, 8) if p.id in reference else (4, 5) for p in papers}
    with FakeOpenAI(judge, reasoning_tokens=reasoning, prompt_cache=True, tldr_words=25) as fake:
        digest, _ = cascade_run(store, criteria, fake, CHAT_TOP_K, PAPERDIGEST_LLM_MODEL=model,
                                **env)  # fmt: skip
        sent = len({pid for ids in fake.ids_asked() for pid in ids})
        requests = len(fake.requests)
        page, _ = cascade_run(store, criteria, fake, 0, "en-GB", PAPERDIGEST_LLM_MODEL=model)
    rows = [u for u in digest.usage if u.total_tokens]
    n = len(papers)
    prompt, cached = sum(u.prompt_tokens for u in rows), sum(u.cached_tokens for u in rows)
    completion = sum(u.completion_tokens for u in rows)
    cost = sum(u.cost or 0 for u in rows)
    tldr = sum(u.cost or 0 for u in rows if u.model.startswith("tldr:"))
    every = sum(u.cost or 0 for u in page.usage if u.model.startswith("tldr:"))
    judged = sum(u.completion_tokens for u in rows if u.model.startswith("llm:")) / sent
    tldrs = sum(u.completion_tokens for u in rows if u.model.startswith("tldr:"))
    per_tldr = tldrs / max(1, sum(e.tldr_by.startswith("llm:") for e in digest.selected))
    share = env.get("PAPERDIGEST_SCORING_CASCADE_FRACTION", "0.6")
    print(f"{model:<11} {reasoning:>17,}  {sent:>4}  {requests:>8}  {prompt / n:>6.1f}  "
          f"{cached / n:>6.1f}  {completion / n:>10.1f}  ${cost:>11.4f}  ${cost * DAY / n:>11.4f}"
          f"  ${tldr:>10.4f}  ${every:.4f} ({len(page.selected)} papers)"
          f"  {judged:>23.1f}  {per_tldr:>5.1f}"
          + ("" if share == "0.6" else f"  <- cascade share {share}"))  # fmt: skip


if __name__ == "__main__":
    main()
