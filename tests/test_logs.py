"""Secrets never reach a log line, whatever logs them; `serve --log-format json` writes one JSON
object a line, with the error id a person was given."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
from pathlib import Path

from bot.platforms.failures import failed
from bot.service.logs import Redact, handler
from digest import secret_values
from tests.conftest import logged, start_serve


def test_secret_values_are_redacted_from_messages_and_tracebacks() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1234-abcd", "OPENAI_API_KEY": "sk-live-987", "HOME": "/root"}
    values = secret_values(env)
    assert values == ["xoxb-1234-abcd", "sk-live-987"]
    redact = Redact(values)
    record = logging.LogRecord(
        "x", logging.ERROR, "f", 1, "POST /bot%s/getMe", ("xoxb-1234-abcd",), None
    )
    try:
        raise RuntimeError("auth failed for sk-live-987")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert redact.filter(record)
    line = logging.Formatter().format(record)
    assert "xoxb-1234-abcd" not in line and "sk-live-987" not in line
    assert "POST /bot***/getMe" in line and "auth failed for ***" in line


def test_json_lines_carry_the_error_id_the_person_got_and_no_secret() -> None:
    stream = io.StringIO()
    out = handler({"SLACK_BOT_TOKEN": "xoxb-1234-abcd"}, "json", stream)
    logger = logging.getLogger("bot.platforms.failures")
    logger.addHandler(out)
    try:
        try:
            raise RuntimeError("posting with xoxb-1234-abcd failed")
        except RuntimeError as exc:
            said = failed(exc, "slack answer_command", "Slack", lambda e: False)
    finally:
        logger.removeHandler(out)
    [record] = [json.loads(line) for line in stream.getvalue().splitlines()]
    found = re.search(r"error id ([0-9a-f]{8})", said)
    assert found and record["error_id"] == found[1] and record["level"] == "ERROR"
    assert record["logger"] == "bot.platforms.failures" and "RuntimeError" in record["traceback"]
    assert "xoxb-1234-abcd" not in stream.getvalue() and "posting with ***" in record["traceback"]


def test_serve_logs_one_json_object_a_line(tmp_path: Path) -> None:
    proc = start_serve(tmp_path, "--log-format", "json")
    seen: list[str] = []
    try:
        logged(proc, "healthz on", seen)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
    assert proc.stderr is not None
    records = [json.loads(line) for line in [*seen, *proc.stderr.read().splitlines()]]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("stopped" in r["message"] for r in records)
