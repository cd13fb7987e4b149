"""A real trdnav server over HTTP, on SQLite and on PostgreSQL, and clinics to test with.

The database and server live for the test session (one per backend); each test gets its
own clinic with an administrator, a clinician and a viewer, so tests cannot see each other's
patients (which is itself what tenancy promises).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from trdnav.api import create_app
from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.settings import Settings
from trdnav.store import migrate
from trdnav.store.database import Store

PASSWORD = "correct horse battery"
_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'trdnav.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def store(database: str) -> Iterator[Store]:
    s = Store(database)
    yield s
    s.dispose()


class ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread
        pass


@dataclass
class RunningServer:
    url: str
    settings: Settings
    store: Store


def run_server(settings: Settings, store: Store) -> Iterator[RunningServer]:
    port = free_port()
    app = create_app(settings, store=store)
    server = ThreadServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    yield RunningServer(f"http://127.0.0.1:{port}", settings, store)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(database: str, store: Store) -> Iterator[RunningServer]:
    settings = Settings(database_url=database, login_max_failures=5, timezone="UTC")
    yield from run_server(settings, store)


@dataclass
class Clinic:
    id: int
    server: RunningServer
    emails: dict[str, str]
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: str) -> str:
        if role not in self._tokens:
            response = httpx.post(
                f"{self.server.url}/auth/login",
                json={"email": self.emails[role], "password": PASSWORD},
            )
            response.raise_for_status()
            self._tokens[role] = response.json()["access_token"]
        return self._tokens[role]

    def client(self, role: str = "clinician") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role != "anonymous" else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)


@pytest.fixture
def make_clinic(server: RunningServer) -> Callable[[], Clinic]:
    def make() -> Clinic:
        n = next(_counter)
        clinic = accounts.add_clinic(server.store, f"Clinic {n} {time.time_ns()}")
        actor = Actor.command_line(clinic.id)
        emails = {}
        for role in ("admin", "clinician", "viewer"):
            email = f"{role}.{clinic.id}@clinic.test"
            accounts.add_user(
                server.store, actor, email=email, name=f"{role} {n}", role=role, password=PASSWORD
            )
            emails[role] = email
        return Clinic(clinic.id, server, emails)

    return make


@pytest.fixture
def clinic(make_clinic: Callable[[], Clinic]) -> Clinic:
    return make_clinic()


@pytest.fixture
def api(clinic: Clinic) -> Iterator[httpx.Client]:
    """A client signed in as the clinic's clinician."""
    with clinic.client("clinician") as client:
        yield client


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example_doc() -> Callable[[str], dict[str, Any]]:
    import json

    def load(name: str = "stage-2-trd") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text("utf-8"))
        return data

    return load


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own on SQLite, for tests that run once rather than per backend."""
    url = f"sqlite:///{tmp_path_factory.mktemp('own') / 'trdnav.db'}"
    migrate.upgrade(url)
    store = Store(url)
    settings = Settings(database_url=url, timezone="UTC", login_max_failures=1000)
    yield from run_server(settings, store)
    store.dispose()
