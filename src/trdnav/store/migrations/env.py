"""Alembic environment: runs migrations on the connection or URL the caller provides."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from trdnav.store.database import make_engine
from trdnav.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_sqlite(connection: Connection) -> None:
    """SQLite: the whole run in one transaction, with foreign keys off during it and checked
    before it commits. Python's sqlite3 runs DDL outside any transaction unless told
    otherwise, so a run that failed halfway stayed half done; and a table that a migration
    rebuilds (SQLite alters one by copying it) is dropped while others refer to it, which
    foreign keys refuse."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    level = raw.isolation_level
    raw.isolation_level = None  # the transactions are ours
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # before BEGIN, or it is ignored
    connection.exec_driver_sql("BEGIN")
    try:
        _run(connection)
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            tables = ", ".join(sorted({str(row[0]) for row in broken}))
            raise RuntimeError(f"rows of {tables} refer to rows that are gone")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        raw.isolation_level = level


def run_migrations_online() -> None:
    engine = make_engine(config.attributes["url"])
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                _run_sqlite(conn)
            else:
                _run(conn)
                conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("trdnav migrations run online only")
run_migrations_online()
