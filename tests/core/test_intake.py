import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trdnav.core.history import FHIR_ID, FHIR_ID_EXPECTED
from trdnav.core.intake import parse_history, stored_history
from trdnav.errors import InputError
from trdnav.fhir import r4, resources


def problems(kb, doc):
    with pytest.raises(InputError) as info:
        parse_history(doc, kb)
    return {p.path: p for p in info.value.problems}


def test_a_valid_history_parses_and_normalises_names(kb, history, trial):
    doc = history(
        conditions=["Epilepsy", "cochlear implant"],
        medication_trials=[
            trial("ZOLOFT", 100, "2024-02-01", "2024-04-01"),
            trial("Effexor XR", 150, "2024-04-02", None),
            trial("t3", 0.025, "2024-04-02", None, role="augmentation"),
        ],
        procedures=[
            {
                "type": "ect",
                "start": "2024-05-01",
                "end": None,
                "sessions": 3,
                "response": "UNKNOWN",
            }
        ],
        measurements=[{"instrument": "phq9", "date": "2024-02-01", "items": [1] * 9}],
    )
    h = parse_history(doc, kb)
    assert [t.drug for t in h.medication_trials] == ["sertraline", "venlafaxine", "liothyronine"]
    assert h.medication_trials[2].daily_dose_mg == 0.025
    assert h.conditions == ["seizure_disorder", "cochlear_implant"]
    assert h.procedures[0].type == "ECT"
    assert h.procedures[0].response == "unknown"
    assert h.measurements[0].instrument == "PHQ-9"


def test_extra_fields_are_accepted_as_written(kb, history):
    doc = history(
        patient={"name": "Jane Example", "mrn": "A-17", "language": "en"},
        source_system="clinic-emr",
    )
    h = parse_history(doc, kb)
    assert (h.patient.name, h.patient.mrn) == ("Jane Example", "A-17")
    assert h.patient.model_extra == {"language": "en"}
    assert h.model_extra == {"source_system": "clinic-emr"}


def test_misspelt_fields_are_errors_because_they_could_hide_data(kb, history, trial):
    doc = history(conditons=["seizure_disorder"])
    doc["medication_trials"] = [{**trial("sertraline", 100, "2024-02-01", None), "daily_dose": 100}]
    found = problems(kb, doc)
    assert "did you mean 'conditions'" in found["conditons"].expected
    assert "did you mean 'daily_dose_mg'" in found["medication_trials[0].daily_dose"].expected


@pytest.mark.parametrize(
    ("section", "key", "meant"),
    [
        ("medication_trials", "end_date", "end"),
        ("medication_trials", "stopDate", "end"),
        ("medication_trials", "start_date", "start"),
        ("medication_trials", "dose", "daily_dose_mg"),
        ("procedures", "End-Date", "end"),
        ("psychotherapy", "stopped", "end"),
        ("patient", "birthDate", "birth_date"),
        ("episode", "onset_date", "onset"),
        ("(document)", "asOf", "as_of"),
    ],
)
def test_other_names_of_a_field_are_errors(kb, history, trial, section, key, meant):
    """An ongoing trial with its end under ``end_date`` would otherwise count to as_of (and
    could look adequate)."""
    doc = history(
        medication_trials=[trial("sertraline", 100, "2024-02-01", None)],
        psychotherapy=[{"type": "CBT", "start": "2024-02-01", "sessions": 4}],
        procedures=[{"type": "ECT", "start": "2024-05-01", "sessions": 3, "response": "none"}],
    )
    part = doc if section == "(document)" else doc[section]
    if isinstance(part, list):
        part = part[0]
    part[key] = "2024-03-01"
    path = key if section == "(document)" else f"{section}[0].{key}"
    path = path if section not in ("patient", "episode") else f"{section}.{key}"
    found = problems(kb, doc)
    assert list(found) == [path]
    assert found[path].expected == f"a known field; did you mean {meant!r}?"


@pytest.mark.parametrize(
    "key", ["language", "end_reason", "notes", "dosing_notes", "dated", "response_date"]
)
def test_extra_fields_unlike_known_ones_are_kept(kb, history, trial, key):
    doc = history(medication_trials=[{**trial("sertraline", 100, "2024-02-01", None), key: "x"}])
    assert parse_history(doc, kb).medication_trials[0].model_extra == {key: "x"}


