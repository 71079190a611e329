"""The day, in the terminal: `run` builds today's digest; `backfill` fetches a date range;
`score`, `eval` and `learn` work on listings and references.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.common import (
    EXIT_FAILED,
    EXIT_STALE,
    _errors_as_lines,
    _fetch,
    _settings,
    _stored_criteria,
    _working,
    app,
    console,
    err,
)
from digest import (
    Criteria,
    Cutoffs,
    DayListing,
    DayStatus,
    Digest,
    DigestError,
    NotFoundError,
    ReferencePaper,
    Score,
    Store,
    Usage,
    build_digest,
    day_of,
    dump_paper,
    evaluate,
    finish,
    label_reference,
    learn_for_day,
    listings_in_date_order,
    make_scorer,
    plan_day,
    rank_day,
    read_labels,
    read_listing,
    read_reference,
    record_usage,
    sample_listing,
    score_day,
    write_outputs,
)
from digest import learn as learn_from_labels


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
    store = Store.open(settings.database)
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
            subscription = settings.digest.subscription
            planning = plan_day(
                store, listing, criteria, scorer, subscription=subscription,
                top_k=settings.digest.top_k, language=_language(store, subscription),
            )  # fmt: skip
            plan = asyncio.run(finish(scorer, planning))
        console.print(
            f"would score {len(plan.todo)} papers ({len(plan.cached)} cached): {plan.estimate}\n"
            f"{plan.tldrs}",
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
            language=_language(store, settings.digest.subscription),
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
    store = Store.open(settings.database)
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
        list[Path],
        typer.Option(help="A day's listing (JSON lines) or a folder of them; repeat for more."),
    ],
    reference: Annotated[
        list[Path] | None,
        typer.Option(help="A digest in the reference format, one per listing file."),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(help='Every day\'s picks in one JSON file: {"YYYY-MM-DD": {"id": {...}}}.'),
    ] = None,
    scorer: Annotated[str, typer.Option(help="auto, local, llm or cascade.")] = "local",
    learn_days: Annotated[
        int, typer.Option(help="Learn from the first N days (by date), evaluate on the rest.")
    ] = 0,
) -> None:
    """Compare the scorer's ranking of listings with a reference's selection.

    Papers by followed authors rank first, as in a digest. Days are taken in date order (by the
    date each listing file is named for). One day prints its figures; several print a row per
    day (R-precision, recall keeping the top 25% and 40%, the share of the day holding 97% of
    the picks) and their mean. With --learn-days N, the local scorer learns from the first N
    days' selections (in a scratch store: your own models are untouched) and is measured on
    each later day.

    Example: paperdigest eval --listing 2026-02-10.jsonl --reference digest-2026-02-10.txt;
    paperdigest eval --listing data/arxiv --labels data/arxiv/selected.json
    """
    days = _labelled_days(listing, reference or [], labels)
    settings = _settings()
    store = Store.open(settings.database)
    crit = _stored_criteria(settings, store)
    cutoffs = Cutoffs(settings.digest.relevance_cutoff, settings.digest.novelty_cutoff)
    if learn_days:
        _eval_learning(store, days, learn_days, crit, cutoffs)
        return
    judge = make_scorer(scorer, store, crit, settings)

    async def score_days() -> list[tuple[Path, list[str], list, list[ReferencePaper]]]:
        """Every day in one event loop: an LLM client's connections belong to one loop."""
        rows = []
        for path, ref in days:
            papers = _read_papers(path)
            work = rank_day(
                store, DayListing(_day_of(path), DayStatus.BUILT, "", papers), crit, judge,
                cutoffs, keep_listing=False,
            )  # fmt: skip
            with _working(f"scoring {len(papers)} papers of {path.name} with {judge.name}"):
                entries = (await work).entries
            rows.append((path, [e.paper.id for e in entries], entries, ref))
        return rows

    rows = asyncio.run(finish(judge, score_days()))
    if len(rows) == 1:
        _, ranked, entries, ref = rows[0]
        result = evaluate(ranked, {e.paper.id: e.score.relevance for e in entries}, ref)
        for line in result.lines():
            console.print(line, highlight=False, markup=False)
        return
    _print_days(rows)


