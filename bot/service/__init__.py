"""The service: what runs every day whether or not anyone asks.

`serve` runs one asyncio loop: the web app (`web`: /healthz, /status, Slack's and Telegram's
webhooks), the platforms' bots, and APScheduler's jobs (`schedule`: each subscription's day at
its hour, retries, the outbox's due messages), with every side effect claimed once in the store
so that any number of workers share the work. `daily` builds a day's digests and hands them to
the outbox (`outbox`: each message posted exactly once, in order, paced and retried; its
messages wait in one line per worker for the bot's moments, `moments`); `logs`
writes one line per event, secrets redacted.

These names are what the terminal (`paperdigest serve`, `paperdigest post`) uses. Nothing in
`bot.chat` or `bot.platforms` imports this package (tests/test_imports.py checks).
"""

from bot.service.daily import DayReport, post_day
from bot.service.logs import setup as setup_logging
from bot.service.serve import serve  # here `serve` is the function

__all__ = ["DayReport", "post_day", "serve", "setup_logging"]
