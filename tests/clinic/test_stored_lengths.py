"""Text SQLite kept before a length limit (a patient's sex, a psychotherapy's type): the
patient is still read, listed and assessed; a change that keeps such text is refused, naming
it, and its correction is accepted."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from trdnav.clinic import patients
from trdnav.errors import InputError
from trdnav.store.tables import Patient, PsychotherapyCourse

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stage-2-trd.json"
TODAY = date(2025, 6, 2)


def test_text_kept_before_its_limit_is_still_read(clinic, kb):
    store, actor = clinic
    doc = json.loads(EXAMPLE.read_text("utf-8"))
    pid = patients.import_patient(store, actor, kb, doc, TODAY)["id"]
    with store.transaction() as session:  # as SQLite kept them before the limits
        session.execute(update(Patient).values(sex="s" * 40, summary_as_of=None))
        session.execute(update(PsychotherapyCourse).values(type="t" * 80))
    assert patients.assessment(store, actor, kb, pid, TODAY).id == pid
    listed = patients.list_patients(store, actor, kb, patients.PatientFilters(), TODAY)
    assert [(p["id"], p["sex"]) for p in listed.items] == [(pid, "s" * 40)]
    view = patients.get_patient(store, actor, pid)
    with pytest.raises(InputError) as info:
        patients.update_patient(store, actor, kb, pid, {"mrn": "M-1"}, view["version"], TODAY)
    assert [str(p) for p in info.value.problems] == [
        'patient.sex: got "40 characters"; expected a text of at most 32 characters',
        'psychotherapy[0].type: got "80 characters"; expected a text of at most 64 characters',
    ]
    with store.transaction() as session:
        session.execute(update(PsychotherapyCourse).values(type="CBT"))
    view = patients.update_patient(store, actor, kb, pid, {"sex": "female"}, view["version"], TODAY)
    assert view["sex"] == "female"
