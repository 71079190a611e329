"""Reading the digests: `top`, `why` (a paper's scores, and why it is in or out), `search`
and `preview`.
"""

from __future__ import annotations

import asyncio

from bot.chat.commands.context import Context, Deps, _criteria, _sources, _subscription
from bot.chat.commands.parser import _ID, Command, _int, _usage
from bot.chat.readers import Source, sources
from bot.chat.replies import PaperCard, Reply, card
from digest import (
    DayListing,
    DayStatus,
    Digest,
    Entry,
    NotFoundError,
    UsageError,
    clip,
    explain,
    finish,
    for_categories,
    rank_day,
    recent_days,
    search,
    split_id,
)


async def _read(ctx: Context, deps: Deps) -> tuple[Source, Digest]:
    """The latest digest that answers here, and where it comes from."""
    source = (await _sources(ctx, deps))[0]
    digest = deps.store.digest(source.sub.id)
    assert digest is not None  # sources() keeps subscriptions with a digest
    return source, digest


async def _paper_named(cmd: Command, ctx: Context, deps: Deps) -> tuple[str, Source | None]:
    """The paper a command names (`why`, `more`): an arXiv id anywhere in its text, or a rank
    in the latest digest that answers here, and then that digest's source (None for an id).
    Bad input is a UsageError with the command's usage."""
    found = _ID.search(cmd.rest)
    if len(cmd.args) != 1 and not found:
        raise UsageError(_usage(cmd.name))
    ref = found.group(1) if found else cmd.args[0]
    if not ref.isdigit():
        try:
            return split_id(ref)[0], None
        except ValueError:
            raise UsageError(f"'{ref}' is not an arXiv id or a rank; {_usage(cmd.name)}") from None
    source, digest = await _read(ctx, deps)
    papers, index = digest.selected, int(ref)
    if not 1 <= index <= len(papers):
        raise UsageError(f"the latest digest has {len(papers)} papers; {_usage(cmd.name)}")
    return papers[index - 1].paper.id, source


