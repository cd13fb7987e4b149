"""Migrations go up and down on SQLite and PostgreSQL, and match the table models."""

import json
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from trdnav.clinic import accounts, patients
from trdnav.clinic.actor import Actor
from trdnav.errors import InputError
from trdnav.knowledge import load_knowledge
from trdnav.store import migrate
from trdnav.store.database import Store, make_engine
from trdnav.store.tables import Base

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return request.getfixturevalue("fresh_postgres_url")


def tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_url):
    assert migrate.current(empty_url) is None
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    assert set(Base.metadata.tables) <= tables(empty_url)
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    assert tables(empty_url) <= {"alembic_version"}
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()


def _stored(url):
    """A clinic with a user and a patient: rows that refer to the clinic."""
    store = Store(url)
    try:
        clinic = accounts.add_clinic(store, "North")
        actor = Actor.command_line(clinic.id)
        accounts.add_user(
            store, actor, email="a@north.example", name="", role="admin", password="p" * 12
        )
        doc = json.loads((EXAMPLES / "stage-2-trd.json").read_text("utf-8"))
        patients.import_patient(store, actor, load_knowledge(), doc, date(2025, 6, 2))
    finally:
        store.dispose()


def test_a_downgrade_with_data_stored_goes_all_the_way_or_not_at_all(empty_url):
    """On SQLite a downgrade to base with a clinic stored failed halfway (rebuilding the
    clinics table, which users refer to) and stayed half done, with a table left behind
    that stopped every later downgrade."""
    migrate.upgrade(empty_url)
    _stored(empty_url)
    if empty_url.startswith("sqlite"):  # PostgreSQL alters tables in place
        engine = make_engine(empty_url)
        with engine.begin() as conn:  # a leftover that makes 0002's rebuild fail
            conn.execute(text("CREATE TABLE _alembic_tmp_clinics (id INTEGER)"))
        with pytest.raises(Exception, match="_alembic_tmp_clinics"):
            migrate.downgrade(empty_url, "base")
        assert migrate.current(empty_url) == migrate.head()  # nothing of it was kept
        assert set(Base.metadata.tables) <= tables(empty_url)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE _alembic_tmp_clinics"))
        engine.dispose()
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    assert tables(empty_url) <= {"alembic_version"}


def test_the_models_match_the_migrations(empty_url):
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == []


def test_the_summary_basis_goes_down_and_up_with_patients_stored(empty_url):
    """Rows that refer to ``patients`` stay where they are: the column is added and dropped
    in place, not by rebuilding the table."""
    migrate.upgrade(empty_url)
    store = Store(empty_url)
    clinic = accounts.add_clinic(store, "North")
    doc = json.loads((EXAMPLES / "stage-2-trd.json").read_text("utf-8"))
    patients.import_patient(
        store, Actor.command_line(clinic.id), load_knowledge(), doc, date(2025, 6, 2)
    )
    store.dispose()
    migrate.downgrade(empty_url, "0003_fhir")
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    store = Store(empty_url)
    try:
        actor = Actor.command_line(clinic.id)
        assert patients.get_patient(store, actor, "example-stage-2")["id"] == "example-stage-2"
    finally:
        store.dispose()


def test_clinics_of_one_name_from_before_keep_the_first_its_key(empty_url):
    """A database from before clinic names had to differ upgrades: the lowest id of each
    name (case aside) gets the key, the others none, and no row is lost."""
    migrate.upgrade(empty_url, "0004_summary_basis")
    engine = create_engine(empty_url)
    try:
        with engine.begin() as conn:
            for name in ("North", "South", "north", "NORTH"):
                conn.execute(
                    text("INSERT INTO clinics (name, created_at, settings) VALUES (:n, :at, '{}')"),
                    {"n": name, "at": "2026-01-01 00:00:00"},
                )
        migrate.upgrade(empty_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name, name_key FROM clinics ORDER BY id"))
            assert [tuple(r) for r in rows] == [
                (1, "North", "north"),
                (2, "South", "south"),
                (3, "north", None),
                (4, "NORTH", None),
            ]
    finally:
        engine.dispose()
    store = Store(empty_url)
    try:
        with pytest.raises(InputError):
            accounts.add_clinic(store, "south")
        assert accounts.find_clinic(store, "north").id == 3
    finally:
        store.dispose()
    migrate.downgrade(empty_url, "0004_summary_basis")
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
