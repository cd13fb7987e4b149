"""DuckDB, the embedded default: OMOP tables as Parquet files in a folder.

A table is ``DIR/<name>.parquet`` or a folder ``DIR/<name>/`` of Parquet files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trdnav.cohort.omop import SCHEMAS
from trdnav.cohort.runner import Runner, unconverted
from trdnav.errors import InputError, Problem

__all__ = ["DuckDBRunner", "parquet_path"]


def parquet_path(folder: Path, table: str) -> str | None:
    """The Parquet file or glob of an OMOP table in ``folder``, or None. A table given both
    ways, or a table folder holding other files, is an :class:`InputError`: part of the
    data would be left out unseen. Files whose names start with ``.`` or ``_`` are not data
    (Spark's ``_SUCCESS`` and ``.crc`` files)."""
    single = folder / f"{table}.parquet"
    many = folder / table
    if single.is_file() and many.is_dir():
        expected = f"{table}.parquet or a folder {table}/ of Parquet files, not both"
        raise InputError([Problem("--data", str(folder), expected)])
    if single.is_file():
        return str(single)
    if not many.is_dir():
        return None
    files = [f for f in many.iterdir() if not f.name.startswith((".", "_"))]
    others = sorted(f.name for f in files if not (f.is_file() and f.suffix == ".parquet"))
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        expected = f"a folder of Parquet files (*.parquet) only; it holds {shown}"
        raise InputError([Problem("--data", str(many), expected)])
    return str(many / "*.parquet") if files else None


class DuckDBRunner(Runner):
    name = "duckdb"

    def __init__(
        self, folder: Path, *, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        if not folder.is_dir():
            raise InputError([Problem("--data", str(folder), "a folder of OMOP Parquet files")])
        self.folder = folder
        self._kept = 0
        self._stored: dict[str, ir.Table] = {}
        """The OMOP tables as stored, by name, to explain a value that does not convert."""
        self.con = ibis.duckdb.connect()
        if memory_limit:
            self.con.raw_sql(f"SET memory_limit = '{memory_limit}'")
        if threads:
            self.con.raw_sql(f"SET threads = {int(threads)}")
        self.con.raw_sql("SET preserve_insertion_order = false")
        spill = Path(tempfile.gettempdir()) / "trdnav-duckdb"
        self.con.raw_sql(f"SET temp_directory = '{spill}'")

    def no_person_table(self) -> Problem:
        return Problem(
            "--data", str(self.folder), "a folder holding person.parquet or person/*.parquet"
        )

    def raw(self, table: str) -> ir.Table | None:
        path = parquet_path(self.folder, table)
        if path is None:
            return None
        try:
            self._same_columns(path)
            stored = self.con.read_parquet(path, table_name=f"omop_{table}")
        except duckdb.Error as exc:
            reason = str(exc).strip().splitlines()[0].removeprefix("Invalid Input Error: ")
            raise InputError([Problem("--data", path, f"Parquet files ({reason})")]) from None
        self._stored[table] = stored
        return stored

    def execute(self, expr: ir.Table) -> pa.Table:
        with self._explained():
            return super().execute(expr)

    @contextmanager
    def _explained(self) -> Iterator[None]:
        """A value of the data that does not convert to its OMOP type (an unsigned integer
        above 2^63-1), met by a query, as an input error naming it."""
        try:
            yield
        except duckdb.ConversionException as exc:
            found = [
                problem
                for name, table in self._stored.items()
                if name in SCHEMAS
                for problem in unconverted(name, table)
            ]
            reason = str(exc).strip().splitlines()[0]
            expected = f"values of the OMOP CDM v5.4 types ({reason})"
            raise InputError(found or [Problem("--data", str(self.folder), expected)]) from None

    def _same_columns(self, path: str) -> None:
        """Every file of a table is a Parquet file with the same columns (their footers
        only are read): DuckDB reads the other files only when the run reaches them."""
        columns: dict[str, list[str]] = {}
        rows = self.con.con.execute(
            "SELECT file_name, name FROM parquet_schema(?)", [path]
        ).fetchall()
        for file_name, name in rows:
            columns.setdefault(file_name, []).append(name)
        shapes = {file_name: sorted(names[1:]) for file_name, names in columns.items()}
        first, *others = sorted(shapes)
        for other in others:
            if shapes[other] != shapes[first]:
                raise InputError(
                    [
                        Problem(
                            "--data",
                            path,
                            f"Parquet files with the same columns ({Path(first).name} has "
                            f"{', '.join(shapes[first])}; {Path(other).name} has "
                            f"{', '.join(shapes[other])})",
                        )
                    ]
                )

    def keep_result(self, expr: ir.Table) -> tuple[pa.Table, ir.Table]:
        """The rows are fetched as they are computed and read again where they are, in
        memory (DuckDB scans Arrow data in place): a temporary table would copy them once
        more."""
        data = self.execute(expr)
        return data, self.memtable(data)

    def materialize(self, table: ir.Table) -> ir.Table:
        self._kept += 1
        with self._explained():
            return self.con.create_table(f"trdnav_step_{self._kept}", table, temp=True)

    def close(self) -> None:
        self.con.disconnect()