def test_unknown_drug_suggests_close_names(kb, history, trial):
    found = problems(kb, history(medication_trials=[trial("sertralin", 100, "2024-02-01", None)]))
    problem = found["medication_trials[0].drug"]
    assert problem.value == "sertralin"
    assert "sertraline" in problem.expected
    assert str(problem).startswith('medication_trials[0].drug: got "sertralin"; expected')


def test_misspelt_condition_is_an_error(kb, history):
    found = problems(kb, history(conditions=["cochlear_implnt"]))
    assert "cochlear_implant" in found["conditions[0]"].expected


def test_items_are_checked_against_the_instrument(kb, history):
    doc = history(
        measurements=[
            {"instrument": "PHQ-9", "date": "2024-02-01", "items": [0, 0, 0, 0, 0, 0, 0, 0, 4]},
            {"instrument": "PHQ-9", "date": "2024-02-01", "items": [0] * 8},
            {"instrument": "HAMD-17", "date": "2024-02-01", "items": [0, 0, 0, 3] + [0] * 13},
            {"instrument": "BDI-II", "date": "2024-02-01", "items": [0] * 21},
        ]
    )
    found = problems(kb, doc)
    assert found["measurements[0].items[8]"].value == 4
    assert "from 0 to 3" in found["measurements[0].items[8]"].expected
    assert "9 item scores" in found["measurements[1].items"].expected
    assert "from 0 to 2" in found["measurements[2].items[3]"].expected
    assert "PHQ-9" in found["measurements[3].instrument"].expected


def test_end_before_start_is_an_error(kb, history, trial):
    doc = history(
        medication_trials=[trial("sertraline", 100, "2024-03-01", "2024-02-01")],
        psychotherapy=[{"type": "CBT", "start": "2024-03-01", "end": "2024-01-01", "sessions": 4}],
    )
    found = problems(kb, doc)
    assert "on or after the start (2024-03-01)" in found["medication_trials[0].end"].expected
    assert "psychotherapy[0].end" in found


def test_every_problem_is_reported_at_once(kb, history, trial):
    doc = history(
        as_of="2025-13-01",
        episode={"severity": "extreme", "psychotic_features": "no"},
        medication_trials=[trial("sertraline", "100", "2024-02-01", None, response="great")],
    )
    del doc["patient"]
    found = problems(kb, doc)
    assert set(found) >= {
        "as_of",
        "patient",
        "episode.severity",
        "episode.psychotic_features",
        "medication_trials[0].daily_dose_mg",
        "medication_trials[0].response",
    }
    assert found["patient"].missing
    assert "real calendar date" in found["as_of"].expected


def test_dates_must_be_iso_dates_not_timestamps(kb, history):
    found = problems(kb, history(as_of=1717200000))
    assert found["as_of"].expected == "a date as YYYY-MM-DD"


def test_onset_after_as_of_and_birth_after_as_of(kb, history):
    found = problems(kb, history(as_of="2023-01-01", patient={"birth_date": "2024-01-01"}))
    assert "on or before as_of" in found["episode.onset"].expected
    assert "on or before as_of" in found["patient.birth_date"].expected


def test_records_before_the_birth_date_are_errors_except_as_stored(kb, history, trial):
    """A year mistyped (0050) once stored a record that nothing counted, and whose date
    broke the patient's timeline; a record stored before the rule is still read."""
    doc = history(
        patient={"birth_date": "1980-01-01"},
        medication_trials=[trial("sertraline", 100, "0050-06-15", None)],
        psychotherapy=[{"type": "CBT", "start": "1979-12-31", "sessions": 4}],
        procedures=[{"type": "ECT", "start": "1980-01-01", "sessions": 6, "response": "none"}],
        measurements=[{"instrument": "PHQ-9", "date": "0001-01-01", "items": [1] * 9}],
    )
    found = problems(kb, doc)
    expected = "a date on or after the birth date (1980-01-01)"
    assert {path: p.expected for path, p in found.items()} == {
        "medication_trials[0].start": expected,
        "psychotherapy[0].start": expected,
        "measurements[0].date": expected,
    }
    assert len(parse_history(doc, kb, stored=True).medication_trials) == 1


