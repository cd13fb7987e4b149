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


def test_the_least_recently_used_entry_goes_first(kb: KnowledgeBase, run, history):
    cache = AssessmentCache(size=2)
    one = run(history())
    cache.put(_key(1), one)
    cache.put(_key(2), one)
    assert cache.get(_key(1)) is one  # 1 is now the most recently used
    cache.put(_key(3), one)
    assert cache.get(_key(2)) is None
    assert cache.get(_key(1)) is one
    assert cache.get(_key(3)) is one
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)


def test_size_zero_keeps_nothing_and_negative_is_refused(run, history):
    cache = AssessmentCache(size=0)
    cache.put(_key(1), run(history()))
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

    first = patients.assessment(here, actor, kb, view["id"], TODAY, cache=cache)
    again = patients.assessment(here, actor, kb, view["id"], TODAY, cache=cache)
    assert again is first
    assert (cache.hits, cache.misses) == (1, 1)
    new_day = date(2025, 6, 1)
    assert new_day not in {line.date for line in first.scores}

    # the other process records a PHQ-9 in remission
    phq9 = {"instrument": "PHQ-9", "date": "2025-06-01", "items": [1, 0, 1, 0, 0, 0, 1, 0, 0]}
    patients.add_item(there, actor, kb, view["id"], "measurements", phq9, view["version"], TODAY)

    after = patients.assessment(here, actor, kb, view["id"], TODAY, cache=cache)
    assert after is not first
    assert (new_day, 3) in {(line.date, line.total) for line in after.scores}
    assert after.to_json() == patients.assessment(here, actor, kb, view["id"], TODAY).to_json()

    # another date or setting is another assessment
    earlier = patients.assessment(here, actor, kb, view["id"], date(2024, 6, 1), cache=cache)
    assert earlier.as_of == date(2024, 6, 1)
    strict = patients.assessment(here, actor, kb, view["id"], TODAY, 110, cache=cache)
    assert strict.failed_adequate_trials < after.failed_adequate_trials

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
    patients.assessment(store, actor, kb, view["id"], TODAY, cache=cache)
    patients.delete_patient(store, actor, view["id"], view["version"])
    with pytest.raises(NotFound):
        patients.assessment(store, actor, kb, view["id"], TODAY, cache=cache)
    store.dispose()
