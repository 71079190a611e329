"""The local scorer's speed on the sample day (692 papers), as a user meets it.

Part 1, `--options`: where the embedding's CPU goes. The day is encoded under each option of
digest.scoring.embedding.Options (token limit, batch, texts run at once, spinning, graph
optimisation); wall and CPU seconds, best of --repeat, and the least cosine to the default's
vectors. The token limit's cost in quality is measured by benchmarks/local_quality.py.

Part 2, `--commands` (the default): whole processes, best of --repeat, each in an empty or a
kept store as the row says: `score` of a day (2025-11-18) cold and again, `run --sample` cold
(its vectors bundled) and again (and its peak memory), and `criteria add` + `preview` in a warm
process (as a chat meets them).

    python benchmarks/local_speed.py [--options] [--commands] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LISTING = ROOT.parent / "shared" / "data" / "arxiv" / "2026-02-10.jsonl"
# `score` cold: not the sample day, whose vectors are bundled (it would embed none of it)
UNSEEN = ROOT.parent / "shared" / "data" / "arxiv" / "2025-11-18.jsonl"


def child(command: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall s, CPU s and peak resident MB of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def best(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def row(label: str, figures: tuple[float, float, float]) -> None:
    wall, cpu, peak = figures
    print(f"{label:<58} {wall:7.2f} s wall {cpu:7.2f} CPU-s {peak:6.0f} MB peak", flush=True)


def commands(repeat: int) -> None:
    exe = shutil.which("paperdigest") or str(Path(sys.executable).parent / "paperdigest")
    score = [exe, "score", "--input", str(UNSEEN), "--scorer", "local"]
    print(f"whole processes, best of {repeat} (wall, CPU: least; memory: most)")
    cold, again, run_cold, run_again = [], [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "PAPERDIGEST_DATABASE_PATH": f"{tmp}/speed.sqlite3"}
            cold.append(child(score, tmp, env))
            again.append(child(score, tmp, env))
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "PAPERDIGEST_DATABASE_PATH": f"{tmp}/speed.sqlite3"}
            run_cold.append(child([exe, "run", "--sample"], tmp, env))
            run_again.append(child([exe, "run", "--sample"], tmp, env))
    row("paperdigest score (2025-11-18.jsonl), empty store", best(cold))
    row("paperdigest score again (embeddings kept)", best(again))
    row("paperdigest run --sample, empty store (vectors bundled)", best(run_cold))
    row("paperdigest run --sample again", best(run_again))
    chat_speed(repeat)


def chat_speed(repeat: int) -> None:
    """`criteria add` then `preview` on a day already embedded, in one warm process."""
    from bot.chat.commands import Context, Deps, handle
    from digest.config import load_settings
    from digest.criteria import Criteria, default_criteria_path
    from digest.pipeline import build_digest, sample_listing
    from digest.scoring.factory import make_scorer
    from digest.store import Store

    settings = load_settings(env={})
    ctx = Context("slack", "C1", "UOWNER", "owner")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/chat.sqlite3")
        deps = Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
        assert asyncio.run(handle("subscribe", ctx, deps)).title == "Subscribed"
        sub = store.subscription("slack:C1")
        criteria = Criteria.load(default_criteria_path())
        scorer = make_scorer("local", store, criteria, settings)
        work = build_digest(store, sample_listing(), criteria, scorer, subscription=sub.id,
                            cutoffs=sub.cutoffs, top_k=sub.top_k)  # fmt: skip
        asyncio.run(work)
        times = []
        for i in range(repeat):  # a new topic each time: nothing is scored under it yet
            start, cpu = time.perf_counter(), time.process_time()
            topic = f"criteria add Graph Learning {i}: message passing, over-smoothing"
            assert not asyncio.run(handle(topic, ctx, deps)).error
            reply = asyncio.run(handle("preview", ctx, deps))
            assert "would be selected" in reply.lines[0], reply.text()
            times.append((time.perf_counter() - start, time.process_time() - cpu, 0.0))
            assert not asyncio.run(handle("criteria undo", ctx, deps)).error
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row("criteria add + preview, day embedded (warm process)", (*best(times)[:2], peak))
        store.close()


def options(repeat: int) -> None:
    from digest.papers import read_listing
    from digest.scoring import embedding
    from digest.scoring.embedding import DEFAULT, Options

    texts = [p.text for p in read_listing(LISTING)]
    variants: list[tuple[str, Options]] = [
        ("default", DEFAULT),
        ("batch 4", replace(DEFAULT, batch=4)),
        ("batch 32 (sorted lengths)", replace(DEFAULT, batch=32)),
        ("one text at a time (1 ORT thread)", replace(DEFAULT, threads=1)),
        ("spinning threads (ORT's default)", replace(DEFAULT, spinning=True)),
        ("no memory arena", replace(DEFAULT, arena=False)),
        ("graph optimisation basic", replace(DEFAULT, optimisation="basic")),
        ("128 tokens", replace(DEFAULT, max_tokens=128)),
        ("before: batch 32, spinning", replace(DEFAULT, batch=32, spinning=True)),
    ]
    tokens = [len(e.ids) for e in embedding._tokenizer(512).encode_batch(texts)]
    print(
        f"{len(texts)} texts: {sum(tokens) / len(tokens):.0f} tokens on average, "
        f"{sum(t > 256 for t in tokens)} over 256, {sum(t > 128 for t in tokens)} over 128"
    )
    start = time.perf_counter()
    embedding._tokenizer(DEFAULT.max_tokens).encode_batch(texts)
    print(f"tokenizer alone: {time.perf_counter() - start:.2f} s wall")
    print(f"encoding the day, best of {repeat}")
    reference = None
    for label, option in variants:
        embedding.encode(texts[:4], option)  # the session is made outside the timing
        walls, cpus = [], []
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            vectors = embedding.encode(texts, option)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        reference = vectors if reference is None else reference
        least = float((vectors * reference).sum(1).min())
        print(
            f"{label:<30} {min(walls):7.2f} s wall {min(cpus):7.2f} CPU-s  "
            f"least cosine to default {least:.3f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--options", action="store_true", help="encode under each option")
    parser.add_argument("--commands", action="store_true", help="whole commands (default)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.options:
        options(args.repeat)
    if args.commands or not args.options:
        commands(args.repeat)


if __name__ == "__main__":
    main()
