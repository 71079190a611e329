"""A library as examples: the arXiv ids of a BibTeX file's entries (or a Zotero library's
items), found in their fields or through their DOIs.

An entry names its arXiv paper by `eprint` (with `archivePrefix = arXiv`, or an id alone), an
arXiv URL (`url`, `howpublished`, `note`), `journal = "arXiv preprint arXiv:2106.09685"`, or a
DOI of arXiv's own (`10.48550/arXiv.2106.09685`). Any other DOI is asked of Semantic Scholar's
graph API (`POST /paper/batch?fields=externalIds` with `DOI:<doi>` ids, up to 500 a request):
it answers each with the paper's external ids, among them `ArXiv` where the paper has an arXiv
version. The arXiv export API cannot be searched by DOI reliably (a DOI is in its records only
where authors typed one), and Crossref knows no arXiv ids: hence Semantic Scholar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx

from digest.errors import FetchError, UsageError

MAX_BYTES = 1_000_000  # a .bib larger than this is refused (about 2,000 entries)
MAX_ENTRIES = 200  # entries with an arXiv id added from one file; the rest are named
DOI_BATCH = 500  # Semantic Scholar's batch limit
_NEW_ID = r"(\d{4}\.\d{4,5})(?:v\d+)?"
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/" + _NEW_ID, re.I)
_ARXIV_WORD = re.compile(r"\barXiv\s*:\s*" + _NEW_ID, re.I)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\." + _NEW_ID + "$", re.I)
_BARE_ID = re.compile(r"^\s*(?:arXiv\s*:\s*)?" + _NEW_ID + r"\s*$", re.I)
_OLD_ID = re.compile(r"\b([a-z-]+(?:\.[A-Z]{2})?/\d{7})\b", re.I)  # hep-th/9901001
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")
_HEAD = re.compile(r"^\s*@\s*(\w+)\s*[{(]", re.M)
_NOT_ENTRIES = {"comment", "string", "preamble"}


@dataclass(frozen=True)
class Entry:
    """One library entry: its citation key (or Zotero item key), arXiv id and DOI if any."""

    key: str
    arxiv: str = ""
    doi: str = ""
    old_arxiv: str = ""  # an arXiv id of the old form (hep-th/9901001): not taken by `like`


@dataclass
class Resolved:
    """Entry key -> arXiv id, and the entries that have none, each with the reason."""

    ids: dict[str, str] = field(default_factory=dict)
    unresolved: list[tuple[str, str]] = field(default_factory=list)
    incomplete: bool = False  # the DOI resolver could not be asked


def _text(fields: Mapping[str, str], *names: str) -> str:
    return " ".join(str(fields.get(n) or "") for n in names)


def entry_of(key: str, fields: Mapping[str, str]) -> Entry:
    """The arXiv id and DOI of one entry, from its fields (lower-case names)."""
    doi = (fields.get("doi") or "").strip()
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", doi, flags=re.I).strip()
    eprint = (fields.get("eprint") or "").strip()
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    found = _BARE_ID.match(eprint) if prefix in ("", "arxiv") else None
    found = found or _ARXIV_DOI.match(doi)
    found = found or _ARXIV_URL.search(_text(fields, "url", "howpublished", "note", "eprint"))
    found = found or _ARXIV_WORD.search(_text(fields, "journal", "note", "howpublished",
                                              "booktitle", "extra"))  # fmt: skip
    if found:
        return Entry(key, arxiv=found.group(1), doi=doi)
    old = _OLD_ID.search(eprint) if prefix in ("", "arxiv") else None
    return Entry(key, doi=doi, old_arxiv=old.group(1) if old else "")


@dataclass(frozen=True)
class BibFile:
    """What a .bib held: its entries, and how many entry heads could not be read."""

    entries: list[Entry]
    unreadable: int


def parse_bib(data: bytes, name: str = "the file") -> BibFile:
    """The entries of a BibTeX file; UsageError with one line when it is none."""
    import bibtexparser
    from bibtexparser.bparser import BibTexParser

    if len(data) > MAX_BYTES:
        raise UsageError(f"{name} is {len(data):,} bytes, more than the {MAX_BYTES:,} I read; "
                         "nothing was added: split it into smaller files")  # fmt: skip
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # older .bib files; it decodes any byte
    if "\x00" in text:
        raise UsageError(f"{name} is not a text file, so not BibTeX; nothing was added")
    if not text.strip():
        raise UsageError(f"{name} is empty; nothing was added")
    heads = [h for h in _HEAD.findall(text) if h.lower() not in _NOT_ENTRIES]
    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False)
    try:
        rows = bibtexparser.loads(text, parser).entries
    except Exception as exc:  # the parser's own errors (pyparsing's) are not one family
        raise UsageError(
            f"{name} is not valid BibTeX ({type(exc).__name__}); nothing was added"
        ) from None
    if not rows:
        raise UsageError(f"{name} holds no BibTeX entry I can read (entries look like "
                         "`@article{key, title = {...}, eprint = {2106.09685}}`); nothing was "
                         "added")  # fmt: skip
    entries = [entry_of(str(r.get("ID") or f"entry {i + 1}"), r) for i, r in enumerate(rows)]
    return BibFile(entries, max(0, len(heads) - len(rows)))


def resolve(
    entries: Iterable[Entry], doi_url: str, api_key: str = "", timeout: float = 20.0
) -> Resolved:
    """Each entry's arXiv id: its own, else its DOI's (asked of Semantic Scholar at `doi_url`).
    An unreachable resolver leaves those entries unresolved with the reason."""
    out = Resolved()
    asking: dict[str, list[str]] = {}
    for e in entries:
        if e.arxiv:
            out.ids[e.key] = e.arxiv
        elif e.doi:
            asking.setdefault(e.doi.lower(), []).append(e.key)
        elif e.old_arxiv:
            out.unresolved.append((e.key, f"old-style arXiv id {e.old_arxiv}, not taken"))
        else:
            out.unresolved.append((e.key, "no arXiv id or DOI"))
    if not asking:
        return out
    try:
        found = doi_arxiv_ids(list(asking), doi_url, api_key, timeout)
    except FetchError as exc:
        out.incomplete = True
        out.unresolved += [(k, str(exc)) for keys in asking.values() for k in keys]
        return out
    for doi, keys in asking.items():
        for k in keys:
            if found.get(doi):
                out.ids[k] = found[doi]
            else:
                why = "unknown to Semantic Scholar" if doi not in found else "no arXiv version"
                out.unresolved.append((k, f"DOI {doi}: {why}"))
    return out


def doi_arxiv_ids(
    dois: list[str], base_url: str, api_key: str = "", timeout: float = 20.0
) -> dict[str, str]:
    """DOI (lower case) -> arXiv id ("" when the paper has none) from Semantic Scholar's batch
    endpoint; DOIs it does not know are absent. FetchError when it cannot be asked."""
    headers = {"x-api-key": api_key} if api_key else {}
    url = base_url.rstrip("/") + "/paper/batch"
    out: dict[str, str] = {}
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            for start in range(0, len(dois), DOI_BATCH):
                batch = dois[start : start + DOI_BATCH]
                response = client.post(url, params={"fields": "externalIds"},
                                       json={"ids": [f"DOI:{d}" for d in batch]})  # fmt: skip
                if response.status_code == 429:
                    raise FetchError("Semantic Scholar is busy (429): try again in a few minutes")
                if response.status_code == 400:  # none of the batch is a DOI it can read
                    continue
                response.raise_for_status()
                papers = response.json()
                if not isinstance(papers, list) or len(papers) != len(batch):
                    raise FetchError("Semantic Scholar answered in a shape I do not know")
                for doi, paper in zip(batch, papers, strict=True):
                    if isinstance(paper, dict):
                        ids = paper.get("externalIds") or {}
                        found = _BARE_ID.match(str(ids.get("ArXiv") or ""))
                        out[doi] = found.group(1) if found else ""
    except (httpx.HTTPError, ValueError) as exc:
        raise FetchError(f"Semantic Scholar unreachable ({type(exc).__name__}): try again in a "
                         "few minutes") from exc  # fmt: skip
    return out
