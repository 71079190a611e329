"""The platform-neutral command core: text -> Command -> handler -> Reply.

Slack's `/digest why 2602.08007`, Telegram's `/why 2602.08007` and the terminal `chat` arrive
here as typed text with a Context, through `bot.chat.answer.answer`, which first turns plain
words ("why did 2602.08007 score 9?") into the command they mean (`bot.chat.ask`).
"""

from __future__ import annotations

import asyncio
import difflib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.chat.readers import Audience, Source, sources
from bot.chat.replies import PaperCard, Reply, card
from digest import (
    ConfigError,
    Criteria,
    CriteriaError,
    DayListing,
    DayStatus,
    Digest,
    DigestError,
    Entry,
    NotFoundError,
    Scorer,
    Settings,
    Store,
    Subscription,
    Topic,
    UsageError,
    change_criteria,
    check_categories,
    check_timezone,
    clip,
    current_criteria,
    explain,
    finish,
    for_categories,
    label_counts,
    parse_time,
    rank_day,
    recent_days,
    same_author,
    search,
    split_id,
    subscription_id,
)

_ID = re.compile(r"\b(\d{4}\.\d{4,5})(?:v\d+)?\b")


@dataclass(frozen=True)
class Context:
    """Who is asking, where."""

    platform: str  # slack | telegram | terminal
    chat: str  # channel or chat id on that platform
    user: str  # user id on that platform
    user_name: str = ""
    chat_admin: bool = False  # the platform says this user administers the chat
    dm: bool = False
    audience: Audience | None = field(default=None, compare=False)  # who is in which chat

    @property
    def subscription_id(self) -> str:
        """The terminal acts on the CLI's own subscription (`digest.subscription`)."""
        return (
            self.chat if self.platform == "terminal" else subscription_id(self.platform, self.chat)
        )

    @property
    def who(self) -> str:
        return f"{self.platform}:{self.user}"


@dataclass
class Deps:
    """What handlers need from the engine."""

    store: Store
    settings: Settings
    scorer_for: Callable[[Criteria], Scorer]
    on_change: Callable[[str], None] | None = None  # a subscription's schedule or state changed

    def changed(self, sub_id: str) -> None:
        if self.on_change is not None:
            self.on_change(sub_id)


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()
    rest: str = ""  # the raw text after the command word(s), for multi-line input


@dataclass(frozen=True)
class Spec:
    usage: str
    summary: str
    writes: bool = False  # changes settings: admins and the subscriber only
    slow: bool = False  # may take seconds: acknowledge first


SPECS: dict[str, Spec] = {
    "help": Spec("help", "what I can do"),
    "subscribe": Spec(
        "subscribe [like <#channel>]",
        "post the daily digest here (in a DM: your own; `like #channel` copies its criteria)",
        writes=True,
    ),
    "unsubscribe": Spec("unsubscribe", "stop the daily digest here", writes=True),
    "settings": Spec("settings", "what this chat gets: criteria, categories, cutoffs, size, time"),
    "top": Spec("top [n]", "the best n papers of the latest digest (default 5)"),
    "why": Spec("why <arxiv id | rank>", "why a paper scored as it did, and why it is in or out"),
    "criteria": Spec("criteria", "the research criteria papers are scored against, numbered"),
    "criteria add": Spec("criteria add <topic>: <what is relevant>", "add a topic", True),
    "criteria remove": Spec("criteria remove <n>", "remove topic n", writes=True),
    "criteria set": Spec("criteria set <the whole document>", "replace the criteria", True),
    "criteria undo": Spec("criteria undo", "go back to the previous version", writes=True),
    "criteria history": Spec("criteria history", "every version, newest first"),
    "threshold": Spec(
        "threshold relevance=<1-10> novelty=<1-10>", "the lowest scores a posted paper has", True
    ),
    "topk": Spec("topk <n>", "papers per digest (followed authors come first)", True),
    "follow": Spec("follow <author name>", "post this author's papers first, always", True),
    "unfollow": Spec("unfollow <author name>", "stop following an author", writes=True),
    "categories": Spec(
        "categories <cat> [<cat> ...]", "the arXiv categories read, e.g. cs.LG", True
    ),
    "schedule": Spec(
        "schedule <HH:MM> <IANA timezone>",
        "when the digest is posted, e.g. 08:30 Europe/Berlin",
        True,
    ),
    "preview": Spec("preview", "the latest day's digest under the current criteria", slow=True),
    "search": Spec("search <words>", "stored papers with these words in title or abstract"),
    "rate": Spec("rate <arxiv id> <+1|-1>", "rate a paper: the local scorer learns from it"),
}
HOW_TO_ASK = {
    "slack": "Type a command after /digest, mention me with it, or send it to me in a DM.",
    "telegram": "Tap a command, or type it with its arguments.",
}
ALIASES = {"threshold": ("thresholds", "cutoffs"), "topk": ("top-k",), "help": ("start", "?")}
COMMAND_WORDS = frozenset(
    {name.split()[0] for name in SPECS} | {alias for names in ALIASES.values() for alias in names}
)  # the words a command starts with


