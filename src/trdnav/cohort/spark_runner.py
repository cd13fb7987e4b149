"""Spark (PySpark): OMOP tables as Parquet, on ``local[*]`` or a cluster (``master``).

Spark needs Java 17; when ``JAVA_HOME`` is unset it is set from the ``java`` on the PATH.
Before a session starts, so that what is missing is named at once: Java; a ``spark://``
master, one of whose host:port pairs (7077 by default) must accept a connection within 3
seconds; the API server of a ``k8s://`` master likewise (``k8s://host:port`` is https, 443
by default; http is 80); and for ``yarn``, ``HADOOP_CONF_DIR`` or ``YARN_CONF_DIR`` naming an
existing folder. When ``cohort run`` starts the session and it still fails, what Java wrote
(Spark's log lines, stack traces) goes to a log file named in the error, not the terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trdnav.cohort.duckdb_runner import parquet_path
from trdnav.cohort.runner import Runner
from trdnav.errors import InputError, Problem

__all__ = ["SparkRunner", "ensure_java_home", "is_url", "java_problem", "spark_session"]


def ensure_java_home() -> None:
    """Set ``JAVA_HOME`` from the ``java`` executable when it is not set."""
    if os.environ.get("JAVA_HOME"):
        return
    java = shutil.which("java")
    if java:
        os.environ["JAVA_HOME"] = str(Path(java).resolve().parent.parent)


def _settings(master: str, shuffle_partitions: int) -> dict[str, str]:
    """The Spark configuration of the cohort engine (no UI, few shuffle partitions)."""
    return {
        "spark.master": master,
        "spark.app.name": "trdnav-cohort",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": os.environ.get("TRDNAV_SPARK_DRIVER_MEMORY", "4g"),
    }


_SHUFFLE_PARTITIONS = 8


def spark_session(
    master: str = "local[*]", *, shuffle_partitions: int = _SHUFFLE_PARTITIONS
) -> Any:
    """A SparkSession for the cohort engine (no UI, few shuffle partitions)."""
    ensure_java_home()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in _settings(master, shuffle_partitions).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


class _JavaOutput:
    """What Spark's JVM writes (Spark's log lines, Java's warnings and stack traces): held
    while a session starts, then written to stderr as the JVM would have written it; or,
    when the session does not start, kept in a log file instead, out of the terminal."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self._lock = threading.Lock()
        self._held: list[bytes] = []
        self._passing = False
        self._log: BinaryIO | None = None
        self._launched = False
        self._exited = False
        self._process: Any = None
        self.stopped = False
        """Whether :meth:`stop` ended the JVM before the session started."""
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._pump, name="spark-java-output", daemon=True)
        self._thread.start()

    def launch(self, settings: dict[str, str]) -> None:
        """Start Spark's JVM with ``settings``, its output (stdout and stderr) into this
        pipe; unless this process has a JVM already, whose output is not held."""
        ensure_java_home()
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway

        try:
            if SparkContext._gateway is not None:
                return
            self._launched = True
            streams = {"stdout": self._write, "stderr": self._write}
            conf = SparkConf().setAll(list(settings.items()))
            gateway = launch_gateway(conf, popen_kwargs=streams)  # type: ignore[no-untyped-call]
            self._process = getattr(gateway, "proc", None)
        except Exception:
            self._exited = True
            raise
        finally:
            os.close(self._write)  # the JVM holds its copy: its exit ends the pipe
        SparkContext._ensure_initialized(gateway=gateway)  # the JVM the session will use

    def _pump(self) -> None:
        with open(self._read, "rb") as stream:
            for line in stream:
                with self._lock:
                    self._last = time.monotonic()
                    if self._log is not None:
                        self._log.write(line)
                        self._log.flush()
                    elif self._passing:
                        _to_stderr(line)
                    else:
                        self._held.append(line)

    def stop(self) -> None:
        """End this session's JVM, unless the session has started: the Python side's call
        then fails at once instead of waiting out Spark's own retries."""
        with self._lock:
            if self._passing or self._process is None:
                return
            self.stopped = True
            self._process.kill()

    def release(self) -> bool:
        """The session started: what was held, and all that follows, goes to stderr. False
        when :meth:`stop` came first (the session's JVM has ended)."""
        with self._lock:
            if self.stopped:
                return False
            for line in self._held:
                _to_stderr(line)
            self._held.clear()
            self._passing = True
            return True

    def exception(self) -> str | None:
        """The exception the JVM ended with when it exited before taking requests (as it does
        when Spark refuses its settings), or None."""
        if not self._exited:
            return None
        self._thread.join(timeout=_SETTLE_SECONDS)  # the pipe ends with the JVM
        with self._lock:
            for line in self._held:
                text = line.decode("utf-8", "replace").strip()
                if text.startswith(_MAIN_EXCEPTION):
                    return text.removeprefix(_MAIN_EXCEPTION).strip()
        return None

    def keep(self) -> Path | None:
        """The session did not start: what was held, and all that follows, goes to a new
        log file, named here (None when the JVM is not this session's)."""
        if not self._launched:
            return None
        try:
            fd, name = tempfile.mkstemp(prefix="trdnav-spark-", suffix=".log")
        except OSError:
            return None
        with self._lock:
            self._log = os.fdopen(fd, "wb")
            self._log.writelines(self._held)
            self._log.flush()
            self._held.clear()
        self._settle()
        return Path(name)

    def _settle(self) -> None:
        """Wait (a second or two at most) until the JVM has written nothing for a moment, so
        that the lines it wrote as it failed, still in the pipe, reach the log file before
        this process exits."""
        deadline = time.monotonic() + _SETTLE_SECONDS
        while time.monotonic() < deadline and self._thread.is_alive():
            with self._lock:
                quiet = time.monotonic() - self._last
            if quiet >= _QUIET_SECONDS:
                return
            time.sleep(_QUIET_SECONDS / 5)


