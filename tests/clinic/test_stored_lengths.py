"""Values SQLite kept before a rule was made (a patient's sex or a psychotherapy's type longer
than their limits, an id that is not a FHIR id): the patient is still read, listed and
assessed, and can still be changed. A change follows today's rules for what it touches and
keeps the rest as stored."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from trdnav.clinic import courses, patients
from trdnav.errors import InputError
from trdnav.settings import Settings
from trdnav.store.tables import Patient, PsychotherapyCourse

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stage-2-trd.json"
TODAY = date(2025, 6, 2)
PHQ9 = {"instrument": "PHQ-9", "date": "2025-05-30", "items": [1, 1, 1, 1, 1, 1, 1, 1, 0]}


def stored_patient(clinic, kb, **values):
    """The example patient, with ``values`` written over its row as SQLite kept them before
    the rules (``therapy``: its psychotherapy's type); its id."""
    store, actor = clinic
    doc = json.loads(EXAMPLE.read_text("utf-8"))
    pid = patients.import_patient(store, actor, kb, doc, TODAY)["id"]
    therapy = values.pop("therapy", None)
    with store.transaction() as session:
        session.execute(update(Patient).values(summary_as_of=None, **values))
        if therapy is not None:
            session.execute(update(PsychotherapyCourse).values(type=therapy))
    return values.get("id", pid)


def therapy_id(store):
    with store.transaction() as session:
        return session.scalars(select(PsychotherapyCourse.id)).one()


def test_text_kept_before_its_limit_is_still_read(clinic, kb):
    store, actor = clinic
    pid = stored_patient(clinic, kb, sex="s" * 40, therapy="t" * 80)
    assert patients.assessment(store, actor, kb, pid, TODAY).id == pid
    listed = patients.list_patients(store, actor, kb, patients.PatientFilters(), TODAY)
    assert [(p["id"], p["sex"]) for p in listed.items] == [(pid, "s" * 40)]


def test_a_change_keeps_text_from_before_its_limit_and_checks_what_it_touches(clinic, kb):
    """Each long value can be corrected on its own, whatever else is long: a change that
    kept a long value used to be refused for it, so a patient with two could not be
    corrected at all."""
    store, actor = clinic
    pid = stored_patient(clinic, kb, sex="s" * 40, therapy="t" * 80)
    version = patients.get_patient(store, actor, pid)["version"]
    view = patients.update_patient(store, actor, kb, pid, {"mrn": "M-1"}, version, TODAY)
    assert (view["mrn"], view["sex"]) == ("M-1", "s" * 40)
    with pytest.raises(InputError) as info:
        patients.update_patient(store, actor, kb, pid, {"sex": "x" * 33}, view["version"], TODAY)
    assert [str(p) for p in info.value.problems] == [
        'sex: got "33 characters"; expected a text of at most 32 characters'
    ]
    item = therapy_id(store)
    therapy = {"type": "t" * 65, "start": "2024-02-05", "end": "2024-06-10", "sessions": 16}
    with pytest.raises(InputError) as info:
        patients.correct_item(
            store, actor, kb, pid, "psychotherapy", item, therapy, view["version"], TODAY
        )
    assert [str(p) for p in info.value.problems] == [
        'type: got "65 characters"; expected a text of at most 64 characters'
    ]
    view = patients.correct_item(
        store, actor, kb, pid, "psychotherapy", item, {**therapy, "type": "CBT"},
        view["version"], TODAY,
    )  # fmt: skip
    assert (view["sex"], [p["type"] for p in view["psychotherapy"]]) == ("s" * 40, ["CBT"])
    view = patients.update_patient(store, actor, kb, pid, {"sex": "female"}, view["version"], TODAY)
    assert view["sex"] == "female"


def test_a_patient_with_an_id_from_before_the_fhir_id_rule_can_still_be_changed(clinic, kb):
    """Items are added, corrected and removed, demographics changed, and course sessions
    recorded: each change used to be refused for the id, which it does not touch."""
    store, actor = clinic
    pid = stored_patient(clinic, kb, id="chart 12/7")
    version = patients.get_patient(store, actor, pid)["version"]
    view = patients.update_patient(store, actor, kb, pid, {"mrn": "M-7"}, version, TODAY)
    added, view = patients.add_item(
        store, actor, kb, pid, "measurements", PHQ9, view["version"], TODAY
    )
    view = patients.correct_item(
        store, actor, kb, pid, "measurements", added, {**PHQ9, "date": "2025-05-31"},
        view["version"], TODAY,
    )  # fmt: skip
    assert "2025-05-31" in [m["date"] for m in view["measurements"]]
    version = view["version"]
    view = patients.remove_item(store, actor, kb, pid, "measurements", added, version, TODAY)
    assert "2025-05-31" not in [m["date"] for m in view["measurements"]]
    settings = Settings(timezone="UTC")
    course = courses.create_course(
        store, actor, kb, settings, pid, template_id="ect-mwf", start=date(2025, 5, 26),
        session_time=time(8, 0), if_match=view["version"], today=TODAY, reviewed=True,
    )  # fmt: skip
    version = patients.get_patient(store, actor, pid)["version"]
    hamd = {"instrument": "HAMD-17", "items": [3, 3, 0, 2, 2, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]}
    recorded = courses.record_session(
        store, actor, kb, settings, pid, course["id"], 1, {"measurements": [hamd]}, version,
        TODAY,
    )  # fmt: skip
    assert recorded["delivered"] == 1
    view = patients.get_patient(store, actor, pid)
    assert (view["id"], view["mrn"]) == ("chart 12/7", "M-7")
    assert [m["instrument"] for m in view["measurements"]].count("HAMD-17") == 1
