"""The `paperdigest` app, and what its command groups share: the --config option, the
console, errors as one line, progress, the settings and the stored criteria.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from digest import (
    Criteria,
    DayListing,
    DigestError,
    Settings,
    Store,
    current_criteria,
    embedding_progress,
    fetch_listing,
    load_settings,
)

HELP = "The `paperdigest` command: a thin shell around the digest engine."
app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False)
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


async def _fetch(settings: Settings, categories: tuple[str, ...] | None = None) -> DayListing:
    async with httpx.AsyncClient(timeout=settings.arxiv.timeout, follow_redirects=True) as client:
        return await fetch_listing(settings, client, categories=categories)
