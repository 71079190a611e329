"""Ask in plain words: the layer in front of the command core.

`bot.chat.answer.answer` calls `ask` first. A command as typed (`top 3`, `why 2602.08007`)
passes through untouched (`ask` returns None) to the core's `handle`. Plain words become the
command that answers them (the rules of `bot.chat.phrasing`), which runs, and the answer says
which one ran so people learn the short form. A settings change in words is only proposed
(`bot.chat.proposals`): the exact command, applied when the same person answers `yes` (a row in
the store, lasting PROPOSAL_TTL) or taps Apply (a button carrying the command, which runs like
any typed command).
Either way `handle` checks who may change settings. Words no rule maps go to the LLM agent
when a key is set, else get a short "did you mean" with the two closest commands.
"""

from __future__ import annotations

import difflib
import re

from bot.chat.commands import (
    COMMAND_WORDS,
    SPECS,
    Command,
    Context,
    Deps,
    UsageError,
    handle,
    parse,
)
from bot.chat.phrasing import ID, Interpretation, interpret, readings, resolve, this_paper
from bot.chat.phrasing.changes import _NAME
from bot.chat.phrasing.words import _plain
from bot.chat.proposals import PROPOSAL_TTL, did_you_mean, proposal_key, propose
from bot.chat.replies import Reply
from digest import DigestError

YES = frozenset(
    "yes|y|yep|yeah|yup|sure|ok|okay|confirm|confirmed|do it|apply|apply it|go ahead|"
    "yes please|please do|yes do it|correct".split("|")
)
NO = frozenset("no|n|nope|cancel|never mind|nevermind|no thanks|drop it|forget it".split("|"))
_FILLER = frozenset(
    "papers paper today today's todays please now for me of the this morning day digest in "
    "what are is best new".split()
)


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
    if (kind := this_paper(text)) is not None:  # "I like this one" in a paper's thread
        if ctx.paper:
            return await propose(f"{kind} {ctx.paper}", ctx, deps)
        return Reply(
            "Which paper?",
            [f"say it in the paper's thread, or name it: `{kind} <arXiv id>`"],
            ephemeral=True,
        )
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
    from bot.chat import agent  # imports openai: only for words no rule maps

    word = text.strip().lstrip("/").lower()
    if len(text.split()) < 2 and difflib.get_close_matches(word, COMMAND_WORDS, cutoff=0.6):
        return None  # `subscibe`: the core names the command it resembles
    if agent.configured():
        return await agent.answer(text, ctx, deps)
    return did_you_mean(text)
