"""Wall time of the sample day (692 papers) through the local scorer, as a user runs it.

Cold: a fresh process and an empty store (model load, embedding, scoring, ranking, writing).
Cached: the same command again; every score comes from the store.

    python benchmarks/local_speed.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    exe = shutil.which("paperdigest") or str(Path(sys.executable).parent / "paperdigest")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PAPERDIGEST_DATABASE_PATH": f"{tmp}/speed.sqlite3"}
        cold = timed([exe, "run", "--sample"], tmp, env)
        cached = timed([exe, "run", "--sample"], tmp, env)
        score_cached = timed(
            [sys.executable, "-c", _CACHED_SCORES, f"sqlite:///{tmp}/speed.sqlite3"], tmp, env
        )
    print(f"paperdigest run --sample, cold (empty store): {cold:.2f} s wall")
    print(f"paperdigest run --sample, scores cached:      {cached:.2f} s wall (whole process)")
    print(f"reading the day's 692 cached scores:          {score_cached:.2f} s wall (process)")


_CACHED_SCORES = """
import sys, time
from digest.criteria import Criteria, default_criteria_path
from digest.papers import read_sample
from digest.store import Store
crit = Criteria.load(default_criteria_path())
ids = [p.id for p in read_sample()]
scores = Store(sys.argv[1]).scores(ids, crit.scoring_hash, "local")
assert len(scores) >= 690, len(scores)
"""

if __name__ == "__main__":
    main()
