"""Paper embeddings are kept in the store: a re-run or a criteria change embeds no paper."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from bot.chat.commands import Context, Deps, handle
from digest.config import load_settings
from digest.criteria import Criteria
from digest.papers import read_sample
from digest.pipeline import sample_listing
from digest.scoring import embedding
from digest.scoring.factory import make_scorer
from digest.scoring.local import LocalScorer
from digest.store import Store
from tests.conftest import sample_digest

OWNER = Context("slack", "C1", "UOWNER", "owner")


def encoded() -> int:
    return embedding.ENCODED.texts


@pytest.fixture
def encoder_saw(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the real encoder embeds from now on (it is wrapped, not replaced)."""
    seen: list[str] = []
    real = embedding.encode

    def recording(texts: list[str], *args: object) -> np.ndarray:
        seen.extend(texts)
        return real(texts, *args)

    monkeypatch.setattr(embedding, "encode", recording)
    return seen


def test_stored_vectors_are_those_a_fresh_encode_gives(store: Store) -> None:
    papers = read_sample()[:12]
    ids, texts = [p.id for p in papers], [p.text + " Revised." for p in papers]  # not bundled
    fresh = embedding.encode(texts)
    first = embedding.embed(ids, texts, store)
    before = encoded()
    again = embedding.embed(ids, texts, store)
    assert encoded() == before  # read back, not encoded
    assert np.array_equal(first, again)  # the same vectors the first run scored with
    assert np.min(np.sum(again * fresh, axis=1)) > 0.9999  # int8 keeps the direction
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)


def test_the_sample_days_bundled_vectors_are_what_the_model_gives() -> None:
    papers = read_sample()[::60]  # 12 papers across the day
    ids, texts = [p.id for p in papers], [p.text for p in papers]
    before = encoded()
    shipped = embedding.embed(ids, texts)
    assert encoded() == before  # read from the bundled file, not encoded
    fresh = embedding.encode(texts)
    assert encoded() == before + len(texts)
    # made on another CPU: the model's int8 kernels differ with and without VNNI (0.9984 seen)
    assert np.min(np.sum(shipped * fresh, axis=1)) > 0.995
    assert np.array_equal(np.argmax(shipped @ fresh.T, axis=1), np.arange(len(texts)))
    changed = [t + " Revised." for t in texts[:2]]  # another text is not the bundled one
    assert not np.array_equal(embedding.embed(ids[:2], changed), shipped[:2])
    assert encoded() == before + len(texts) + 2


def test_a_new_version_of_an_abstract_is_embedded_again(store: Store) -> None:
    papers = read_sample()[:5]
    embedding.embed([p.id for p in papers], [p.text for p in papers], store)
    revised = dataclasses.replace(papers[2], version=2, abstract=papers[2].abstract + " v2 adds.")
    now = [*papers[:2], revised, *papers[3:]]
    before = encoded()
    vectors = embedding.embed([p.id for p in now], [p.text for p in now], store)
    assert encoded() == before + 1
    alone = embedding.dequantise(*embedding.quantise(embedding.encode([revised.text])))
    assert np.allclose(vectors[2], alone[0], atol=1e-6)  # a text embeds the same alone


def test_a_criteria_change_embeds_no_paper(
    store: Store, criteria: Criteria, encoder_saw: list[str]
) -> None:
    papers = read_sample()[:40]
    scorer = LocalScorer(vectors=store)
    first = asyncio.run(scorer.score(papers, criteria))
    changed = Criteria.parse(
        criteria.to_text().replace("## Keywords", "## Graph Learning\n"
        "- Relevant: message passing, over-smoothing\n\n## Keywords", 1)
    )  # fmt: skip
    assert len(changed.topics) == len(criteria.topics) + 1
    encoder_saw.clear()
    before = encoded()
    second = asyncio.run(scorer.score(papers, changed))
    assert encoded() - before == len(encoder_saw) > 0  # the new topic's texts
    assert "Graph Learning: message passing, over-smoothing" in encoder_saw
    assert not {p.text for p in papers} & set(encoder_saw)  # no paper
    assert not {p.title for p in papers} & set(encoder_saw)
    assert [s.paper_id for s in second] == [s.paper_id for s in first]
    assert asyncio.run(scorer.score(papers, criteria)) == first  # same vectors, same scores


def test_preview_after_a_criteria_change_embeds_no_paper(
    scored_store: Store, criteria: Criteria, encoder_saw: list[str]
) -> None:
    settings = load_settings(env={})
    deps = Deps(scored_store, settings, lambda c: make_scorer("local", scored_store, c, settings))
    assert asyncio.run(handle("subscribe", OWNER, deps)).title == "Subscribed"
    sub = scored_store.subscription("slack:C1")
    sample_digest(scored_store, criteria, sub.id, cutoffs=sub.cutoffs, top_k=sub.top_k)
    added = "criteria add Graph Learning: message passing, over-smoothing, graph transformers"
    assert not asyncio.run(handle(added, OWNER, deps)).error
    encoder_saw.clear()
    reply = asyncio.run(handle("preview", OWNER, deps))
    assert "would be selected" in reply.lines[0]
    papers = scored_store.papers_of_day(sample_listing().day)
    assert len(papers) == 692 and encoder_saw  # the new topic was embedded
    assert not {p.text for p in papers} & set(encoder_saw)  # and not one paper
    assert not {p.title for p in papers} & set(encoder_saw)


def test_texts_embed_the_same_run_in_parallel_or_one_by_one() -> None:
    texts = [p.text for p in read_sample()[:16]]
    one_by_one = embedding.encode(texts, dataclasses.replace(embedding.DEFAULT, threads=1))
    heard: list[tuple[int, int]] = []
    with embedding.reporting(lambda done, total: heard.append((done, total))):
        parallel = embedding.encode(texts, dataclasses.replace(embedding.DEFAULT, threads=2))
    assert np.array_equal(parallel, one_by_one)
    assert [done for done, _ in heard] == list(range(1, 17))  # a progress bar only moves on
    assert {total for _, total in heard} == {16}
