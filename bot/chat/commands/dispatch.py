"""Running one command: `handle` parses it, checks who may change settings and calls the
handler of its family; `writes` and `is_slow` tell the front ends about a command; `help`.
"""

from __future__ import annotations

import difflib

from bot.chat.commands import (
    criteria,
    examples,
    library,
    ratings,
    reading,
    settings,
    subscriptions,
)
from bot.chat.commands.context import Context, Deps, _may_change, not_allowed
from bot.chat.commands.parser import HOW_TO_ASK, SPECS, Command, Spec, parse
from bot.chat.replies import Reply
from digest import DigestError, UsageError, clip


async def handle(text: str, ctx: Context, deps: Deps) -> Reply:
    """Parse and run one command as typed; errors a person can act on become error Replies.
    Front ends call `bot.chat.answer.answer`, which reads plain words first."""
    try:
        command = parse(text)
        spec = SPECS[command.name]
        if spec.writes and command.name != "subscribe" and not _may_change(ctx, deps):
            return not_allowed()
        return await HANDLERS[command.name](command, ctx, deps)
    except UsageError as exc:
        return Reply("Wrong arguments", [str(exc)], ephemeral=True, error=True)
    except DigestError as exc:
        return Reply("Sorry", [str(exc)], ephemeral=True, error=True)


def _spec(text: str) -> Spec:
    """The spec of the command in `text`; a plain one for text that is no command."""
    try:
        return SPECS[parse(text).name]
    except UsageError:
        return Spec("", "")


def writes(text: str) -> bool:
    """True when the command changes the chat's settings (only some people may)."""
    return _spec(text).writes


def is_slow(text: str) -> bool:
    """True when the command may take seconds (the front end acknowledges first)."""
    return _spec(text).slow


async def _help(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if cmd.args == ("unknown",):
        return _unknown(cmd.rest.split()[0])
    lines = [f"`{spec.usage}`: {spec.summary}" for name, spec in SPECS.items() if name != "rate"]
    how = HOW_TO_ASK.get(ctx.platform)
    return Reply("paperdigest commands", [how, *lines] if how else lines, ephemeral=True)


def _unknown(word: str) -> Reply:
    """One short answer to an unknown word: the closest command names, and `help`."""
    word = clip(word, 40)
    names = sorted({name.split()[0] for name in SPECS if name != "rate"})
    close = difflib.get_close_matches(word.lower().lstrip("/"), names, n=3, cutoff=0.6)
    lines = [f"did you mean {' or '.join(f'`{name}`' for name in close)}?"] if close else []
    lines.append("send `help` for all commands")
    return Reply(f"I don't know '{word}'", lines, ephemeral=True, error=True)


HANDLERS = {
    "help": _help,
    **subscriptions.HANDLERS,
    **settings.HANDLERS,
    **criteria.HANDLERS,
    **reading.HANDLERS,
    **ratings.HANDLERS,
    **examples.HANDLERS,
    **library.HANDLERS,
}
assert set(HANDLERS) == set(SPECS)
