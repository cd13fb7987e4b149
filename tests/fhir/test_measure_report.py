import json
from datetime import date
from pathlib import Path

import pytest

from trdnav.errors import InputError
from trdnav.fhir.bundles import read_resources
from trdnav.fhir.measure_report import (
    individual_report,
    summary_report,
    write_measure_reports,
)
from trdnav.fhir.resources import patient_records
from trdnav.knowledge.measures import load_measure
from trdnav.measures import MeasurementPeriod

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"


def populations(report: dict) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}


@pytest.mark.parametrize("measure_id", ["cms159", "cms2"])
def test_individual_reports_match_the_stewards_reports(measure_id):
    measure = load_measure(measure_id)
    resources = read_resources([CONFORMANCE / measure_id])
    expected = {
        r.resource["contained"][0]["parameter"][0]["valueString"]: r.resource
        for r in resources
        if r.resource.get("resourceType") == "MeasureReport"
    }
    result = measure.evaluate(patient_records(resources), MeasurementPeriod.year(2026))
    assert len(result.patients) == len(expected)
    for patient in result.patients:
        ours = individual_report(measure.info, result, patient)
        theirs = expected[patient.patient]
        assert populations(ours) == populations(theirs), patient.patient
        assert ours["period"] == theirs["period"]
        assert ours["measure"].split("|")[0] == theirs["measure"]
        assert ours["type"] == theirs["type"] == "individual"
        assert ours["subject"] == {"reference": f"Patient/{patient.patient}"}
        evaluated = {r["reference"] for r in ours.get("evaluatedResource", [])}
        assert evaluated <= {r["reference"] for r in theirs["evaluatedResource"]}


def test_summary_and_individual_reports_are_written(tmp_path):
    measure = load_measure("cms2")
    resources = read_resources(sorted((CONFORMANCE / "cms2").glob("*/*.json"))[:5])
    result = measure.evaluate(patient_records(resources), MeasurementPeriod.year(2026))
    written = write_measure_reports(measure.info, result, tmp_path / "out")
    assert written[0].name == "cms2-summary.json"
    assert len(written) == 6
    summary = json.loads(written[0].read_text(encoding="utf-8"))
    assert summary == summary_report(measure.info, result)
    assert summary["type"] == "summary"
    assert "subject" not in summary
    assert populations(summary) == {p.value: n for p, n in result.counts().items()}
    score = summary["group"][0].get("measureScore", {}).get("value")
    assert score == result.score
    assert summary["improvementNotation"]["coding"][0]["code"] == "increase"
    assert "date" not in summary
    for path, patient in zip(written[1:], result.patients, strict=True):
        assert path.name == f"cms2-{patient.patient}.json"
        report = json.loads(path.read_text(encoding="utf-8"))
        assert report["group"][0].get("measureScore", {}).get("value") == patient.score


def test_no_score_when_nobody_counts(tmp_path):
    measure = load_measure("cms159")
    result = measure.evaluate([], MeasurementPeriod(date(2026, 1, 1), date(2026, 12, 31)))
    assert "measureScore" not in summary_report(measure.info, result)["group"][0]


def test_the_report_folder_must_be_a_folder(tmp_path):
    measure = load_measure("cms159")
    result = measure.evaluate([], MeasurementPeriod.year(2026))
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"--measure-report: .*expected a new or empty folder"):
        write_measure_reports(measure.info, result, tmp_path / "file")


def test_the_folder_holds_exactly_the_latest_run_and_no_other_files(tmp_path):
    measure = load_measure("cms2")
    resources = read_resources(sorted((CONFORMANCE / "cms2").glob("*/*.json"))[:5])
    records = patient_records(resources)
    folder = tmp_path / "out"
    first = write_measure_reports(
        measure.info, measure.evaluate(records, MeasurementPeriod.year(2026)), folder
    )
    assert len(first) == 6
    only_one = records[:1]
    second = write_measure_reports(
        measure.info, measure.evaluate(only_one, MeasurementPeriod.year(2026)), folder
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in second)
    assert len(second) == 2
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    (folder / "cms2-fake.json").write_text('{"resourceType": "Patient"}', encoding="utf-8")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputError, match=r"--measure-report: .*it holds cms2-fake.json, notes.txt"):
        write_measure_reports(
            measure.info, measure.evaluate(records, MeasurementPeriod.year(2026)), folder
        )
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