def _to_stderr(data: bytes) -> None:
    """Write ``data`` to the process's standard error, as a child process writes to it."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(2, view) :]
    except OSError:
        pass  # no stderr to write to: the JVM's output is dropped, as the JVM would drop it


_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|(spark|k8s)://\S+|yarn")
_MASTER_EXPECTED = "local, local[*], local[N], spark://host:port, k8s://..., or yarn"
_JAVA = 17
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_SPARK_PORT = 7077
_K8S_PORTS = {"https": 443, "http": 80}
_YARN_CONF = ("HADOOP_CONF_DIR", "YARN_CONF_DIR")
_CONNECT_SECONDS = 3.0
_MAIN_EXCEPTION = 'Exception in thread "main"'
_REGISTER_SECONDS = 30.0
"""How long a ``spark://`` master may take to register the application. A Spark master
answers at once; Spark itself waits 20 s for each of three attempts."""
_QUIET_SECONDS = 0.25
_SETTLE_SECONDS = 2.0


def java_problem() -> str | None:
    """Why Spark could not start Java (none found, or one older than Java 17), or None:
    the ``java`` Spark runs is ``JAVA_HOME``'s, else the one on the PATH."""
    ensure_java_home()
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not (java.is_file() and os.access(java, os.X_OK)):
            return f"JAVA_HOME is {home}, which has no bin/java"
    else:
        found = shutil.which("java")
        if found is None:
            return "no java on the PATH, and JAVA_HOME is not set"
        java = Path(found)
    try:
        said = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{java} -version failed ({exc})"
    version = _JAVA_VERSION.search(said)
    if version is None:
        return None  # an unusual java: Spark says what it makes of it
    major = int(version.group(2) or 0) if version.group(1) == "1" else int(version.group(1))
    if major < _JAVA:
        return f"{java} is Java {major}"
    return None


def _first_reachable(addresses: list[str], default_port: int) -> str | None:
    """None when one of the ``host:port`` ``addresses`` (``default_port`` when none is
    given) accepts a TCP connection within a few seconds; else why none did."""
    reasons = []
    for address in addresses:
        try:
            parts = urlsplit(f"//{address}")
            host, port = parts.hostname, parts.port or default_port
        except ValueError as exc:
            reasons.append(f"{address}: {exc}")
            continue
        if not host:
            reasons.append(f"{address or 'an empty address'}: no host")
            continue
        try:
            with socket.create_connection((host, port), timeout=_CONNECT_SECONDS):
                return None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            reasons.append(f"{host}:{port}: {reason}")
    return "; ".join(reasons)