def test_a_document_nested_too_deeply_is_refused_before_anything_walks_it(kb, history):
    """A note nested 900 levels deep was stored over the API; at 2,000 the checks that walk
    the document overflowed."""
    deep: list = []
    for _ in range(2_000):
        deep = [deep]
    with pytest.raises(InputError) as exc:
        parse_history(history(note=deep), kb)
    [problem] = exc.value.problems
    assert (problem.path, problem.expected) == (
        "(document)",
        "a document nested at most 64 levels",
    )
    shallow = history(note={"a": [[{"b": [[]]}]]})
    assert parse_history(shallow, kb).model_extra["note"] == {"a": [[{"b": [[]]}]]}


@pytest.mark.parametrize(
    ("doc", "shown"),
    [
        (None, "null"),
        ([], "an array"),
        ("text", "a string"),
        (3, "a number"),
        (True, "true or false"),
    ],
)
def test_the_document_must_be_an_object(kb, doc, shown):
    """Named as JSON names it (it said "NoneType" for null)."""
    assert problems(kb, doc)["(document)"].value == shown


def test_negative_dose_and_sessions(kb, history, trial):
    doc = history(
        medication_trials=[trial("sertraline", 0, "2024-02-01", None)],
        procedures=[{"type": "ECT", "start": "2024-02-01", "sessions": -1, "response": "none"}],
    )
    found = problems(kb, doc)
    assert "greater than 0" in found["medication_trials[0].daily_dose_mg"].expected
    assert "at least 0" in found["procedures[0].sessions"].expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(
    key=st.sampled_from(
        [
            "id",
            "as_of",
            "patient",
            "episode",
            "conditions",
            "medication_trials",
            "psychotherapy",
            "procedures",
            "measurements",
        ]
    ),
    value=json_values,
)
def test_any_json_value_either_parses_or_raises_input_error(kb, history, key, value):
    doc = history()
    doc[key] = value
    try:
        parse_history(doc, kb)
    except InputError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    assert all(p.path and p.expected for p in problems)


def test_cross_field_checks_run_even_when_the_section_has_other_errors(kb, history):
    doc = history(
        as_of="2025-06-01",
        episode={"onset": "2025-07-01", "severity": "extreme"},
        patient={"birth_date": "2026-01-01", "sex": ""},
    )
    found = problems(kb, doc)
    assert {"episode.severity", "episode.onset", "patient.sex", "patient.birth_date"} <= set(found)


def test_knowledge_checks_still_run_when_a_record_has_other_errors(kb, history, trial):
    doc = history(
        medication_trials=[{**trial("zoloftt", 100, "2024-03-01", "2024-02-01"), "role": "x"}],
        measurements=[{"instrument": "PHQ-9", "date": "2024-13-01", "items": [1] * 8 + [5]}],
    )
    found = problems(kb, doc)
    assert {
        "medication_trials[0].role",
        "medication_trials[0].drug",
        "medication_trials[0].end",
        "measurements[0].date",
        "measurements[0].items[8]",
    } <= set(found)


def test_stored_histories_skip_name_resolution_but_fall_back_when_unknown(kb, history, trial):
    doc = history(medication_trials=[trial("sertraline", 100, "2024-02-01", None)])
    assert stored_history(doc, kb) == parse_history(doc, kb)
    branded = history(medication_trials=[trial("Zoloft", 100, "2024-02-01", None)])
    assert stored_history(branded, kb).medication_trials[0].drug == "sertraline"
    broken = history(medication_trials=[trial("no-such-drug", 100, "2024-02-01", None)])
    with pytest.raises(InputError):
        stored_history(broken, kb)


@pytest.mark.parametrize("bad", ["ünïcode-✓", "slash/id", "a\u0000b", "a b", "a_b", "x" * 65, ""])
def test_an_id_is_a_fhir_id(kb, history, bad):
    found = problems(kb, history(id=bad))
    assert found["id"].expected == "a FHIR id: 1 to 64 letters, digits, '-' or '.'"
    assert parse_history(history(id=" Pat-1.b "), kb).id == "Pat-1.b"


@pytest.mark.parametrize("kept", ["a_b", "pat 7", "ünïcode-✓"])
def test_an_id_stored_before_the_fhir_id_rule_is_still_read(kb, history, trial, kept):
    doc = history(id=kept)
    assert stored_history(doc, kb).id == kept
    unknown = history(id=kept, medication_trials=[trial("Zoloft", 100, "2024-02-01", None)])
    assert stored_history(unknown, kb).id == kept  # through the full intake too
    with pytest.raises(InputError):
        parse_history(doc, kb)


