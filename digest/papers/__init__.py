"""Papers and where they come from: arXiv RSS, the export API, the bundled sample day."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

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


class _Line(BaseModel):
    """A listing line's fields with the types JSON must give them; other keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: str
    title: str | None = None
    abstract: str | None = None
    authors: list[str] | None = None
    categories: list[str] | None = None
    announce_type: str | None = None
    version: int | None = None  # strict: neither "2" nor true
    primary_category: str | None = None
    feeds: dict[str, Any] | None = None
    comment: str | None = None


_KINDS: dict[object, str] = {  # what each field's type is called in an error, as JSON names it
    str: "a string",
    list[str]: "a list of strings",
    int: "a whole number",
    dict[str, Any]: "an object",
}
_PAPER = TypeAdapter(Paper)


def dump_paper(paper: Paper) -> dict[str, Any]:
    """The paper as a listing line's JSON data (the shape of `data/arxiv/*.jsonl`)."""
    result: dict[str, Any] = _PAPER.dump_python(paper, mode="json")
    return result


def load_paper(data: dict[str, Any]) -> Paper:
    """Build a Paper from a listing line (the shape of `data/arxiv/*.jsonl`).

    Raises ValueError naming the field when a field is missing or has the wrong type.
    """
    try:
        line = _Line.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_problem(exc, data)) from None
    pid, id_version = split_id(line.id)
    categories = tuple(line.categories or ())
    return Paper(
        id=pid,
        version=line.version or id_version,
        title=" ".join((line.title or "").split()),
        abstract=" ".join((line.abstract or "").split()),
        authors=tuple(line.authors or ()),
        categories=categories,
        primary_category=line.primary_category or (categories[0] if categories else None),
        announce_type=line.announce_type or "new",
        feeds={str(k): str(v) for k, v in (line.feeds or {}).items()},
        comment=line.comment,
    )


def _problem(exc: ValidationError, data: dict[str, Any]) -> str:
    """One line for the first bad field: "no 'id' field", "field 'x' must be ..., got ..."."""
    error = exc.errors()[0]
    name = str(error["loc"][0])
    if error["type"] == "missing":
        return f"no '{name}' field"
    annotation = _Line.model_fields[name].annotation
    kind = next(_KINDS[t] for t in (*get_args(annotation), annotation) if t in _KINDS)
    return f"field '{name}' must be {kind}, got {_json_type(data[name])}"


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
        return load_paper(data)
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
