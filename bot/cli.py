"""The `paperdigest` command: a thin shell around the digest engine."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import partial, wraps
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from digest import (
    Criteria,
    Cutoffs,
    DayListing,
    DayStatus,
    Digest,
    DigestError,
    NotFoundError,
    Score,
    Settings,
    Store,
    Usage,
    build_digest,
    change_criteria,
    current_criteria,
    dump_paper,
    embedding_progress,
    evaluate,
    fetch_listing,
    finish,
    label_reference,
    learn_for_day,
    load_settings,
    make_scorer,
    plan_day,
    rank_day,
    read_listing,
    read_reference,
    record_usage,
    sample_listing,
    score_day,
    write_outputs,
)
from digest import learn as learn_from_labels

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

EXIT_FAILED = 2  # arXiv could not be read
EXIT_STALE = 3  # a feed carries an earlier announcement; retry later


class _State:
    config: Path | None = None


ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="A TOML file overriding config/default.toml.")
]


@app.callback()
def main(config: ConfigOption = None) -> None:
    """paperdigest: the daily arXiv digest, scored against your research criteria."""
    _State.config = config


@contextmanager
def _working(description: str) -> Iterator[None]:
    """A spinner while the work runs, a bar while papers are embedded: on a terminal only
    (stderr, so that piped output stays clean); piped or redirected, nothing."""
    if not err.is_terminal:
        yield
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, description="embedding", completed=done, total=total)

        with embedding_progress(report):
            yield


def _errors_as_lines(func: Callable[..., Any]) -> Callable[..., Any]:
    """A DigestError becomes one line on stderr and exit code 1, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DigestError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def _settings() -> Settings:
    return load_settings(_State.config)


def _stored_criteria(settings: Settings, store: Store, *, save_seed: bool = True) -> Criteria:
    """The terminal subscription's criteria, as a chat's: from the store, seeded once from
    `digest.criteria` (or the bundled default). A file edited since is only pointed out."""
    sub = settings.digest.subscription
    version, criteria = current_criteria(store, sub, _seed(settings), save_seed=save_seed)
    if settings.digest.criteria and version > 0:
        edited = Criteria.load(Path(settings.digest.criteria))
        if edited.hash != criteria.hash:
            err.print(
                f"note: {settings.digest.criteria} differs from the stored criteria "
                f"v{version}; `paperdigest criteria set {settings.digest.criteria}` uses it",
                highlight=False, markup=False,
            )  # fmt: skip
    return criteria


def _seed(settings: Settings) -> str | None:
    return settings.digest.criteria or None


