"""A chat's settings: `settings` shows them; `threshold`, `topk`, `categories`, `schedule` and
`language` change them.
"""

from __future__ import annotations

from dataclasses import replace

from bot.chat.commands.context import Context, Deps, _criteria, _sources, _subscription, _when
from bot.chat.commands.examples import examples_line, ours_lines
from bot.chat.commands.library import zotero_line
from bot.chat.commands.parser import Command, _int, _usage
from bot.chat.replies import Reply
from digest import (
    ConfigError,
    Criteria,
    UsageError,
    check_categories,
    check_language,
    check_timezone,
    label_counts,
    language_name,
    parse_time,
)


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
        f"TL;DR language: {language_name(sub.language)} ({sub.language})",
        f"schedule: {_when(sub)}",
        _labels(deps, criteria),
        *examples_line(deps.store, criteria, sub.id),
        *ours_lines(deps.store, sub.ours),
        zotero_line(sub),
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
        f"{n['reference']} from references, {n['example']} wanted examples; "
        f"local scorer: {learned}"
    )


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


async def _language(cmd: Command, ctx: Context, deps: Deps) -> Reply:
    if len(cmd.args) != 1:
        raise UsageError(_usage("language"))
    try:
        code = check_language(cmd.args[0])
    except ConfigError as exc:
        raise UsageError(f"{exc}; {_usage('language')}") from None
    deps.store.save_subscription(replace(_subscription(ctx, deps), language=code))
    return Reply(
        "Language updated",
        [f"the TL;DRs of the next digests are written in {language_name(code)} ({code})"],
    )


HANDLERS = {  # the commands this module answers
    "settings": _settings,
    "threshold": _threshold,
    "topk": _topk,
    "categories": _categories,
    "schedule": _schedule,
    "language": _language,
}
