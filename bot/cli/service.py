"""The service, from the terminal: `serve` runs it; `post` builds and posts today's digests
once; `status` and `usage` report on it; `backup` copies its SQLite store while it runs.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.cli.common import (
    EXIT_FAILED,
    EXIT_STALE,
    _errors_as_lines,
    _fetch,
    _settings,
    _working,
    app,
    console,
    err,
)
from digest import (
    DayStatus,
    DigestError,
    Store,
    backup_store,
    make_scorer,
    prune_day,
    sample_listing,
)


@app.command()
@_errors_as_lines
def usage() -> None:
    """LLM tokens and cost, summed by day and model (reasoning: part of completion).

    Example: paperdigest usage
    """
    store = Store.open(_settings().database)
    table = Table("day", "model", "prompt", "cached", "completion", "reasoning", "cost")
    for day, u in store.usage():
        cost = "unknown" if u.cost is None else f"${u.cost:.4f}"
        table.add_row(
            str(day), escape(u.model), f"{u.prompt_tokens:,}", f"{u.cached_tokens:,}",
            f"{u.completion_tokens:,}", f"{u.reasoning_tokens:,}", cost,
        )  # fmt: skip
    console.print(table if table.rows else "no LLM tokens spent yet")


@app.command()
@_errors_as_lines
def post(
    sample: Annotated[bool, typer.Option(help="Post the bundled sample day (a demo).")] = False,
) -> None:
    """Build today's digest for every subscribed chat and post it (Slack, Telegram: by token).

    Messages go through the outbox: a second `post` the same day posts nothing twice.

    Example: SLACK_BOT_TOKEN=xoxb-... paperdigest post
    """
    from bot.platforms import close_senders, senders
    from bot.service import DayReport, post_day

    settings = _settings()
    chats = senders(settings)
    if not chats:
        raise DigestError(
            "no chat platform is on; set SLACK_BOT_TOKEN (Slack) or TELEGRAM_BOT_TOKEN (Telegram)"
        )
    store = Store.open(settings.database)
    subs = store.subscriptions()
    categories = tuple(dict.fromkeys(c for s in subs for c in s.categories)) or None
    with console.status("reading arXiv..."):
        listing = sample_listing() if sample else asyncio.run(_fetch(settings, categories))
    lease = timedelta(seconds=settings.serve.lease_seconds)

    async def go() -> DayReport:
        try:
            scorer_for = partial(make_scorer, settings.scoring.scorer, store, settings=settings)
            return await post_day(store, listing, chats, scorer_for, lease=lease)
        finally:
            await close_senders(chats)

    with _working(f"building digests for {len(subs)} subscriptions"):
        report = asyncio.run(go())
    for digest in report.digests:
        console.print(
            f"{digest.subscription}: {digest.status.value}: {digest.message}",
            highlight=False,
            markup=False,
        )
    for platform, delivered in report.delivery.items():
        console.print(
            f"{platform}: {delivered.sent} messages posted, {delivered.deferred} deferred"
        )
        for failure in delivered.failed:
            err.print(f"[red]delivery failed[/red] {escape(failure)}", highlight=False)
    for failure in report.failed:
        err.print(f"[red]digest failed[/red] {escape(failure)}", highlight=False)
    try:  # once a day, whoever posts first (`serve` or `post`): store.keep_days
        asyncio.run(prune_day(store, settings.store.keep_days, lease=lease))
    except DigestError as exc:
        err.print(f"[red]pruning the store failed[/red] {escape(str(exc))}", highlight=False)
    if report.failed or any(d.failed for d in report.delivery.values()):
        raise typer.Exit(1)
    if listing.status is DayStatus.FETCH_FAILED:
        raise typer.Exit(EXIT_FAILED)
    if listing.status is DayStatus.STALE_FEED:
        raise typer.Exit(EXIT_STALE)


@app.command()
@_errors_as_lines
def status() -> None:
    """Subscriptions, their last digest, delivery errors, the outbox, problems, LLM spend.

    Example: paperdigest status
    """
    from rich.table import Column

    from digest import status_report

    settings = _settings()
    store = Store.open(settings.database)
    report = status_report(store, settings)
    # Piped (cron, `docker exec` without -t) rich would cut lines at 80 columns: a chat id or
    # an error must be read whole, so there the width is unbounded; a terminal folds instead.
    out = console if console.is_terminal else Console(width=100_000)
    fetch = report["last_fetch"]
    out.print(
        f"last fetch: {fetch['day']} {fetch['status']} at {fetch['at']}"
        if fetch
        else "no fetch yet",
        markup=False,
    )
    table = Table(
        Column("subscription", overflow="fold"), Column("state", overflow="fold"),
        "schedule", "last digest", "outbox", Column("last error", overflow="fold"),
    )  # fmt: skip
    for sub in report["subscriptions"]:
        last = sub["last_digest"]
        box = sub["outbox"]
        doubt = box["sent_again_in_doubt"]
        table.add_row(
            escape(sub["id"]),
            "active" if sub["active"] else f"paused: {escape(sub['paused_reason'] or '')}",
            escape(sub["schedule"]),
            f"{last['day']} {last['status']}" if last else "none yet",
            f"{box['sent']} sent, {box['waiting']} waiting, {box['failed']} failed"
            + (f", {doubt} sent again in doubt" if doubt else ""),
            escape(sub["last_error"] or ""),
        )
    out.print(table)
    for sub in report["subscriptions"]:
        if learned := sub["learning"]:
            measured = (
                f" (recall {learned['measured_recall']:.2f}, measured on {learned['measured_on']})"
                if learned["measured_recall"] is not None
                else " (not yet measured: the configured share)"
            )
            out.print(
                f"learning: {sub['id']}: local model {learned['model']} from "
                f"{learned['labels']} labels; the cascade chooses each day's share from its "
                f"papers, {learned['cascade_share']:.0%} of the latest judged day{measured}",
                markup=False,
            )
    for problem in report["problems"]:
        out.print(f"problem: {problem['subscription']}: {problem['reason']}", markup=False)
    out.print(f"LLM spend today: ${report['llm_spend_today_usd']:.2f}")
    sizes = store.table_sizes()
    out.print(
        f"store: {_kb(sum(sizes.values()))}; by table: "
        + ", ".join(f"{name} {_kb(size)}" for name, size in sizes.items()),
        markup=False,
    )


def _kb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB"


@app.command("serve")
@_errors_as_lines
def serve_command(
    log_format: Annotated[
        str, typer.Option(help="human (one line per event) or json (one JSON object a line).")
    ] = "human",
) -> None:
    """Run the chat front ends (Slack when SLACK_BOT_TOKEN is set) until stopped.

    Example: SLACK_BOT_TOKEN=xoxb-... SLACK_APP_TOKEN=xapp-... paperdigest serve
    """
    from bot.service import serve, setup_logging

    if log_format not in ("human", "json"):
        raise DigestError(f"--log-format {log_format}: use human or json")
    setup_logging(log_format=log_format)
    serve(_settings())


@app.command()
@_errors_as_lines
def backup(
    file: Annotated[Path, typer.Argument(help="Where the copy goes (a new file).")],
) -> None:
    """A consistent copy of the SQLite store, safe while `serve` runs (SQLite's online backup).

    Restore: stop `serve`, put the copy where `database.path` points, start `serve`. For
    PostgreSQL it prints the pg_dump line to use instead.

    Example: paperdigest backup backups/paperdigest-$(date +%F).sqlite3
    """
    settings = _settings()
    size = backup_store(settings.database.dsn, file, settings.database.busy_timeout)
    console.print(
        f"backup written: {file} ({size / 1e6:.1f} MB)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