def parse(text: str) -> Command:
    """Plain text to a Command; a sentence that mentions a paper is read as `why`."""
    text = text.strip().removeprefix("/").strip()
    text = re.sub(r"^(digest|paperdigest)\b\s*", "", text, flags=re.I)  # "/digest why ..."
    text = re.sub(r"^(\w+)@\w+", r"\1", text)  # Telegram's "/why@paperdigest_bot"
    if not text:
        return Command("help")
    first, rest = [*text.split(maxsplit=1), ""][:2]  # text starts with a word
    word = first.lower()
    word = next((k for k, names in ALIASES.items() if word in names), word)
    if word == "criteria":
        if not rest:
            return Command("criteria")
        sub, tail = [*rest.split(maxsplit=1), ""][:2]
        if sub.lower() not in {"add", "remove", "set", "undo", "history"}:
            raise UsageError(_usage("criteria add") + "\n" + _usage("criteria remove"))
        return Command(f"criteria {sub.lower()}", tuple(tail.split()), tail)
    if word in SPECS:
        return Command(word, tuple(_split(rest)), rest.strip())
    return _natural(text)


def _natural(text: str) -> Command:
    """'why did 2602.08007 score 9?' -> why; 'top 3 please' -> top; else help."""
    lowered = text.lower()
    found = _ID.search(text)
    if found and ("rate" not in lowered):
        return Command("why", (found.group(1),), found.group(1))
    number = re.search(r"\btop\s+(\d+)", lowered)
    if number:
        return Command("top", (number.group(1),))
    return Command("help", ("unknown",), text)


