"""Research criteria: the bundled document, its round trip, its hashes and its prompt."""

from __future__ import annotations

from dataclasses import replace

import pytest

from digest.criteria import Criteria, default_criteria_path
from digest.errors import CriteriaError
from digest.prompt import INSTRUCTIONS, SYSTEM, build_prompt

TOPICS = [
    "Model Architecture",
    "Model Compression and Efficiency",
    "High Performance Computing",
    "Representation Learning",
]

SMALL = """\
# Research criteria

Foundational work only.

## Sparse Models
- Relevant: pruning, sparsity.
- Irrelevant: applications.

## Keywords
- Relevant: Pruning, Sparsity
- Irrelevant: Diffusion Models

## Followed authors
- Yann LeCun
"""


@pytest.fixture(scope="module")
def default() -> Criteria:
    return Criteria.load(default_criteria_path())


def test_default_criteria_topics_keywords_and_authors(default):
    assert [t.name for t in default.topics] == TOPICS
    assert "Quantization" in default.keywords
    assert default.authors == ("Yoshua Bengio", "Yann LeCun")
    compression = default.topics[1]
    assert "quantization" in compression.relevant
    assert compression.irrelevant.startswith("Straightforward applications")


def test_round_trip_is_equal(default):
    assert Criteria.parse(default.to_text()) == default
    small = Criteria.parse(SMALL)
    assert Criteria.parse(small.to_text()) == small


def test_hash_ignores_formatting():
    messy = (
        SMALL.replace("\n## ", "\n\n\n## ")
        .replace("- ", "* ")
        .replace("sparsity.\n", "sparsity.   \n")
        .replace("Pruning, Sparsity", "Pruning,   Sparsity  ")
    )
    assert messy != SMALL
    assert Criteria.parse(messy).hash == Criteria.parse(SMALL).hash


def test_hash_changes_with_topic_text():
    changed = SMALL.replace("- Relevant: pruning, sparsity.", "- Relevant: pruning.")
    assert Criteria.parse(changed).hash != Criteria.parse(SMALL).hash


def test_scoring_hash_ignores_followed_authors():
    criteria = Criteria.parse(SMALL)
    other = criteria.with_authors(("Yoshua Bengio",))
    assert other.hash != criteria.hash
    assert other.scoring_hash == criteria.scoring_hash
    topic = replace(criteria.topics[0], relevant="quantization")
    assert replace(criteria, topics=(topic,)).scoring_hash != criteria.scoring_hash


def test_unknown_topic_label_names_source_and_topic():
    text = SMALL.replace("- Irrelevant: applications.", "- Maybe: x")
    with pytest.raises(CriteriaError) as err:
        Criteria.parse(text, source="team.md")
    assert "team.md" in str(err.value)
    assert "Sparse Models" in str(err.value)
    assert "Maybe: x" in str(err.value)


def test_unlabeled_topic_line_is_quoted_in_the_error():
    text = SMALL.replace("- Irrelevant: applications.", "- just some text")
    with pytest.raises(CriteriaError, match="just some text"):
        Criteria.parse(text, source="team.md")


@pytest.mark.parametrize("text", ["", "   \n\n", "# Research criteria\n\nJust an intro.\n"])
def test_empty_document_is_an_error(text):
    with pytest.raises(CriteriaError):
        Criteria.parse(text)


def test_load_missing_file_names_the_path(tmp_path):
    path = tmp_path / "missing.md"
    with pytest.raises(CriteriaError) as err:
        Criteria.load(path)
    assert str(path) in str(err.value)


def test_prompt_fixed_part_first_then_every_topic(default):
    prompt = build_prompt(default)
    assert prompt.index(SYSTEM) < prompt.index(INSTRUCTIONS)
    first_topic = min(prompt.index(name) for name in TOPICS)
    assert prompt.index(INSTRUCTIONS) + len(INSTRUCTIONS) <= first_topic
    for name in TOPICS:
        assert name in prompt
    assert "Quantization" in prompt


def test_unknown_keyword_label_is_an_error() -> None:
    text = "## Topic\n- Relevant: x\n\n## Keywords\n- Relevent: a, b\n"
    with pytest.raises(CriteriaError, match="Relevent"):
        Criteria.parse(text, source="mine.md")
