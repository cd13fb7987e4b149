"""Engines and transactions.

``Store`` wraps an engine and its session factory. ``Store.transaction()`` is the one way to
write: everything inside it commits together or not at all. SQLite connections use WAL mode,
foreign keys and a busy timeout so that several processes can share one file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from trdnav.errors import InputError, Problem

__all__ = ["Store", "default_database_url", "make_engine", "missing_file", "unusable"]


def default_database_url() -> str:
    """A SQLite file in the user's data directory."""
    folder = Path(platformdirs.user_data_dir("trdnav", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'trdnav.db'}"


_log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, autocheckpoint: bool = True) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    if not autocheckpoint:
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


NUL_EXPECTED = "text without NUL characters"


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
) -> None:
    """Refuse a statement whose text values hold a NUL character, on every database:
    PostgreSQL cannot store or compare one (the driver fails), and it is never text anyone
    meant. The edges refuse such input with its field path first; this keeps anything that
    reaches the database another way from becoming an internal error."""
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else row or ()
        for value in values:
            if isinstance(value, str) and "\x00" in value:
                raise InputError([Problem("(text)", value, NUL_EXPECTED)])


def _sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def _in_memory(url: str) -> bool:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def missing_file(url: str) -> Path | None:
    """The file of a SQLite database URL when that file does not exist (connecting would
    create it, empty); None for an existing file and for other databases."""
    try:
        if not _sqlite_file(url):
            return None
        database = str(make_url(url).database)
    except ArgumentError:
        return None
    if database.startswith("file:"):  # a URI filename (?uri=true): SQLite resolves it
        return None
    path = Path(database)
    return None if path.exists() else path


def make_engine(url: str, *, autocheckpoint: bool = True) -> Engine:
    """An engine for ``url``. A statement's values (patient data, password hashes) are kept
    out of its error messages and logs (``hide_parameters``), which reach server logs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if _sqlite_file(url):
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10}, hide_parameters=True)
        event.listen(engine, "connect", partial(_sqlite_pragmas, autocheckpoint=autocheckpoint))
    else:
        engine = create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
        )
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def unusable(url: str, *, create: bool = False) -> str | None:
    """Why the database at ``url`` cannot be used (it cannot be opened or connected to),
    or None when a connection succeeds. A SQLite file that does not exist is refused
    unless ``create`` (only commands that set a database up create one: a mistyped path
    must not become a new, empty database)."""
    missing = None if create else missing_file(url)
    if missing is not None:
        return f"there is no database file {missing}; `trdnav db upgrade` creates one"
    if _in_memory(url):
        return "an in-memory SQLite database ends with the command; name a file instead"
    try:
        engine = make_engine(url)
    except (ArgumentError, ImportError, OSError) as exc:
        return " ".join(str(exc).split())
    try:
        with engine.connect():
            return None
    except DBAPIError as exc:
        return " ".join(str(exc.orig).split())
    finally:
        engine.dispose()


class Store:
    """A database: its engine and a transaction factory.

    ``background_checkpoints`` (servers, SQLite files only): the write-ahead log is copied
    into the database file by a thread of this process every ``checkpoint_seconds``, and never
    by the transaction that happens to fill it. By default SQLite has the committing
    transaction do it, and that request then waits tens of milliseconds."""

    def __init__(
        self, url: str, *, background_checkpoints: bool = False, checkpoint_seconds: float = 1.0
    ) -> None:
        self.url = url
        background = background_checkpoints and _sqlite_file(url)
        self.engine = make_engine(url, autocheckpoint=not background)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._stop = threading.Event()
        self._checkpoints: threading.Thread | None = None
        if background:
            self._checkpoints = threading.Thread(
                target=self._checkpoint_loop,
                args=(checkpoint_seconds,),
                name="trdnav-wal-checkpoints",
                daemon=True,
            )
            self._checkpoints.start()

    def _checkpoint_loop(self, seconds: float) -> None:
        # PASSIVE: copy what no reader still needs, without waiting for readers or writers
        while not self._stop.wait(seconds):
            try:
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # a failed pass is logged; the next one tries again
                _log.exception("WAL checkpoint failed")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; it is rolled back at the end."""
        with self._sessions() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self._stop.set()
        if self._checkpoints is not None:
            self._checkpoints.join(timeout=10)
        self.engine.dispose()
