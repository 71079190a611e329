"""The digest messages a chat was sent, as the outbox keeps them: what a button under one of
them (Telegram's **More** / **Less**) needs to draw the message again.

A stored message keeps only what is the chat's own on each of its cards (rank, scores, comment,
TL;DR): a card's title, link, authors and abstract are the paper's, which the papers table
holds, so `lean` leaves them out (14 of a chat's 23 KB of outbox was abstracts) and `whole`
reads them back from there when the message is drawn (Slack's, as it is sent) or drawn again
(Telegram's **More**). A field that is not the paper's (a title cut to fit a message) stays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.chat.commands import Context, Deps
from digest import Paper, Store

PAPER_FIELDS = ("title", "url", "authors", "abstract")  # a card's fields the papers table holds

Card = dict[str, Any]


def sent_message(ctx: Context, deps: Deps, message_id: str) -> dict[str, Any] | None:
    """The stored payload of this chat's digest message `message_id`, its cards whole; None
    for a message that is no digest message (a command's answer) or was not recorded as sent."""
    payload = deps.store.sent_payload(ctx.subscription_id, message_id)
    return whole(deps.store, [payload])[0] if payload is not None else None


def lean(payloads: list[dict[str, Any]], papers: Mapping[str, Paper]) -> list[dict[str, Any]]:
    """The payloads as the outbox keeps them: each card without the fields that are its
    paper's (`papers`: the digest's, as the papers table holds them)."""

    def one(card: Card) -> Card:
        paper = papers.get(str(card.get("id")))
        if paper is None:
            return card
        given = _of(paper)
        return {k: v for k, v in card.items() if k not in given or v != given[k]}

    return [_cards_mapped(payload, one) for payload in payloads]


def whole(store: Store, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The payloads with every card whole again: the fields `lean` left out, from the papers
    table (one read for them all; none when no card lacks any). A paper no longer stored
    shows its id as its title, with no abstract (so no **More**)."""
    wanted = sorted({str(c.get("id")) for p in payloads for c in _cards(p) if _lacks(c)})
    if not wanted:
        return payloads
    papers = {p.id: p for p in store.papers(wanted)}

    def one(card: Card) -> Card:
        if not _lacks(card):
            return card
        pid = str(card.get("id"))
        paper = papers.get(pid) or Paper(pid, pid, "")
        return {**_of(paper), **card}

    return [_cards_mapped(payload, one) for payload in payloads]


def _of(paper: Paper) -> Card:
    """A card's fields that are its paper's, as a stored card spells them."""
    return {"title": paper.title, "url": paper.url, "authors": list(paper.authors),
            "abstract": paper.abstract}  # fmt: skip


def _lacks(card: Card) -> bool:
    return any(field not in card for field in PAPER_FIELDS)


def _cards(payload: dict[str, Any]) -> list[Card]:
    """A payload's cards: Telegram's under `cards`, Slack's in its `reply`."""
    reply = payload.get("reply")
    papers = reply.get("papers") if isinstance(reply, dict) else None
    return [*(payload.get("cards") or ()), *(papers or ())]


def _cards_mapped(payload: dict[str, Any], one: Callable[[Card], Card]) -> dict[str, Any]:
    out = dict(payload)
    if isinstance(out.get("cards"), list):
        out["cards"] = [one(c) for c in out["cards"]]
    reply = out.get("reply")
    if isinstance(reply, dict) and isinstance(reply.get("papers"), list):
        out["reply"] = {**reply, "papers": [one(c) for c in reply["papers"]]}
    return out
