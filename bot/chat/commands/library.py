""".bib files sent to the bot: every entry with an arXiv id, or a DOI Semantic Scholar maps to
one, becomes a wanted example exactly as `like` makes one (same permission, same reply), and the
reply names the entries that could not be added, by citation key, and why.

The platforms call `read_bib` with the file's name and size and a way to download it; it
decides whether to read the file at all before anything is downloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.chat.commands.context import Context, Deps, _may_change, _subscription
from bot.chat.commands.dispatch import not_allowed
from bot.chat.commands.examples import liked
from bot.chat.replies import Reply
from digest import (
    BIB_MAX_BYTES,
    BIB_MAX_ENTRIES,
    DigestError,
    UsageError,
    clip,
    default_client,
    example_papers,
    load_secrets,
    parse_bib,
    resolve_library,
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
        return await _add(shown, await download(), sub.id, deps)
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
