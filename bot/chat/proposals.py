"""Settings changes offered, not made, and the short answer to words nothing maps.

Below both the plain-words layer (`bot.chat.ask`) and the LLM agent (`bot.chat.agent`): a rule's
or the model's proposal is stored here as the exact command, applied when the same person
answers `yes` within PROPOSAL_TTL or taps Apply.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.chat.commands import SPECS, Context, Deps, parse
from bot.chat.commands.context import _may_change
from bot.chat.replies import Button, Reply
from digest import clip

PROPOSAL_TTL = timedelta(minutes=10)

# plain sentences start with these; any other first word is a command someone mistyped
STARTERS = frozenset(
    """what whats which who whom whose when where why how is are was were do does did can could
    would will should shall may might please show give tell list find get let i im i'm we you
    any anything something hello hi hey thanks thank ok the a an my our it this that there
    write make delete send post only just keep stop start also add remove set change book
    help look search""".split()
)
_NEAR = {  # the commands a stray sentence is nearest to, by the words it shares with them
    "top 5": "top best new today highlights papers digest morning latest selected picks",
    "search <words>": "search find papers paper about on anything look topic work related any",
    "why <id or rank>": "why explain reason score scored rank left out selected how come",
    "settings": "settings subscribed subscription schedule when time categories cutoffs",
    "criteria": "criteria topics topic keywords interests filter filtering looking interested",
    "follow <first and last name>": "follow author authors by everything someone track",
    "help": "help commands use can do you what",
}


def proposal_key(ctx: Context) -> str:
    """Proposals wait per person and chat."""
    return f"{ctx.platform}:{ctx.chat}:{ctx.user}"


async def propose(command: str, ctx: Context, deps: Deps) -> Reply:
    """Offer a settings change for a `yes` or a tap; refused at once for someone not allowed."""
    name = parse(command).name
    if name != "subscribe" and not _may_change(ctx, deps):
        return Reply(
            "Not allowed",
            [
                f"that would be `{command}`, but only the person who subscribed this chat, its "
                "admins and the configured paperdigest admins can change its settings."
            ],
            ephemeral=True,
            error=True,
        )
    deps.store.propose(proposal_key(ctx), ctx.who, command, PROPOSAL_TTL)
    minutes = int(PROPOSAL_TTL.total_seconds() // 60)
    return Reply(
        "Change a setting?",
        [
            f"`{command}`: {SPECS[name].summary}",
            f"Nothing has changed yet. Answer `yes` within {minutes} minutes"
            + ("" if ctx.platform == "terminal" else " (or tap Apply)")
            + " to apply it, `no` to drop it; sending the command itself applies it too.",
        ],
        ephemeral=True,
        buttons=[Button("Apply", command)],
    )


def did_you_mean(text: str) -> Reply:
    """A short answer to words no rule maps: the two nearest commands, and `help`."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    ranked = sorted(_NEAR, key=lambda c: -len(words & set(_NEAR[c].split())))
    first = (text.split() or [""])[0].strip("?!.,").lower()
    title = "Not sure what you mean" if first in STARTERS else f"I don't know '{clip(first, 40)}'"
    return Reply(
        title,
        [f"did you mean `{ranked[0]}` or `{ranked[1]}`?", "send `help` for all commands"],
        ephemeral=True,
        error=True,
    )
