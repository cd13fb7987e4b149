"""SQLite stores: the write-ahead log is copied into the database file by a background thread
of a server's store, never by a committing transaction."""

import shutil
import sqlite3
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from trdnav.errors import InputError
from trdnav.store.database import Store, make_engine, missing_file, unusable


def _write(store: Store, n: int) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    for i in range(n):
        with store.engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": i})


def _rows_in_the_file_alone(path, tmp_path) -> int:
    """The rows the database file holds by itself, without its write-ahead log."""
    alone = tmp_path / "alone.db"
    shutil.copyfile(path, alone)
    with sqlite3.connect(alone) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM t").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself is still only in the log
            return 0


def _autocheckpoint(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_a_servers_store_checkpoints_in_the_background(tmp_path):
    path = tmp_path / "server.db"
    store = Store(f"sqlite:///{path}", background_checkpoints=True, checkpoint_seconds=0.1)
    try:
        assert _autocheckpoint(store) == 0  # no transaction checkpoints
        _write(store, 20)
        deadline = time.monotonic() + 10
        while _rows_in_the_file_alone(path, tmp_path) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows_in_the_file_alone(path, tmp_path) == 20
    finally:
        store.dispose()


def test_other_stores_leave_checkpoints_to_sqlite(tmp_path):
    path = tmp_path / "tool.db"
    store = Store(f"sqlite:///{path}")
    try:
        assert _autocheckpoint(store) == 1000  # SQLite's own default
        _write(store, 20)
        time.sleep(0.5)
        assert _rows_in_the_file_alone(path, tmp_path) == 0  # still in the log
    finally:
        store.dispose()


def test_disposing_stops_the_checkpoints(tmp_path):
    before = set(threading.enumerate())
    store = Store(f"sqlite:///{tmp_path / 'x.db'}", background_checkpoints=True)
    started = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in started] == ["trdnav-wal-checkpoints"]
    store.dispose()
    assert not started[0].is_alive()


def test_a_sqlite_file_that_does_not_exist_is_only_created_when_asked(tmp_path):
    path = tmp_path / "sub" / "typo.db"
    url = f"sqlite:///{path}"
    assert missing_file(url) == path
    assert unusable(url) == f"there is no database file {path}; `trdnav db upgrade` creates one"
    assert not (tmp_path / "sub").exists()
    assert unusable(url, create=True) is None
    assert path.is_file()
    assert missing_file(url) is None
    assert unusable(url) is None
    assert missing_file("sqlite://") is None
    assert missing_file("sqlite:///:memory:") is None
    # an in-memory database was set up and reported 'at revision None', then gone
    for memory in ("sqlite://", "sqlite:///:memory:"):
        for create in (False, True):
            reason = unusable(memory, create=create)
            assert (
                reason == "an in-memory SQLite database ends with the command; name a file instead"
            )
    assert missing_file("postgresql+psycopg://u:p@127.0.0.1/x") is None


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_text_with_a_nul_character_is_refused_on_every_database(request, tmp_path, database):
    """PostgreSQL cannot store a NUL (its driver fails); SQLite refuses it the same way."""
    url = (
        request.getfixturevalue("postgres_url")
        if database == "postgresql"
        else f"sqlite:///{tmp_path / 'nul.db'}"
    )
    store = Store(url)
    table = f"nul_{uuid.uuid4().hex[:8]}"
    try:
        with store.engine.begin() as connection:
            connection.execute(text(f"CREATE TABLE {table} (s TEXT)"))
        for rows in ({"s": "a\x00b"}, [{"s": "fine"}, {"s": "\x00"}]):
            with pytest.raises(InputError) as info, store.engine.begin() as connection:
                connection.execute(text(f"INSERT INTO {table} VALUES (:s)"), rows)
            assert [p.expected for p in info.value.problems] == ["text without NUL characters"]
        with store.engine.begin() as connection:
            connection.execute(text(f"INSERT INTO {table} VALUES (:s)"), {"s": "fine"})
            assert connection.execute(text(f"SELECT s FROM {table}")).scalars().all() == ["fine"]
            connection.execute(text(f"DROP TABLE {table}"))
    finally:
        store.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_failed_statement_does_not_show_its_values(backend, tmp_path, request):
    """Errors reach logs and terminals: they name the statement, never its values."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'values.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, secret TEXT)"))
            connection.execute(text("INSERT INTO t VALUES (1, 'first')"))
        with pytest.raises(DBAPIError) as info, engine.begin() as connection:
            connection.execute(
                text("INSERT INTO t VALUES (:n, :secret)"), {"n": 1, "secret": "hunter2-secret"}
            )
    finally:
        engine.dispose()
    assert "INSERT INTO t" in str(info.value)
    assert "hunter2-secret" not in str(info.value)
