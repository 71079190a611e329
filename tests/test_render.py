"""What a reader notices in the rendered digest: Markdown, JSON, HTML and the out/ tree."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from digest.day import Cutoffs, DayStatus, Digest, Entry, Usage
from digest.papers import Paper
from digest.render import (
    digest_from_json,
    render_day_html,
    render_json,
    render_markdown,
    write_outputs,
)
from digest.scoring import Score

DAY = date(2026, 2, 10)
TRICKY = "Sorting <b>bold</b> & fast: when $x<y$ | holds"


def _entry(pid: str, title: str, rank: int, *, selected: bool = True, followed: bool = False):
    paper = Paper(
        id=pid,
        title=title,
        abstract=f"Abstract of {pid}.",
        authors=("Ada Lovelace", "Alan Turing"),
        version=1,
    )
    score = Score(
        paper_id=pid,
        relevance=9 if selected else 3,
        novelty=8 if selected else 2,
        comment=f"Matches MoE criterion ({pid})",
        matched="Model Architecture",
        scorer="gpt-5",
    )
    reason = "followed author" if followed else ("cutoffs met" if selected else "below cutoffs")
    return Entry(paper, score, rank, selected, reason, followed)


def make_digest(day: date = DAY) -> Digest:
    entries = [
        _entry("2602.00001", "Followed Author Paper", 1, followed=True),
        _entry("2602.00002", TRICKY, 2),
        _entry("2602.00003", "Plain Mixture of Experts", 3),
        _entry("2602.00004", "Not Selected At All", 4, selected=False),
    ]
    return Digest(
        day=day,
        status=DayStatus.BUILT,
        message="",
        categories=("cs.LG", "cs.AI"),
        total_entries=1425,
        scanned=852,
        entries=entries,
        usage=[
            Usage(
                "gpt-5",
                prompt_tokens=1000,
                cached_tokens=200,
                completion_tokens=500,
                reasoning_tokens=300,
                cost=1.09,
            ),
            Usage("mystery|model", prompt_tokens=10, completion_tokens=5, cost=None),
            Usage("local"),
        ],
        scorer="gpt-5",
        cutoffs=Cutoffs(8, 7),
        criteria_text="## Model Architecture\n- Relevant: MoE",
        criteria_hash="abc123",
        prompt="You are a helpful paper reading assistant.",
    )


def empty_day(day: date) -> Digest:
    return Digest(
        day=day, status=DayStatus.NO_ANNOUNCEMENT, message="arXiv announced nothing today"
    )


def test_markdown_header_counts_and_order() -> None:
    md = render_markdown(make_digest())
    assert md.startswith("# Personalized Daily ArXiv Papers 2026-02-10")
    assert "Total arXiv papers: 1425" in md
    assert "Total scanned papers: 852" in md
    assert "Total relevant papers: 3" in md
    assert "Judged by: gpt-5" in md
    headings = re.findall(r"^## (\d+)\. (.*)$", md, flags=re.M)
    assert [n for n, _ in headings] == ["1", "2", "3"]
    assert headings[0][1] == "Followed Author Paper"
    assert "Not Selected At All" not in md
    assert "ArXiv ID: [2602.00002](https://arxiv.org/abs/2602.00002)" in md
    assert "Paper Selection Prompt" in md and "You are a helpful paper reading assistant." in md


def test_markdown_followed_author_has_no_score_line() -> None:
    md = render_markdown(make_digest())
    first = md.split("## 1. ", 1)[1].split("## 2. ", 1)[0]
    assert "Comment: Author match" in first
    assert "Relevance:" not in first
    second = md.split("## 2. ", 1)[1].split("## 3. ", 1)[0]
    assert "Relevance: 9 Novelty: 8" in second


def test_markdown_usage_table_survives_pipes_and_unknown_cost() -> None:
    md = render_markdown(make_digest())
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 4  # header + three models
    # Every row keeps the same number of (unescaped) columns.
    assert {len(re.split(r"(?<!\\)\|", r)) for r in rows} == {9}
    assert "unknown" in rows[2] and "$1.09" in rows[1]
    assert rows[3] == "| local | 0 | 0 | 0 | 0 | 0 | $0.00 |"
    assert rows[0].startswith("| Model | Prompt tokens | Cached | Completion tokens | Reasoning |")
    assert rows[1] == "| gpt-5 | 1000 | 200 | 500 | 300 | 1500 | $1.09 |"


def test_html_escapes_titles_and_links_days() -> None:
    page = render_day_html(make_digest(), date(2026, 1, 30), date(2026, 2, 11), "index.html")
    assert "<b>" not in page
    assert "Sorting &lt;b&gt;bold&lt;/b&gt; &amp; fast: when $x&lt;y$" in page
    assert 'href="../2026-01/2026-01-30.html"' in page and "Previous Day" in page
    assert 'href="../2026-02/2026-02-11.html"' in page and "Next Day" in page
    assert 'href="index.html"' in page and "Monthly Overview" in page
    assert 'name="viewport"' in page
    assert "http://" not in page.replace("https://arxiv.org", "")
    assert "Author match" in page
    assert page.index("Followed Author Paper</h2>") < page.index("Plain Mixture of Experts</h2>")


def test_json_round_trips_selected_papers_in_order() -> None:
    digest = make_digest()
    data = json.loads(render_json(digest))
    assert data["day"] == "2026-02-10" and data["status"] == "built"
    assert (data["total_entries"], data["scanned"]) == (1425, 852)
    papers = [e["paper"] for e in data["entries"]]
    assert [p["id"] for p in papers] == ["2602.00001", "2602.00002", "2602.00003"]
    assert papers[1]["title"] == TRICKY
    assert data["entries"][0]["followed"] is True
    assert data["usage"][1]["cost"] is None
    back = digest_from_json(render_json(digest))
    assert [e.paper.title for e in back.selected] == [e.paper.title for e in digest.selected]
    assert render_markdown(back) == render_markdown(digest)


def test_no_announcement_renders_message_and_no_paper() -> None:
    digest = empty_day(date(2026, 2, 14))
    md = render_markdown(digest)
    assert "2026-02-14" in md and "arXiv announced nothing today" in md
    assert "## 1." not in md and "Total relevant" not in md
    page = render_day_html(digest, None, None, "index.html")
    assert "arXiv announced nothing today" in page
    assert "paper-1" not in page
    assert json.loads(render_json(digest))["entries"] == []


def test_write_outputs_two_days(tmp_path: Path) -> None:
    first, second = make_digest(), empty_day(date(2026, 2, 11))
    written = write_outputs(first, tmp_path, [first.day])
    for rel in (
        "md/2026-02/2026-02-10.md",
        "json/2026-02/2026-02-10.json",
        "html/2026-02/2026-02-10.html",
        "html/2026-02/index.html",
        "html/index.html",
    ):
        assert tmp_path / rel in written
        assert (tmp_path / rel).is_file()

    write_outputs(second, tmp_path, [first.day, second.day])
    month = (tmp_path / "html/2026-02/index.html").read_text(encoding="utf-8")
    assert 'href="2026-02-10.html"' in month and 'href="2026-02-11.html"' in month
    assert "3 selected" in month and "no announcement" in month
    assert "Sorting &lt;b&gt;" in month
    # The earlier day's page now links forward to the new day.
    earlier = (tmp_path / "html/2026-02/2026-02-10.html").read_text(encoding="utf-8")
    assert 'href="../2026-02/2026-02-11.html"' in earlier
    root = (tmp_path / "html/index.html").read_text(encoding="utf-8")
    assert 'href="2026-02/2026-02-11.html"' in root and 'href="2026-02/index.html"' in root
