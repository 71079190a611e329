"""A chat's Zotero library (or one collection of it) kept in step with its wanted examples.

`zotero users/123 [<collection key>]` names the library (stored with the chat's settings), and
the service reads it once a day with pyzotero (Zotero Web API v3, `ZOTERO_API_KEY`): every
top-level item whose arXiv paper can be found (its URL, DOI, `Extra` "arXiv: ..." line or
archive id, or a DOI Semantic Scholar maps to an arXiv id) is a wanted example, labelled with
the source `example:<chat>:zotero`; an example of that source whose item left the library stops
being one. Examples added with `like` or a .bib file have another source and are never removed
by the sync, even when the same paper was in Zotero.

Nothing changes when the library cannot be read, or arXiv cannot be reached; while Semantic
Scholar cannot be asked, nothing is removed (an item it could not resolve may still be there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from digest import examples, library
from digest.config import Settings
from digest.criteria import Criteria
from digest.errors import ConfigError, FetchError
from digest.store import Store

if TYPE_CHECKING:
    import arxiv

_LIBRARY = re.compile(r"^(users|groups)/(\d+)$")
_COLLECTION = re.compile(r"^[A-Z0-9]{8}$")
SKIPPED_TYPES = {"attachment", "note", "annotation"}
USAGE = "usage: zotero <users/123 | groups/456> [<collection key>] | zotero off"


def check_library(text: str) -> str:
    """`users/123` or `groups/456` (as in the library's web address)."""
    found = _LIBRARY.match(text.strip().strip("/").lower())
    if not found:
        raise ConfigError(f"'{text[:60]}' is not a Zotero library: write users/<your user ID> "
                          "(Zotero's Settings > Security) or groups/<group ID>")  # fmt: skip
    return f"{found.group(1)}/{found.group(2)}"


def check_collection(text: str) -> str:
    """A collection key: 8 letters and digits (in the collection's web address)."""
    key = text.strip().upper()
    if not _COLLECTION.match(key):
        raise ConfigError(f"'{text[:60]}' is not a Zotero collection key (8 letters and digits, "
                          "as in zotero.org/.../collections/ABCD2345)")  # fmt: skip
    return key


@dataclass
class Synced:
    """What one sync did."""

    items: int = 0  # top-level items read
    added: list[str] = field(default_factory=list)  # arXiv ids that became examples
    removed: list[str] = field(default_factory=list)  # arXiv ids that stopped being ones
    # (an id also added with `like` or a .bib file loses only its Zotero label: not counted)
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (item, why)
    kept_back: bool = False  # removals held back: Semantic Scholar could not be asked

    def line(self) -> str:
        held = "; nothing removed while Semantic Scholar is unreachable" if self.kept_back else ""
        return (f"{self.items} items read: {len(self.added)} examples added, "
                f"{len(self.removed)} removed, {len(self.unresolved)} items without an arXiv "
                f"paper{held}")  # fmt: skip


def entry(item: dict[str, Any]) -> library.Entry:
    """A Zotero item (the API's JSON) as a library entry, keyed by its title (or key)."""
    data = item.get("data") or {}
    fields = {
        "url": data.get("url") or "",
        "doi": data.get("DOI") or "",
        "extra": data.get("extra") or "",
        "journal": data.get("publicationTitle") or "",
        "eprint": data.get("archiveID") or "",
    }
    title = str(data.get("title") or item.get("key") or "an item")
    name = title if len(title) <= 60 else title[:59] + "…"
    return library.entry_of(name, fields)


def read_items(where: str, collection: str, api_key: str, base_url: str) -> list[dict[str, Any]]:
    """Every top-level item of the library (or collection), page by page (pyzotero follows
    the Link headers); FetchError with one line when Zotero cannot be read."""
    import httpx2
    from pyzotero import errors, zotero

    kind, number = where.split("/")
    zot = zotero.Zotero(number, kind.removesuffix("s"), api_key)
    zot.endpoint = base_url.rstrip("/")
    try:
        first = zot.collection_items_top(collection) if collection else zot.top()
        items = zot.everything(first)
    except errors.UserNotAuthorisedError:
        raise FetchError(f"Zotero refused to show {where} to this ZOTERO_API_KEY (403): give "
                         "the key read access to that library") from None  # fmt: skip
    except errors.ResourceNotFoundError:
        what = f"collection {collection} of {where}" if collection else where
        raise FetchError(f"Zotero has no {what} (404)") from None
    except (errors.PyZoteroError, httpx2.HTTPError, ValueError) as exc:
        raise FetchError(
            f"Zotero could not be read ({type(exc).__name__}); try again later"
        ) from None
    finally:
        if zot.client is not None:
            zot.client.close()
    return [i for i in items if (i.get("data") or {}).get("itemType") not in SKIPPED_TYPES]


def sync(
    store: Store,
    criteria: Criteria,
    subscription: str,
    items: list[dict[str, Any]],
    doi_url: str,
    client: arxiv.Client,
    s2_key: str = "",
) -> Synced:
    """Bring the chat's Zotero examples in step with `items`: add the new, remove the gone."""
    entries = [entry(i) for i in items]
    resolved = library.resolve(entries, doi_url, s2_key)
    done = Synced(items=len(items), unresolved=list(resolved.unresolved))
    ids = list(dict.fromkeys(resolved.ids.values()))
    fetched = examples.papers_for(store, ids, client)  # FetchError: nothing changed
    keys = {arxiv_id: k for k, arxiv_id in resolved.ids.items()}
    done.unresolved += [(keys[i], f"arXiv {i}: not found on arXiv") for i in fetched.missing]
    had = set(examples.of_chat(store, criteria, subscription, examples.ZOTERO))
    done.added = [p.id for p in fetched.papers if p.id not in had]
    examples.add(store, criteria, subscription, fetched.papers, examples.ZOTERO)
    done.kept_back = resolved.incomplete
    if not resolved.incomplete:
        wanted = set(ids) - set(fetched.missing) | set(fetched.missing) & had
        gone = sorted(had - wanted)
        store.delete_labels(criteria.scoring_hash, gone,
                            examples.source(subscription, examples.ZOTERO))  # fmt: skip
        still = set(examples.of_chat(store, criteria, subscription))  # liked too: stays one
        done.removed = [i for i in gone if i not in still]
    return done


def stop(store: Store, criteria: Criteria, subscription: str) -> list[str]:
    """`zotero off`: the chat's Zotero examples stop being examples; their ids."""
    had = examples.of_chat(store, criteria, subscription, examples.ZOTERO)
    store.delete_labels(criteria.scoring_hash, had, examples.source(subscription, examples.ZOTERO))
    return had


def run(
    store: Store,
    criteria: Criteria,
    subscription: str,
    where: str,
    collection: str,
    settings: Settings,
    api_key: str,
    s2_key: str = "",
) -> Synced:
    """Read the library (or collection) and bring the chat's Zotero examples in step."""
    from digest.papers.export_api import default_client

    items = read_items(where, collection, api_key, settings.library.zotero_url)
    client = default_client(settings.arxiv.export_url, settings.arxiv.export_delay)
    return sync(store, criteria, subscription, items, settings.library.doi_url, client, s2_key)
