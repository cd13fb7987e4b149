"""A clinic's records are as of today: a record dated later is refused where it is written
(the assessment would leave it out, unseen: a mistyped year on a PHQ-9 whose suicide item is
positive would raise no alert), and the date a document gives as ``as_of`` is not used."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from trdnav.clinic import imports, patients
from trdnav.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stage-2-trd.json"
TODAY = date(2025, 6, 2)
LATER = "2062-06-02"
SUICIDAL = {"instrument": "PHQ-9", "date": LATER, "items": [3, 3, 3, 3, 3, 3, 3, 3, 3]}


def example() -> dict:
    return json.loads(EXAMPLE.read_text("utf-8"))


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[tuple[str, object, str]]:
    return [(p.path, p.value, p.expected) for p in exc.value.problems]


def count(clinic, kb) -> int:
    store, actor = clinic
    listed = patients.list_patients(store, actor, kb, patients.PatientFilters(), TODAY)
    return len(listed.items)


@pytest.mark.parametrize(
    ("section", "record", "field"),
    [
        ("measurements", SUICIDAL, "date"),
        (
            "medication_trials",
            {
                "drug": "sertraline",
                "daily_dose_mg": 100,
                "start": LATER,
                "role": "antidepressant",
                "response": "none",
            },
            "start",
        ),
        (
            "procedures",
            {"type": "ECT", "start": LATER, "sessions": 6, "response": "none"},
            "start",
        ),
        ("psychotherapy", {"type": "CBT", "start": LATER, "sessions": 4}, "start"),
    ],
)
def test_an_import_with_a_record_after_today_is_refused_whole(clinic, kb, section, record, field):
    store, actor = clinic
    doc = example()
    doc[section] = [*doc.get(section, []), record]
    index = len(doc[section]) - 1
    with pytest.raises(InputError) as exc:
        patients.import_patient(store, actor, kb, doc, TODAY)
    assert problems(exc) == [
        (f"{section}[{index}].{field}", LATER, "a date on or before today (2025-06-02)")
    ]
    assert count(clinic, kb) == 0


def test_the_preview_of_an_import_names_a_record_after_today(clinic, kb):
    store, actor = clinic
    doc = example()
    doc["measurements"] = [SUICIDAL]
    preview = imports.preview_import(store, actor, kb, json.dumps(doc).encode(), "p.json", TODAY)
    assert [(p.path, p.value) for p in preview.problems] == [("measurements[0].date", LATER)]
    assert preview.assessment is None


def test_a_measurement_after_today_is_not_added_nor_corrected_to(clinic, kb):
    store, actor = clinic
    pid = patients.import_patient(store, actor, kb, example(), TODAY)["id"]
    version = patients.get_patient(store, actor, pid)["version"]
    with pytest.raises(InputError) as exc:
        patients.add_item(store, actor, kb, pid, "measurements", SUICIDAL, version, TODAY)
    assert problems(exc) == [("date", LATER, "a date on or before today (2025-06-02)")]
    today_too = {**SUICIDAL, "date": TODAY.isoformat()}
    item_id, view = patients.add_item(
        store, actor, kb, pid, "measurements", today_too, version, TODAY
    )
    assert [
        a["code"] for a in patients.assessment(store, actor, kb, pid, TODAY).to_json()["alerts"]
    ][:1] == ["suicidal_ideation"]
    with pytest.raises(InputError) as exc:
        patients.correct_item(
            store, actor, kb, pid, "measurements", item_id, SUICIDAL, view["version"], TODAY
        )
    assert problems(exc) == [("date", LATER, "a date on or before today (2025-06-02)")]
    assert patients.get_patient(store, actor, pid)["version"] == view["version"]


def test_the_as_of_of_a_document_is_not_used(clinic, kb):
    """A document's own ``as_of`` once replaced today's: a history starting in 2098 was
    stored and could then not be read (every read refused the date it was read for)."""
    store, actor = clinic
    doc = example()
    doc["as_of"] = "2099-01-01"
    doc["patient"]["birth_date"] = "2090-01-01"
    doc["episode"]["onset"] = "2098-06-01"
    doc["medication_trials"] = doc["measurements"] = doc["psychotherapy"] = []
    with pytest.raises(InputError) as exc:
        patients.import_patient(store, actor, kb, doc, TODAY)
    assert {p.path for p in exc.value.problems} == {"episode.onset", "patient.birth_date"}
    assert count(clinic, kb) == 0
    accepted = {**example(), "as_of": "1999-01-01"}  # before the onset: not used either
    assert patients.import_patient(store, actor, kb, accepted, TODAY)["id"]


def test_a_later_birth_date_is_checked_against_every_record(clinic, kb):
    """Records before the birth date are refused; moving the birth date after a record is
    refused as well, at the record."""
    store, actor = clinic
    doc = example()
    doc["measurements"].append({**SUICIDAL, "date": "2023-01-01"})
    index = len(doc["measurements"]) - 1
    pid = patients.import_patient(store, actor, kb, doc, TODAY)["id"]
    version = patients.get_patient(store, actor, pid)["version"]
    with pytest.raises(InputError) as exc:
        patients.update_patient(store, actor, kb, pid, {"birth_date": "2023-06-01"}, version, TODAY)
    assert problems(exc) == [
        (
            f"measurements[{index}].date",
            "2023-01-01",
            "a date on or after the birth date (2023-06-01)",
        )
    ]
    assert patients.get_patient(store, actor, pid)["birth_date"] == "1979-04-12"
    with pytest.raises(InputError) as exc:
        patients.add_item(
            store,
            actor,
            kb,
            pid,
            "measurements",
            {**SUICIDAL, "date": "1970-01-01"},
            version,
            TODAY,
        )
    assert problems(exc) == [
        ("date", "1970-01-01", "a date on or after the birth date (1979-04-12)")
    ]
