"""A migrated SQLite store, and a clinic in it, for the clinic use cases' tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.store import migrate
from trdnav.store.database import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate.upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


@pytest.fixture
def clinic(store: Store) -> tuple[Store, Actor]:
    """The store and the command line's actor in a new clinic of it."""
    return store, Actor.command_line(accounts.add_clinic(store, "Clinic").id)
