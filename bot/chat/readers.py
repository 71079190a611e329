"""Which digests a person may read where they ask: a DM or a mention answers about the
digests of the channels the person is in, never about a private channel they are not in.

The platform says who is in which chat (an `Audience`, made by each adapter, which asks the
platform and caches the answer); this module decides, with no SDK of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from digest import Digest, Store, Subscription

THIS_CHAT = "this chat"


class Audience(Protocol):
    """What the platform says about the person asking."""

    async def member_of(self, chats: list[str]) -> set[str]:
        """Those of `chats` the person is a member of."""
        ...

    async def is_public(self, chat: str) -> bool:
        """Anyone in the workspace may read the chat (a public Slack channel)."""
        ...

    async def name(self, chat: str) -> str:
        """How people call the chat: '#papers', or a Telegram group's title."""
        ...

    async def cannot_post(self, chat: str) -> str | None:
        """Why the bot could not post its digest in `chat` and what to do; None when it can."""
        ...


@dataclass(frozen=True)
class Source:
    """A subscription whose digests answer this question, and how to name it."""

    sub: Subscription
    label: str  # THIS_CHAT, or the channel's name

    @property
    def own(self) -> bool:
        return self.label == THIS_CHAT

    def of(self, digest: Digest) -> str:
        """'#papers' digest of 2026-02-10'."""
        owner = "this chat" if self.own else self.label
        mark = "'" if owner.endswith("s") else "'s"
        return f"{owner}{mark} digest of {digest.day}"


async def sources(
    store: Store, platform: str, sub_id: str, chat: str, audience: Audience | None
) -> list[Source]:
    """The subscriptions whose digests may answer here, newest digest first.

    In order: the chat's own subscription, when it has a digest; else those of the channels
    the person is in; else the workspace's most recent digest of a public channel.
    """
    built = store.last_built()
    if sub_id in built:  # the terminal's digests have no subscription row of their own
        own = store.subscription(sub_id) or Subscription(sub_id, platform, chat)
        return [Source(own, THIS_CHAT)]
    if audience is None:
        return []
    others = [
        s
        for s in store.subscriptions(active_only=False)
        if s.platform == platform and s.id in built and s.id != sub_id and s.chat != chat
    ]
    others.sort(key=lambda s: built[s.id], reverse=True)
    members = await audience.member_of([s.chat for s in others])
    mine = [s for s in others if s.chat in members]
    if mine:
        return [Source(s, await audience.name(s.chat)) for s in mine]
    for sub in others:
        if await audience.is_public(sub.chat):
            return [Source(sub, await audience.name(sub.chat))]
    return []
