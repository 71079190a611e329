"""Every bad input gets one clear line: the project's own error, naming the input and problem."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from digest.config import load_settings
from digest.criteria import MAX_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_TOPICS, Criteria, Topic
from digest.errors import ConfigError, CriteriaError, DigestError, ListingError
from digest.papers import dump_paper, load_paper, read_listing
from digest.search import SEARCH_WORDS, search_terms
from digest.subscriptions import parse_time

runner = CliRunner(env={"COLUMNS": "400"})  # rich wraps at the terminal's width
PAPER = {"id": "2602.00001", "title": "A title", "abstract": "An abstract.", "authors": ["A B"]}
SMALL = "## Sparse Models\n- Relevant: pruning, sparsity.\n"


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) < 300, text
    return text


def _listing(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "day.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# 1, 2: listings


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1, 2]", "expected a JSON object (one paper), got an array"),
        ("null", "got null"),
        ('"a paper"', "got a string"),
        ("{not json", "not a JSON line"),
        ('{"title": "no id"}', "no 'id' field"),
        ('{"id": 2602.00001}', "field 'id' must be a string, got a number"),
        ('{"id": "nonsense"}', "not an arXiv id"),
        ('{"id": "2602.00001", "feeds": [1]}', "field 'feeds' must be an object"),
        ('{"id": "2602.00001", "title": ["x"]}', "field 'title' must be a string, got an array"),
        ('{"id": "2602.00001", "version": "2"}', "field 'version' must be a whole number"),
    ],
)
def test_a_listing_line_that_is_not_a_paper_names_file_and_line(tmp_path, line, problem):
    path = _listing(tmp_path, json.dumps(PAPER), "", line)
    with pytest.raises(ListingError) as err:
        read_listing(path)
    assert f"{path}:3: " in _one_line(err.value)
    assert problem in str(err.value)


@pytest.mark.parametrize("field", ["authors", "categories"])
@pytest.mark.parametrize(("value", "kind"), [("Ann Lee, Bo Chen", "a string"), ([1], "an array")])
def test_authors_and_categories_must_be_lists_of_strings(tmp_path, field, value, kind):
    path = _listing(tmp_path, json.dumps({**PAPER, field: value}))
    with pytest.raises(ListingError) as err:
        read_listing(path)
    assert f"{path}:1: " in _one_line(err.value)
    assert f"field '{field}' must be a list of strings, got {kind}" in str(err.value)


def test_a_good_listing_line_still_reads(tmp_path):
    path = _listing(tmp_path, json.dumps({**PAPER, "categories": ["cs.LG"], "version": 2}))
    [paper] = read_listing(path)
    assert paper.authors == ("A B",) and paper.categories == ("cs.LG",) and paper.version == 2
    assert load_paper(dump_paper(paper)) == paper


def test_a_listing_that_is_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "day.jsonl"
    path.write_bytes(json.dumps(PAPER).encode() + b"\n\xff\xfe\x00binary\n")
    with pytest.raises(ListingError) as err:
        read_listing(path)
    assert f"{path}:2: not UTF-8 text" in _one_line(err.value)


def test_listing_errors_stay_value_errors_for_older_callers():
    assert issubclass(ListingError, DigestError) and issubclass(ListingError, ValueError)


@pytest.mark.parametrize("line", ["[1, 2]", json.dumps({**PAPER, "authors": "Ann Lee"})])
def test_the_cli_prints_one_line_for_a_bad_listing(tmp_path, line):
    path = _listing(tmp_path, line)
    result = runner.invoke(app, ["score", "--input", str(path), "--scorer", "local"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{path.name}:1" in result.output
    assert len(result.output.strip().splitlines()) == 1


# 3: a criteria file that is not text


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8", "## Café\n".encode("latin-1")]
)
def test_a_criteria_file_that_is_not_utf8_names_the_file(tmp_path, data):
    path = tmp_path / "criteria.md"
    path.write_bytes(data)
    with pytest.raises(CriteriaError) as err:
        Criteria.load(path)
    assert f"criteria file {path} is not UTF-8 text" in _one_line(err.value)


def test_a_criteria_file_with_nul_bytes_is_refused(tmp_path):
    path = tmp_path / "criteria.md"
    path.write_bytes(SMALL.encode() + b"\x00\x00\x00")
    with pytest.raises(CriteriaError, match="NUL bytes") as err:
        Criteria.load(path)
    assert str(path) in _one_line(err.value)


def test_a_criteria_file_with_a_byte_order_mark_reads(tmp_path):
    path = tmp_path / "criteria.md"
    path.write_bytes(b"\xef\xbb\xbf# Research criteria\n\n" + SMALL.encode())
    assert Criteria.load(path).topics == (Topic("Sparse Models", "pruning, sparsity."),)


def test_the_cli_prints_one_line_for_a_binary_criteria_file(tmp_path):
    crit = tmp_path / "criteria.md"
    crit.write_bytes(b"\xff\xfe\x00\x01" * 100)
    listing = _listing(tmp_path, json.dumps(PAPER))
    args = ["score", "--input", str(listing), "--criteria", str(crit), "--scorer", "local"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "not UTF-8 text" in result.output
    assert len(result.output.strip().splitlines()) == 1


# 4: caps on the criteria


def _topics(n: int, text: str = "pruning") -> str:
    return "".join(f"## Topic {i}\n- Relevant: {text}\n" for i in range(n))


def test_a_huge_criteria_document_is_refused_before_it_is_parsed(tmp_path):
    text = _topics(1) + "x" * 1_000_000
    with pytest.raises(CriteriaError) as err:
        Criteria.parse(text, source="your criteria")
    assert "your criteria: 1,000,0" in _one_line(err.value)
    assert f"limit of {MAX_CHARS:,}" in str(err.value)
    path = tmp_path / "criteria.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CriteriaError, match=f"limit of {MAX_CHARS:,} characters") as err:
        Criteria.load(path)
    assert str(path) in _one_line(err.value)


def test_too_many_topics_are_refused():
    assert len(Criteria.parse(_topics(MAX_TOPICS)).topics) == MAX_TOPICS
    with pytest.raises(CriteriaError, match=f"{MAX_TOPICS + 1} topics is over the limit") as err:
        Criteria.parse(_topics(MAX_TOPICS + 1), source="your criteria")
    assert _one_line(err.value).startswith("your criteria: ")


def test_a_long_topic_name_or_text_is_refused():
    name = "N" * (MAX_NAME_CHARS + 1)
    with pytest.raises(CriteriaError, match=f"over the limit of {MAX_NAME_CHARS}") as err:
        Criteria.parse(f"## {name}\n- Relevant: x\n")
    assert "topic name 'NNN" in _one_line(err.value)
    long = "w" * (MAX_TEXT_CHARS + 1)
    with pytest.raises(CriteriaError, match="has a Relevant text") as err:
        Criteria.parse(f"## Short\n- Relevant: {long}\n")
    assert "topic 'Short'" in _one_line(err.value)
    assert f"over the limit of {MAX_TEXT_CHARS:,}" in str(err.value)


def test_the_default_criteria_are_well_within_the_caps(criteria):
    assert criteria.validated() is criteria
    assert len(criteria.to_text()) < MAX_CHARS / 5


# 5: an edited criteria must read back as written


def _small() -> Criteria:
    return Criteria.parse(SMALL)


def test_validated_accepts_a_plain_edit():
    new = replace(_small(), topics=(*_small().topics, Topic("Graphs", "graph neural networks")))
    assert new.validated() is new


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        (Topic("Evil", "x\n## Keywords\n- Bogus: z"), "topic 'Evil' contains a line break"),
        (Topic("Two\nlines", "x"), "topic name 'Two\\nlines' contains a line break"),
        (Topic("Sep\u2028arator", "x"), "contains a line break"),
        (Topic("Evil", "", "y\r- Relevant: z"), "topic 'Evil' contains a line break"),
        (Topic(" Padded", "x"), "leading or trailing spaces"),
        (Topic("Keywords", "x"), "'Keywords' is a section of its own"),
        (Topic("followed authors", "x"), "is a section of its own"),
        (Topic("", "x"), "a topic needs a name"),
        (Topic("N" * (MAX_NAME_CHARS + 1), "x"), "over the limit"),
        (Topic("Long", "w" * (MAX_TEXT_CHARS + 1)), "over the limit"),
    ],
)
def test_validated_refuses_a_topic_that_would_not_read_back(topic, problem):
    new = replace(_small(), topics=(*_small().topics, topic))
    with pytest.raises(CriteriaError) as err:
        new.validated(source="your criteria")
    assert _one_line(err.value).startswith("your criteria: ")
    assert problem in str(err.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"keywords": ("a, b",)}, "keyword 'a, b' contains a comma"),
        ({"keywords": ("x\ny",)}, "keyword 'x\\ny' contains a line break"),
        ({"keywords": ("etc",)}, "the relevant keywords would not read back"),
        ({"authors": ("Ann\n## Evil",)}, "author 'Ann\\n## Evil' contains a line break"),
        ({"intro": "# Title"}, "the introduction would not read back"),
        ({"topics": (), "keywords": (), "authors": ()}, "no topics, keywords or followed authors"),
    ],
)
def test_validated_refuses_keywords_authors_and_intro_that_would_not_read_back(change, problem):
    with pytest.raises(CriteriaError) as err:
        replace(_small(), **change).validated()
    assert problem in _one_line(err.value)


def test_too_many_topics_by_edit_are_refused():
    many = tuple(Topic(f"Topic {i}", "x") for i in range(MAX_TOPICS + 1))
    with pytest.raises(CriteriaError, match="over the limit of 30"):
        replace(_small(), topics=many).validated()


# 6: search


def test_search_with_thousands_of_words_answers(deps) -> None:
    from bot.chat.answer import run
    from bot.chat.commands import Context

    words = " ".join(["graph", *(f"word{i}" for i in range(5_000))])
    reply = run(f"search {words}", Context("terminal", "default", "me"), deps)
    assert not reply.error and reply.title.startswith("Search: graph word0")
    assert len(reply.title) <= 100


def test_search_keeps_the_first_distinct_words_of_two_characters():
    assert search_terms("a Graph graph GRAPH x transformers") == ["Graph", "transformers"]
    terms = search_terms(" ".join(f"w{i}" for i in range(5_000)))
    assert terms == [f"w{i}" for i in range(SEARCH_WORDS)]
    assert search_terms("a b c") == []


def test_a_long_bad_time_of_day_is_a_short_config_error():
    with pytest.raises(ConfigError, match="is not a time of day") as err:
        parse_time("9" * 5000)
    assert len(_one_line(err.value)) < 150


def test_a_bad_time_zone_in_settings_names_the_key():
    with pytest.raises(ConfigError) as err:
        load_settings(env={"PAPERDIGEST_BOT_TIMEZONE": "A" * 5000})
    assert "'bot.timezone' in environment variable PAPERDIGEST_BOT_TIMEZONE" in _one_line(err.value)


# 8: database URLs


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://user:secret@host/db", "unsupported database 'mysql://'"),
        ("postgresql+asyncpg://user:secret@host/db", "unsupported database 'postgresql+asyncpg"),
        ("not a url", "not a database URL"),
        ("user:secret@host/db", "not a database URL"),
        ("postgresql+psycopg://user:secret@host:port/db", "cannot be parsed"),
    ],
)
def test_an_unsupported_database_url_names_the_key(url, problem):
    with pytest.raises(ConfigError) as err:
        load_settings(env={"PAPERDIGEST_DATABASE_URL": url})
    text = _one_line(err.value)
    assert text.startswith(
        "config key 'database.url' in environment variable PAPERDIGEST_DATABASE_URL: "
    )
    assert problem in text
    assert "sqlite:///path or postgresql+psycopg://user:pass@host/db" in text
    assert "secret" not in text and "Value error" not in text


@pytest.mark.parametrize(
    "url",
    ["", "sqlite:///x.sqlite3", "sqlite://", "postgresql+psycopg://u:p@h/db", "postgresql://h/db"],
)
def test_supported_database_urls_pass(url):
    settings = load_settings(env={"PAPERDIGEST_DATABASE_URL": url})
    assert settings.database.url == url


def test_a_bad_database_url_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "paperdigest.toml"
    path.write_text('[database]\nurl = "mysql://u@h/db"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert f"config key 'database.url' in {path}: unsupported database" in _one_line(err.value)
