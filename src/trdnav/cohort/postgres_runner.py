"""PostgreSQL: OMOP tables in a schema of a database (``--data postgresql://...``).

``load_parquet`` copies a folder of OMOP Parquet files into a schema (with COPY), for tests
and for trying the engine on a local server.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb
import ibis
import ibis.expr.types as ir
import psycopg
import pyarrow as pa

from trdnav.cohort.omop import SCHEMAS
from trdnav.cohort.runner import Runner, omop_table, unconverted
from trdnav.errors import InputError, Problem, hide_password

__all__ = ["PostgresRunner", "checked_schema", "conninfo", "load_parquet"]

_SQL_TYPES = {"int64": "bigint", "float64": "double precision", "string": "text", "date": "date"}


def conninfo(url: str, option: str = "--data") -> str:
    """A libpq URL from ``postgresql://`` or SQLAlchemy's ``postgresql+psycopg://``
    (``option``: where the URL came from, for the error when it is neither)."""
    scheme, _, rest = url.partition("://")
    if not rest or not scheme.startswith(("postgres", "postgresql")):
        raise InputError([Problem(option, hide_password(url), "a postgresql:// URL")])
    return "postgresql://" + rest


def checked_schema(schema: str) -> str:
    """``schema`` when it is a plain SQL name (letters, digits, ``_``; not a digit first),
    which is all the OMOP conventions use; anything else is refused rather than quoted."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        expected = "a schema name of letters, digits and _ (not starting with a digit)"
        raise InputError([Problem("--schema", schema, expected)])
    return schema


def _unreachable(option: str, url: str, exc: Exception) -> InputError:
    reason = " ".join(str(exc).split())
    return InputError(
        [Problem(option, hide_password(url), f"a reachable PostgreSQL database ({reason})")]
    )


def _connect_args(url: str) -> dict[str, Any]:
    parts = urlsplit(conninfo(url))
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": (parts.path or "/postgres").lstrip("/") or "postgres",
    }


class PostgresRunner(Runner):
    name = "postgres"

    def __init__(self, url: str, *, schema: str = "public") -> None:
        self.schema = checked_schema(schema)
        try:
            self.con = ibis.postgres.connect(**_connect_args(url))
        except Exception as exc:  # connection errors are the user's input problem
            raise _unreachable("--data", url, exc) from None
        self.present = set(self.con.list_tables(database=schema))
        self._kept = 0

    def no_person_table(self) -> Problem:
        return Problem("--schema", self.schema, "a schema holding an OMOP table person")

    def raw(self, table: str) -> ir.Table | None:
        if table not in self.present:
            return None
        return self.con.table(table, database=self.schema)

    def materialize(self, table: ir.Table) -> ir.Table:
        self._kept += 1
        kept = self.con.create_table(f"trdnav_step_{self._kept}", table, temp=True)
        self.con.raw_sql(f"ANALYZE trdnav_step_{self._kept}")
        return kept

    def close(self) -> None:
        self.con.disconnect()


def _copy_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def load_parquet(folder: Path, url: str, *, schema: str = "public") -> dict[str, int]:
    """Copy the OMOP Parquet tables of ``folder`` into ``schema`` in one transaction: a table
    of the same name is replaced, and the schema's other tables (an OMOP table the folder
    does not have, or any other) are left as they are; nothing changes unless every table
    was copied. The tables are read as ``cohort run --engine duckdb`` reads them, and data it
    refuses is refused before the database is touched. Returns the rows per table copied."""
    target = conninfo(url, "--to")
    schema = checked_schema(schema)
    tables = _read_for_loading(folder)
    counts = {}
    try:
        conn = psycopg.connect(target)
    except psycopg.OperationalError as exc:
        raise _unreachable("--to", url, exc) from None
    with conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for name, table in tables.items():
            columns = SCHEMAS[name]
            conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
            ddl = ", ".join(f'"{c}" {_SQL_TYPES[t]}' for c, t in columns.items())
            conn.execute(f'CREATE TABLE "{schema}"."{name}" ({ddl})')
            names = ", ".join(f'"{c}"' for c in columns)
            with (
                conn.cursor() as cur,
                cur.copy(f'COPY "{schema}"."{name}" ({names}) FROM STDIN') as copy,
            ):
                for batch in table.to_batches(max_chunksize=50_000):
                    for row in _rows(batch):
                        copy.write_row(row)
            conn.execute(f'ANALYZE "{schema}"."{name}"')
            counts[name] = table.num_rows
    return counts


def _read_for_loading(folder: Path) -> dict[str, pa.Table]:
    """The OMOP tables ``folder`` holds, read and converted as the DuckDB runner reads them
    (the same files, column types and conversions are refused): an input error naming every
    column refused, or holding a value that does not convert, before anything is loaded."""
    from trdnav.cohort.duckdb_runner import DuckDBRunner

    runner = DuckDBRunner(folder)
    try:
        stored: dict[str, ir.Table] = {}
        typed: dict[str, ir.Table] = {}
        problems: list[Problem] = []
        for name in SCHEMAS:
            table = runner.raw(name)
            if table is None:
                continue
            stored[name] = table
            typed[name], wrong, _ = omop_table(name, table)
            problems.extend(wrong)
        if problems:
            raise InputError(problems)
        out: dict[str, pa.Table] = {}
        for name, table in typed.items():
            try:
                out[name] = table.to_pyarrow()
            except duckdb.ConversionException as exc:
                found = unconverted(name, stored[name])
                problems.extend(found or [_not_converted(name, exc)])
        if problems:
            raise InputError(problems)
        return out
    finally:
        runner.close()


def _not_converted(name: str, exc: Exception) -> Problem:
    reason = str(exc).strip().splitlines()[0]
    return Problem(name, "a value that does not convert", f"OMOP CDM v5.4 types ({reason})")


def _rows(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    return [tuple(_copy_value(v) for v in row) for row in zip(*columns, strict=True)]
