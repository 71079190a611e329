"""Logging for `serve`: structured lines, and secrets never written."""

from __future__ import annotations

import logging
import os
import re

SECRET_NAME = re.compile(r"(TOKEN|SECRET|KEY|PASSWORD)", re.I)


def secrets(env: dict[str, str] | None = None) -> list[str]:
    """Values of the environment's secret-looking variables, longest first."""
    env = dict(os.environ if env is None else env)
    values = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 6}
    return sorted(values, key=len, reverse=True)


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


def setup(level: int = logging.INFO, env: dict[str, str] | None = None) -> None:
    """One line per event: time, level, logger, message; secrets redacted everywhere."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(Redact(secrets(env)))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines carry bot tokens
