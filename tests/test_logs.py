"""Secrets never reach a log line, whatever logs them."""

from __future__ import annotations

import logging

from bot.service.logs import Redact
from digest import secret_values


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
