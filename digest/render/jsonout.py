"""A day's digest as a JSON document, and back (enough to re-render its pages)."""

from __future__ import annotations

from dataclasses import replace

from digest.day import DIGEST, Digest


def render_json(digest: Digest) -> str:
    """One day's digest as an indented UTF-8 JSON document: its selected entries, in order."""
    return DIGEST.dump_json(replace(digest, entries=digest.selected), indent=2).decode() + "\n"


def digest_from_json(text: str) -> Digest:
    """Parse a document written by `render_json`; raises ValueError when it is not one."""
    return DIGEST.validate_json(text)
