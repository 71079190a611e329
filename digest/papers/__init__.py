"""Papers and where they come from: arXiv RSS, the export API, the bundled sample day."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
_ID_RE = re.compile(r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?$")


@dataclass(frozen=True)
class Paper:
    """One arXiv paper as announced on one day."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    announce_type: str = "new"
    version: int | None = None
    primary_category: str | None = None
    feeds: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    comment: str | None = None

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def text(self) -> str:
        """Title and abstract, the text every scorer reads."""
        return f"{self.title}. {self.abstract}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["authors"] = list(self.authors)
        data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Paper:
        """Build a Paper from a listing line (the shape of `data/arxiv/*.jsonl`)."""
        pid, version = split_id(str(data["id"]))
        categories = tuple(data.get("categories") or ())
        return cls(
            id=pid,
            version=data.get("version") or version,
            title=" ".join(str(data.get("title", "")).split()),
            abstract=" ".join(str(data.get("abstract", "")).split()),
            authors=tuple(data.get("authors") or ()),
            categories=categories,
            primary_category=data.get("primary_category")
            or (categories[0] if categories else None),
            announce_type=data.get("announce_type") or "new",
            feeds=dict(data.get("feeds") or {}),
            comment=data.get("comment"),
        )


def split_id(raw: str) -> tuple[str, int | None]:
    """'oai:arXiv.org:2604.21952v1' or 'http://arxiv.org/abs/2604.21952v1' -> ('2604.21952', 1)."""
    tail = raw.strip().rsplit("abs/", 1)[-1]
    tail = tail.rsplit(":", 1)[-1] if tail.startswith("oai:") else tail
    match = _ID_RE.search(tail)
    if not match:
        raise ValueError(f"not an arXiv id: {raw!r}")
    version = match.group("v")
    return match.group("id"), int(version) if version else None


def read_listing(path: Path) -> list[Paper]:
    """Read a day listing: one JSON object per line."""
    papers = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                papers.append(Paper.from_dict(json.loads(line)))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{lineno}: not a paper line ({exc})") from exc
    return papers


SAMPLE_DAY = "2026-02-10"


def sample_path() -> Path:
    """The bundled sample day: the real 2026-02-10 cs.LG + cs.AI listing."""
    return Path(__file__).resolve().parent.parent / "data" / f"sample-{SAMPLE_DAY}.jsonl"


def read_sample() -> list[Paper]:
    return read_listing(sample_path())
