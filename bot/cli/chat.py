"""The chat, in the terminal: `why` explains a score, `chat` talks to the digest as a chat
would, `criteria` shows and sets the criteria.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import _errors_as_lines, _seed, _settings, _stored_criteria, app, console
from digest import (
    Criteria,
    DigestError,
    Store,
    change_criteria,
    current_criteria,
    finish,
    make_scorer,
)


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
    store = Store.open(settings.database)
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
def chat(
    text: Annotated[str | None, typer.Argument(help="One command; without it, a prompt.")] = None,
) -> None:
    """Talk to the digest as a chat would: the same commands as Slack and Telegram.

    Example: paperdigest chat "why 2602.08007"
    """
    from bot.chat import Context, Deps
    from bot.chat import run as run_command

    settings = _settings()
    store = Store.open(settings.database)
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
    store = Store.open(settings.database)
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
    store = Store.open(settings.database)
    sub, seed = settings.digest.subscription, _seed(settings)
    before, _ = current_criteria(store, sub, seed)
    new = Criteria.load(path).validated(source=str(path))
    version, carried = change_criteria(store, sub, new, "cli", seed)
    said = "unchanged" if version == before else f"stored as version {version}"
    console.print(f"criteria from {path}: {said} (hash {new.hash})", markup=False)
    if carried:
        console.print(carried, markup=False)