def test_text_stored_before_its_limit_is_read_through_the_full_intake_too(kb, history, trial):
    """A sex or psychotherapy type longer than today's limit, kept before it, is read when
    the knowledge base changed since (a stored brand name sends the history through the full
    intake): it used to be refused there, so the patient could not be read."""
    therapy = {"type": "t" * 80, "start": "2024-01-01", "end": "2024-03-01", "sessions": 8}
    doc = history(
        patient={"sex": "s" * 40},
        psychotherapy=[therapy],
        medication_trials=[trial("Zoloft", 100, "2024-02-01", None)],
    )
    kept = stored_history(doc, kb)
    assert (kept.patient.sex, kept.psychotherapy[0].type) == ("s" * 40, "t" * 80)
    assert set(problems(kb, doc)) == {"patient.sex", "psychotherapy[0].type"}


def test_the_fhir_import_refuses_ids_by_the_same_rule():
    assert resources.FHIR_ID is FHIR_ID
    assert r4.FHIR_ID_EXPECTED is FHIR_ID_EXPECTED


@pytest.mark.parametrize("dose", [float("inf"), float("-inf"), float("nan")])
def test_a_dose_is_a_finite_number(kb, history, trial, dose):
    found = problems(kb, history(medication_trials=[trial("sertraline", dose, "2024-02-01", None)]))
    assert found["medication_trials[0].daily_dose_mg"].expected == "a finite number"


@pytest.mark.parametrize("sessions", [10_001, 2**63, 10**30])
def test_sessions_are_bounded(kb, history, sessions):
    doc = history(
        psychotherapy=[{"type": "CBT", "start": "2024-02-01", "sessions": sessions}],
        procedures=[
            {"type": "ECT", "start": "2024-02-01", "sessions": sessions, "response": "none"}
        ],
    )
    found = problems(kb, doc)
    assert found["psychotherapy[0].sessions"].expected == "a number of at most 10000"
    assert found["procedures[0].sessions"].expected == "a number of at most 10000"
    doc["procedures"][0]["sessions"] = doc["psychotherapy"][0]["sessions"] = 10_000
    assert parse_history(doc, kb).procedures[0].sessions == 10_000


def test_text_with_an_unpaired_surrogate_is_refused_in_any_field(kb, history):
    doc = history(patient={"name": "\ud800x"}, note=["fine", "\udc00"])
    doc["episode"]["remark\ud800"] = 1
    found = problems(kb, doc)
    assert set(found) == {"patient.name", "note[1]", "episode"}
    assert all("surrogate" in p.expected for p in found.values())
    assert found["episode"].value == "remark\ud800"
    assert "\\ud800" in str(found["patient.name"])
    str(found["patient.name"]).encode("utf-8")  # printable on the command line


def test_text_with_a_nul_character_is_refused_in_any_field(kb, history):
    doc = history(patient={"name": "Jane\x00"}, note="a\x00b")
    doc["episode"]["remark\x00"] = 1
    found = problems(kb, doc)
    assert set(found) == {"patient.name", "note", "episode"}
    assert all("NUL characters" in p.expected for p in found.values())


def test_a_missing_field_is_reported_without_the_object_around_it(kb, history):
    doc = history()
    del doc["episode"]["severity"]
    found = problems(kb, doc)
    assert found["episode.severity"].missing
    assert found["episode.severity"].value is None
    assert found["episode.severity"].to_dict()["missing"] is True


def test_check_as_of_applies_the_documents_rule_to_a_date_given_apart():
    from datetime import date

    from trdnav.core.intake import check_as_of

    onset, birth = date(2023, 9, 1), date(1979, 4, 12)
    check_as_of(date(2023, 9, 1), onset, birth)
    with pytest.raises(InputError) as info:
        check_as_of(date(1, 1, 1), onset, birth, "query.as_of")
    (problem,) = info.value.problems
    assert (problem.path, problem.value) == ("query.as_of", "0001-01-01")
    assert problem.expected == "a date on or after the episode onset (2023-09-01)"


def test_the_date_fields_read_with_a_date_suffix_are_the_models_date_fields():
    from trdnav.core import history
    from trdnav.core.intake import _DATE_FIELDS

    models = [
        history.Patient,
        history.Episode,
        history.MedicationTrial,
        history.PsychotherapyCourse,
        history.Procedure,
        history.Measurement,
        history.PatientHistory,
    ]
    dated = {n for m in models for n, f in m.model_fields.items() if "date" in str(f.annotation)}
    assert dated == _DATE_FIELDS
