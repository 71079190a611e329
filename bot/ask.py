"""Ask in plain words: the layer in front of the command core.

`handle` calls `ask` first. A command as typed (`top 3`, `why 2602.08007`) passes through
untouched (`ask` returns None). Plain words become the command that answers them (the rules of
`bot.phrasing`), which runs, and the answer says which one ran so people learn the short form.
A settings change in words is only proposed: the exact command, applied when the same person
answers `yes` (a row in the store, lasting PROPOSAL_TTL) or taps Apply (a button carrying the
command, which runs through `handle` like any typed command). Either way `handle` checks who
may change settings. Words no rule maps go to the LLM agent when a key is set, else get a short
"did you mean" with the two closest commands.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta

from bot.commands import (
    ALIASES,
    SPECS,
    Command,
    Context,
    Deps,
    UsageError,
    _may_change,
    handle,
    parse,
)
from bot.phrasing import _NAME, ID, Interpretation, _plain, interpret, readings, resolve
from bot.replies import Button, Reply
from digest.errors import DigestError, clip

PROPOSAL_TTL = timedelta(minutes=10)
COMMAND_WORDS = frozenset(
    {name.split()[0] for name in SPECS} | {alias for names in ALIASES.values() for alias in names}
)
YES = frozenset(
    "yes|y|yep|yeah|yup|sure|ok|okay|confirm|confirmed|do it|apply|apply it|go ahead|"
    "yes please|please do|yes do it|correct".split("|")
)
NO = frozenset("no|n|nope|cancel|never mind|nevermind|no thanks|drop it|forget it".split("|"))
_FILLER = frozenset(
    "papers paper today today's todays please now for me of the this morning day digest in "
    "what are is best new".split()
)
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


async def ask(text: str, ctx: Context, deps: Deps) -> Reply | None:
    """The Reply for plain words, or None when `text` is a command to run as typed."""
    try:
        return await _ask(text, ctx, deps)
    except DigestError as exc:
        return Reply("Sorry", [str(exc)], ephemeral=True, error=True)


async def _ask(text: str, ctx: Context, deps: Deps) -> Reply | None:
    said = re.sub(r"[\s.!]+$", "", _plain(text))
    if not said.strip():
        return None  # nothing said: the core answers with help
    if said in YES or said in NO:
        return await _answer_proposal(said in YES, ctx, deps)
    settled, typed = await understand(text, ctx, deps)
    if isinstance(settled, str):
        return Reply("Which one?", [settled], ephemeral=True)
    if settled is None:
        return None if typed else await _unmapped(text, ctx, deps)
    if settled.changes:
        return await propose(settled.command, ctx, deps)
    reply = await handle(settled.command, ctx, deps)
    reply.lines.insert(0, settled.note)
    return reply


async def understand(
    text: str, ctx: Context, deps: Deps
) -> tuple[Interpretation | str | None, bool]:
    """(the command the words mean, settled against the store, or a clarifying question, or
    None; whether `text` starts with a command word and so runs as typed when None)."""
    try:
        command = parse(text)
    except UsageError:
        return None, True  # `criteria rename`: the core answers with the usage
    typed = _first_word(text) in COMMAND_WORDS  # else the core's own reading was of words
    if typed and (extra := _extra_words(command)):
        return extra, typed
    found = _reread(command, text) if typed else None
    candidates = ([found] if found else []) if typed else readings(text)
    for candidate in candidates:
        if (settled := await resolve(candidate, ctx, deps)) is not None:
            return settled, typed
    return None, typed


def _extra_words(command: Command) -> str | None:
    """A settings change that takes no words, sent with some (`unsubscribe everyone`), is not
    run: what the words ask may not be what the command does."""
    usage = SPECS[command.name].usage
    if SPECS[command.name].writes and command.rest and "<" not in usage and "[" not in usage:
        return (
            f"`{command.name}` takes no words and acts on this chat only; send `{command.name}` "
            "alone to do that"
        )
    return None


def _first_word(text: str) -> str:
    text = re.sub(r"^/?\s*(?:(?:paper)?digest\b)?\s*/?", "", text.strip(), flags=re.I)
    return text.split(maxsplit=1)[0].split("@")[0].lower() if text else ""


def _reread(command: Command, text: str) -> Interpretation | None:
    """A text that starts with a command word is that command, unless its words do not fit
    and plainly mean something the command can do: `top papers today`, `why is #3 in`,
    `search for papers about X`, `follow papers by Yann LeCun`. None: run as typed."""
    name, args, rest = command.name, command.args, command.rest
    if name == "why":
        if len(args) == 1 and not args[0].isdigit() and not ID.search(rest):
            return Interpretation("why", paper=args[0])  # `why DeltaKV`; if no title fits, as typed
        if len(args) == 1:
            return None
        if found_id := ID.search(rest):  # `why did 2602.08923 score 10?`
            return Interpretation(f"why {found_id.group(1)}")
        found = interpret(text)
        return found if found and found.name == "why" else None
    if name == "top":
        left = [a for a in args if a.lower() not in _FILLER]
        if not args or (len(args) == 1 and args[0].isdigit()) or len(left) > 1:
            return None
        if not left:
            return Interpretation("top")
        found = interpret(text)
        return found if found and found.name == "top" and found.command != "top" else None
    if name == "search":  # `search for papers about X`: the words of the topic only
        if not re.match(r"(?:for|me|papers?|anything|something|work|articles?)\b", rest, re.I):
            return None
        found = interpret(text)
        if found and found.name == "search" and found.command != f"search {rest}":
            return found
        return None
    if name in ("follow", "unfollow") and rest and not re.fullmatch(_NAME, rest):
        found = interpret(text)
        return found if found and found.name == name else None
    if name == "schedule" and len(args) != 2:
        found = interpret(text)
        return found if found and found.name == "schedule" else None
    return None


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


async def _answer_proposal(yes: bool, ctx: Context, deps: Deps) -> Reply:
    key = proposal_key(ctx)
    command = deps.store.take_proposal(key) if yes else deps.store.drop_proposal(key)
    if command is None:
        return Reply(
            "Nothing to confirm",
            ["no settings change is waiting for your answer here (a proposal lasts "
             f"{int(PROPOSAL_TTL.total_seconds() // 60)} minutes)"],
            ephemeral=True,
        )  # fmt: skip
    if not yes:
        return Reply("Dropped", [f"`{command}` was not applied; nothing changed"], ephemeral=True)
    reply = await handle(command, ctx, deps)
    reply.lines.insert(0, f"(ran `{command}`)")
    return reply


async def _unmapped(text: str, ctx: Context, deps: Deps) -> Reply | None:
    """The LLM agent when a key is set; else the two nearest commands (None: one mistyped
    command word, which the core answers with the command names it resembles)."""
    from bot import agent

    word = text.strip().lstrip("/").lower()
    if len(text.split()) < 2 and difflib.get_close_matches(word, COMMAND_WORDS, cutoff=0.6):
        return None  # `subscibe`: the core names the command it resembles
    if agent.configured():
        return await agent.answer(text, ctx, deps)
    return did_you_mean(text)


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
