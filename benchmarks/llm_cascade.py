"""LLM cost of the cascade on the dev day (2026-02-10, 692 papers), against a loopback server.

1. Prompt tokens sent per scanned paper, counted with o200k_base on the actual request bodies
   the real `openai` client sent (reference system: 114,967 prompt tokens for 852 scanned, 135
   a paper; the cascade sends whole abstracts, PAPERDIGEST_LLM_ABSTRACT_WORDS=25 the gist),
   and the share of the reference's selection that reached the LLM
   (goal >= 97%; followed authors' papers count as reached: they skip scoring by design).
2. The day's bill at the list prices of config/default.toml, for gpt-5-mini and gpt-5 with the
   fake's reasoning tokens set to 0, 200 and 1,000 per request: papers sent, prompt / cached /
   completion tokens per scanned paper (as the fake counts them, o200k_base; it reports no cached
   tokens, so the dollars are without prompt caching) and dollars for the day. The judge agrees
   with the reference: its picks 9/8, every other paper 4/5, so those get no comment.
3. Wall time with the server answering each call after 2 s, sequential (concurrency 1) against
   the default concurrency (goal: within 1.5x of 2 s x ceil(batches / concurrency)).

    python benchmarks/llm_cascade.py
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
from digest.scoring.factory import make_scorer  # noqa: E402
from digest.scoring.local import LocalScorer  # noqa: E402
from digest.store import Store  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, count_tokens  # noqa: E402

REFERENCE = ROOT / "tests" / "data" / "digest-2026-02-10.txt"


def cascade_run(store: Store, criteria: Criteria, fake: FakeOpenAI, **env: str):
    settings = load_settings(env=env)
    keys = {"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": fake.url}
    scorer = make_scorer("cascade", store, criteria, settings, env=keys)
    start = time.perf_counter()
    digest = asyncio.run(build_digest(store, sample_listing(), criteria, scorer))
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
            bodies = fake.requests
        sent = sum(prompt_tokens(b) for b in bodies)
        asked = {pid for ids in fake.ids_asked() for pid in ids}
        reached = len((asked | followed) & reference)
        print(f"requests: {len(bodies)}, papers sent to the LLM: {len(asked)} of {len(papers)}")
        print(f"prompt tokens sent: {sent:,} = {sent / len(papers):.1f} per scanned paper "
              f"(reference: 135)")  # fmt: skip
        print(f"reference selection that reached the LLM: {reached}/{len(reference)} = "
              f"{reached / len(reference):.1%}")  # fmt: skip
        print("model       reasoning/request  sent  prompt  cached  completion  per scanned, $/day")
        for model in ("gpt-5-mini", "gpt-5"):
            for reasoning in (0, 200, 1000):
                store = store_with_local_scores(f"bill-{model}-{reasoning}")
                judge = {p.id: (9, 8) if p.id in reference else (4, 5) for p in papers}
                with FakeOpenAI(judge, reasoning_tokens=reasoning) as billed:
                    digest, _ = cascade_run(store, criteria, billed, PAPERDIGEST_LLM_MODEL=model)
                    sent_papers = len({pid for ids in billed.ids_asked() for pid in ids})
                u = next(u for u in digest.usage if u.model == f"llm:{model}")
                n = len(papers)
                print(f"{model:<11} {reasoning:>17,}  {sent_papers:>4}  "
                      f"{u.prompt_tokens / n:>6.1f}  {u.cached_tokens / n:>6.1f}  "
                      f"{u.completion_tokens / n:>10.1f}  ${u.cost:.4f}")  # fmt: skip
        batches = len(bodies)
        for concurrency in (1, defaults.llm.concurrency):
            fresh = store_with_local_scores(f"timing-{concurrency}")
            with FakeOpenAI(delay_seconds=2.0) as slow:
                _, wall = cascade_run(
                    fresh, criteria, slow, PAPERDIGEST_LLM_CONCURRENCY=str(concurrency)
                )
            ideal = 2.0 * math.ceil(batches / concurrency)
            print(f"concurrency {concurrency}: {wall:.1f} s wall for {batches} calls of 2 s "
                  f"(ideal {ideal:.0f} s, ratio {wall / ideal:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
