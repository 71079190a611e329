"""Who is asking, where (Context); what handlers need from the engine (Deps); and the
lookups every family of handlers shares: the chat's subscription, its criteria, the digests
that answer here, and who may change settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.chat.readers import Audience, Source, sources
from bot.chat.replies import Reply
from digest import (
    Criteria,
    NotFoundError,
    Scorer,
    Settings,
    Store,
    Subscription,
    current_criteria,
    subscription_id,
)


@dataclass(frozen=True)
class Context:
    """Who is asking, where."""

    platform: str  # slack | telegram | terminal
    chat: str  # channel or chat id on that platform
    user: str  # user id on that platform
    user_name: str = ""
    chat_admin: bool = False  # the platform says this user administers the chat
    dm: bool = False
    audience: Audience | None = field(default=None, compare=False)  # who is in which chat
    paper: str = ""  # the arXiv id of the paper whose thread this was said in, if one

    @property
    def subscription_id(self) -> str:
        """The terminal acts on the CLI's own subscription (`digest.subscription`)."""
        return (
            self.chat if self.platform == "terminal" else subscription_id(self.platform, self.chat)
        )

    @property
    def who(self) -> str:
        return f"{self.platform}:{self.user}"


@dataclass
class Deps:
    """What handlers need from the engine."""

    store: Store
    settings: Settings
    scorer_for: Callable[[Criteria], Scorer]
    on_change: Callable[[str], None] | None = None  # a subscription's schedule or state changed

    def changed(self, sub_id: str) -> None:
        if self.on_change is not None:
            self.on_change(sub_id)


def _may_change(ctx: Context, deps: Deps) -> bool:
    """The terminal's user, configured admins, the chat's admins, and the subscriber."""
    if ctx.platform == "terminal":
        return True
    sub = _subscription(ctx, deps)
    if ctx.who in deps.settings.bot.admins or ctx.chat_admin or ctx.dm:
        return True
    return sub.subscribed_by == ctx.who or ctx.who in sub.admins


def not_allowed() -> Reply:
    """The answer to a change by someone who may not change this chat's settings."""
    return Reply(
        "Not allowed",
        [
            "Only the person who subscribed this chat, its admins and the configured "
            "paperdigest admins can change its settings. Reading is open to everyone."
        ],
        ephemeral=True,
        error=True,
    )


def _subscription(ctx: Context, deps: Deps) -> Subscription:
    sub = deps.store.subscription(ctx.subscription_id)
    if sub is None and ctx.dm:
        raise NotFoundError(
            "this conversation has no digest of its own: `subscribe` makes one (`subscribe "
            "like #channel` starts from a channel's criteria). A channel's settings change "
            "only by a command sent in that channel."
        )
    if sub is None:
        raise NotFoundError("this chat has no digest yet; send `subscribe` first")
    return sub


def _criteria(deps: Deps, sub_id: str) -> tuple[int, Criteria]:
    return current_criteria(deps.store, sub_id, deps.settings.digest.criteria or None)


async def _sources(ctx: Context, deps: Deps) -> list[Source]:
    found = await sources(deps.store, ctx.platform, ctx.subscription_id, ctx.chat, ctx.audience)
    if not found:
        raise NotFoundError(
            "no digest has been built for this chat yet"
            if ctx.audience is None
            else "I know of no digest you can read here: none for this chat, and none of a "
            "channel you are in. `subscribe` gives you one."
        )
    return found


def _when(sub: Subscription) -> str:
    return f"{sub.schedule} {sub.timezone}"
