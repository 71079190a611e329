"""The `paperdigest` command, one module per group of subcommands.

`day`: the day's digest in the terminal (run, backfill, score, eval, learn); `chat`: talking to
the digest (why, chat, criteria); `service`: the service (usage, post, status, serve, backup).
`common` holds the app, its --config option and what the groups share. Each group module adds
its commands to the app when imported; `paperdigest --help` lists them in the order imported
here.
"""

# isort: off
from bot.cli.common import app
from bot.cli import day  # noqa: F401  (run, backfill, score, eval, learn)
from bot.cli import chat  # noqa: F401  (why, chat, criteria)
from bot.cli import service  # noqa: F401  (usage, post, status, serve, backup)

# isort: on

__all__ = ["app"]
