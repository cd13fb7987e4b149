"""order-select and order-sign: a warning with a suggestion to remove a drafted order whose
option is contraindicated or needs caution; feedback on cards, stored and reported."""

import json
from pathlib import Path

import pytest

from .conftest import PATIENT

EXAMPLES = Path(__file__).parent / "examples"
CPT = "http://www.ama-assn.org/go/cpt"


def medication_order(rid, text):
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": text},
        "subject": {"reference": f"Patient/{PATIENT}"},
    }


def service_order(rid, cpt):
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": CPT, "code": cpt}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
    }


def drafts(*resources):
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def test_order_select_warns_about_the_selected_order_only(cds):
    orders = drafts(
        medication_order("rx-1", "esketamine 28 MG Nasal Spray [Spravato]"),
        medication_order("rx-2", "ketamine 50 MG/ML Injectable Solution"),
        service_order("sr-1", "90868"),
    )
    body = cds.request(
        "order-select",
        prefetch=cds.prefetch(),
        selections=["MedicationRequest/rx-1", "MedicationRequest/rx-2"],
        draftOrders=orders,
    )
    response = cds.call("trdnav-order-select", body)
    assert response.status_code == 200, response.text
    [card] = response.json()["cards"]
    assert card["indicator"] == "warning"
    assert (
        card["summary"]
        == "Esketamine: contraindicated for this patient (aneurysmal vascular disease)"
    )
    assert card["selectionBehavior"] == "at-most-one"
    [suggestion] = card["suggestions"]
    assert suggestion["label"] == "Remove the Esketamine nasal spray (Spravato) order"
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Remove the drafted order for Esketamine nasal spray (Spravato) "
            "(esketamine 28 MG Nasal Spray [Spravato])",
            "resourceId": "MedicationRequest/rx-1",
        }
    ]
    assert card["overrideReasons"]


def test_order_sign_checks_every_drafted_order(cds):
    prefetch = cds.prefetch()
    prefetch["conditions"]["entry"].append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "recent-mi",
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I21.4"}]
                },
                "subject": {"reference": f"Patient/{PATIENT}"},
            }
        }
    )
    orders = drafts(service_order("sr-tms", "90868"), service_order("sr-ect", "90870"))
    body = cds.request("order-sign", prefetch=prefetch, draftOrders=orders)
    cards = cds.call("trdnav-order-sign", body).json()["cards"]
    assert [c["summary"] for c in cards] == [
        "TMS: contraindicated for this patient (cochlear implant)",
        "ECT: caution for this patient (recent myocardial infarction)",
    ]
    assert [c["suggestions"][0]["actions"][0]["resourceId"] for c in cards] == [
        "ServiceRequest/sr-tms",
        "ServiceRequest/sr-ect",
    ]


def test_the_specs_order_select_example_gets_no_card(cds):
    context = json.loads((EXAMPLES / "order-select-context.json").read_text("utf-8"))
    context["patientId"] = PATIENT
    body = cds.request("order-select", prefetch=cds.prefetch(), **context)
    response = cds.call("trdnav-order-select", body)
    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


def test_feedback_is_stored_and_reported_to_administrators(cds):
    view = cds.call("trdnav-patient-view", cds.request(prefetch=cds.prefetch())).json()["cards"]
    warning = next(c for c in view if c["indicator"] == "warning")
    orders = drafts(medication_order("rx-9", "Spravato 56 MG"))
    sign = cds.call(
        "trdnav-order-sign", cds.request("order-sign", prefetch=cds.prefetch(), draftOrders=orders)
    ).json()["cards"][0]
    accepted = {
        "feedback": [
            {
                "card": sign["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": sign["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-26T10:05:31Z",
            }
        ]
    }
    stored = cds.call("trdnav-order-sign", accepted, path="/feedback")
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"stored": 1}
    overridden = json.loads((EXAMPLES / "feedback-override-reason.json").read_text("utf-8"))
    overridden["feedback"][0]["card"] = warning["uuid"]
    assert cds.call("trdnav-patient-view", overridden, path="/feedback").status_code == 200

    for name in ("feedback-accepted.json", "feedback-overridden.json"):
        unknown = json.loads((EXAMPLES / name).read_text("utf-8"))
        refused = cds.call("trdnav-patient-view", unknown, path="/feedback")
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["path"] == "feedback[0].card"
    wrong_service = cds.call("trdnav-patient-view", accepted, path="/feedback")
    assert wrong_service.status_code == 422
    no_suggestion = {"feedback": [{**accepted["feedback"][0], "acceptedSuggestions": []}]}
    assert cds.call("trdnav-order-sign", no_suggestion, path="/feedback").status_code == 422

    with cds.client("admin") as admin:
        report = admin.get("/cds/feedback").json()
        assert [(r["outcome"], r["summary"]) for r in report[:2]] == [
            ("overridden", warning["summary"]),
            ("accepted", sign["summary"]),
        ]
        assert report[0]["override_reason"]["userComment"] == "A comment entered by the clinician."
        assert report[1]["accepted_suggestions"] == [sign["suggestions"][0]["uuid"]]
        assert report[0]["patient_id"] == PATIENT
        only = admin.get(
            "/cds/feedback", params={"outcome": "accepted", "service": "trdnav-order-sign"}
        )
        assert {r["card"] for r in only.json()} >= {sign["uuid"]}
        audit = admin.get("/audit", params={"action": "cds.feedback"}).json()
        assert audit[-1]["user_email"].startswith("cds:https://")
    with cds.client("clinician") as clinician:
        assert clinician.get("/cds/feedback").status_code == 403


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_feedback_time_outside_the_calendar_in_utc_is_refused(cds, at):
    """It was a 500 when the time was stored (in UTC)."""
    card = cds.call("trdnav-patient-view", cds.request(prefetch=cds.prefetch())).json()["cards"][0]
    feedback = {
        "feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": at}]
    }
    refused = cds.call("trdnav-patient-view", feedback, path="/feedback")
    assert refused.status_code == 422
    [problem] = refused.json()["errors"]
    assert (problem["path"], problem["value"]) == ("feedback[0].outcomeTimestamp", at)


def test_a_drafted_order_without_an_id_is_warned_of_without_an_action_naming_none(cds):
    """The card's delete action named 'MedicationRequest/None'."""
    order = medication_order("x", "Spravato 56 MG")
    del order["id"]
    body = cds.request("order-sign", prefetch=cds.prefetch(), draftOrders=drafts(order))
    cards = cds.call("trdnav-order-sign", body).json()["cards"]
    assert cards, "the warning is still given"
    assert "None" not in json.dumps(cards)
    assert all(not c.get("suggestions") for c in cards)
