"""Reading forms into the core's format, and problems placed next to their fields."""

from trdnav.errors import Problem
from trdnav.web.forms import FORMS, field_id, measurement_from_form, place_problems


def test_a_trial_form_is_read_leniently():
    form = FORMS["trials"]
    values = {
        "drug": " Zoloft ",
        "daily_dose_mg": "12,5",
        "start": "2024-01-01",
        "end": "",
        "role": "antidepressant",
        "response": "none",
    }
    assert form.read(values, {"dose_optimized"}) == {
        "drug": "Zoloft",
        "daily_dose_mg": 12.5,
        "start": "2024-01-01",
        "end": None,
        "role": "antidepressant",
        "response": "none",
        "dose_optimized": True,
    }
    # text that is no number stays text (the core says what it expected); empty required
    # fields are left out (the core says they are missing)
    read = form.read({"daily_dose_mg": "a lot", "drug": ""}, set())
    assert read["daily_dose_mg"] == "a lot"
    assert "drug" not in read


def test_a_stored_item_fills_its_correction_form():
    form = FORMS["procedures"]
    item = {"type": "ECT", "start": "2024-01-01", "end": None, "sessions": 9, "response": "none"}
    assert form.values_of(item) == {
        "type": "ECT",
        "start": "2024-01-01",
        "end": "",
        "sessions": "9",
        "response": "none",
    }


def test_a_measurement_form_keeps_unanswered_items_empty(kb):
    inst = kb.instruments["PHQ-9"]
    values = {f"items[{i}]": "1" for i in range(8)} | {"date": "2025-01-01"}
    data, answers = measurement_from_form(inst, values)
    assert answers == [1] * 8 + [None]
    assert data == {"instrument": "PHQ-9", "items": answers, "date": "2025-01-01"}


def test_problems_go_next_to_their_fields():
    problems = [
        Problem("drug", "sertralin", "a known drug"),
        Problem("end", "2023-01-01", "a date on or after the start"),
        Problem("start", None, "a value", missing=True),
        Problem("(item)", None, "an object"),
    ]
    errors = place_problems(problems, {"drug": "Drug", "end": "Ended", "start": "Started"})
    assert errors.by_field == {
        "drug": ["Expected a known drug; got 'sertralin'."],
        "end": ["Expected a date on or after the start; got '2023-01-01'."],
        "start": ["Missing: a value."],
    }
    assert errors.general == ["(item): got null; expected an object"]
    assert errors.label("drug") == "Drug"


def test_field_ids_are_safe_html_ids():
    assert field_id("items[8]") == "items-8"
    assert field_id("measurements[0].items[3]") == "measurements-0-items-3"
    assert field_id("parameters.charge_mc") == "parameters-charge_mc"
