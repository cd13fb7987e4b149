"""``trdnav measure``, run through the installed entry point in a subprocess."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRDNAV = Path(sys.executable).parent / "trdnav"
CONFORMANCE = ROOT / "tests" / "conformance"


def cli(*args: str):
    return subprocess.run(
        [str(TRDNAV), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "160"},
        cwd=ROOT,
        check=False,
    )


def expected(measure_id: str) -> dict[str, dict[str, int]]:
    text = (CONFORMANCE / measure_id / "expected.csv").read_text(encoding="utf-8")
    keys = ["initial_population", "denominator", "denominator_exclusion", "numerator"]
    if measure_id == "cms2":
        keys.append("denominator_exception")
    return {
        row["patient_id"]: {k: int(row[k]) for k in keys}
        for row in csv.DictReader(text.splitlines())
    }


def test_json_contract_over_the_cms159_suite():
    result = cli("measure", "cms159", "--period", "2026", "tests/conformance/cms159", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out) == ["measure", "period", "patients", "score"]
    assert out["measure"] == "cms159"
    assert out["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    want = expected("cms159")
    assert len(out["patients"]) == len(want) == 67
    for patient in out["patients"]:
        assert list(patient) == [
            "patient",
            "initial_population",
            "denominator",
            "denominator_exclusion",
            "numerator",
            "evidence",
        ]
        assert {k: patient[k] for k in want[patient["patient"]]} == want[patient["patient"]]
        for item in patient["evidence"]:
            assert list(item) == ["criterion", "resource", "date", "text"]
    numerator = sum(p["numerator"] for p in want.values())
    performance = sum(p["denominator"] - p["denominator_exclusion"] for p in want.values())
    assert out["score"] == numerator / performance


def test_cms2_json_has_the_exception_and_reports_are_written(tmp_path):
    reports = tmp_path / "reports"
    result = cli(
        "measure",
        "CMS2",
        "--period",
        "2026",
        str(CONFORMANCE / "cms2"),
        "--json",
        "--measure-report",
        str(reports),
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    want = expected("cms2")
    got = {p["patient"]: {k: p[k] for k in want[p["patient"]]} for p in out["patients"]}
    assert got == want
    assert len(list(reports.glob("cms2-*.json"))) == 37
    summary = json.loads((reports / "cms2-summary.json").read_text(encoding="utf-8"))
    assert summary["group"][0]["measureScore"]["value"] == out["score"]


def test_readable_table_and_score():
    bundles = sorted((CONFORMANCE / "cms159").glob("*/*.json"))[:4]
    result = cli("measure", "cms159", "--period", "2026", *map(str, bundles))
    assert result.returncode == 0, result.stderr
    assert "CMS159FHIR v0.3.000 Depression Remission at Twelve Months" in result.stdout
    for bundle in bundles:
        assert bundle.parent.name in result.stdout
    assert "Patients 4: IP " in result.stdout
    assert "Score: " in result.stdout


def test_bad_input_exits_2_with_one_line_per_problem(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "entry": [
                    {"resource": {"resourceType": "Patient", "id": "p1"}},
                    {
                        "resource": {
                            "resourceType": "Observation",
                            "id": "o1",
                            "status": "final",
                            "effectiveDateTime": "yesterday",
                        }
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    result = cli("measure", "cms159", "--period", "2026", str(broken), str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f'error: PATH: got "{tmp_path}/nope"; expected an existing file or folder'
    assert len(lines) == 1  # resources are checked once every path can be read
    result = cli("measure", "cms159", "--period", "2026", str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f'error: {broken}: entry[1].resource.effectiveDateTime: got "yesterday"; '
        "expected a FHIR dateTime"
    )
    assert "Traceback" not in result.stderr


def test_bad_period_and_unknown_measure_exit_2():
    result = cli("measure", "cms3", "--period", "26", "tests/conformance/cms2")
    assert result.returncode == 2
    bounds = (
        "expected a calendar year such as 2026, from 0004 to 9996 (a measure looks up to three "
        "years before and after its period)\n"
    )
    assert result.stderr == f'error: --period: got "26"; {bounds}'
    for year in ("0001", "0003", "9997", "9999"):
        result = cli("measure", "cms159", "--period", year, "tests/conformance/cms159")
        assert result.returncode == 2
        assert result.stderr == f'error: --period: got "{year}"; {bounds}'
    result = cli("measure", "cms3", "--period", "2026", "tests/conformance/cms2")
    assert result.returncode == 2
    assert result.stderr == 'error: MEASURE: got "cms3"; expected one of cms159, cms2\n'
    result = cli("measure", "cms2", "tests/conformance/cms2")
    assert result.returncode == 2
    assert "--period" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_report_folder_holds_exactly_the_latest_run(tmp_path):
    reports = tmp_path / "reports"
    suite = CONFORMANCE / "cms159"
    assert (
        cli(
            "measure", "cms159", "--period", "2026", str(suite), "--measure-report", str(reports)
        ).returncode
        == 0
    )
    assert len(list(reports.iterdir())) == 68
    one = sorted(p for p in suite.iterdir() if p.is_dir())[0]
    again = cli(
        "measure",
        "cms159",
        "--period",
        "2026",
        str(one),
        "--json",
        "--measure-report",
        str(reports),
    )
    assert again.returncode == 0, again.stderr
    patient = json.loads(again.stdout)["patients"][0]["patient"]
    assert sorted(p.name for p in reports.iterdir()) == sorted(
        ["cms159-summary.json", f"cms159-{patient}.json"]
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf-8")
    refused = cli("measure", "cms159", "--period", "2026", str(one), "--measure-report", str(other))
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr == (
        f'error: --measure-report: got "{other}"; expected a new or empty folder, or one holding '
        "only what this command writes (it holds notes.txt)\n"
    )
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
