"""The one door to storage: SQLAlchemy 2 models, their migrations, and one `Store` of named
operations (papers and listings, embeddings, scores and labels, chats, digests, claimed
work)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from digest.errors import DigestError
from digest.store._chats import ChatStore
from digest.store._digests import DigestStore
from digest.store._embeddings import EmbeddingStore
from digest.store._pace import PaceRate, PaceSlot, PaceStore
from digest.store._papers import PaperStore
from digest.store._proposals import ProposalStore
from digest.store._retention import RetentionStore
from digest.store._scores import ScoreStore
from digest.store._work import OPEN, Claim, WorkStore
from digest.store.migrate import alembic_config, migrate, schema_head
from digest.store.models import Base

if TYPE_CHECKING:
    from digest.config import DatabaseSettings

__all__ = [
    "OPEN", "Base", "Claim", "PaceRate", "PaceSlot", "Store", "alembic_config", "backup_store",
    "schema_head", "store_unreachable",
]  # fmt: skip

SQLITE_BUSY_SECONDS = 30.0  # several processes may write one SQLite file: wait for the lock
CONNECT_SECONDS = 2.0  # PostgreSQL: a server that does not answer is unreachable this soon
HEALTH_BUSY_SECONDS = 1.0  # /healthz waits at most this long for SQLite's write lock
UNACKED_SECONDS = 10.0  # PostgreSQL: data unacknowledged this long means the host is gone
PING_IDLE_SECONDS = 1.0  # PostgreSQL: a pooled connection idle longer is pinged before use


class Store(
    PaperStore, ScoreStore, EmbeddingStore, DigestStore, ChatStore, WorkStore, ProposalStore,
    RetentionStore, PaceStore,
):  # fmt: skip
    """Named operations over the database; nothing else imports SQLAlchemy."""

    def __init__(
        self,
        dsn: str,
        busy_timeout: float = SQLITE_BUSY_SECONDS,
        connect_timeout: float = CONNECT_SECONDS,
    ) -> None:
        """`busy_timeout`: seconds a SQLite write waits for another process's lock;
        `connect_timeout`: seconds to wait for a PostgreSQL connection (settings
        `database.busy_timeout` and `database.connect_timeout`)."""
        if dsn.startswith("sqlite:///") and dsn != "sqlite:///:memory:":
            Path(dsn.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.dsn, self.busy_timeout = dsn, busy_timeout
        if dsn.startswith("sqlite"):
            self.engine = create_engine(dsn, connect_args={"timeout": busy_timeout})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            # libpq takes whole seconds (at least 1) to connect; tcp_user_timeout (ms) drops a
            # connection whose data the server's host stopped acknowledging (not within 2 s:
            # a busy server may leave a large write unread that long, which dropped three
            # runs' connections in a 2,000-chat benchmark)
            acked = max(connect_timeout, UNACKED_SECONDS)
            wait = {"connect_timeout": max(1, round(connect_timeout)),
                    "tcp_user_timeout": int(acked * 1000)}  # fmt: skip
            # a worker's threads (the event loop, its pool of six, the pace's and the renewals')
            # keep ten connections; beyond five, the pool's default, each was opened and
            # closed again for one statement. At most fifteen at once, as before.
            self.engine = create_engine(dsn, connect_args=wait, pool_size=10, max_overflow=5)
            _ping_when_idle(self.engine)
        try:
            migrate(self.engine)
        except OperationalError as exc:
            raise DigestError(f"cannot open the store at {_safe(dsn)}: {exc.orig}") from None

    @classmethod
    def open(cls, database: DatabaseSettings) -> Store:
        """The store the settings name, with their timeouts."""
        return cls(database.dsn, database.busy_timeout, database.connect_timeout)

    def check_writable(self) -> None:
        """Raise (OperationalError) when a write could not start now: on SQLite, another
        process holding the write lock for more than a second (readers are never held up, so
        only this tells). PostgreSQL answers writes whenever it answers reads."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            wait = min(self.busy_timeout, HEALTH_BUSY_SECONDS)
            raw.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                connection.exec_driver_sql("ROLLBACK")
            except OperationalError:
                connection.rollback()
                raise
            finally:
                raw.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers go on while one process writes."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, for a connection idle over PING_IDLE_SECONDS only: one in use
    a moment ago needs none (a busy worker checks out a dozen a chat; each ping is a round
    trip), and a store that went away meanwhile is met as any failure is (the operation
    fails, the pool starts afresh). A connection that does not answer is replaced."""

    def idle_from(_connection: Any, record: Any) -> None:
        record.info["idle_from"] = time.monotonic()

    def ping_if_idle(connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_from")  # None: new, or never back in the pool
        if since is not None and time.monotonic() - since > PING_IDLE_SECONDS:
            try:
                engine.dialect.do_ping(connection)
            except Exception as exc:
                raise DisconnectionError(str(exc)) from exc  # the pool connects afresh

    event.listen(engine, "checkin", idle_from)
    event.listen(engine, "checkout", ping_if_idle)


def _safe(dsn: str) -> str:
    """The DSN without its password, for messages."""
    return make_url(dsn).render_as_string(hide_password=True)


def store_unreachable(exc: BaseException) -> bool:
    """The database could not be reached (down, locked, out of connections): asking again
    later may work. A bug in a query (a missing column, a broken constraint) is not this."""
    if isinstance(exc, OperationalError) and isinstance(exc.orig, sqlite3.OperationalError):
        # SQLite reports a missing table or a syntax error as OperationalError too
        return any(s in str(exc.orig).lower() for s in _SQLITE_TRANSIENT)
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "readonly", "not a database")


def backup_store(dsn: str, target: Path, busy_timeout: float = SQLITE_BUSY_SECONDS) -> int:
    """A consistent copy of a SQLite store at `target`, taken with SQLite's online backup API
    while other processes (a running `serve`) read and write it; returns its size in bytes.

    The copy is one self-contained file (rollback journal, not WAL), written next to `target`
    and renamed into place when whole, so a failed backup never leaves half a file there. A
    PostgreSQL store is backed up with `pg_dump` instead: the DigestError says how."""
    url = make_url(dsn)
    if url.get_backend_name() != "sqlite":
        raise DigestError(
            f"the store is {url.get_backend_name()}, not SQLite: back it up with pg_dump, e.g. "
            f"pg_dump --format=custom --file={target} --host={url.host or 'localhost'} "
            f"--port={url.port or 5432} --username={url.username or '$USER'} "
            f"{url.database or ''} (the README's Operations section has the restore line)"
        )
    source_path = url.database or ""
    if source_path in ("", ":memory:") or not Path(source_path).is_file():
        raise DigestError(f"no SQLite store at {source_path or '(memory)'} to back up")
    if target.exists():
        raise DigestError(f"{target} exists; choose a new file name (a backup never overwrites)")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(source_path, timeout=busy_timeout)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # one step: one read transaction, a consistent snapshot
            copy.execute("PRAGMA journal_mode=DELETE")
            checked = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
            source.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise DigestError(f"backup of {source_path} failed: {exc}") from None
    if checked != "ok":
        partial.unlink(missing_ok=True)
        raise DigestError(f"the backup of {source_path} failed SQLite's integrity check")
    try:
        os.link(partial, target)  # unlike a rename, fails if the name was taken meanwhile
    except FileExistsError:
        raise DigestError(
            f"{target} exists; choose a new file name (a backup never overwrites)"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size
