"""The assessment cache: a kept assessment is served only for the same version of the
history, also when another process (another store and cache) changed the patient."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from trdnav.clinic import accounts, audit, patients
from trdnav.clinic.actor import Actor
from trdnav.clinic.assessment_cache import AssessmentCache, AssessmentKey
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import NotFound
from trdnav.store import migrate
from trdnav.store.database import Store

EXAMPLE = Path(__file__).parents[2] / "examples" / "stage-2-trd.json"
TODAY = date(2025, 6, 2)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    migrate.upgrade(url)
    return url


def _key(version: int) -> AssessmentKey:
    return AssessmentKey(1, 1, version, TODAY, None, 0)


def test_the_least_recently_used_entry_goes_first():
    cache = AssessmentCache(size=2)
    one = b'{"id": "one"}'
    cache.put(_key(1), one)
    cache.put(_key(2), one)
    assert cache.get(_key(1)) is one  # 1 is now the most recently used
    cache.put(_key(3), one)
    assert cache.get(_key(2)) is None
    assert cache.get(_key(1)) is one
    assert cache.get(_key(3)) is one
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)


def test_size_zero_keeps_nothing_and_negative_is_refused():
    cache = AssessmentCache(size=0)
    cache.put(_key(1), b"{}")
    assert cache.get(_key(1)) is None
    with pytest.raises(ValueError, match="size: got -1"):
        AssessmentCache(size=-1)


def test_a_change_made_elsewhere_is_never_hidden(url: str, kb: KnowledgeBase):
    """Two stores with their own caches stand for two server processes."""
    here, there = Store(url), Store(url)
    clinic = accounts.add_clinic(here, "Cache Clinic")
    actor = Actor.command_line(clinic.id)
    doc = json.loads(EXAMPLE.read_text())
    view = patients.import_patient(here, actor, kb, doc, TODAY)
    cache = AssessmentCache()

    def read(when: date = TODAY, days: int | None = None) -> dict:
        body = patients.assessment_json(here, actor, kb, view["id"], when, days, cache=cache)
        return json.loads(body)

    first = read()
    assert read() == first
    assert (cache.hits, cache.misses) == (1, 1)
    new_day = "2025-06-01"
    assert new_day not in {line["date"] for line in first["scores"]}

    # the other process records a PHQ-9 in remission
    phq9 = {"instrument": "PHQ-9", "date": new_day, "items": [1, 0, 1, 0, 0, 0, 1, 0, 0]}
    patients.add_item(there, actor, kb, view["id"], "measurements", phq9, view["version"], TODAY)

    after = read()
    assert (cache.hits, cache.misses) == (1, 2)
    assert (new_day, 3) in {(line["date"], line["total"]) for line in after["scores"]}
    # the JSON is the assessment's own document
    assert after == patients.assessment(here, actor, kb, view["id"], TODAY).to_json()

    # another date or setting is another assessment
    assert read(date(2024, 6, 1))["as_of"] == "2024-06-01"
    assert read(TODAY, 110)["failed_adequate_trials"] < after["failed_adequate_trials"]
    assert (cache.hits, cache.misses) == (1, 4)

    # every read is audited, from the cache or not
    events = audit.query(
        here, actor, audit.AuditQuery(patient_id=view["id"], action="patient.assessment")
    )
    assert len(events) == 6
    here.dispose()
    there.dispose()


def test_a_deleted_patient_is_not_served_from_the_cache(url: str, kb: KnowledgeBase):
    store = Store(url)
    clinic = accounts.add_clinic(store, "Cache Clinic")
    actor = Actor.command_line(clinic.id)
    view = patients.import_patient(store, actor, kb, json.loads(EXAMPLE.read_text()), TODAY)
    cache = AssessmentCache()
    patients.assessment_json(store, actor, kb, view["id"], TODAY, cache=cache)
    patients.delete_patient(store, actor, view["id"], view["version"])
    with pytest.raises(NotFound):
        patients.assessment_json(store, actor, kb, view["id"], TODAY, cache=cache)
    store.dispose()