def _yarn_problem() -> str | None:
    """Why Spark could not find a YARN cluster's configuration, or None: it refuses a
    ``yarn`` master unless ``HADOOP_CONF_DIR`` or ``YARN_CONF_DIR`` is set, and reads the
    cluster's addresses from the folder named."""
    named = {name: os.environ.get(name) for name in _YARN_CONF}
    if any(folder and Path(folder).is_dir() for folder in named.values()):
        return None
    if not any(named.values()):
        return "neither is set"
    return "; ".join(
        f"{name} is {folder}, which is not a folder" for name, folder in named.items() if folder
    )


def _master_problem(master: str) -> str | None:
    """What a master needs that it does not have, or None: a ``spark://`` master and the API
    server of a ``k8s://`` one must be reachable (some host:port of it accepts a connection
    within a few seconds), and a ``yarn`` master needs its cluster's configuration folder.
    Spark itself retries an unreachable ``spark://`` master for more than a minute before it
    gives up, fails on an unreachable API server only after Java has printed pages of stack
    traces, and refuses ``yarn`` only after starting Java."""
    if master == "yarn":
        missing = _yarn_problem()
        if missing is None:
            return None
        names = " or ".join(_YARN_CONF)
        return f"{names} set to the folder of the Hadoop/YARN configuration ({missing})"
    if master.startswith("spark://"):
        unreachable = _first_reachable(master.removeprefix("spark://").split(","), _SPARK_PORT)
        if unreachable is None:
            return None
        return f"a reachable Spark master (nothing answers at {unreachable})"
    if master.startswith("k8s://"):
        url = master.removeprefix("k8s://")
        scheme, sep, address = url.partition("://")
        if not sep:  # Spark takes k8s://host:port for https
            scheme, address = "https", url
        scheme = scheme.lower()
        if scheme not in _K8S_PORTS:
            return f"a Kubernetes API server URL of https or http (not {scheme}://)"
        host = address.split("/", 1)[0]
        unreachable = _first_reachable([host], _K8S_PORTS[scheme])
        if unreachable is None:
            return None
        return f"a reachable Kubernetes API server (nothing answers at {unreachable})"
    return None


def _reason(exc: Exception) -> str:
    """The first line of a start-up error: of the Java exception under Py4J's "An error
    occurred while calling ..." line, where there is one."""
    lines = str(exc).strip().splitlines()
    java = [line[2:].strip() for line in lines[1:] if line.startswith(": ")]
    return (java or lines or [type(exc).__name__])[0]


def _session_for(master: str) -> Any:
    """A session on ``master``, or an input error naming what stops it: Java missing or
    too old (``--engine``), a master Spark does not accept or cannot reach, or one it could
    not start on (``--spark-master``, with the first line of Spark's reason and the log file
    that holds what Java wrote, which stays out of the terminal)."""
    if not _MASTER.fullmatch(master):
        raise InputError([Problem("--spark-master", master, _MASTER_EXPECTED)])
    java = java_problem()
    if java is not None:
        expected = f"Java {_JAVA} or later installed, which Spark runs on ({java})"
        raise InputError([Problem("--engine", "spark", expected)])
    needed = _master_problem(master)
    if needed is not None:
        raise InputError([Problem("--spark-master", master, needed)])
    output = _JavaOutput()
    # A spark:// master registers the application as the session starts.
    deadline = threading.Timer(_REGISTER_SECONDS, output.stop)
    deadline.daemon = True
    try:
        output.launch(_settings(master, _SHUFFLE_PARTITIONS))
        if master.startswith("spark://"):
            deadline.start()
        session = spark_session(master)
        if not output.release():  # the deadline ended the JVM as the session started
            raise RuntimeError("stopped")
    except Exception as exc:  # Spark's start-up errors: Java was checked above
        if output.stopped:
            reason = (
                f"the master did not register the application within {_REGISTER_SECONDS:g} s "
                f"(a Spark master answers at once; its port is usually {_SPARK_PORT})"
            )
        else:
            reason = output.exception() or _reason(exc)
        log = output.keep()
        said = reason if log is None else f"{reason.rstrip('.')}; Spark's log is in {log}"
        expected = f"a Spark master that starts ({said})"
        raise InputError([Problem("--spark-master", master, expected)]) from None
    finally:
        deadline.cancel()
    return session


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(data: str) -> bool:
    """Whether ``--data`` names its folder by URL (``hdfs://``, ``s3a://``, ``file://``...)."""
    return bool(_URL.match(data))


