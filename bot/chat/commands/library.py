""".bib files sent to the bot: every entry with an arXiv id, or a DOI Semantic Scholar maps to
one, becomes a wanted example exactly as `like` makes one (same permission, same reply), and the
reply names the entries that could not be added, by citation key, and why.

The platforms call `read_bib` with the file's name and size and a way to download it; it
decides whether to read the file at all before anything is downloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.chat.commands.context import (
    Context,
    Deps,
    _criteria,
    _may_change,
    _subscription,
    not_allowed,
)
from bot.chat.commands.examples import liked
from bot.chat.commands.parser import Command
from bot.chat.replies import Reply
from digest import (
    BIB_MAX_BYTES,
    BIB_MAX_ENTRIES,
    ZOTERO_USAGE,
    ConfigError,
    DigestError,
    Subscription,
    UsageError,
    check_collection,
    check_library,
    clip,
    default_client,
    example_papers,
    load_secrets,
    parse_bib,
    resolve_library,
    stop_zotero,
    sync_zotero,
)

SHOWN_UNRESOLVED = 25  # entries named one a line; the rest are counted


def is_bib(name: str) -> bool:
    """A BibTeX file, by its name."""
    return name.lower().endswith(".bib")


async def read_bib(
    name: str,
    size: int | None,
    download: Callable[[], Awaitable[bytes]],
    ctx: Context,
    deps: Deps,
) -> Reply | None:
    """The answer to a file sent here; None for a file that is no .bib in a group chat (people
    share papers and pictures there: only a DM answers every file)."""
    shown = clip(name or "the file", 80)
    if not is_bib(name):
        if not ctx.dm:
            return None
        return Reply("Not a .bib file", [f"{shown} is not a BibTeX file (a name ending in "
                     ".bib): I read .bib files here and add their papers as wanted examples, "
                     "as `like` does; nothing was added"], ephemeral=True, error=True)  # fmt: skip
    try:
        sub = _subscription(ctx, deps)
        if not _may_change(ctx, deps):
            return not_allowed()
        if size is not None and size > BIB_MAX_BYTES:
            raise UsageError(f"{shown} is {size:,} bytes, more than the {BIB_MAX_BYTES:,} I "
                             "read; nothing was added: split it into smaller files")  # fmt: skip
        try:
            data = await download()
        except DigestError as exc:  # the platform's FetchError
            raise UsageError(str(exc)) from None
        return await _add(shown, data, sub.id, deps)
    except UsageError as exc:
        return Reply("Could not read the file", [str(exc)], ephemeral=True, error=True)
    except DigestError as exc:
        return Reply("Sorry", [str(exc)], ephemeral=True, error=True)


async def _add(name: str, data: bytes, sub_id: str, deps: Deps) -> Reply:
    bib = parse_bib(data, name)
    settings = deps.settings
    key = load_secrets().semantic_scholar_api_key
    resolved = await asyncio.to_thread(resolve_library, bib.entries, settings.library.doi_url, key)
    unresolved = list(resolved.unresolved)
    by_id: dict[str, list[str]] = {}
    for entry_key, arxiv_id in resolved.ids.items():
        by_id.setdefault(arxiv_id, []).append(entry_key)
    ids = list(by_id)
    for late in ids[BIB_MAX_ENTRIES:]:
        unresolved += [(k, f"more than {BIB_MAX_ENTRIES} papers in one file: send it in "
                        "another") for k in by_id[late]]  # fmt: skip
    ids = ids[:BIB_MAX_ENTRIES]
    client = default_client(settings.arxiv.export_url, settings.arxiv.export_delay)
    fetched = await asyncio.to_thread(example_papers, deps.store, ids, client)
    for missing in fetched.missing:
        unresolved += [(k, f"arXiv {missing}: not found on arXiv") for k in by_id[missing]]
    lines = _unresolved(unresolved, bib.unreadable)
    if not fetched.papers:
        raise UsageError("\n".join([f"no entry of {name} names a paper I could find on arXiv; "
                                    "nothing was added", *lines]))  # fmt: skip
    n = len(fetched.papers)
    return Reply(
        f"{n} wanted example{'s' if n != 1 else ''} added from {name}",
        [
            f"{len(bib.entries)} entries read: {n} added, {len(unresolved)} not",
            *await liked(sub_id, fetched.papers, deps),
            *lines,
        ],
    )


def _unresolved(unresolved: list[tuple[str, str]], unreadable: int) -> list[str]:
    """The entries not added, by citation key, with the reason."""
    lines = [f"not added, {len(unresolved)} entries:"] if unresolved else []
    lines += [f"  {clip(k, 60)}: {why}" for k, why in unresolved[:SHOWN_UNRESOLVED]]
    if len(unresolved) > SHOWN_UNRESOLVED:
        lines.append(f"  and {len(unresolved) - SHOWN_UNRESOLVED} more")
    if unreadable:
        lines.append(f"{unreadable} entries could not be read as BibTeX (a missing brace or "
                     "comma?) and were skipped")  # fmt: skip
    return lines


async def _zotero(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    """`zotero users/123 [<collection>]`: read it now and every day; `zotero off`: stop."""
    sub = _subscription(ctx, deps)
    _, criteria = _criteria(deps, sub.id)
    args = cmd.args
    if [a.lower() for a in args] == ["off"]:
        gone = await asyncio.to_thread(stop_zotero, deps.store, criteria, sub.id)
        deps.store.save_subscription(replace(sub, zotero_library="", zotero_collection=""))
        return Reply("Zotero sync stopped", [
            f"{len(gone)} examples that came from Zotero removed; those added with `like` or "
            "a .bib file stay"])  # fmt: skip
    if not 1 <= len(args) <= 2:
        raise UsageError(ZOTERO_USAGE)
    try:
        where = check_library(args[0])
        collection = check_collection(args[1]) if len(args) == 2 else ""
    except ConfigError as exc:
        raise UsageError(f"{exc}; {ZOTERO_USAGE}") from None
    secrets = load_secrets()
    if not secrets.zotero_api_key:
        raise UsageError("ZOTERO_API_KEY is not set where paperdigest runs (a key from "
                         "zotero.org/settings/keys with read access to the library); nothing "
                         "was changed")  # fmt: skip
    synced = await asyncio.to_thread(
        sync_zotero, deps.store, criteria, sub.id, where, collection, deps.settings,
        secrets.zotero_api_key, secrets.semantic_scholar_api_key,
    )  # fmt: skip
    deps.store.save_subscription(replace(sub, zotero_library=where, zotero_collection=collection))
    what = f"collection {collection} of {where}" if collection else where
    return Reply(
        f"Zotero {what} linked",
        [
            synced.line(),
            f"read again every day at {deps.settings.library.zotero_sync} UTC: items added "
            "there become examples, items removed stop being ones (`zotero off` stops)",
            *_unresolved(synced.unresolved, 0),
        ],
    )


def zotero_line(sub: Subscription) -> str:
    """For `settings`: the chat's Zotero library, if one."""
    if not sub.zotero_library:
        return "Zotero: none (`zotero users/123` keeps the examples in step with a library)"
    where = sub.zotero_library + (f", collection {sub.zotero_collection}"
                                  if sub.zotero_collection else "")  # fmt: skip
    return f"Zotero: {where}, read daily"


HANDLERS = {"zotero": _zotero}  # the commands this module answers
