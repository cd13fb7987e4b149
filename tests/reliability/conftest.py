"""Servers in their own processes (`trdnav serve`), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.store import migrate
from trdnav.store.database import Store

TRDNAV = Path(sys.executable).parent / "trdnav"
PASSWORD = "reliable password"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate.upgrade(url)
    return url


@dataclass
class Process:
    url: str
    proc: subprocess.Popen[bytes]

    def workers(self) -> list[int]:
        """The worker processes uvicorn started (children of the server)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        children = [int(p) for p in path.read_text().split()]
        return [
            p
            for p in children
            if b"multiprocessing.spawn" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]

    @staticmethod
    def cpu_seconds(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def start_server(database: str, tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(workers: int = 1) -> Process:
        port = _port()
        log = (tmp_path / f"server-{port}.log").open("wb")
        proc = subprocess.Popen(
            [
                str(TRDNAV),
                "serve",
                "--no-migrate",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--database-url",
                database,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TRDNAV_TIMEZONE": "UTC"},
        )
        log.close()
        server = Process(f"http://127.0.0.1:{port}", proc)
        started.append(server)
        deadline = time.monotonic() + 180  # generous: start-up is slow on a busy machine
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    yield start
    for server in started:
        server.stop()


@dataclass
class Account:
    clinic_id: int
    email: str

    def token(self, base_url: str) -> str:
        response = httpx.post(
            f"{base_url}/auth/login", json={"email": self.email, "password": PASSWORD}, timeout=30
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


@pytest.fixture
def account(database: str) -> Account:
    store = Store(database)
    try:
        clinic = accounts.add_clinic(store, f"Reliability {time.time_ns()}")
        email = f"clinician.{clinic.id}@reliability.test"
        accounts.add_user(
            store,
            Actor.command_line(clinic.id),
            email=email,
            name="R",
            role="clinician",
            password=PASSWORD,
        )
    finally:
        store.dispose()
    return Account(clinic.id, email)
