"""Outbox payloads: a Reply as JSON data and back, old rows included."""

from __future__ import annotations

import json

import pydantic
import pytest

from bot.chat.replies import Button, PaperCard, Reply, dump_reply, load_reply

CARD = PaperCard("2602.08007", "A title", "https://arxiv.org/abs/2602.08007", ("A B", "C D"),
                 8, 5, "fits", 1, followed=None)  # fmt: skip


def test_a_reply_round_trips_through_json() -> None:
    reply = Reply("Top", ["one line"], [CARD], ephemeral=True, buttons=[Button("Apply", "topk 3")])
    data = json.loads(json.dumps(dump_reply(reply)))
    assert data["papers"][0]["authors"] == ["A B", "C D"]  # the shape the outbox has stored
    assert load_reply(data) == reply


def test_a_row_stored_before_buttons_still_loads() -> None:
    old = {
        "title": "Digest",
        "lines": [],
        "papers": [{"id": "2602.08007", "title": "A title", "url": CARD.url,
                    "authors": ["A B", "C D"], "relevance": 8, "novelty": 5, "comment": "fits",
                    "rank": 1, "followed": None}],
        "ephemeral": False,
        "error": False,
    }  # fmt: skip
    assert load_reply(old) == Reply("Digest", [], [CARD])


def test_a_broken_payload_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="title"):
        load_reply({"lines": []})
