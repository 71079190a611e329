"""Static HTML pages (day, month, site index) from the Jinja2 templates in `templates/`.

Layout under `out/html/`: `YYYY-MM/YYYY-MM-DD.html` per day, `YYYY-MM/index.html` per month,
and `index.html` at the top. Links between pages are relative, so the folder can be served or
opened from disk as is.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from digest.day import DayStatus, Digest
from digest.render.markdown import (
    TITLE,
    anchor,
    entry_comment,
    entry_tldr,
    shows_score,
    status_message,
    usage_row,
)

STATUS_LABELS = {
    DayStatus.BUILT: "digest",
    DayStatus.NO_ANNOUNCEMENT: "no announcement",
    DayStatus.STALE_FEED: "stale feed",
    DayStatus.FETCH_FAILED: "fetch failed",
}


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("digest.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(template: str, **context: object) -> str:
    return _env().get_template(template).render(**context)


def day_href(day: date, from_root: bool = False) -> str:
    """Link to a day page from another day or month page (or from the site root)."""
    path = f"{day:%Y-%m}/{day.isoformat()}.html"
    return path if from_root else f"../{path}"


def render_day_html(
    digest: Digest, prev_day: date | None, next_day: date | None, month_url: str
) -> str:
    """One page per day: navigation links, then the same content as the Markdown digest."""
    papers = [
        {
            "number": n,
            "anchor": anchor(n),
            "paper": e.paper,
            "comment": entry_comment(e),
            "tldr_label": entry_tldr(e)[0],
            "tldr": entry_tldr(e)[1],
            "show_score": shows_score(e),
            "relevance": e.score.relevance,
            "novelty": e.score.novelty,
            "followed": e.followed,
        }
        for n, e in enumerate(digest.selected, 1)
    ]
    return _render(
        "day.html",
        title=f"{TITLE} {digest.day.isoformat()}",
        digest=digest,
        built=digest.status == DayStatus.BUILT,
        message=status_message(digest),
        status_label=STATUS_LABELS.get(digest.status, str(digest.status)),
        usage=[usage_row(u) for u in digest.usage],
        papers=papers,
        prev_day=prev_day,
        next_day=next_day,
        prev_url=day_href(prev_day) if prev_day else None,
        next_url=day_href(next_day) if next_day else None,
        month=f"{digest.day:%Y-%m}",
        month_url=month_url,
    )


def render_month_html(
    month: str, days: list[tuple[date, DayStatus, int, list[tuple[str, str]]]]
) -> str:
    """The monthly overview: each day's status, number selected and top titles.

    `days` holds (day, status, number selected, [(title, href), ...]); hrefs are relative to
    the month folder (e.g. `2026-02-10.html#paper-1`).
    """
    rows = [
        {
            "day": d,
            "url": f"{d.isoformat()}.html",
            "status": status,
            "built": status == DayStatus.BUILT,
            "label": STATUS_LABELS.get(status, str(status)),
            "count": count,
            "titles": titles,
        }
        for d, status, count, titles in sorted(days, key=lambda row: row[0])
    ]
    return _render("month.html", title=f"Monthly Overview {month}", month=month, days=rows)


def render_index_html(latest: date | None, months: list[str]) -> str:
    """The site root: a link to the latest day and to every month overview."""
    return _render(
        "index.html",
        title=TITLE,
        latest=latest,
        latest_url=day_href(latest, from_root=True) if latest else None,
        months=[(m, f"{m}/index.html") for m in sorted(months, reverse=True)],
    )
