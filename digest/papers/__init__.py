"""Papers and where they come from: arXiv RSS, the export API, the bundled sample day."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from digest.errors import ListingError

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
        """Build a Paper from a listing line (the shape of `data/arxiv/*.jsonl`).

        Raises ValueError naming the field when a field has the wrong type.
        """
        if "id" not in data:
            raise ValueError("no 'id' field")
        for name in ("id", "title", "abstract", "announce_type", "primary_category", "comment"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"field '{name}' must be a string, got {_json_type(data[name])}")
        for name in ("authors", "categories"):
            value = data.get(name)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise ValueError(
                    f"field '{name}' must be a list of strings, got {_json_type(value)}"
                )
        if data.get("feeds") is not None and not isinstance(data["feeds"], dict):
            raise ValueError(f"field 'feeds' must be an object, got {_json_type(data['feeds'])}")
        version = data.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise ValueError(f"field 'version' must be a whole number, got {_json_type(version)}")
        pid, id_version = split_id(data["id"])
        categories = tuple(data.get("categories") or ())
        return cls(
            id=pid,
            version=version or id_version,
            title=" ".join((data.get("title") or "").split()),
            abstract=" ".join((data.get("abstract") or "").split()),
            authors=tuple(data.get("authors") or ()),
            categories=categories,
            primary_category=data.get("primary_category")
            or (categories[0] if categories else None),
            announce_type=data.get("announce_type") or "new",
            feeds={str(k): str(v) for k, v in (data.get("feeds") or {}).items()},
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
    """Read a day listing: one JSON object per line. Raises ListingError naming file and line."""
    papers = []
    with Path(path).open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ListingError(
                    f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                    "a listing is JSON lines in UTF-8"
                ) from None
            if line.strip():
                papers.append(_paper_line(line, path, lineno))
    return papers


def _paper_line(line: str, path: Path, lineno: int) -> Paper:
    where = f"{path}:{lineno}"
    try:
        data = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
        raise ListingError(f"{where}: not a JSON line ({exc})") from None
    except RecursionError:
        raise ListingError(f"{where}: not a paper line (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise ListingError(f"{where}: expected a JSON object (one paper), got {_json_type(data)}")
    try:
        return Paper.from_dict(data)
    except ValueError as exc:
        raise ListingError(f"{where}: not a paper line: {exc}") from None


def _json_type(value: object) -> str:
    """How JSON would name the type of `value`: 'a string', 'an array', 'null'..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


SAMPLE_DAY = "2026-02-10"


def sample_path() -> Path:
    """The bundled sample day: the real 2026-02-10 cs.LG + cs.AI listing."""
    return Path(__file__).resolve().parent.parent / "data" / f"sample-{SAMPLE_DAY}.jsonl"


def read_sample() -> list[Paper]:
    return read_listing(sample_path())
