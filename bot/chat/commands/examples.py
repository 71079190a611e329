"""Wanted examples: `like <arXiv ids | URLs>` makes papers examples of what the chat wants,
`unlike` removes them, `preview like ...` shows what they would change today, keeping nothing.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

from bot.chat.commands.context import Context, Deps, _criteria, _subscription
from bot.chat.commands.parser import Command
from bot.chat.replies import Reply, card
from digest import (
    OURS_THRESHOLD,
    Criteria,
    DayListing,
    DayStatus,
    Fetched,
    LocalScorer,
    NotFoundError,
    Paper,
    Store,
    add_examples,
    chat_examples,
    clip,
    default_client,
    embedding_of,
    example_papers,
    example_vectors,
    for_categories,
    papers_by_author,
    parse_example_ids,
    rank_day,
    remove_examples,
)

SHOWN = 10  # papers named in a reply


async def _fetch(words: tuple[str, ...], command: str, deps: Deps) -> Fetched:
    ids = parse_example_ids(words, command)
    arxiv = deps.settings.arxiv
    client = default_client(arxiv.export_url, arxiv.export_delay)
    return await asyncio.to_thread(example_papers, deps.store, ids, client)


def _named(papers: list[Paper]) -> list[str]:
    lines = [f"{p.id}: {clip(p.title, 90)}" for p in papers[:SHOWN]]
    if len(papers) > SHOWN:
        lines.append(f"and {len(papers) - SHOWN} more (`settings` lists them)")
    return lines


def _missing(fetched: Fetched) -> list[str]:
    if not fetched.missing:
        return []
    return [f"not found on arXiv, so not added: {', '.join(fetched.missing)}"]


async def _like(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    sub = _subscription(ctx, deps)
    fetched = await _fetch(cmd.args, "like", deps)
    if not fetched.papers:
        raise NotFoundError(f"arXiv knows none of {', '.join(fetched.missing)}; nothing added")
    n = len(fetched.papers)
    return Reply(
        f"{n} wanted example{'s' if n != 1 else ''} added",
        [*await liked(sub.id, fetched.papers, deps), *_missing(fetched)],
    )


async def liked(sub_id: str, papers: list[Paper], deps: Deps, origin: str = "") -> list[str]:
    """Make `papers` (kept in the store) the chat's wanted examples; the lines that say so
    (for `like`, a .bib file and the Zotero sync alike). `origin`: "zotero" for the sync's,
    which it alone removes."""
    version, criteria = _criteria(deps, sub_id)
    await asyncio.to_thread(add_examples, deps.store, criteria, sub_id, papers, origin)
    total = len(chat_examples(deps.store, criteria, sub_id))
    learned = deps.store.model(criteria.scoring_hash, "local") is not None
    when = (
        "the learned model takes them in as labels at its next learning, before the next digest"
        if learned
        else "the local scorer ranks papers like them higher from its next scoring on"
    )
    return [
        f"for criteria version {version}: this chat has {total} examples; {when} "
        "(`preview` shows today's digest with them, `unlike <id>` removes one)",
        *_named(papers),
    ]


async def _unlike(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    sub = _subscription(ctx, deps)
    ids = parse_example_ids(cmd.args, "unlike")
    _, criteria = _criteria(deps, sub.id)
    removed = await asyncio.to_thread(remove_examples, deps.store, criteria, sub.id, ids)
    others = [i for i in ids if i not in removed]
    lines = [f"removed: {', '.join(removed)}"] if removed else []
    if others:
        lines.append(f"not examples of this chat: {', '.join(others)}")
    left = len(chat_examples(deps.store, criteria, sub.id))
    lines.append(f"this chat has {left} examples left")
    title = f"{len(removed)} example{'s' if len(removed) != 1 else ''} removed"
    return Reply(title, lines, error=not removed)


def examples_line(store: Store, criteria: Criteria, subscription: str) -> list[str]:
    """For `settings`: the chat's examples, named."""
    ids = chat_examples(store, criteria, subscription)
    if not ids:
        return ["wanted examples: none (`like <arXiv id>` adds one)"]
    papers = {p.id: p for p in store.papers(ids)}
    listed = [f"  {i}: {clip(papers[i].title, 80)}" for i in ids[:SHOWN] if i in papers]
    more = [f"  and {len(ids) - SHOWN} more"] if len(ids) > SHOWN else []
    return [f"wanted examples (`like`): {len(ids)}", *listed, *more]