@app.command()
@_errors_as_lines
def run(
    sample: Annotated[
        bool, typer.Option(help="Use the bundled sample day (2026-02-10), offline.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: digest.out_dir).")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            help="Fetch, count and estimate the cost; call no LLM, and store no score, digest "
            "or criteria (a cascade ranks with the local scorer to count what it would send)."
        ),
    ] = False,
) -> None:
    """Build today's digest: fetch arXiv, score, rank, write Markdown, JSON and HTML.

    Example: paperdigest run --sample
    """
    settings = _settings()
    with console.status("reading arXiv..."):
        listing = sample_listing() if sample else asyncio.run(_fetch(settings))
    if listing.status is DayStatus.FETCH_FAILED:
        err.print(
            f"[red]error:[/red] {escape(listing.message)}. Offline? Try: paperdigest run --sample",
            highlight=False,
        )
        raise typer.Exit(EXIT_FAILED)
    store = Store(settings.database.dsn)
    criteria = _stored_criteria(settings, store, save_seed=not dry_run)
    if listing.status is DayStatus.BUILT and not dry_run:
        learned = asyncio.run(learn_for_day(store, criteria, listing.day))
        if learned and not learned.startswith("not enough labels"):
            err.print(learned, highlight=False, markup=False)
    scorer = make_scorer(settings.scoring.scorer, store, criteria, settings)
    if dry_run:
        console.print(
            f"{listing.day}: {listing.status.value}: {listing.message}",
            highlight=False,
            markup=False,
        )
        with console.status("estimating..."):
            plan = asyncio.run(finish(scorer, plan_day(store, listing, criteria, scorer)))
        console.print(
            f"would score {len(plan.todo)} papers ({len(plan.cached)} cached): {plan.estimate}",
            highlight=False,
            markup=False,
        )
        return
    with _working(f"scoring {len(listing.papers)} papers with {scorer.name}"):
        work = build_digest(
            store,
            listing,
            criteria,
            scorer,
            subscription=settings.digest.subscription,
            cutoffs=Cutoffs(settings.digest.relevance_cutoff, settings.digest.novelty_cutoff),
            top_k=settings.digest.top_k,
            no_repeats=settings.digest.no_repeats,
            categories=settings.arxiv.categories,
            lease=timedelta(seconds=settings.serve.lease_seconds),
        )
        digest = asyncio.run(finish(scorer, work))
    if digest.status is DayStatus.NO_ANNOUNCEMENT:
        console.print(
            f"{digest.day}: no announcement today: {digest.message}; no digest built.",
            markup=False,
        )
        return
    if digest.status is DayStatus.STALE_FEED:
        err.print(
            f"{digest.day}: no digest: {digest.message}. Try again later.",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(EXIT_STALE)
    out_dir = out or Path(settings.digest.out_dir)
    paths = write_outputs(digest, out_dir, store.digest_days(digest.subscription))
    _print_digest(digest)
    page = next((p for p in paths if p.suffix == ".html" and p.stem == str(digest.day)), paths[0])
    console.print(
        f"wrote {len(paths)} files (Markdown, JSON, HTML) under {out_dir}/; open {page}",
        markup=False,
    )


async def _fetch(settings: Settings, categories: tuple[str, ...] | None = None) -> DayListing:
    async with httpx.AsyncClient(timeout=settings.arxiv.timeout, follow_redirects=True) as client:
        return await fetch_listing(settings, client, categories=categories)


def _print_digest(digest: Digest, top: int = 10) -> None:
    usage = digest.usage[0] if digest.usage else None
    spent = f"{usage.total_tokens} tokens, ${usage.cost or 0:.2f}" if usage else "no tokens"
    console.print(
        f"[bold]{digest.day}[/bold]: {digest.total_entries} feed entries, {digest.scanned} papers "
        f"scanned, {len(digest.selected)} selected (judged by {escape(digest.scorer)}; {spent})"
    )
    table = Table("#", "arXiv id", "R", "N", "title", "matched", title=f"top {top}")
    for i, e in enumerate(digest.selected[:top], 1):
        matched = "Author match" if e.followed else (e.score.matched or "")
        table.add_row(
            str(i), e.paper.id, str(e.score.relevance), str(e.score.novelty),
            escape(e.paper.title), escape(matched),
        )  # fmt: skip
    console.print(table)


@app.command()
@_errors_as_lines
def backfill(
    start: Annotated[str, typer.Option("--from", help="First submission day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last submission day, YYYY-MM-DD.")],
    output: Annotated[Path, typer.Option(help="Where to write the listing (JSON lines).")],
) -> None:
    """Fetch papers submitted in a date range from the arXiv export API into a listing file.

    Waits arXiv's courtesy delay between pages. The listing feeds `score`, `eval` and `learn`.

    Example: paperdigest backfill --from 2026-04-01 --to 2026-04-02 --output april.jsonl
    """
    from digest import default_client, fetch_range

    settings = _settings()
    first, last = _day(start, "--from"), _day(end, "--to")
    client = default_client(settings.arxiv.export_url, settings.arxiv.export_delay)
    with console.status(f"querying the arXiv export API for {first} to {last}..."):
        try:
            papers = fetch_range(settings.arxiv.categories, first, last, client=client)
        except ValueError as exc:
            raise DigestError(str(exc)) from None
    with output.open("w", encoding="utf-8") as fh:
        for paper in papers:
            fh.write(json.dumps(dump_paper(paper), ensure_ascii=False) + "\n")
    console.print(f"wrote {len(papers)} papers to {output}", markup=False)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DigestError(f"{option} expects a day as YYYY-MM-DD, got '{text}'") from None


@app.command()
@_errors_as_lines
def score(
    input: Annotated[
        Path, typer.Option("--input", "-i", help="A listing: one JSON paper per line.")
    ],
    scorer: Annotated[str, typer.Option(help="auto, local, llm or cascade.")] = "local",
    criteria: Annotated[
        Path | None, typer.Option(help="Criteria file (default: the stored criteria).")
    ] = None,
) -> None:
    """Score papers and print one JSON line per paper: id, relevance, novelty, comment, matched.

    Example: paperdigest score --input papers.jsonl --scorer local
    """
    settings = _settings()
    papers = _read_papers(input)
    store = Store(settings.database.dsn)
    crit = Criteria.load(criteria) if criteria else _stored_criteria(settings, store)
    judge = make_scorer(scorer, store, crit, settings)
    listing = DayListing(_day_of(input), DayStatus.BUILT, "", papers)
    work = score_day(store, listing, crit, judge, keep_listing=False)  # a re-run reads the store
    with _working(f"scoring {len(papers)} papers with {judge.name}"):
        by_id, fresh = asyncio.run(finish(judge, work))
    scores = [by_id[p.id] for p in papers if p.id in by_id]
    for s in scores:
        sys.stdout.write(json.dumps(s.to_line(), ensure_ascii=False) + "\n")
    spent = [u for u in record_usage(store, settings.digest.subscription, fresh) if u.total_tokens]
    err.print(_score_summary(judge.name, len(papers), scores, spent), highlight=False, markup=False)


def _score_summary(name: str, asked: int, scores: list[Score], spent: list[Usage]) -> str:
    """One line on stderr: what was scored, by what, what fell back, what it cost."""
    parts = [f"scored {len(scores)} of {asked} papers with {name}"]
    fell_back = sum(s.fell_back for s in scores)
    if fell_back:
        parts.append(f"{fell_back} by the local scorer after the LLM failed on them")
    if len(scores) < asked:
        parts.append(f"{asked - len(scores)} unscored")
    tokens = sum(u.total_tokens for u in spent)
    costs = [u.cost for u in spent]
    cost = "cost unknown" if None in costs else f"${sum(c or 0 for c in costs):.4f}"
    parts.append(f"{tokens:,} tokens, {cost} (recorded in `paperdigest usage`)" if spent
                 else "no tokens")  # fmt: skip
    return "; ".join(parts)


@app.command("eval")
@_errors_as_lines
def eval_(
    listing: Annotated[
        list[Path], typer.Option(help="A day's listing (JSON lines); repeat for several days.")
    ],
    reference: Annotated[
        list[Path], typer.Option(help="A digest in the reference format, one per listing.")
    ],
    scorer: Annotated[str, typer.Option(help="auto, local, llm or cascade.")] = "local",
    learn_days: Annotated[
        int, typer.Option(help="Learn from the first N days (by date), evaluate on the rest.")
    ] = 0,
) -> None:
    """Compare the scorer's ranking of a listing with a reference digest's selection.

    Papers by followed authors rank first, as in a digest. With --learn-days N, the days are
    taken in date order: the local scorer learns from the first N days' references (in a
    scratch store: your own models are untouched) and is measured on each later day.

    Example: paperdigest eval --listing 2026-02-10.jsonl --reference digest-2026-02-10.txt
    """
    if len(listing) != len(reference):
        raise DigestError(f"{len(listing)} listings and {len(reference)} references: one each")
    settings = _settings()
    store = Store(settings.database.dsn)
    crit = _stored_criteria(settings, store)
    cutoffs = Cutoffs(settings.digest.relevance_cutoff, settings.digest.novelty_cutoff)
    if learn_days:
        _eval_learning(sorted(zip(listing, reference, strict=True)), learn_days, crit, cutoffs)
        return
    papers = _read_papers(listing[0])
    ref = read_reference(reference[0])
    judge = make_scorer(scorer, store, crit, settings)
    work = rank_day(
        store, DayListing(_day_of(listing[0]), DayStatus.BUILT, "", papers), crit, judge,
        cutoffs, keep_listing=False,
    )  # fmt: skip
    with _working(f"scoring {len(papers)} papers with {judge.name}"):
        entries = asyncio.run(finish(judge, work)).entries
    relevance = {e.paper.id: e.score.relevance for e in entries}
    result = evaluate([e.paper.id for e in entries], relevance, ref)
    for line in result.lines():
        console.print(line, highlight=False, markup=False)


def _eval_learning(days: list[tuple[Path, Path]], n: int, crit: Criteria, cutoffs: Cutoffs) -> None:
    """Learn from the first `n` days' references, then a line per later day."""
    import tempfile

    from digest import LocalScorer, learn, share_for

    if not 0 < n < len(days):
        raise DigestError(f"--learn-days {n}: give more listings than that ({len(days)} given)")
    with tempfile.TemporaryDirectory(prefix="paperdigest-eval-") as tmp:
        scratch = Store(f"sqlite:///{tmp}/eval.sqlite3")
        for listing, reference in days[:n]:
            chosen = {r.id for r in read_reference(reference)}
            source, day = f"reference:{reference.name}", _day_of(listing)
            label_reference(scratch, crit, _read_papers(listing), chosen, source, day)
        with _working(f"learning from {n} days"):
            console.print(learn(scratch, crit).message, highlight=False, markup=False)
        model = scratch.model(crit.scoring_hash, "local")
        table = Table("day", "papers", "picks", "R-precision", "recall@25%", "recall@40%",
                      "share for 97%")  # fmt: skip
        for listing, reference in days[n:]:
            papers, ref = _read_papers(listing), read_reference(reference)
            judge = LocalScorer(model, vectors=scratch)
            listed = DayListing(_day_of(listing), DayStatus.BUILT, "", papers)
            with _working(f"scoring {listing.name}"):
                entries = asyncio.run(rank_day(scratch, listed, crit, judge, cutoffs)).entries
            ranked = [e.paper.id for e in entries]
            result = evaluate(ranked, {e.paper.id: e.score.relevance for e in entries}, ref)
            table.add_row(
                escape(listing.stem), str(result.papers), str(result.found),
                f"{result.r_precision:.3f}", f"{result.recall_at[0.25]:.3f}",
                f"{result.recall_at[0.40]:.3f}", f"{share_for(ranked, {r.id for r in ref}):.2f}",
            )  # fmt: skip
        scratch.close()
    console.print(table)


def _day_of(listing: Path) -> date:
    """A listing file named for its day (`2026-02-10.jsonl`), else today."""
    try:
        return date.fromisoformat(listing.stem[:10])
    except ValueError:
        return date.today()


@app.command()
@_errors_as_lines
def learn(
    reference: Annotated[
        Path | None, typer.Option(help="A digest whose selection marks the wanted papers.")
    ] = None,
    listing: Annotated[
        Path | None, typer.Option(help="The listing the reference chose from.")
    ] = None,
) -> None:
    """Refit the local scorer on the stored labels of the current criteria: ratings, LLM
    judgements, references. With --reference and --listing, that day's selection is added first.

    The new model is kept only when it ranks held-back labels better than the one in use.

    Example: paperdigest learn --reference digest-2026-02-10.txt --listing 2026-02-10.jsonl
    """
    if (reference is None) != (listing is None):
        raise DigestError("--reference and --listing go together: the listing it chose from")
    settings = _settings()
    store = Store(settings.database.dsn)
    crit = _stored_criteria(settings, store)
    if reference is not None and listing is not None:
        chosen = {p.id for p in read_reference(reference)}
        source = f"reference:{reference.name}"
        label_reference(store, crit, _read_papers(listing), chosen, source)
    with _working("learning from the stored labels"):
        learned = learn_from_labels(store, crit)
    console.print(learned.message, highlight=False, markup=False)


@app.command()
@_errors_as_lines
def why(
    paper_id: Annotated[str, typer.Argument(help="An arXiv id, e.g. 2602.08007.")],
    day: Annotated[str | None, typer.Option(help="The digest day (default: the latest).")] = None,
    deep: Annotated[bool, typer.Option(help="Ask the LLM to explain the score (cached).")] = False,
) -> None:
    """Explain a paper's scores, rank and whether it made the digest.

    Example: paperdigest why 2602.08007 --deep
    """
    from digest import LLMScorer, deep_explain, explain

    settings = _settings()
    store = Store(settings.database.dsn)
    when = date.fromisoformat(day) if day else None
    for line in explain(store, settings.digest.subscription, paper_id, when):
        console.print(line, highlight=False, markup=False)
    if deep:
        crit = _stored_criteria(settings, store)
        llm = make_scorer("llm", store, crit, settings)
        if not isinstance(llm, LLMScorer):
            raise DigestError(f"--deep needs the llm scorer, not {type(llm).__name__}")
        with console.status(f"asking {settings.llm.model}..."):
            work = deep_explain(store, llm, crit, settings.digest.subscription, paper_id)
            text = asyncio.run(finish(llm, work))
        console.print(f"\n{settings.llm.model} explains: {text}", highlight=False, markup=False)


@app.command()
@_errors_as_lines
def usage() -> None:
    """LLM tokens and cost, summed by day and model.

    Example: paperdigest usage
    """
    store = Store(_settings().database.dsn)
    table = Table("day", "model", "prompt", "cached", "completion", "cost")
    for day, u in store.usage():
        cost = "unknown" if u.cost is None else f"${u.cost:.4f}"
        table.add_row(
            str(day), escape(u.model), f"{u.prompt_tokens:,}", f"{u.cached_tokens:,}",
            f"{u.completion_tokens:,}", cost,
        )  # fmt: skip
    console.print(table if table.rows else "no LLM tokens spent yet")


@app.command()
@_errors_as_lines
def chat(
    text: Annotated[str | None, typer.Argument(help="One command; without it, a prompt.")] = None,
) -> None:
    """Talk to the digest as a chat would: the same commands as Slack and Telegram.

    Example: paperdigest chat "why 2602.08007"
    """
    from bot.chat import Context, Deps
    from bot.chat import run as run_command

    settings = _settings()
    store = Store(settings.database.dsn)
    deps = Deps(
        store, settings, lambda crit: make_scorer(settings.scoring.scorer, store, crit, settings)
    )
    ctx = Context("terminal", settings.digest.subscription, "you", dm=True)
    if text is not None:
        reply = run_command(text, ctx, deps)
        console.print(reply.text(), highlight=False, markup=False)
        raise typer.Exit(1 if reply.error else 0)
    console.print("paperdigest chat: type `help`, or an empty line to leave.")
    while line := typer.prompt("you", default="", show_default=False).strip():
        console.print(run_command(line, ctx, deps).text(), highlight=False, markup=False)


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
    store = Store(settings.database.dsn)
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
    report = status_report(Store(settings.database.dsn), settings)
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


@app.command("serve")
@_errors_as_lines
def serve_command() -> None:
    """Run the chat front ends (Slack when SLACK_BOT_TOKEN is set) until stopped.

    Example: SLACK_BOT_TOKEN=xoxb-... SLACK_APP_TOKEN=xapp-... paperdigest serve
    """
    from bot.service import serve, setup_logging

    setup_logging()
    serve(_settings())


criteria_app = typer.Typer(no_args_is_help=False, invoke_without_command=True)
app.add_typer(criteria_app, name="criteria")


@criteria_app.callback()
@_errors_as_lines
def criteria_show(context: typer.Context) -> None:
    """Print the criteria in use, with its version and hash; `criteria set FILE` changes them.

    The criteria live in the store, as a chat's do: only `criteria set` and chat commands
    write new versions; `run` never does.

    Example: paperdigest criteria
    """
    if context.invoked_subcommand is not None:
        return
    settings = _settings()
    store = Store(settings.database.dsn)
    crit = _stored_criteria(settings, store)
    version = len(store.criteria_versions(settings.digest.subscription))
    sys.stdout.write(crit.to_text().rstrip("\n") + "\n\n")  # unwrapped: `criteria > f` reads back
    console.print(f"version {version}, hash: {crit.hash}", markup=False)


@criteria_app.command("set")
@_errors_as_lines
def criteria_set(
    path: Annotated[Path, typer.Argument(help="A criteria file (the format `criteria` prints).")],
) -> None:
    """Store the file as the next version of the criteria; `run` and `chat` then use it.

    Example: paperdigest criteria set my-criteria.md
    """
    settings = _settings()
    store = Store(settings.database.dsn)
    sub, seed = settings.digest.subscription, _seed(settings)
    before, _ = current_criteria(store, sub, seed)
    new = Criteria.load(path).validated(source=str(path))
    version, carried = change_criteria(store, sub, new, "cli", seed)
    said = "unchanged" if version == before else f"stored as version {version}"
    console.print(f"criteria from {path}: {said} (hash {new.hash})", markup=False)
    if carried:
        console.print(carried, markup=False)


def _read_papers(path: Path) -> list:
    try:
        return read_listing(path)
    except OSError as exc:
        raise NotFoundError(f"cannot read listing {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise DigestError(str(exc)) from None


if __name__ == "__main__":
    app()
