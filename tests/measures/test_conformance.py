"""The stewards' test suites: every case's populations equal its expected MeasureReport.

The cases are in ``tests/conformance/<measure>/<patient id>/*.json`` (see the README there);
each bundle is read by the FHIR adapter, evaluated for the period of its MeasureReport, and
compared population by population.
"""

import csv
from datetime import date
from pathlib import Path

import pytest

from trdnav.fhir.bundles import read_resources
from trdnav.fhir.resources import patient_records
from trdnav.knowledge.measures import load_measure
from trdnav.measures import MeasurementPeriod

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
EXPECTED_CASES = {"cms159": 67, "cms2": 36}


def cases(measure_id: str) -> list[tuple[str, str, Path]]:
    """(measure, case title, bundle) for each row of the measure's ``expected.csv``."""
    folder = CONFORMANCE / measure_id
    text = (folder / "expected.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        bundles = sorted((folder / row["patient_id"]).glob("*.json"))
        title = f"{row['series']}-{row['title']}"
        out.append((measure_id, title, bundles[0] if len(bundles) == 1 else folder / "missing"))
    return out


CASES = cases("cms159") + cases("cms2")


def expected_report(resources) -> dict:
    reports = [r.resource for r in resources if r.resource.get("resourceType") == "MeasureReport"]
    assert len(reports) == 1
    return reports[0]


@pytest.mark.parametrize(
    ("measure_id", "title", "bundle"), CASES, ids=[f"{m}:{t}" for m, t, _ in CASES]
)
def test_case(measure_id, title, bundle):
    assert bundle.is_file(), f"{title}: expected one bundle in its folder"
    resources = read_resources([bundle])
    report = expected_report(resources)
    measure = load_measure(measure_id)
    assert report["measure"] == measure.info.url
    period = MeasurementPeriod(
        date.fromisoformat(report["period"]["start"]), date.fromisoformat(report["period"]["end"])
    )
    expected = {
        population["code"]["coding"][0]["code"]: population["count"]
        for population in report["group"][0]["population"]
    }
    [patient] = patient_records(resources)
    assert patient.id == bundle.parent.name
    result = measure.evaluate_patient(patient, period)
    got = {population.value: int(met) for population, met in result.populations.items()}
    assert got == expected, "\n".join(e.text for e in result.evidence)


def test_every_case_is_collected_once():
    counts = {m: sum(1 for measure_id, _, _ in CASES if measure_id == m) for m in EXPECTED_CASES}
    assert counts == EXPECTED_CASES
    bundles = {bundle for _, _, bundle in CASES}
    assert bundles == set(CONFORMANCE.glob("*/*/*.json"))