def _labelled_days(
    listings: list[Path], references: list[Path], labels: Path | None
) -> list[tuple[Path, list[ReferencePaper]]]:
    """Each listing file (folders expanded) with its day's picks, in date order."""
    if bool(references) == (labels is not None):
        raise DigestError("give either --reference (one per listing) or --labels, not both")
    files = listings_in_date_order(listings)
    if not files:
        raise DigestError(f"no listing (*.jsonl) in {', '.join(map(str, listings))}")
    if labels is None:
        if len(listings) != len(references) or len(files) != len(listings):
            raise DigestError(
                f"{len(files)} listing files and {len(references)} references: one each "
                "(for a folder of listings, use --labels)"
            )
        given = dict(zip(listings, references, strict=True))
        if any(f not in given for f in files):
            raise DigestError("--reference goes with listing files; for a folder, use --labels")
        return [(f, read_reference(given[f])) for f in files]
    picks = read_labels(labels)
    days = [(f, picks[str(day_of(f))]) for f in files if str(day_of(f)) in picks]
    if not days:
        raise DigestError(
            f"{labels} has no picks for the days of these listings (files named YYYY-MM-DD.jsonl)"
        )
    if len(days) < len(files):
        left = ", ".join(f.name for f in files if str(day_of(f)) not in picks)
        err.print(f"{len(files) - len(days)} listing(s) have no labels, left out: {left}")
    return days


def _print_days(rows: list[tuple[Path, list[str], list, list[ReferencePaper]]]) -> None:
    """A row of figures per day, then their mean."""
    from digest import share_for

    table = Table("day", "papers", "picks", "R-precision", "recall@25%", "recall@40%",
                  "share for 97%")  # fmt: skip
    figures = []
    for path, ranked, entries, ref in rows:
        result = evaluate(ranked, {e.paper.id: e.score.relevance for e in entries}, ref)
        share = share_for(ranked, {r.id for r in ref})
        values = (result.r_precision, result.recall_at[0.25], result.recall_at[0.40], share)
        figures.append(values)
        table.add_row(escape(path.stem), str(result.papers), str(result.found),
                      *(f"{v:.3f}" for v in values))  # fmt: skip
    means = [sum(column) / len(figures) for column in zip(*figures, strict=True)]
    days = f"{len(figures)} day{'s' if len(figures) > 1 else ''}"
    table.add_row(f"mean of {days}", "", "", *(f"{v:.3f}" for v in means))
    console.print(table)


def _eval_learning(
    store: Store,
    days: list[tuple[Path, list[ReferencePaper]]],
    n: int,
    crit: Criteria,
    cutoffs: Cutoffs,
) -> None:
    """Learn from the first `n` days' picks, then a row per later day. Labels and the model
    go to a scratch store; the papers' embeddings are kept in `store` (a second eval embeds
    nothing)."""
    import tempfile

    from digest import LocalScorer, learn, lend_embeddings

    if not 0 < n < len(days):
        raise DigestError(f"--learn-days {n}: give more listings than that ({len(days)} given)")
    with tempfile.TemporaryDirectory(prefix="paperdigest-eval-") as tmp:
        scratch = Store(f"sqlite:///{tmp}/eval.sqlite3")
        read = {listing: _read_papers(listing) for listing, _ in days}
        papers = [p for listed in read.values() for p in listed]
        with _working(f"embedding {len(papers)} papers"):
            lend_embeddings([p.id for p in papers], [p.text for p in papers], store, scratch)
        for listing, ref in days[:n]:
            source, day = f"reference:{listing.stem}", _day_of(listing)
            label_reference(scratch, crit, read[listing], {r.id for r in ref}, source, day)
        with _working(f"learning from {n} days"):
            console.print(learn(scratch, crit).message, highlight=False, markup=False)
        judge = LocalScorer(scratch.model(crit.scoring_hash, "local"), vectors=scratch)
        rows = []
        for listing, ref in days[n:]:
            listed = DayListing(_day_of(listing), DayStatus.BUILT, "", read[listing])
            with _working(f"scoring {listing.name}"):
                entries = asyncio.run(rank_day(scratch, listed, crit, judge, cutoffs)).entries
            rows.append((listing, [e.paper.id for e in entries], entries, ref))
        scratch.close()
    _print_days(rows)


def _day_of(listing: Path) -> date:
    """A listing file named for its day (`2026-02-10.jsonl`), else today."""
    return day_of(listing) or date.today()


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
    store = Store.open(settings.database)
    crit = _stored_criteria(settings, store)
    if reference is not None and listing is not None:
        chosen = {p.id for p in read_reference(reference)}
        source = f"reference:{reference.name}"
        label_reference(store, crit, _read_papers(listing), chosen, source)
    with _working("learning from the stored labels"):
        learned = learn_from_labels(store, crit)
    console.print(learned.message, highlight=False, markup=False)


def _read_papers(path: Path) -> list:
    try:
        return read_listing(path)
    except OSError as exc:
        raise NotFoundError(f"cannot read listing {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise DigestError(str(exc)) from None


def _language(store: Store, subscription: str) -> str:
    """The TL;DR language of the subscription `run` builds (English unless a chat set one)."""
    sub = store.subscription(subscription)
    return sub.language if sub is not None else "en"
