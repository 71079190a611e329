"""Ask in plain words: the share of 60 questions mapped to the right command, with no LLM.

The questions (benchmarks/ask_questions.jsonl) were written before the rules: a dev half the
rules were tuned on and a held-out half they were not. Each names the command that answers it
(`expect`), or null for the 10 that should be refused or clarified. Every question is run in the
terminal chat over the bundled sample day (2026-02-10, local scorer), as `paperdigest chat`
would, and the subscription and criteria are compared before and after it: a settings change
phrased in words must be proposed, never applied (goal: 0 changed).

    python benchmarks/ask.py [--store sample.sqlite3] [--show] [--half dev|held-out]

Measured when written: dev 30/30 after tuning. The held-out half, at its first run: 29/30 right,
and 1 settings change applied without a confirmation ("unsubscribe everyone in the workspace":
a command word with stray words ran as typed). After two general fixes (a settings command that
takes no words is not run when sent with some; a reading the store cannot settle yields to the
next) both halves are 30/30, with 0 changes unconfirmed. The questions are the author's own,
so these numbers are an upper bound for people's phrasings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chat.answer import answer as handle  # noqa: E402
from bot.chat.ask import understand  # noqa: E402
from bot.chat.commands import Context, Deps  # noqa: E402
from digest.config import load_settings  # noqa: E402
from digest.criteria import Criteria, default_criteria_path  # noqa: E402
from digest.pipeline import build_digest, sample_listing  # noqa: E402
from digest.scoring.factory import make_scorer  # noqa: E402
from digest.scoring.local import LocalScorer  # noqa: E402
from digest.store import Store  # noqa: E402

QUESTIONS = Path(__file__).with_name("ask_questions.jsonl")


def normal(command: str | None) -> str | None:
    """Compare commands case-blind, words of a search in any order, `top` as `top 5`."""
    if command is None:
        return None
    words = command.lower().split()
    if words == ["top"]:
        words = ["top", "5"]
    if words[0] == "search":
        words = ["search", *sorted(words[1:])]
    return " ".join(words)


def snapshot(store: Store, sub_id: str) -> tuple:
    """What a settings change would change: the subscription and the criteria versions."""
    return store.subscription(sub_id), tuple(store.criteria_versions(sub_id))


async def run(store: Store, show: bool, half: str | None = None) -> int:
    settings = load_settings(env={})
    deps = Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
    ctx = Context("terminal", settings.digest.subscription, "you", dm=True)
    await handle("subscribe", ctx, deps)
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    questions = [q for q in questions if half is None or q["half"] == half]
    right: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    changed, proposals = 0, 0
    for q in questions:
        settled, _ = await understand(q["q"], ctx, deps)
        got = settled.command if settled is not None and not isinstance(settled, str) else None
        ok = normal(got) == normal(q["expect"])
        for table, key in ((right, q["half"]), (kinds, q["kind"])):
            table[key][0] += ok
            table[key][1] += 1
        before = snapshot(store, ctx.subscription_id)
        reply = await handle(q["q"], ctx, deps)
        if snapshot(store, ctx.subscription_id) != before:
            changed += 1
            print(f"CHANGED WITHOUT CONFIRMATION: {q['q']!r}")
        proposals += reply.title == "Change a setting?"
        if show or not ok:
            mark = "ok " if ok else "BAD"
            print(f"{mark} [{q['half']}] {q['q']!r} -> {got!r} (expected {q['expect']!r})")
    print()
    print("| half | right | of | share |")
    print("| --- | --- | --- | --- |")
    for name, (r, n) in sorted(right.items()):
        print(f"| {name} | {r} | {n} | {r / n:.0%} |")
    total_r = sum(r for r, _ in right.values())
    total_n = sum(n for _, n in right.values())
    print(f"| all | {total_r} | {total_n} | {total_r / total_n:.0%} |")
    print()
    print("| kind | right | of |")
    print("| --- | --- | --- |")
    for kind, (r, n) in kinds.items():
        print(f"| {kind} | {r} | {n} |")
    print()
    print(f"settings changes proposed: {proposals}; settings changed without a confirmation: "
          f"{changed}")  # fmt: skip
    return 0 if changed == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--store", type=Path, help="a SQLite file with the sample day (made if new)"
    )
    parser.add_argument("--show", action="store_true", help="print every question, not only misses")
    parser.add_argument("--half", choices=("dev", "held-out"), help="only this half")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "sample.sqlite3"
        fresh = not path.exists()
        store = Store(f"sqlite:///{path}")
        try:
            if fresh:
                criteria = Criteria.load(default_criteria_path())
                asyncio.run(build_digest(store, sample_listing(), criteria, LocalScorer()))
            return asyncio.run(run(store, args.show, args.half))
        finally:
            store.close()


if __name__ == "__main__":
    raise SystemExit(main())