def _split(rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError:
        return rest.split()


def _usage(name: str) -> str:
    return f"usage: {SPECS[name].usage}"


async def handle(text: str, ctx: Context, deps: Deps) -> Reply:
    """Parse and run one command as typed; errors a person can act on become error Replies.
    Front ends call `bot.chat.answer.answer`, which reads plain words first."""
    try:
        command = parse(text)
        spec = SPECS[command.name]
        if spec.writes and command.name != "subscribe" and not _may_change(ctx, deps):
            return Reply(
                "Not allowed",
                [
                    "Only the person who subscribed this chat, its admins and the configured "
                    "paperdigest admins can change its settings. Reading is open to everyone."
                ],
                ephemeral=True,
                error=True,
            )
        return await HANDLERS[command.name](command, ctx, deps)
    except UsageError as exc:
        return Reply("Wrong arguments", [str(exc)], ephemeral=True, error=True)
    except DigestError as exc:
        return Reply("Sorry", [str(exc)], ephemeral=True, error=True)


def _spec(text: str) -> Spec:
    """The spec of the command in `text`; a plain one for text that is no command."""
    try:
        return SPECS[parse(text).name]
    except UsageError:
        return Spec("", "")


def writes(text: str) -> bool:
    """True when the command changes the chat's settings (only some people may)."""
    return _spec(text).writes


def is_slow(text: str) -> bool:
    """True when the command may take seconds (the front end acknowledges first)."""
    return _spec(text).slow


def _may_change(ctx: Context, deps: Deps) -> bool:
    """The terminal's user, configured admins, the chat's admins, and the subscriber."""
    if ctx.platform == "terminal":
        return True
    sub = _subscription(ctx, deps)
    if ctx.who in deps.settings.bot.admins or ctx.chat_admin or ctx.dm:
        return True
    return sub.subscribed_by == ctx.who or ctx.who in sub.admins


# handlers -----------------------------------------------------------------------------------


async def _help(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if cmd.args == ("unknown",):
        return _unknown(cmd.rest.split()[0])
    lines = [f"`{spec.usage}`: {spec.summary}" for name, spec in SPECS.items() if name != "rate"]
    how = HOW_TO_ASK.get(ctx.platform)
    return Reply("paperdigest commands", [how, *lines] if how else lines, ephemeral=True)


def _unknown(word: str) -> Reply:
    """One short answer to an unknown word: the closest command names, and `help`."""
    word = clip(word, 40)
    names = sorted({name.split()[0] for name in SPECS if name != "rate"})
    close = difflib.get_close_matches(word.lower().lstrip("/"), names, n=3, cutoff=0.6)
    lines = [f"did you mean {' or '.join(f'`{name}`' for name in close)}?"] if close else []
    lines.append("send `help` for all commands")
    return Reply(f"I don't know '{word}'", lines, ephemeral=True, error=True)


def _subscription(ctx: Context, deps: Deps) -> Subscription:
    sub = deps.store.subscription(ctx.subscription_id)
    if sub is None and ctx.dm:
        raise NotFoundError(
            "this conversation has no digest of its own: `subscribe` makes one (`subscribe "
            "like #channel` starts from a channel's criteria). A channel's settings change "
            "only by a command sent in that channel."
        )
    if sub is None:
        raise NotFoundError("this chat has no digest yet; send `subscribe` first")
    return sub


def _criteria(deps: Deps, sub_id: str) -> tuple[int, Criteria]:
    return current_criteria(deps.store, sub_id, deps.settings.digest.criteria or None)


async def _save_criteria(deps: Deps, ctx: Context, criteria: Criteria) -> tuple[int, list[str]]:
    """Store a new version, once it reads back as written: no edit can break a chat. Returns
    the version, and what became of the labels the local scorer learns from (if anything)."""
    try:
        checked = criteria.validated(source="the new criteria")
    except CriteriaError as exc:
        raise UsageError(str(exc)) from None
    seed = deps.settings.digest.criteria or None
    version, carried = await asyncio.to_thread(
        change_criteria, deps.store, ctx.subscription_id, checked, ctx.who, seed
    )
    return version, [carried] if carried else []


async def _subscribe(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    like = await _like(cmd, ctx, deps)
    existing = deps.store.subscription(ctx.subscription_id)
    if existing and existing.active:
        return Reply("Already subscribed", [f"This chat gets its digest at {_when(existing)}."])
    problem = None if ctx.audience is None else await ctx.audience.cannot_post(ctx.chat)
    if problem:
        return Reply("Not subscribed", [problem], ephemeral=True, error=True)
    if like is not None:  # a personal digest starting from a channel's criteria and cuts
        versions = deps.store.criteria_versions(like.sub.id)
        text = versions[-1][2] if versions else _criteria(deps, like.sub.id)[1].to_text()
        copy = Criteria.parse(text, source=f"the criteria of {like.label}")
        deps.store.save_criteria(ctx.subscription_id, copy.to_text(), copy.hash, ctx.who)
        existing = replace(
            like.sub, id=ctx.subscription_id, chat=ctx.chat, subscribed_by=ctx.who, admins=()
        )
    b = deps.settings.bot
    sub = existing or Subscription(
        id=ctx.subscription_id,
        platform=ctx.platform,
        chat=ctx.chat,
        categories=deps.settings.arxiv.categories,
        relevance_cutoff=deps.settings.digest.relevance_cutoff,
        novelty_cutoff=deps.settings.digest.novelty_cutoff,
        top_k=b.top_k,
        schedule=b.schedule,
        timezone=b.timezone,
        subscribed_by=ctx.who,
    )
    sub = replace(sub, active=True, paused_reason=None, last_error=None)
    deps.store.save_subscription(sub)
    deps.changed(sub.id)
    _criteria(deps, sub.id)  # version 1, when this is the chat's first subscription
    copied = (
        [f"Your criteria start as a copy of {like.label}'s; changes here stay here."]
        if like is not None
        else []
    )
    return Reply(
        "Subscribed",
        [
            *copied,
            f"This chat gets a daily digest of {', '.join(sub.categories)} at {_when(sub)}, "
            f"the top {sub.top_k} papers with relevance >= {sub.relevance_cutoff} and "
            f"novelty >= {sub.novelty_cutoff}.",
            "Send `criteria` to see what it looks for, `help` for everything else.",
        ],
    )


async def _like(cmd: Command, ctx: Context, deps: Deps) -> Source | None:
    """`subscribe like #papers`: a channel the person is in (its name, id or Slack link)."""
    if not cmd.args:
        return None
    if len(cmd.args) != 2 or cmd.args[0].lower() != "like":
        raise UsageError(_usage("subscribe"))
    wanted = cmd.args[1]
    link = re.fullmatch(r"<#(\w+)(?:\|([^>]*))?>", wanted)  # Slack's <#C123|papers>
    keys = {wanted.lower(), wanted.lower().lstrip("#")}
    if link:
        keys |= {link.group(1).lower(), (link.group(2) or "").lower()}
    readable = await sources(deps.store, ctx.platform, "", ctx.chat, ctx.audience)
    for source in readable:
        names = {source.sub.chat.lower(), source.label.lower(), source.label.lower().lstrip("#")}
        if keys & names:
            return source
    known = ", ".join(s.label for s in readable) or "none"
    raise UsageError(f"no channel '{wanted}' with a digest that you are in; yours: {known}")


async def _unsubscribe(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    sub = _subscription(ctx, deps)
    deps.store.save_subscription(replace(sub, active=False, paused_reason="unsubscribed"))
    deps.changed(sub.id)
    return Reply("Unsubscribed", ["No more daily digests here. `subscribe` brings them back."])


def _when(sub: Subscription) -> str:
    return f"{sub.schedule} {sub.timezone}"


async def _settings(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    sub = deps.store.subscription(ctx.subscription_id)
    header: list[str] = []
    if sub is None and ctx.audience is not None:
        source = (await _sources(ctx, deps))[0]
        sub = source.sub
        header = [
            f"for {source.label} (send commands there to change them; `subscribe` here "
            f"gives you your own digest, `subscribe like {source.label}` a copy)"
        ]
    sub = sub or _subscription(ctx, deps)
    version, criteria = _criteria(deps, sub.id)
    state = "active" if sub.active else f"paused ({sub.paused_reason})"
    lines = [
        *header,
        f"state: {state}",
        f"criteria: version {version} ({criteria.hash}), {len(criteria.topics)} topics, "
        f"following {len(criteria.authors)} authors",
        f"categories: {', '.join(sub.categories)}",
        f"cutoffs: relevance >= {sub.relevance_cutoff}, novelty >= {sub.novelty_cutoff}",
        f"top-k: {sub.top_k}",
        f"schedule: {_when(sub)}",
        _labels(deps, criteria),
    ]
    if sub.last_error:
        lines.append(f"last delivery error: {sub.last_error}")
    return Reply("Settings", lines)


def _labels(deps: Deps, criteria: Criteria) -> str:
    """What the local scorer of these criteria learns from, and whether it has learned."""
    n = label_counts(deps.store, criteria)
    model = deps.store.model(criteria.scoring_hash, "local")
    learned = f"learned model {model['id']}" if model else "zero-shot (nothing learned yet)"
    return (
        f"labels: {n['rating']} rated by people, {n['llm']} judged by the LLM, "
        f"{n['reference']} from references; local scorer: {learned}"
    )


async def _sources(ctx: Context, deps: Deps) -> list[Source]:
    found = await sources(deps.store, ctx.platform, ctx.subscription_id, ctx.chat, ctx.audience)
    if not found:
        raise NotFoundError(
            "no digest has been built for this chat yet"
            if ctx.audience is None
            else "I know of no digest you can read here: none for this chat, and none of a "
            "channel you are in. `subscribe` gives you one."
        )
    return found


async def _read(ctx: Context, deps: Deps) -> tuple[Source, Digest]:
    """The latest digest that answers here, and where it comes from."""
    source = (await _sources(ctx, deps))[0]
    digest = deps.store.digest(source.sub.id)
    assert digest is not None  # sources() keeps subscriptions with a digest
    return source, digest


async def _top(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    n = _int(cmd.args[0], "top", 1, 50) if cmd.args else 5
    source, digest = await _read(ctx, deps)
    cards = [card(e, i) for i, e in enumerate(digest.selected[:n], 1)]
    lines = [] if source.own else [f"from {source.of(digest)}"]
    lines += [] if cards else [digest.message or "nothing selected that day"]
    return Reply(f"Top {len(cards)} of {digest.day}", lines, cards)


async def _why(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    found = _ID.search(cmd.rest)
    if len(cmd.args) != 1 and not found:
        raise UsageError(_usage("why"))
    ref = found.group(1) if found else cmd.args[0]
    if ref.isdigit():
        source, digest = await _read(ctx, deps)
        papers = digest.selected
        index = int(ref)
        if not 1 <= index <= len(papers):
            raise UsageError(f"the latest digest has {len(papers)} papers; {_usage('why')}")
        ref = papers[index - 1].paper.id
        readable = [source]
    else:
        try:
            ref = split_id(ref)[0]
        except ValueError:
            raise UsageError(f"'{ref}' is not an arXiv id or a rank; {_usage('why')}") from None
        readable = await _sources(ctx, deps)
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


async def _criteria_show(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    version, criteria = _criteria(deps, ctx.subscription_id)
    lines = [f"{i}. {t.name}: {t.relevant}" for i, t in enumerate(criteria.topics, 1)]
    if criteria.keywords:
        lines.append(f"keywords: {', '.join(criteria.keywords)}")
    if criteria.irrelevant_keywords:
        lines.append(f"not wanted: {', '.join(criteria.irrelevant_keywords)}")
    lines.append(f"following: {', '.join(criteria.authors) or 'nobody'}")
    return Reply(f"Criteria (version {version}, {criteria.hash})", lines)


async def _criteria_add(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if not cmd.rest:
        raise UsageError(_usage("criteria add"))
    name, _, relevant = cmd.rest.partition(":")
    name, relevant = name.strip(), (relevant.strip() or name.strip())
    _, criteria = _criteria(deps, ctx.subscription_id)
    if any(t.name.lower() == name.lower() for t in criteria.topics):
        raise UsageError(f"topic '{name}' exists; remove it first or use `criteria set`")
    new = replace(criteria, topics=(*criteria.topics, Topic(name, relevant)))
    version, notes = await _save_criteria(deps, ctx, new)
    return Reply(
        "Criteria updated",
        [f"added topic {len(new.topics)}: {name}", f"now version {version}", *notes],
    )


async def _criteria_remove(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    _, criteria = _criteria(deps, ctx.subscription_id)
    if len(cmd.args) != 1 or not cmd.args[0].isdigit():
        raise UsageError(_usage("criteria remove"))
    n = _int(cmd.args[0], "criteria remove", 1, len(criteria.topics))
    gone = criteria.topics[n - 1]
    new = replace(criteria, topics=criteria.topics[: n - 1] + criteria.topics[n:])
    version, notes = await _save_criteria(deps, ctx, new)
    return Reply(
        "Criteria updated", [f"removed topic {n}: {gone.name}", f"now version {version}", *notes]
    )


async def _criteria_set(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if not cmd.rest.strip():
        raise UsageError(_usage("criteria set") + " (the format `criteria` shows, in Markdown)")
    try:
        new = Criteria.parse(cmd.rest, source="your criteria")
    except CriteriaError as exc:
        raise UsageError(str(exc)) from None
    version, notes = await _save_criteria(deps, ctx, new)
    return Reply("Criteria replaced", [f"{len(new.topics)} topics, now version {version}", *notes])


async def _criteria_undo(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    versions = deps.store.criteria_versions(ctx.subscription_id)
    if len(versions) < 2:
        raise UsageError("there is no earlier version to go back to")
    previous = versions[-2]
    criteria = Criteria.parse(previous[2], source=f"criteria v{previous[0]}")
    version, notes = await _save_criteria(deps, ctx, criteria)
    return Reply(
        "Criteria restored", [f"version {previous[0]} is back, as version {version}", *notes]
    )


async def _criteria_history(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    versions = deps.store.criteria_versions(ctx.subscription_id)
    lines = []
    for version, hash_, text in reversed(versions):
        criteria = Criteria.parse(text, source=f"criteria v{version}")
        topics = ", ".join(t.name for t in criteria.topics)
        lines.append(f"v{version} ({hash_}): {topics}")
    return Reply("Criteria history", lines or ["no versions yet"])


async def _threshold(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    values = dict(arg.split("=", 1) for arg in cmd.args if "=" in arg)
    if not cmd.args or set(values) - {"relevance", "novelty"} or len(values) != len(cmd.args):
        raise UsageError(_usage("threshold"))
    sub = _subscription(ctx, deps)
    rel = _int(values.get("relevance", str(sub.relevance_cutoff)), "threshold", 1, 10)
    nov = _int(values.get("novelty", str(sub.novelty_cutoff)), "threshold", 1, 10)
    deps.store.save_subscription(replace(sub, relevance_cutoff=rel, novelty_cutoff=nov))
    return Reply("Cutoffs updated", [f"relevance >= {rel}, novelty >= {nov}"])


async def _topk(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if len(cmd.args) != 1:
        raise UsageError(_usage("topk"))
    n = _int(cmd.args[0], "topk", 1, 100)
    deps.store.save_subscription(replace(_subscription(ctx, deps), top_k=n))
    return Reply("Top-k updated", [f"each digest keeps the top {n} papers"])


async def _follow(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    name = " ".join(cmd.rest.split())
    if len(name.split()) < 2:
        raise UsageError(_usage("follow") + " (first and last name, as written on arXiv)")
    _, criteria = _criteria(deps, ctx.subscription_id)
    if any(same_author(name, a) for a in criteria.authors):
        return Reply("Already following", [name])
    version, _ = await _save_criteria(deps, ctx, criteria.with_authors((*criteria.authors, name)))
    return Reply(
        "Following", [f"{name}'s papers now lead the digest", f"criteria version {version}"]
    )


async def _unfollow(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    name = " ".join(cmd.rest.split())
    if not name:
        raise UsageError(_usage("unfollow"))
    _, criteria = _criteria(deps, ctx.subscription_id)
    kept = tuple(a for a in criteria.authors if not same_author(name, a))
    if len(kept) == len(criteria.authors):
        raise UsageError(f"not following '{name}'; following: {', '.join(criteria.authors)}")
    version, _ = await _save_criteria(deps, ctx, criteria.with_authors(kept))
    return Reply("Unfollowed", [name, f"criteria version {version}"])


async def _categories(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    codes = [c for arg in cmd.args for c in arg.split(",") if c]
    if not codes:
        raise UsageError(_usage("categories"))
    try:
        cats = check_categories(codes)
    except ConfigError as exc:
        raise UsageError(f"{exc}; {_usage('categories')}") from None
    deps.store.save_subscription(replace(_subscription(ctx, deps), categories=cats))
    return Reply("Categories updated", [", ".join(cats)])


async def _schedule(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if len(cmd.args) != 2:
        raise UsageError(_usage("schedule"))
    try:
        at, zone = parse_time(cmd.args[0]), check_timezone(cmd.args[1])
    except ConfigError as exc:
        raise UsageError(f"{exc}; {_usage('schedule')}") from None
    sub = replace(_subscription(ctx, deps), schedule=at.strftime("%H:%M"), timezone=zone)
    deps.store.save_subscription(sub)
    deps.changed(sub.id)
    return Reply("Schedule updated", [f"the digest is posted at {_when(sub)} on announcement days"])


async def _preview(cmd: Command, ctx: Context, deps: Deps) -> Reply:
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


async def _rate(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if len(cmd.args) != 2 or cmd.args[1] not in {"+1", "-1", "1"}:
        raise UsageError(_usage("rate"))
    pid = split_id(cmd.args[0])[0] if _ID.search(cmd.args[0]) else None
    if pid is None:
        raise UsageError(_usage("rate"))
    deps.store.require_paper(pid)
    value = -1 if cmd.args[1] == "-1" else 1
    deps.store.save_rating(ctx.subscription_id, pid, ctx.who, value)
    _, criteria = _criteria(deps, ctx.subscription_id)
    deps.store.save_labels(criteria.scoring_hash, {pid: float(value > 0)}, f"rating:{ctx.who}")
    word = "👍" if value > 0 else "👎"
    return Reply(
        f"Thanks {word}",
        [f"your rating of {pid} is stored for this chat's criteria"],
        ephemeral=True,
    )


def _int(text: str, command: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"'{text}' is not a number; {_usage(command)}") from None
    if not low <= value <= high:
        raise UsageError(f"{value} is out of range {low}-{high}; {_usage(command)}")
    return value


HANDLERS = {
    "help": _help,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "settings": _settings,
    "top": _top,
    "why": _why,
    "criteria": _criteria_show,
    "criteria add": _criteria_add,
    "criteria remove": _criteria_remove,
    "criteria set": _criteria_set,
    "criteria undo": _criteria_undo,
    "criteria history": _criteria_history,
    "threshold": _threshold,
    "topk": _topk,
    "follow": _follow,
    "unfollow": _unfollow,
    "categories": _categories,
    "schedule": _schedule,
    "preview": _preview,
    "search": _search,
    "rate": _rate,
}
assert set(HANDLERS) == set(SPECS)
