"""Logging for `serve`: one line per event, human or JSON, and secrets never written."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import IO

from digest import secret_values


class Redact(logging.Filter):
    """Replace every known secret in a record's message and arguments with ***."""

    def __init__(self, values: list[str]) -> None:
        super().__init__()
        self.values = values

    def scrub(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            record.msg = self.scrub(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        return True


BAD_SIGNATURE = "Slack request with a bad signature refused"
# Bolt's signature check, sync and async: it logs a refused request's whole body at INFO.
BOLT_VERIFICATION = ("slack_bolt.RequestVerification", "slack_bolt.AsyncRequestVerification")
# Routine lines on every start or every job run (alembic's "Context impl ...", APScheduler's
# "Running job ..." each minute): only their warnings and errors are events.
QUIET = ("httpx", "alembic", "apscheduler")  # httpx's request lines also carry bot tokens


class BadSignature(logging.Filter):
    """Bolt's "Invalid request signature detected (..., body: ...)" becomes one WARNING line
    without the body: a forged request's body (with its `token` field) is never written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Invalid request signature"):
            record.msg, record.args = BAD_SIGNATURE, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


FORMATS = ("human", "json")


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message; `error_id` when the line is
    a failed request's (the id the person was given); `traceback` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if error_id := getattr(record, "error_id", None):
            line["error_id"] = error_id
        if record.exc_info:
            line["traceback"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def handler(
    env: dict[str, str] | None = None, log_format: str = "human", stream: IO[str] | None = None
) -> logging.Handler:
    """A stream handler (stderr) in `log_format` that redacts every secret of `env`."""
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r}: one of {', '.join(FORMATS)}")
    out = logging.StreamHandler(stream)
    human = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    out.setFormatter(JsonLines() if log_format == "json" else human)
    out.addFilter(Redact(secret_values(env)))
    return out


def setup(
    level: int = logging.INFO, env: dict[str, str] | None = None, log_format: str = "human"
) -> None:
    """One line per event (human: time, level, logger, message; or JSON); secrets redacted."""
    logging.basicConfig(level=level, handlers=[handler(env, log_format)], force=True)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for name in BOLT_VERIFICATION:  # on the logger: every handler (and pytest's) sees the fix
        bolt = logging.getLogger(name)
        if not any(isinstance(f, BadSignature) for f in bolt.filters):
            bolt.addFilter(BadSignature())
