"""The one door to storage: SQLAlchemy 2 models, their migrations, and one `Store` of named
operations (papers and listings, embeddings, scores and labels, chats, digests, claimed
work)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from digest.errors import DigestError
from digest.store._chats import ChatStore
from digest.store._digests import DigestStore
from digest.store._embeddings import EmbeddingStore
from digest.store._papers import PaperStore
from digest.store._proposals import ProposalStore
from digest.store._scores import ScoreStore
from digest.store._work import OPEN, Claim, WorkStore
from digest.store.migrate import alembic_config, migrate, schema_head
from digest.store.models import Base

__all__ = [
    "OPEN", "Base", "Claim", "Store", "alembic_config", "schema_head", "store_unreachable",
]  # fmt: skip

SQLITE_BUSY_SECONDS = 30  # several processes may write one SQLite file: wait for the lock


class Store(
    PaperStore, ScoreStore, EmbeddingStore, DigestStore, ChatStore, WorkStore, ProposalStore
):
    """Named operations over the database; nothing else imports SQLAlchemy."""

    def __init__(self, dsn: str) -> None:
        if dsn.startswith("sqlite:///") and dsn != "sqlite:///:memory:":
            Path(dsn.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.dsn = dsn
        if dsn.startswith("sqlite"):
            self.engine = create_engine(dsn, connect_args={"timeout": SQLITE_BUSY_SECONDS})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(dsn, pool_pre_ping=True)
        try:
            migrate(self.engine)
        except OperationalError as exc:
            raise DigestError(f"cannot open the store at {_safe(dsn)}: {exc.orig}") from None

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers go on while one process writes."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _safe(dsn: str) -> str:
    """The DSN without its password, for messages."""
    return make_url(dsn).render_as_string(hide_password=True)


def store_unreachable(exc: BaseException) -> bool:
    """The database could not be reached (down, locked, out of connections): asking again
    later may work. A bug in a query (a missing column, a broken constraint) is not this."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