async def _top(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    n = _int(cmd.args[0], "top", 1, 50) if cmd.args else 5
    source, digest = await _read(ctx, deps)
    cards = [card(e, i) for i, e in enumerate(digest.selected[:n], 1)]
    lines = [] if source.own else [f"from {source.of(digest)}"]
    lines += [] if cards else [digest.message or "nothing selected that day"]
    return Reply(f"Top {len(cards)} of {digest.day}", lines, cards)


async def _why(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    ref, ranked_in = await _paper_named(cmd, ctx, deps)
    readable = [ranked_in] if ranked_in else await _sources(ctx, deps)
    scored = _digests_scoring(deps, readable, ref)
    if not scored:  # say what the chat's own (or first) digest knows: not in it
        lines = explain(deps.store, readable[0].sub.id, ref)
        return Reply(lines[0], lines[1:], ephemeral=True)
    (source, digest, _), others = scored[0], scored[1:]
    lines = explain(deps.store, source.sub.id, ref, digest=digest)
    body = lines[1:] if source.own else [f"in {source.of(digest)}:", *lines[1:]]
    hashes = {digest.criteria_hash}
    for other, d, entry in others:  # the same paper under other criteria, briefly
        if d.criteria_hash in hashes:
            continue
        hashes.add(d.criteria_hash)
        verdict = "made it" if entry.selected else "did not make it"
        body.append(
            f"in {other.of(d)} (other criteria): relevance {entry.score.relevance}, "
            f"novelty {entry.score.novelty}, {verdict}"
        )
    return Reply(lines[0], body, ephemeral=True)


async def _more(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    """A paper's abstract, under its TL;DR line: what **More** on a card shows."""
    ref, _ = await _paper_named(cmd, ctx, deps)
    paper = deps.store.paper(ref)
    if paper is None:
        raise NotFoundError(f"{ref} is not among the stored papers")
    try:
        scored = _digests_scoring(deps, await _sources(ctx, deps), ref)
    except NotFoundError:  # no digest readable here: the abstract alone
        scored = []
    shown = card(scored[0][2]) if scored else None
    lines = [shown.tldr_line()] if shown and shown.tldr else []
    lines += [f"Abstract: {paper.abstract}", paper.url]
    return Reply(paper.title, lines, ephemeral=True)


def _digests_scoring(
    deps: Deps, readable: list[Source], paper_id: str
) -> list[tuple[Source, Digest, Entry]]:
    """For each readable subscription, its latest digest that ranked the paper, and its entry."""
    out = []
    for source in readable:
        for day in reversed(deps.store.digest_days(source.sub.id)):
            digest = deps.store.digest(source.sub.id, day)
            entry = digest.entry(paper_id) if digest else None
            if digest and entry:
                out.append((source, digest, entry))
                break
    return out


async def _preview(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if cmd.args[:1] and cmd.args[0].lower() == "like":  # wanted examples, kept nowhere
        from bot.chat.commands.examples import preview_like

        return await preview_like(cmd, ctx, deps)
    sub = _subscription(ctx, deps)
    digest = deps.store.digest(sub.id)
    if digest is None:
        raise NotFoundError("no digest has been built for this chat yet")
    day = digest.day
    papers = deps.store.papers_of_day(day)
    if not papers:
        raise NotFoundError(f"the papers of {day} are not in the store")
    _, criteria = _criteria(deps, sub.id)
    scorer = deps.scorer_for(criteria)
    listing = for_categories(DayListing(day, DayStatus.BUILT, "", papers), sub.categories)
    shown = set(digest.already_shown)  # ranked as the digest was: what it left out as shown
    work = rank_day(deps.store, listing, criteria, scorer, sub.cutoffs, sub.top_k, shown)
    entries = (await finish(scorer, work)).entries
    now = [e for e in entries if e.selected]
    before = {e.paper.id for e in digest.selected}
    entering = [e for e in now if e.paper.id not in before]
    leaving = before - {e.paper.id for e in now}
    lines = [
        f"{day}: {len(now)} papers would be selected with the current criteria "
        f"({len(entering)} enter, {len(leaving)} leave)."
    ]
    lines += [f"leaves: {pid}" for pid in sorted(leaving)[:10]]
    return Reply("Preview", lines, [card(e) for e in entering[:10]])


async def _search(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    """Papers of the chat's recent days, by meaning (the local model) and by their words."""
    if not cmd.args:
        raise UsageError(_usage("search"))
    sub_id, lines = ctx.subscription_id, []
    if ctx.audience is not None:
        readable = await sources(
            deps.store, ctx.platform, ctx.subscription_id, ctx.chat, ctx.audience
        )
        if readable and not readable[0].own:
            sub_id = readable[0].sub.id
            lines.append(f"answering for {readable[0].label}: `why <id>` explains a score")
    days = recent_days(deps.store, sub_id)
    result = await asyncio.to_thread(search, deps.store, cmd.rest, days)
    span = f"{days[0]} to {days[-1]}" if len(days) > 1 else (str(days[0]) if days else "")
    looked = f"{len(days)} day{'s' if len(days) != 1 else ''} of papers ({span})" if days else ""
    lines.append(f"by meaning and words, in {looked}" if days else "no papers stored yet")
    if days and not result.found:
        lines.append("nothing close; other words, or a digest of more days, may find it")
    cards = [
        PaperCard(f.paper.id, f.paper.title, f.paper.url, f.paper.authors, None, None,
                  f"closeness {f.similarity:.2f}, {f.words:.0%} of the words", i)
        for i, f in enumerate(result.found, 1)
    ]  # fmt: skip
    return Reply(f"Search: {clip(' '.join(cmd.rest.split()), 80)}", lines, cards)


HANDLERS = {  # the commands this module answers
    "top": _top,
    "why": _why,
    "preview": _preview,
    "search": _search,
    "more": _more,
}
