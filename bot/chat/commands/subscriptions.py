"""Subscriptions: `subscribe` (here, or `like #channel` from a channel's criteria) and
`unsubscribe`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.chat.commands.context import Context, Deps, _criteria, _subscription, _when
from bot.chat.commands.parser import Command, _usage
from bot.chat.readers import Source, sources
from bot.chat.replies import Reply
from digest import Criteria, Subscription, UsageError


async def _subscribe(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    like = await _like(cmd, ctx, deps)
    existing = deps.store.subscription(ctx.subscription_id)
    if existing and existing.active:
        return Reply("Already subscribed", [f"This chat gets its digest at {_when(existing)}."])
    problem = None if ctx.audience is None else await ctx.audience.cannot_post(ctx.chat)
    if problem:
        return Reply("Not subscribed", [problem], ephemeral=True, error=True)
    if like is not None:  # a personal digest starting from a channel's criteria and cuts
        versions = deps.store.criteria_versions(like.sub.id)
        text = versions[-1][2] if versions else _criteria(deps, like.sub.id)[1].to_text()
        copy = Criteria.parse(text, source=f"the criteria of {like.label}")
        deps.store.save_criteria(ctx.subscription_id, copy.to_text(), copy.hash, ctx.who)
        existing = replace(
            like.sub, id=ctx.subscription_id, chat=ctx.chat, subscribed_by=ctx.who, admins=()
        )
    b = deps.settings.bot
    sub = existing or Subscription(
        id=ctx.subscription_id,
        platform=ctx.platform,
        chat=ctx.chat,
        categories=deps.settings.arxiv.categories,
        relevance_cutoff=deps.settings.digest.relevance_cutoff,
        novelty_cutoff=deps.settings.digest.novelty_cutoff,
        top_k=b.top_k,
        schedule=b.schedule,
        timezone=b.timezone,
        subscribed_by=ctx.who,
    )
    if existing and existing.paused_reason == "unsubscribed":  # a run that read the chat before
        deps.store.drop_unsent(existing.id)  # `unsubscribe` queued its day after: not posted now
    sub = replace(sub, active=True, paused_reason=None, last_error=None)
    deps.store.save_subscription(sub)
    deps.changed(sub.id)
    _criteria(deps, sub.id)  # version 1, when this is the chat's first subscription
    copied = (
        [f"Your criteria start as a copy of {like.label}'s; changes here stay here."]
        if like is not None
        else []
    )
    return Reply(
        "Subscribed",
        [
            *copied,
            f"This chat gets a daily digest of {', '.join(sub.categories)} at {_when(sub)}, "
            f"the top {sub.top_k} papers with relevance >= {sub.relevance_cutoff} and "
            f"novelty >= {sub.novelty_cutoff}.",
            "Send `criteria` to see what it looks for, `help` for everything else.",
        ],
    )


async def _like(cmd: Command, ctx: Context, deps: Deps) -> Source | None:
    """`subscribe like #papers`: a channel the person is in (its name, id or Slack link)."""
    if not cmd.args:
        return None
    if len(cmd.args) != 2 or cmd.args[0].lower() != "like":
        raise UsageError(_usage("subscribe"))
    wanted = cmd.args[1]
    link = re.fullmatch(r"<#(\w+)(?:\|([^>]*))?>", wanted)  # Slack's <#C123|papers>
    keys = {wanted.lower(), wanted.lower().lstrip("#")}
    if link:
        keys |= {link.group(1).lower(), (link.group(2) or "").lower()}
    readable = await sources(deps.store, ctx.platform, "", ctx.chat, ctx.audience)
    for source in readable:
        names = {source.sub.chat.lower(), source.label.lower(), source.label.lower().lstrip("#")}
        if keys & names:
            return source
    known = ", ".join(s.label for s in readable) or "none"
    raise UsageError(f"no channel '{wanted}' with a digest that you are in; yours: {known}")


async def _unsubscribe(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    sub = _subscription(ctx, deps)
    deps.store.save_subscription(replace(sub, active=False, paused_reason="unsubscribed"))
    dropped = deps.store.drop_unsent(sub.id)  # and what is queued after this is never claimed
    deps.changed(sub.id)
    lines = ["No more daily digests here. `subscribe` brings them back."]
    if dropped:
        lines.append(f"The {dropped} queued message(s) of a digest not yet posted are dropped.")
    return Reply("Unsubscribed", lines)


HANDLERS = {  # the commands this module answers
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
}
