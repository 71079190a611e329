"""The research criteria: `criteria` shows them; `criteria add|remove|set|undo` and `follow`,
`unfollow` store a new version; `criteria history` lists them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.chat.commands.context import Context, Deps, _criteria
from bot.chat.commands.parser import Command, _int, _usage
from bot.chat.replies import Reply
from digest import Criteria, CriteriaError, Topic, UsageError, change_criteria, same_author


async def _save_criteria(deps: Deps, ctx: Context, criteria: Criteria) -> tuple[int, list[str]]:
    """Store a new version, once it reads back as written: no edit can break a chat. Returns
    the version, and what became of the labels the local scorer learns from (if anything)."""
    try:
        checked = criteria.validated(source="the new criteria")
    except CriteriaError as exc:
        raise UsageError(str(exc)) from None
    seed = deps.settings.digest.criteria or None
    version, carried = await asyncio.to_thread(
        change_criteria, deps.store, ctx.subscription_id, checked, ctx.who, seed
    )
    return version, [carried] if carried else []


async def _criteria_show(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    version, criteria = _criteria(deps, ctx.subscription_id)
    lines = [f"{i}. {t.name}: {t.relevant}" for i, t in enumerate(criteria.topics, 1)]
    if criteria.keywords:
        lines.append(f"keywords: {', '.join(criteria.keywords)}")
    if criteria.irrelevant_keywords:
        lines.append(f"not wanted: {', '.join(criteria.irrelevant_keywords)}")
    lines.append(f"following: {', '.join(criteria.authors) or 'nobody'}")
    return Reply(f"Criteria (version {version}, {criteria.hash})", lines)


async def _criteria_add(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if not cmd.rest:
        raise UsageError(_usage("criteria add"))
    name, _, relevant = cmd.rest.partition(":")
    name, relevant = name.strip(), (relevant.strip() or name.strip())
    _, criteria = _criteria(deps, ctx.subscription_id)
    if any(t.name.lower() == name.lower() for t in criteria.topics):
        raise UsageError(f"topic '{name}' exists; remove it first or use `criteria set`")
    new = replace(criteria, topics=(*criteria.topics, Topic(name, relevant)))
    version, notes = await _save_criteria(deps, ctx, new)
    return Reply(
        "Criteria updated",
        [f"added topic {len(new.topics)}: {name}", f"now version {version}", *notes],
    )


async def _criteria_remove(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    _, criteria = _criteria(deps, ctx.subscription_id)
    if len(cmd.args) != 1 or not cmd.args[0].isdigit():
        raise UsageError(_usage("criteria remove"))
    n = _int(cmd.args[0], "criteria remove", 1, len(criteria.topics))
    gone = criteria.topics[n - 1]
    new = replace(criteria, topics=criteria.topics[: n - 1] + criteria.topics[n:])
    version, notes = await _save_criteria(deps, ctx, new)
    return Reply(
        "Criteria updated", [f"removed topic {n}: {gone.name}", f"now version {version}", *notes]
    )


async def _criteria_set(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if not cmd.rest.strip():
        raise UsageError(_usage("criteria set") + " (the format `criteria` shows, in Markdown)")
    try:
        new = Criteria.parse(cmd.rest, source="your criteria")
    except CriteriaError as exc:
        raise UsageError(str(exc)) from None
    version, notes = await _save_criteria(deps, ctx, new)
    return Reply("Criteria replaced", [f"{len(new.topics)} topics, now version {version}", *notes])


async def _criteria_undo(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    versions = deps.store.criteria_versions(ctx.subscription_id)
    if len(versions) < 2:
        raise UsageError("there is no earlier version to go back to")
    previous = versions[-2]
    criteria = Criteria.parse(previous[2], source=f"criteria v{previous[0]}")
    version, notes = await _save_criteria(deps, ctx, criteria)
    return Reply(
        "Criteria restored", [f"version {previous[0]} is back, as version {version}", *notes]
    )


async def _criteria_history(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    versions = deps.store.criteria_versions(ctx.subscription_id)
    lines = []
    for version, hash_, text in reversed(versions):
        criteria = Criteria.parse(text, source=f"criteria v{version}")
        topics = ", ".join(t.name for t in criteria.topics)
        lines.append(f"v{version} ({hash_}): {topics}")
    return Reply("Criteria history", lines or ["no versions yet"])


async def _follow(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    name = " ".join(cmd.rest.split())
    if len(name.split()) < 2:
        raise UsageError(_usage("follow") + " (first and last name, as written on arXiv)")
    _, criteria = _criteria(deps, ctx.subscription_id)
    if any(same_author(name, a) for a in criteria.authors):
        return Reply("Already following", [name])
    version, _ = await _save_criteria(deps, ctx, criteria.with_authors((*criteria.authors, name)))
    return Reply(
        "Following", [f"{name}'s papers now lead the digest", f"criteria version {version}"]
    )


async def _unfollow(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    name = " ".join(cmd.rest.split())
    if not name:
        raise UsageError(_usage("unfollow"))
    _, criteria = _criteria(deps, ctx.subscription_id)
    kept = tuple(a for a in criteria.authors if not same_author(name, a))
    if len(kept) == len(criteria.authors):
        raise UsageError(f"not following '{name}'; following: {', '.join(criteria.authors)}")
    version, _ = await _save_criteria(deps, ctx, criteria.with_authors(kept))
    return Reply("Unfollowed", [name, f"criteria version {version}"])


HANDLERS = {  # the commands this module answers
    "criteria": _criteria_show,
    "criteria add": _criteria_add,
    "criteria remove": _criteria_remove,
    "criteria set": _criteria_set,
    "criteria undo": _criteria_undo,
    "criteria history": _criteria_history,
    "follow": _follow,
    "unfollow": _unfollow,
}