async def preview_like(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    """`preview like <ids>`: the latest day ranked by the local scorer with the chat's examples
    and with these added; nothing is kept as an example."""
    sub = _subscription(ctx, deps)
    fetched = await _fetch(cmd.args[1:], "preview like", deps)
    if not fetched.papers:
        raise NotFoundError(f"arXiv knows none of {', '.join(fetched.missing)}")
    digest = deps.store.digest(sub.id)
    if digest is None:
        raise NotFoundError("no digest has been built for this chat yet")
    papers = deps.store.papers_of_day(digest.day)
    if not papers:
        raise NotFoundError(f"the papers of {digest.day} are not in the store")
    _, criteria = _criteria(deps, sub.id)
    model = deps.store.model(criteria.scoring_hash, "local")
    listing = for_categories(DayListing(digest.day, DayStatus.BUILT, "", papers), sub.categories)
    shown = set(digest.already_shown)

    async def selected(extra: list[Paper]) -> list:
        wanted = await asyncio.to_thread(example_vectors, deps.store, criteria, extra)
        scorer = LocalScorer(model, vectors=deps.store, examples=wanted)
        ranked = await rank_day(deps.store, listing, criteria, scorer, sub.cutoffs, sub.top_k,
                                shown)  # fmt: skip
        return [e for e in ranked.entries if e.selected]

    before, after = await selected([]), await selected(fetched.papers)
    was = {e.paper.id for e in before}
    entering = [e for e in after if e.paper.id not in was]
    leaving = sorted(was - {e.paper.id for e in after})
    note = (
        "a learned model is in use: examples count as its labels from its next learning, "
        "so today's ranking does not change yet"
        if model is not None
        else f"{len(entering)} would enter, {len(leaving)} would leave"
    )
    lines = [
        f"{digest.day}, ranked by the local scorer with these {len(fetched.papers)} examples "
        f"added to the chat's: {note}. Nothing was kept: `like` adds them.",
        *[f"leaves: {pid}" for pid in leaving[:SHOWN]],
        *_missing(fetched),
    ]
    return Reply("Preview with examples", lines, [card(e) for e in entering[:SHOWN]])


def ours_lines(store: Store, ids: tuple[str, ...]) -> list[str]:
    """For `settings` and `ours`: the group's own papers, named."""
    if not ids:
        return ["your own papers: none (`ours <arXiv ids | author name>` marks them)"]
    papers = {p.id: p for p in store.papers(list(ids))}
    listed = [f"  {i}: {clip(papers[i].title, 80)}" for i in ids[:SHOWN] if i in papers]
    more = [f"  and {len(ids) - SHOWN} more"] if len(ids) > SHOWN else []
    return [f"your own papers (`ours`, 📌 above similarity {OURS_THRESHOLD}): {len(ids)}",
            *listed, *more]  # fmt: skip


async def _ours(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    sub = _subscription(ctx, deps)
    if not cmd.args:
        return Reply("Your own papers", ours_lines(deps.store, sub.ours))
    if cmd.args[0].lower() == "remove":
        ids = parse_example_ids(cmd.args[1:], "ours remove")
        kept = tuple(i for i in sub.ours if i not in ids)
        deps.store.save_subscription(replace(sub, ours=kept))
        gone = [i for i in ids if i in sub.ours]
        return Reply(f"{len(gone)} removed from your own papers",
                     [f"removed: {', '.join(gone) or 'none of them was marked'}",
                      *ours_lines(deps.store, kept)], error=not gone)  # fmt: skip
    arxiv = deps.settings.arxiv
    client = default_client(arxiv.export_url, arxiv.export_delay)
    missing: list[str] = []
    if any(_looks_like_id(a) for a in cmd.args):
        fetched = await _fetch(cmd.args, "ours", deps)
        papers, missing = fetched.papers, fetched.missing
    else:
        papers = await asyncio.to_thread(papers_by_author, cmd.rest, client)
        await asyncio.to_thread(deps.store.save_papers, papers)
    if not papers:
        raise NotFoundError(f"arXiv has no paper for '{clip(cmd.rest, 80)}'; nothing marked")
    await asyncio.to_thread(embedding_of, deps.store, papers)
    kept = tuple(dict.fromkeys([*sub.ours, *(p.id for p in papers)]))
    deps.store.save_subscription(replace(sub, ours=kept))
    n = len(papers)
    return Reply(
        f"{n} paper{'s' if n != 1 else ''} marked as your own",
        [
            f"from the next digest, a new paper with similarity {OURS_THRESHOLD} or more to one "
            "of them leads it with 📌 and the two closest sentences",
            *_named(papers),
            *([f"not found on arXiv, so not marked: {', '.join(missing)}"] if missing else []),
        ],
    )


def _looks_like_id(word: str) -> bool:
    return bool(re.search(r"\d{4}\.\d{4,5}", word))


HANDLERS = {  # the commands this module answers
    "like": _like,
    "unlike": _unlike,
    "ours": _ours,
}
