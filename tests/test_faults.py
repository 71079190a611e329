"""The process killed (SIGKILL) in the middle of scoring: on restart, no paper is paid twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI


def run_cli(tmp_path: Path, fake: FakeOpenAI, db: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.url,
        "PAPERDIGEST_DATABASE_PATH": str(db),
        "PAPERDIGEST_LLM_CONCURRENCY": "1",
        "PAPERDIGEST_LLM_MAX_RETRIES": "0",
        "PAPERDIGEST_SERVE_LEASE_SECONDS": "1",  # the killed run's claim on the day ends soon
        "PAPERDIGEST_DIGEST_OUT_DIR": str(tmp_path / "out"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--sample"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_during_scoring_loses_no_paid_answer(scored_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "kill.sqlite3"
    shutil.copy(scored_db, db)  # local scores cached: only the LLM part runs
    with FakeOpenAI(hang_seconds=120) as fake:
        fake.fail_next("ok")
        fake.fail_next("hang")  # the second call never returns: the process dies waiting
        first = run_cli(tmp_path, fake, db)
        fake.wait_requests(2)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        answered = set(fake.ids_asked()[0])
    with FakeOpenAI() as fake:
        second = run_cli(tmp_path, fake, db)
        assert second.wait(timeout=120) == 0, second.stderr.read()
        asked_again = {pid for ids in fake.ids_asked() for pid in ids}
    assert answered and not answered & asked_again  # paid once, kept
    assert len(answered | asked_again) == 414  # and none lost
    assert (tmp_path / "out" / "html" / "2026-02" / "2026-02-10.html").exists()