class _HadoopFolder:
    """A data folder named by URL, seen through the Hadoop file system Spark reads it with
    (the cluster's configuration and connectors decide which schemes work)."""

    def __init__(self, session: Any, url: str) -> None:
        self.url = url.rstrip("/")
        self._path = session._jvm.org.apache.hadoop.fs.Path
        try:
            root = self._path(self.url)
            self._fs = root.getFileSystem(session._jsc.hadoopConfiguration())
            folder = self._fs.getFileStatus(root).isDirectory()
        except Exception as exc:  # py4j's Java errors: no such file system, path or access
            expected = f"{_FOLDER_EXPECTED} ({_java(exc)})"
            raise InputError([Problem("--data", url, expected)]) from None
        if not folder:
            raise InputError([Problem("--data", url, f"{_FOLDER_EXPECTED} (it is a file)")])

    def table_path(self, table: str) -> str | None:
        """The Parquet file or folder of an OMOP table, or None."""
        single = f"{self.url}/{table}.parquet"
        if self._fs.isFile(self._path(single)):
            return single
        many = f"{self.url}/{table}"
        found = self._fs.globStatus(self._path(f"{many}/*.parquet"))
        return many if found else None


_FOLDER_EXPECTED = "a folder of OMOP Parquet files"


def _java(exc: Exception) -> str:
    """A Java exception's own message (py4j wraps it in its call's description)."""
    java = getattr(exc, "java_exception", None)
    return str(java.toString()) if java is not None else _reason(exc)


class SparkRunner(Runner):
    name = "spark"

    def __init__(self, data: Path | str, *, session: Any = None, master: str = "local[*]") -> None:
        """``data``: a local folder, or a URL Spark's file systems read (``hdfs://...``,
        ``s3a://...``), which every executor of a cluster can reach."""
        url = str(data) if isinstance(data, str) and is_url(data) else None
        if url is None and not Path(data).is_dir():
            raise InputError([Problem("--data", str(data), _FOLDER_EXPECTED)])
        self.location = url or str(data)
        self.session = session or _session_for(master)
        self._hadoop = _HadoopFolder(self.session, url) if url else None
        self.con = ibis.pyspark.connect(self.session)
        self._kept: list[Any] = []
        self._tables = 0

    def no_person_table(self) -> Problem:
        return Problem(
            "--data", self.location, "a folder holding person.parquet or person/*.parquet"
        )

    def raw(self, table: str) -> ir.Table | None:
        if self._hadoop is not None:
            path = self._hadoop.table_path(table)
        else:
            local = parquet_path(Path(self.location), table)
            path = local.removesuffix("/*.parquet") if local else None
        if path is None:
            return None
        return self.con.read_parquet(path, table_name=f"omop_{table}")

    def execute(self, expr: ir.Table) -> pa.Table:
        """Collect through Arrow (no pandas), with the types the definition declares."""
        frame = self.session.sql(str(self.con.compile(expr)))
        return frame.toArrow().cast(expr.schema().to_pyarrow())

    def memtable(self, data: pa.Table) -> ir.Table:
        self._tables += 1
        name = f"trdnav_lookup_{self._tables}"
        self.session.createDataFrame(data).createOrReplaceTempView(name)
        return self.con.table(name)

    def materialize(self, table: ir.Table) -> ir.Table:
        """Compute the step now and cut its lineage, so later plans stay small (Spark's
        optimizer slows down sharply on deep plans with many self-joins)."""
        self._tables += 1
        name = f"trdnav_step_{self._tables}"
        frame = self.session.sql(str(self.con.compile(table))).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self._kept.append(frame)
        return self.con.table(name)

    def close(self) -> None:
        for frame in self._kept:
            frame.unpersist()
        self._kept.clear()
