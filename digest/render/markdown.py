"""The reference layout as Markdown, plus the small helpers every renderer shares."""

from __future__ import annotations

import html

from digest.day import DayStatus, Digest, Entry, Usage
from digest.tldr import EXTRACTIVE_LABEL, extractive, tldr_label

TITLE = "Personalized Daily ArXiv Papers"
AUTHOR_MATCH = "Author match"

DEFAULT_MESSAGES = {
    DayStatus.BUILT: "",
    DayStatus.NO_ANNOUNCEMENT: "arXiv announced nothing today",
    DayStatus.STALE_FEED: "The arXiv feed has not been updated for today yet",
    DayStatus.FETCH_FAILED: "The arXiv listing could not be fetched today",
}


def status_message(digest: Digest) -> str:
    """The digest's message, or a default sentence for its status."""
    return digest.message or DEFAULT_MESSAGES.get(digest.status, str(digest.status))


def format_cost(cost: float | None) -> str:
    """'$1.09', or 'unknown' when the model has no known price."""
    return "unknown" if cost is None else f"${cost:.2f}"


def usage_row(usage: Usage) -> tuple[str, int, int, int, int, int, str]:
    """Model; prompt, cached (of prompt), completion, reasoning (of completion) and total
    tokens; and cost, as shown in the header table."""
    return (
        usage.model,
        usage.prompt_tokens,
        usage.cached_tokens,
        usage.completion_tokens,
        usage.reasoning_tokens,
        usage.total_tokens,
        format_cost(usage.cost),
    )


def anchor(number: int) -> str:
    """The in-page anchor of the paper numbered `number` (1-based)."""
    return f"paper-{number}"


def entry_comment(entry: Entry) -> str:
    """The comment line: 'Author match' for followed authors, else the scorer's comment; a
    paper close to the group's own work says so first (📌)."""
    comment = AUTHOR_MATCH if entry.followed else entry.score.comment
    if entry.close_to is not None:
        from digest.ours import line

        return f"{line(entry.close_to)}. {comment}"
    return comment


def entry_tldr(entry: Entry) -> tuple[str, str]:
    """(label, line) of a shown paper: its TL;DR, or an extractive line marked as such."""
    if entry.tldr:
        return tldr_label(entry), entry.tldr
    return EXTRACTIVE_LABEL, extractive(entry.paper.abstract)


def shows_score(entry: Entry) -> bool:
    """Followed-author papers skip scoring, so they show no score line."""
    return not entry.followed


def _cell(text: object) -> str:
    """One Markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _text(text: object) -> str:
    """Text from a paper or a scorer, shown as text: `<script>` stays visible, never runs."""
    return html.escape(str(text), quote=False)


def _link_text(text: str) -> str:
    return _text(" ".join(text.split())).replace("[", "\\[").replace("]", "\\]")


def render_markdown(digest: Digest) -> str:
    """Render one day's digest in the reference layout."""
    lines = [f"# {TITLE} {digest.day.isoformat()}", ""]
    if digest.status != DayStatus.BUILT:
        lines += [f"**{_text(status_message(digest))}**", "", f"Status: {digest.status.value}", ""]
        return "\n".join(lines)

    selected = digest.selected
    if digest.usage:
        lines += [
            "| Model | Prompt tokens | Cached | Completion tokens | Reasoning | Total tokens "
            "| Cost |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += ["| " + " | ".join(_cell(c) for c in usage_row(u)) + " |" for u in digest.usage]
        lines.append("")
    lines += [
        f"Total arXiv papers: {digest.total_entries}",
        "",
        f"Total scanned papers: {digest.scanned}",
        "",
        f"Total relevant papers: {len(selected)}",
        "",
        f"Judged by: {digest.scorer}",
        "",
        f"Cutoffs: relevance >= {digest.cutoffs.relevance}, novelty >= {digest.cutoffs.novelty}",
        "",
        f"Notes: {_text(digest.message)}",
        "",
    ]
    if digest.unscored:
        lines += [f"Unscored papers ({len(digest.unscored)}): {', '.join(digest.unscored)}", ""]
    if selected:
        lines += ["## Table of contents", ""]
        for n, entry in enumerate(selected, 1):
            paper = entry.paper
            lines.append(
                f"{n}. [{_link_text(paper.title)}](#{anchor(n)})"
                f" Authors: {_text(', '.join(paper.authors))}"
            )
        lines.append("")
    else:
        lines += ["No paper met the cutoffs today.", ""]

    for n, entry in enumerate(selected, 1):
        paper = entry.paper
        lines += [
            f'<a id="{anchor(n)}"></a>',
            "",
            f"## {n}. {_text(' '.join(paper.title.split()))}",
            "",
            f"**{entry_tldr(entry)[0]}:** {_text(entry_tldr(entry)[1])}",
            "",
            f"ArXiv ID: [{paper.id}]({paper.url})",
            "",
            f"Authors: {_text(', '.join(paper.authors))}",
            "",
            f"Abstract: {_text(paper.abstract)}",
            "",
            f"Comment: {_text(entry_comment(entry))}",
            "",
        ]
        if shows_score(entry):
            lines += [f"Relevance: {entry.score.relevance} Novelty: {entry.score.novelty}", ""]

    lines += ["## Paper Selection Prompt", ""]
    if digest.prompt:
        fence = _fence(digest.prompt)
        lines += [fence, digest.prompt.rstrip("\n"), fence, ""]
    if digest.criteria_text:
        fence = _fence(digest.criteria_text)
        lines += ["### Criteria", "", fence, digest.criteria_text.rstrip("\n"), fence, ""]
    return "\n".join(lines)


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run inside `text`."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)
