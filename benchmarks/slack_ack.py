"""Ack latency of /digest slash commands in HTTP mode on loopback (goal: p99 <= 50 ms).

The real Bolt app behind its WSGI server receives 1,000 signed slash commands; the time is
from sending the request to receiving Slack's required acknowledgement (HTTP 200). Answers
go to a loopback fake of the Web API.

    python benchmarks/slack_ack.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chat.commands import Deps  # noqa: E402
from bot.platforms.slack import build_app  # noqa: E402
from bot.service.web import build_web_app  # noqa: E402
from digest.config import load_settings  # noqa: E402
from digest.scoring.factory import make_scorer  # noqa: E402
from digest.store import Store  # noqa: E402
from tests.fakes.loopback import WebThread  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "bench-secret"


def main(n: int = 1000) -> None:
    settings = load_settings(env={})
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        store = Store(f"sqlite:///{tmp}/bench.sqlite3")
        deps = Deps(store, settings, lambda c: make_scorer("local", store, c, settings))
        bolt = build_app(deps, "xoxb-bench", SECRET, slack.url)
        server = WebThread(build_web_app(slack=bolt)).__enter__()
        url = f"http://127.0.0.1:{server.port}/slack/events"
        verifier = SignatureVerifier(SECRET)
        latencies = []
        with httpx.Client() as client:
            for i in range(n):
                body = urlencode(
                    {
                        "command": "/digest", "text": "help" if i % 2 else "settings",
                        "user_id": "U1", "channel_id": "C1", "team_id": "T1",
                        "response_url": slack.response_url(str(i)),
                    }
                )  # fmt: skip
                stamp = str(int(time.time()))
                headers = {
                    "X-Slack-Request-Timestamp": stamp,
                    "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body),
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                start = time.perf_counter()
                response = client.post(url, content=body, headers=headers)
                latencies.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text
        slack.wait_for("response_url", n, timeout=120)
        server.__exit__()
    q = statistics.quantiles(latencies, n=100)
    print(f"{n} slash commands acknowledged: p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, "
          f"max {max(latencies):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
