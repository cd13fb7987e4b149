"""The patient list's summaries are those of today under the knowledge base and the
adequate-trial setting: one made on another day, or under another knowledge base or setting,
is computed again before the list is read."""

from __future__ import annotations

from datetime import date

from trdnav.clinic import patients

TODAY = date(2025, 6, 2)


def fifty_day_trials(patient_id: str) -> dict:
    """Two failed 50-day trials: TRD under the knowledge base's 42 days, not under 56."""
    trial = {"daily_dose_mg": 150, "role": "antidepressant", "response": "none"}
    return {
        "id": patient_id,
        "patient": {"name": patient_id, "birth_date": "1980-01-01", "sex": "female"},
        "episode": {
            "onset": "2025-01-01",
            "severity": "moderate",
            "psychotic_features": False,
            "recurrent": False,
        },
        "medication_trials": [
            {**trial, "drug": "sertraline", "start": "2025-02-01", "end": "2025-03-23"},
            {
                **trial,
                "drug": "citalopram",
                "daily_dose_mg": 40,
                "start": "2025-04-01",
                "end": "2025-05-21",
            },
        ],
    }


def trd(store, actor, kb, days, **filters):
    page = patients.list_patients(store, actor, kb, patients.PatientFilters(**filters), TODAY, days)
    return {item["id"]: item["summary"]["trd"] for item in page.items}, page


def test_the_list_recomputes_summaries_made_under_another_setting(clinic, kb):
    store, actor = clinic
    patients.import_patient(store, actor, kb, fifty_day_trials("p1"), TODAY)
    assert trd(store, actor, kb, None)[0] == {"p1": True}
    assert trd(store, actor, kb, 56)[0] == {"p1": False}
    assert trd(store, actor, kb, 56, trd=True)[0] == {}
    assert trd(store, actor, kb, None, trd=True)[0] == {"p1": True}


def test_a_write_under_the_setting_leaves_nothing_stale(clinic, kb):
    store, actor = clinic
    view = patients.import_patient(
        store, actor, kb, fifty_day_trials("p1"), TODAY, adequate_trial_days=56
    )
    assert (
        patients.refresh_stale_summaries(
            store, actor.clinic_id, kb, TODAY, limit=0, adequate_trial_days=56
        )
        == 0
    )
    patients.update_patient(
        store, actor, kb, "p1", {"mrn": "M-1"}, view["version"], TODAY, adequate_trial_days=56
    )
    assert (
        patients.refresh_stale_summaries(
            store, actor.clinic_id, kb, TODAY, limit=0, adequate_trial_days=56
        )
        == 0
    )
    # the same summaries are stale for a server with another setting
    assert patients.refresh_stale_summaries(store, actor.clinic_id, kb, TODAY, limit=0) == 1


def test_too_many_stale_summaries_are_counted_not_shown_as_current(clinic, kb):
    store, actor = clinic
    for n in range(3):
        patients.import_patient(store, actor, kb, fifty_day_trials(f"p{n}"), TODAY)
    assert (
        patients.refresh_stale_summaries(
            store, actor.clinic_id, kb, TODAY, limit=2, adequate_trial_days=56
        )
        == 3
    )
    assert (
        patients.refresh_stale_summaries(store, actor.clinic_id, kb, TODAY, adequate_trial_days=56)
        == 0
    )
    summaries, page = trd(store, actor, kb, 56)
    assert page.stale_summaries == 0
    assert summaries == {"p0": False, "p1": False, "p2": False}


def test_summaries_made_under_another_knowledge_base_are_stale(clinic, kb):
    """A new knowledge base can change a stage or a verdict: the list must not keep showing
    figures its rules no longer give."""
    store, actor = clinic
    patients.import_patient(store, actor, kb, fifty_day_trials("p1"), TODAY)
    assert patients.refresh_stale_summaries(store, actor.clinic_id, kb, TODAY, limit=0) == 0
    newer = kb.model_copy(update={"version": kb.version + "-next"})
    assert patients.refresh_stale_summaries(store, actor.clinic_id, newer, TODAY, limit=0) == 1
    assert patients.refresh_stale_summaries(store, actor.clinic_id, newer, TODAY) == 0
    assert patients.refresh_stale_summaries(store, actor.clinic_id, newer, TODAY, limit=0) == 0
