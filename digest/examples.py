"""Wanted examples: papers a chat names with `like` (by arXiv id or URL), fetched from the arXiv
export API, kept with their text and embedding, and labelled wanted for the chat's criteria.

An example is a label of kind `example` (source `example:<subscription>`), weighed as a
person's rating is. Labels belong to a criteria, so chats with the same criteria share their
examples, as they share their scores. The local scorer uses them from its next scoring: as a
lift next to the criteria (digest/scoring/examples.py) until a model is learned, then as
labels of the learned model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from digest.criteria import Criteria
from digest.errors import FetchError, UsageError
from digest.papers import Paper
from digest.scoring import embedding
from digest.scoring import examples as signal
from digest.store import Store

if TYPE_CHECKING:
    import arxiv

MAX_AT_ONCE = 50  # ids one `like` takes
BATCH = 50  # ids per export-API request
KIND = "example"
ZOTERO = "zotero"  # the origin of the examples the Zotero sync keeps
_ID = re.compile(r"^(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?(\d{4}\.\d{4,5})"
                 r"(?:v\d+)?(?:\.pdf)?/?$", re.I)  # fmt: skip


@dataclass(frozen=True)
class Fetched:
    """Papers found on arXiv, and the ids it does not know."""

    papers: list[Paper]
    missing: list[str]


def source(subscription: str, origin: str = "") -> str:
    """The label source of a chat's examples: `example:<chat>` for `like` and a .bib file,
    `example:<chat>:zotero` for those the Zotero sync keeps in step (it removes only these)."""
    return f"{KIND}:{subscription}" + (f":{origin}" if origin else "")


def parse_ids(words: Iterable[str], command: str = "like") -> list[str]:
    """arXiv ids (2602.08005, 2602.08005v2) or abs/pdf URLs -> ids, in order, once each.
    Anything else, or more than MAX_AT_ONCE, is a UsageError naming it."""
    ids, bad = [], []
    for word in words:
        found = _ID.match(word.strip().strip("<>,"))
        (ids.append(found.group(1)) if found else bad.append(word))
    usage = f"usage: {command} <arXiv id | arXiv URL> ... (up to {MAX_AT_ONCE})"
    if bad:
        shown = ", ".join(f"'{b[:60]}'" for b in bad[:3])
        raise UsageError(f"not an arXiv id or URL: {shown}; nothing was changed; {usage}")
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise UsageError(usage)
    if len(ids) > MAX_AT_ONCE:
        raise UsageError(f"{len(ids)} papers at once is more than {MAX_AT_ONCE}; {usage}")
    return ids


def fetch(ids: list[str], client: arxiv.Client) -> Fetched:
    """The papers of `ids` from the export API, BATCH ids a request (the client waits its
    courtesy delay between requests); the ids arXiv does not return are `missing`."""
    import arxiv

    from digest.papers.export_api import to_paper

    found: dict[str, Paper] = {}
    try:
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            search = arxiv.Search(id_list=batch, max_results=len(batch))
            for result in client.results(search):
                paper = to_paper(result)
                found.setdefault(paper.id, paper)
    except (arxiv.ArxivError, OSError) as exc:
        raise _unreachable(client, exc) from exc
    return Fetched([found[i] for i in ids if i in found], [i for i in ids if i not in found])


def by_author(name: str, client: arxiv.Client, most: int = MAX_AT_ONCE) -> list[Paper]:
    """An author's latest papers on arXiv (at most `most`), newest first."""
    import arxiv

    from digest.papers.export_api import to_paper

    words = " ".join(re.sub(r"[^\w\s.'-]", " ", name).split())
    if not words:
        raise UsageError("usage: ours <arXiv ids | author name>")
    search = arxiv.Search(
        query=f'au:"{words}"', max_results=most, sort_by=arxiv.SortCriterion.SubmittedDate
    )
    try:
        return [to_paper(r) for r in client.results(search)]
    except (arxiv.ArxivError, OSError) as exc:
        raise _unreachable(client, exc) from exc


def _unreachable(client: arxiv.Client, exc: Exception) -> FetchError:
    where = client.query_url_format.split("?", 1)[0]
    return FetchError(
        f"could not reach the arXiv export API ({where}): {type(exc).__name__}; nothing was "
        "changed, try again in a few minutes"
    )


def papers_for(store: Store, ids: list[str], client: arxiv.Client) -> Fetched:
    """The papers of `ids`: from the store where kept, else from arXiv (and kept)."""
    kept = {p.id: p for p in store.papers(ids)}
    todo = [i for i in ids if i not in kept]
    fetched = fetch(todo, client) if todo else Fetched([], [])
    store.save_papers(fetched.papers)
    kept.update({p.id: p for p in fetched.papers})
    return Fetched([kept[i] for i in ids if i in kept], fetched.missing)


def embed_papers(store: Store, papers: list[Paper]) -> None:
    """Embed papers (kept in the store) once, for the scorer and for `ours`."""
    embedding.embed([p.id for p in papers], [p.text for p in papers], store)


def add(
    store: Store, criteria: Criteria, subscription: str, papers: list[Paper], origin: str = ""
) -> None:
    """Make `papers` (kept in the store) wanted examples for the criteria; embeds them."""
    embedding.embed([p.id for p in papers], [p.text for p in papers], store)
    labels = {p.id: 1.0 for p in papers}
    store.save_labels(criteria.scoring_hash, labels, source(subscription, origin))


def remove(store: Store, criteria: Criteria, subscription: str, ids: list[str]) -> list[str]:
    """Stop `ids` being the chat's examples; the ids that were."""
    were = set(of_chat(store, criteria, subscription))
    for origin in ("", ZOTERO):
        store.delete_labels(criteria.scoring_hash, ids, source(subscription, origin))
    return [i for i in ids if i in were]


def of_chat(
    store: Store, criteria: Criteria, subscription: str, origin: str | None = None
) -> list[str]:
    """The chat's examples for the criteria, oldest first (only those of `origin`, if given:
    "" for `like`'s, "zotero" for the sync's)."""
    mine = {source(subscription, o) for o in (("", ZOTERO) if origin is None else (origin,))}
    rows = store.label_rows(criteria.scoring_hash)
    return list(dict.fromkeys(pid for pid, _, src in rows if src in mine))


def ids_of(store: Store, criteria: Criteria) -> list[str]:
    """Every wanted example of the criteria (all chats that share it), oldest first."""
    rows = store.label_rows(criteria.scoring_hash)
    return list(dict.fromkeys(p for p, v, src in rows if src.startswith(f"{KIND}:") and v >= 0.5))


def vectors(
    store: Store, criteria: Criteria, extra: Iterable[Paper] = ()
) -> tuple[np.ndarray, str] | None:
    """The examples' embeddings (with `extra` papers, for a preview) and their key, for the
    local scorer; None without examples."""
    papers = store.papers(ids_of(store, criteria))
    papers += [p for p in extra if p.id not in {q.id for q in papers}]
    if not papers:
        return None
    emb = embedding.embed([p.id for p in papers], [p.text for p in papers], store)
    return emb, signal.key([p.id for p in papers])
