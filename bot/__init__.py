"""paperdigest's front ends, in four packages; they use the engine (`digest`), never the reverse.

- `bot.chat`: the conversation, the same on every platform: text -> Command -> handler -> Reply
- `bot.platforms`: Slack and Telegram, which render its Replies, and which of them are on
- `bot.service`: `serve` (the web app, the schedule, the daily run), the outbox, logs
- `bot.cli`: the `paperdigest` command, one module per group of subcommands

Each package names what it offers in its own `__all__`; `bot.chat` uses neither the platforms
nor the service, the platforms do not use the service, and nothing uses the command line
(tests/test_imports.py checks). This package itself offers no names.
"""

__all__: list[str] = []
