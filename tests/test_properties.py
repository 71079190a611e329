"""Property tests: whatever text reaches the command core, the answer is a Reply, and the
stored criteria always read back."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.answer import answer
from bot.chat.commands import SPECS, Context, Deps
from bot.chat.replies import Reply
from digest.config import load_settings
from digest.criteria import Criteria
from digest.scoring.factory import make_scorer
from digest.store import Store

WORDS = sorted({name.split()[0] for name in SPECS} | {"criteria add", "criteria set"})
TERMINAL = Context("terminal", "default", "me")
ANY_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
)  # every character, control and formatting ones included
COMMANDS = st.one_of(ANY_TEXT, st.builds(lambda w, t: f"{w} {t}", st.sampled_from(WORDS), ANY_TEXT))
CRITERIA_CHANGES = st.one_of(
    st.builds(lambda t: f"criteria add {t}", ANY_TEXT),
    st.builds(lambda n, t: f"criteria add {n}: {t}", ANY_TEXT, ANY_TEXT),
    st.builds(lambda t: f"criteria set {t}", ANY_TEXT),
    st.builds(lambda t: f"criteria set ## {t}\n- Relevant: {t}", ANY_TEXT),
    st.builds(lambda n: f"criteria remove {n}", st.integers(-2, 40)),
    st.just("criteria undo"),
)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@contextmanager
def fresh_deps() -> Iterator[Deps]:
    with tempfile.TemporaryDirectory(prefix="paperdigest-prop-") as folder:
        store = Store(f"sqlite:///{folder}/p.sqlite3")
        config = load_settings(env={})
        yield Deps(store, config, lambda c: make_scorer("local", store, c, config))
        store.engine.dispose()


def test_any_text_gets_a_reply() -> None:
    with fresh_deps() as deps:

        @SETTINGS
        @given(text=COMMANDS)
        def replies(text: str) -> None:
            reply = asyncio.run(answer(text, TERMINAL, deps))
            assert isinstance(reply, Reply) and reply.title

        replies()


@settings(max_examples=60, deadline=None)
@given(changes=st.lists(CRITERIA_CHANGES, max_size=8))
def test_any_sequence_of_criteria_changes_leaves_criteria_that_read_back(
    changes: list[str],
) -> None:
    with fresh_deps() as deps:
        for change in changes:
            reply = asyncio.run(answer(change, TERMINAL, deps))
            assert isinstance(reply, Reply)
        for version, _, text in deps.store.criteria_versions("default"):
            Criteria.parse(text, source=f"v{version}")  # raises if a version cannot be read
