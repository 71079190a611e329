"""What only the store knows: a paper by its title words, an author by a surname, the
categories to add to or drop from. `resolve` settles an Interpretation against the chat's
latest digest and criteria.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.chat.phrasing.words import Interpretation
from bot.chat.readers import sources
from digest import current_criteria

if TYPE_CHECKING:
    from bot.chat.commands import Context, Deps


async def resolve(found: Interpretation, ctx: Context, deps: Deps) -> Interpretation | str | None:
    """Settle title words, surnames and category changes against the store.

    Returns the settled Interpretation, a clarifying question (str), or None when the words
    name nothing the store knows. `ctx` and `deps` are bot.chat.commands' Context and Deps.
    """
    if found.paper:
        pid = await paper_by_title(found.paper, ctx, deps)
        return replace(found, command=f"why {pid}", paper="") if pid else None
    if found.author:
        return _settle_author(found, ctx, deps)
    if found.categories:
        sub = deps.store.subscription(ctx.subscription_id)
        now = list(sub.categories if sub else deps.settings.arxiv.categories)
        sign, codes = found.categories[0], found.categories[1:].split()
        lowered = {c.lower() for c in codes}
        if sign == "+":
            now += [c for c in codes if c.lower() not in {n.lower() for n in now}]
        else:
            now = [c for c in now if c.lower() not in lowered]
        if not now:
            return "that would leave no category; send `categories <cat> ...` with the ones to read"
        return replace(found, command=f"categories {' '.join(now)}", categories="")
    return found


async def paper_by_title(words: str, ctx: Context, deps: Deps) -> str | None:
    """The paper of the chat's latest digest day whose title best matches `words`, if clear."""
    store = deps.store
    found = await sources(store, ctx.platform, ctx.subscription_id, ctx.chat, ctx.audience)
    if not found:
        return None
    digest = store.digest(found[0].sub.id)
    if digest is None:
        return None
    papers = store.papers_of_day(digest.day)
    titles = {p.id: set(_stems(p.title)) for p in papers}
    for e in digest.selected:
        titles.setdefault(e.paper.id, set(_stems(e.paper.title)))
    return best_title(_stems(words), titles)


def _stems(text: str) -> list[str]:
    return [
        w[:-1] if len(w) > 3 and w.endswith("s") else w
        for w in re.findall(r"[a-z0-9]+", text.lower())
    ]


def best_title(query: list[str], titles: dict[str, set[str]]) -> str | None:
    """The id whose title shares the rarest words with `query`, when it clearly leads."""
    if not titles or not query:
        return None
    df: dict[str, int] = {}
    for words in titles.values():
        for w in words:
            df[w] = df.get(w, 0) + 1
    n = len(titles)
    idf = {w: math.log(n / df[w]) for w in set(query) if w in df}
    scored = sorted(
        ((sum(idf.get(w, 0.0) for w in set(query) & words), pid) for pid, words in titles.items()),
        reverse=True,
    )
    (best, pid), second = scored[0], (scored[1][0] if len(scored) > 1 else 0.0)
    if best < math.log(n / 3) or best < second * 1.3:
        return None
    return pid


def _settle_author(found: Interpretation, ctx: Context, deps: Deps) -> Interpretation | str:
    """A surname alone becomes the full name of the one followed or listed author it fits."""
    name, verb = found.author, found.command.split()[0]
    if len(name.split()) >= 2:
        return found
    _, criteria = current_criteria(deps.store, ctx.subscription_id)
    known = list(criteria.authors)
    if verb == "follow":
        digest = deps.store.digest(ctx.subscription_id)
        for e in digest.selected if digest else []:
            known += list(e.paper.authors)
    fits = list(dict.fromkeys(a for a in known if a.split()[-1].lower() == name.lower()))
    if len(fits) == 1:
        return replace(found, command=f"{verb} {fits[0]}", author="")
    options = " or ".join(f"`{verb} {a}`" for a in fits[:3])
    return (
        f"which {name}? {options}"
        if fits
        else f"`{verb}` needs a first and last name as written on arXiv: `{verb} <first> {name}`"
    )
