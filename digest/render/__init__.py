"""Render a day's digest as Markdown, JSON and static HTML, and write them under `out/`.

Layout (one folder per month):

    out/md/YYYY-MM/YYYY-MM-DD.md
    out/json/YYYY-MM/YYYY-MM-DD.json
    out/html/YYYY-MM/YYYY-MM-DD.html
    out/html/YYYY-MM/index.html      monthly overview, built from out/json/YYYY-MM/*.json
    out/html/index.html              links to the latest day and every month
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_left, bisect_right
from datetime import date
from pathlib import Path

from digest.day import DayStatus, Digest
from digest.render.html import render_day_html, render_index_html, render_month_html
from digest.render.jsonout import digest_from_json, render_json
from digest.render.markdown import anchor, render_markdown

__all__ = [
    "digest_from_json",
    "render_day_html",
    "render_index_html",
    "render_json",
    "render_markdown",
    "render_month_html",
    "write_outputs",
]

log = logging.getLogger(__name__)

TOP_TITLES = 5  # titles per day on the month page


def _write(path: Path, text: str) -> Path:
    """Write atomically, so a served page is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _day_path(root: Path, kind: str, day: date) -> Path:
    return root / kind / f"{day:%Y-%m}" / f"{day.isoformat()}.{kind}"


def _read_json(path: Path) -> Digest | None:
    """A day's JSON document, or None (said in the log) when it cannot be read as one."""
    try:
        return digest_from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("skipping %s: %s", path, str(exc).splitlines()[0])
        return None


def _month_rows(
    out_dir: Path, month: str
) -> list[tuple[date, DayStatus, int, list[tuple[str, str]]]]:
    """The month page's rows, from the JSON documents already written for that month."""
    rows = []
    for path in sorted((out_dir / "json" / month).glob("*.json")):
        digest = _read_json(path)
        if digest is None:
            continue
        day = digest.day
        titles = [
            (e.paper.title, f"{day.isoformat()}.html#{anchor(n)}")
            for n, e in enumerate(digest.selected[:TOP_TITLES], 1)
        ]
        rows.append((day, digest.status, len(digest.selected), titles))
    return rows


def _neighbours(days: list[date], day: date) -> tuple[date | None, date | None]:
    i, j = bisect_left(days, day), bisect_right(days, day)
    return (days[i - 1] if i > 0 else None), (days[j] if j < len(days) else None)


def write_outputs(digest: Digest, out_dir: Path, known_days: list[date]) -> list[Path]:
    """Write the day's Markdown, JSON and HTML, refresh its month page and the site index.

    `known_days` are the dates that have a digest; they give the Previous/Next links. The
    neighbouring days' pages are re-rendered from their JSON (when present) so their links
    point at this day too. Returns every path written.
    """
    out_dir = Path(out_dir)
    day = digest.day
    days = sorted(set(known_days) | {day})
    written = [
        _write(_day_path(out_dir, "md", day), render_markdown(digest)),
        _write(_day_path(out_dir, "json", day), render_json(digest)),
    ]
    prev_day, next_day = _neighbours(days, day)
    written.append(
        _write(
            _day_path(out_dir, "html", day),
            render_day_html(digest, prev_day, next_day, "index.html"),
        )
    )

    for other in (prev_day, next_day):
        if other is None:
            continue
        neighbour = _read_json(_day_path(out_dir, "json", other))
        if neighbour is None:
            continue
        before, after = _neighbours(days, other)
        html = render_day_html(neighbour, before, after, "index.html")
        written.append(_write(_day_path(out_dir, "html", other), html))

    month = f"{day:%Y-%m}"
    month_page = render_month_html(month, _month_rows(out_dir, month))
    written.append(_write(out_dir / "html" / month / "index.html", month_page))

    json_root = out_dir / "json"
    all_months = sorted(p.name for p in json_root.iterdir() if p.is_dir() and any(p.glob("*.json")))
    on_disk = [date.fromisoformat(p.stem) for p in json_root.glob("*/*.json") if _is_iso(p.stem)]
    latest = max([*days, *on_disk])
    written.append(_write(out_dir / "html" / "index.html", render_index_html(latest, all_months)))
    return written


def _is_iso(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
