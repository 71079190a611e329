"""The schema's migrations (Alembic): run at start by every process, one at a time."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from digest.errors import DigestError
from digest.store.models import Base

MIGRATIONS = Path(__file__).parent.parent / "migrations"
_VERSION_TABLE = "alembic_version"
_MIGRATION_LOCK = 0x70617065  # PostgreSQL advisory lock: one migrating process at a time
# The latest migration's revision, known without loading Alembic (0.4 s at every start): a
# store at HEAD opens with one query. tests/test_store.py checks it against schema_head().
HEAD = "0008"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Any:
    """An Alembic Config for the shipped migrations, on a connection or a URL."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def schema_head() -> str:
    """The latest migration's revision."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise DigestError(f"no migrations in {MIGRATIONS}; reinstall paperdigest")
    return head


def schema_revision(connection: Connection) -> str | None:
    """The database's migration revision; None when it has never been migrated."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the database to the latest schema (`alembic upgrade head`).

    At head already: one cheap query. A database made before migrations existed (tables, no
    version table) gets its missing tables and is stamped at head.
    """
    with engine.connect() as conn:
        if schema_revision(conn) == HEAD:
            return
    from alembic import command
    from alembic.script import ScriptDirectory

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # another process may be migrating: wait for it
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        current = schema_revision(conn)
        if current == schema_head():
            return
        config = alembic_config(conn)
        if current is not None and current not in {
            s.revision for s in ScriptDirectory.from_config(config).walk_revisions()
        }:
            where = engine.url.render_as_string(hide_password=True)
            raise DigestError(
                f"the store at {where} has schema revision {current}, newer than this "
                f"paperdigest knows ({schema_head()}); upgrade paperdigest"
            )
        if current is None and set(inspect(conn).get_table_names()) & set(Base.metadata.tables):
            Base.metadata.create_all(conn)  # made by a paperdigest without migrations
            command.stamp(config, "head")
        else:
            command.upgrade(config, "head")
