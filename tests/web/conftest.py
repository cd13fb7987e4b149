"""A real trdnav server for the web app's tests, clinics to use it, and a browser-like client.

The server runs in a thread for the test session (on SQLite and on PostgreSQL, like the API
tests); each test gets its own clinic with an administrator, a clinician and a viewer.
``WebClient`` signs in through the login form and keeps the session cookie, as a browser
does; ``form`` finds the CSRF token and the patient version in a page, as a user's browser
would submit them.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from trdnav.clinic import accounts, demo, patients
from trdnav.clinic.actor import Actor
from trdnav.knowledge import load_knowledge
from trdnav.settings import Settings
from trdnav.store import migrate
from trdnav.store.database import Store

from ..api.conftest import RunningServer, run_server

PASSWORD = "correct horse battery"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_counter = itertools.count()


def _server(url: str) -> Iterator[RunningServer]:
    migrate.upgrade(url)
    store = Store(url)
    settings = Settings(database_url=url, timezone="UTC", login_max_failures=1000)
    yield from run_server(settings, store)
    store.dispose()


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes() -> Iterator[None]:
    """Cheap argon2 parameters while these tests run (each test makes users and signs in;
    the servers run in this process, so they use the same hasher)."""
    from argon2 import PasswordHasher

    default = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = default


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def web_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The server, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'trdnav.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    yield from _server(url)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start a server of its own on a fresh SQLite database, with settings given as keywords."""
    running: list[Iterator[RunningServer]] = []

    def start(**settings: Any) -> RunningServer:
        url = f"sqlite:///{tmp_path / f'own{len(running)}.db'}"
        migrate.upgrade(url)
        store = Store(url)
        values = {"database_url": url, "timezone": "UTC", **settings}
        servers = run_server(Settings(**values), store)
        running.append(servers)
        return next(servers)

    yield start
    for servers in running:
        next(servers, None)


DAY = date(2026, 3, 2)


class FixedDay(Settings):
    """Settings whose "today" never moves: the demo's dates, and so the browser tests'
    screenshots, are the same on every run."""

    def today(self, zone: str | None = None) -> date:
        return DAY


@dataclass
class DemoServer:
    url: str
    password: str
    settings: Settings
    store: Store


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """A server on SQLite with the demo clinic (as `trdnav serve --demo` seeds it) on DAY."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    migrate.upgrade(url)
    store = Store(url)
    settings = FixedDay(database_url=url, timezone="UTC", login_max_failures=1000)
    login = demo.seed_demo(store, load_knowledge(), DAY, settings=settings)
    servers = run_server(settings, store)
    running = next(servers)
    yield DemoServer(running.url, login.password, settings, store)
    next(servers, None)
    store.dispose()


class WebClient(httpx.Client):
    """A client that signs in through the login form and submits forms as a browser would."""

    def __enter__(self) -> WebClient:  # opened already when it signed in
        return self

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        page = self.get("/app/login")
        return self.post(
            "/app/login",
            data={"csrf": csrf_of(page.text), "email": email, "password": password, "next": ""},
        )

    def form(self, page_path: str, action: str, data: dict[str, Any], **kwargs: Any) -> Any:
        """POST ``data`` to ``action`` with the CSRF token (and patient version, unless given)
        found on the page at ``page_path``."""
        page = self.get(page_path)
        assert page.status_code == 200, (page_path, page.status_code)
        fields = {"csrf": csrf_of(page.text)}
        version = re.search(r'name="version" value="(\d+)"', page.text)
        if version and "version" not in data:
            fields["version"] = version.group(1)
        return self.post(action, data={**fields, **data}, **kwargs)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return unescape(found.group(1))


@dataclass
class WebClinic:
    id: int
    server: RunningServer
    emails: dict[str, str]

    def client(self, role: str | None = "clinician") -> WebClient:
        client = WebClient(base_url=self.server.url, timeout=60)
        if role is not None:
            response = client.login(self.emails[role])
            assert response.status_code == 303, response.text
        return client

    @property
    def actor(self) -> Actor:
        return Actor.command_line(self.id)

    def add_patient(self, doc: dict[str, Any]) -> dict[str, Any]:
        kb = load_knowledge()
        return patients.import_patient(
            self.server.store,
            self.actor,
            kb,
            doc,
            self.server.settings.today(),
            clinician=self.emails["clinician"],
        )


def _make_clinic(server: RunningServer) -> WebClinic:
    n = next(_counter)
    clinic = accounts.add_clinic(server.store, f"Web clinic {n} {time.time_ns()}")
    actor = Actor.command_line(clinic.id)
    emails = {}
    for role in ("admin", "clinician", "viewer"):
        email = f"{role}.{clinic.id}@web.test"
        accounts.add_user(
            server.store, actor, email=email, name=f"{role} {n}", role=role, password=PASSWORD
        )
        emails[role] = email
    return WebClinic(clinic.id, server, emails)


@pytest.fixture
def make_clinic(web_server: RunningServer) -> Callable[[], WebClinic]:
    return lambda: _make_clinic(web_server)


@pytest.fixture
def clinic_on() -> Callable[[RunningServer], WebClinic]:
    """A clinic, with its administrator, clinician and viewer, on a server of the test's own
    (``own_server``)."""
    return _make_clinic


@pytest.fixture
def clinic(make_clinic: Callable[[], WebClinic]) -> WebClinic:
    return make_clinic()


@pytest.fixture
def example() -> Callable[[str], dict[str, Any]]:
    def load(name: str = "stage-2-trd") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text("utf-8"))
        return data

    return load


@pytest.fixture
def stage2(clinic: WebClinic, example: Callable[[str], dict[str, Any]]) -> str:
    """The README's stage-2 patient in the clinic; its id."""
    return str(clinic.add_patient(example("stage-2-trd"))["id"])
