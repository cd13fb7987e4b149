"""trdnav assess and trdnav import with FHIR input, through the installed entry point."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from trdnav.core.assessment import assess
from trdnav.core.intake import parse_history
from trdnav.fhir.assessment_export import bundle
from trdnav.fhir.export import export_history
from trdnav.knowledge import load_knowledge
from trdnav.knowledge.fhir_codes import load_fhir_codes
from trdnav.store import migrate
from trdnav.store.tables import FhirResource, Patient, PsychotherapyCourse

ROOT = Path(__file__).resolve().parents[2]
TRDNAV = Path(sys.executable).parent / "trdnav"
KB = load_knowledge()
CODES = load_fhir_codes()


def run(*args, db=None):
    extra = ["--database-url", db] if db else []
    return subprocess.run(
        [str(TRDNAV), *map(str, args), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )


def example(name="stage-2-trd"):
    return parse_history(json.loads((ROOT / "examples" / f"{name}.json").read_text("utf-8")), KB)


def test_assess_a_fhir_bundle_as_json_and_as_fhir(tmp_path):
    history = example()
    exported = export_history(history, KB, CODES)
    resources = [r for r in exported.resources if r["resourceType"] != "MedicationStatement"]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle(resources)), encoding="utf-8")
    result = run("assess", path, "--json", "--as-of", history.as_of.isoformat())
    assert result.returncode == 0, result.stderr
    without_trials = history.model_copy(update={"medication_trials": []})
    assert json.loads(result.stdout) == assess(without_trials, KB).to_json()
    assert result.stderr == ""
    as_fhir = run("assess", path, "--fhir", "--as-of", history.as_of.isoformat())
    assert json.loads(as_fhir.stdout)["resourceType"] == "Bundle"
    report = run("assess", path, "--as-of", history.as_of.isoformat())
    assert "Data from FHIR" in report.stdout
    assert "trdnav assessment - example-stage-2" in report.stdout


def test_a_suicide_alert_comes_before_the_notes_on_fhir_data(tmp_path):
    history = example("suicidal-ideation-first-episode")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle(export_history(history, KB, CODES).resources)), "utf-8")
    report = run("assess", path, "--as-of", history.as_of.isoformat()).stdout
    assert "suicidal_ideation" in report
    assert report.index("ALERTS") < report.index("Data from FHIR") < report.index("Thase-Rush")


def test_assess_shows_missing_data_and_refuses_bad_or_huge_fhir(tmp_path):
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1980-01-01"}
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "completed",
        "medicationCodeableConcept": {"text": "sertraline"},
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2024-01-01", "end": "2024-04-01"},
    }
    ndjson = tmp_path / "p1.ndjson"
    ndjson.write_text("\n".join(json.dumps(r) for r in (patient, statement)) + "\n", "utf-8")
    result = run("assess", ndjson, "--json", "--as-of", "2025-01-01")
    assert result.returncode == 0, result.stderr
    notes = result.stderr.splitlines()
    assert notes[0].startswith("note: missing: episode: no diagnosis of major depression")
    assert any("ambiguous: MedicationStatement/ms1" in n and "no dosage" in n for n in notes)
    assert any(n.startswith("note: missing: patient.sex") for n in notes)

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {**patient, "gender": "mal"}}],
            }
        ),
        "utf-8",
    )
    refused = run("assess", bad)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert f'error: {bad}: entry[0].resource.gender: got "mal"' in refused.stderr

    huge = tmp_path / "huge.json"
    with huge.open("w", encoding="utf-8") as out:
        out.write('{"resourceType": "Bundle", "type": "collection", "entry": [')
        padding = json.dumps({"resource": {"resourceType": "Basic", "code": {"text": "x" * 1000}}})
        out.write(",".join([padding] * 50_000))
        out.write("]}")
    assert huge.stat().st_size > 50_000_000
    refused = run("assess", huge)
    assert refused.returncode == 2
    assert "a FHIR document of at most 20 MB" in refused.stderr


def test_import_fhir_bundles_and_bulk_files_with_a_report(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run("db", "upgrade", db=db).returncode == 0
    assert run("clinic", "add", "North", db=db).returncode == 0
    history = example("refractory-recurrent")
    exported = export_history(history, KB, CODES).resources
    bundle_path = tmp_path / "one.json"
    bundle_path.write_text(json.dumps(bundle(exported)), "utf-8")
    folder = tmp_path / "bulk"
    folder.mkdir()
    other = example("suicidal-ideation-first-episode")
    for kind in ("Patient", "Condition", "MedicationStatement", "Observation", "Procedure"):
        lines = [
            json.dumps(r)
            for r in export_history(other, KB, CODES).resources
            if r["resourceType"] == kind
        ]
        suffix = ".NDJSON" if kind == "Observation" else ".ndjson"  # named in any case
        (folder / f"{kind}{suffix}").write_text("\n".join(lines) + "\n", "utf-8")
    bad = tmp_path / "bad.json"
    broken = json.loads(bundle_path.read_text("utf-8"))
    broken["entry"][0]["resource"]["id"] = "bad-one"
    broken["entry"][1]["resource"]["onsetDateTime"] = "2024-13-01"
    bad.write_text(json.dumps(broken), "utf-8")
    report = tmp_path / "report.json"
    files = [bundle_path, *sorted(folder.iterdir()), bad]
    result = run("import", *files, "--clinic", "North", "--report", report, db=db)
    assert result.returncode == 2
    assert f"imported {bundle_path} as patient {history.id}" in result.stdout
    assert f"imported bulk data as patient {other.id}" in result.stdout
    assert f"error: {bad}: entry[1].resource.onsetDateTime" in result.stderr
    assert "Observation.NDJSON" not in result.stderr
    reports = json.loads(report.read_text("utf-8"))
    assert [r["patient"] for r in reports] == [history.id, other.id]
    engine = create_engine(db)
    with engine.connect() as conn:
        ids = sorted(conn.scalars(select(Patient.id)))
        stored = conn.scalar(select(func.count()).select_from(FhirResource))
    engine.dispose()
    assert ids == sorted([history.id, other.id])
    lines = [line for p in folder.iterdir() for line in p.read_text("utf-8").splitlines()]
    assert stored == len(exported) + len([line for line in lines if line.strip()])
    # the same bulk data again: the patient it names is said (it said "a patient of these
    # files exists already")
    again = run("import", *sorted(folder.iterdir()), "--clinic", "North", db=db)
    assert again.returncode == 2
    assert f"patient {other.id!r} exists already in this clinic" in again.stderr


def test_an_unwritable_report_is_refused_before_anything_is_imported(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run("db", "upgrade", db=db).returncode == 0
    assert run("clinic", "add", "North", db=db).returncode == 0
    bundle_path = tmp_path / "one.json"
    exported = export_history(example("refractory-recurrent"), KB, CODES).resources
    bundle_path.write_text(json.dumps(bundle(exported)), "utf-8")
    (tmp_path / "a-file").write_text("x")
    report = tmp_path / "a-file" / "report.json"
    result = run("import", bundle_path, "--clinic", "North", "--report", report, db=db)
    assert result.returncode == 2
    assert result.stderr.startswith('error: --report: got "')
    assert "a-file is a file)" in result.stderr
    assert "imported" not in result.stdout
    engine = create_engine(db)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Patient))
    engine.dispose()
    assert stored == 0


def test_a_psychotherapy_named_at_length_is_kept_shortened(tmp_path, postgres_url):
    """The type of a psychotherapy read from FHIR is its code's text, written by the EHR: one
    longer than a history keeps (64 characters) is shortened, not the patient refused, and
    PostgreSQL stores it (it refused it, an internal error)."""
    migrate.upgrade(postgres_url)
    clinic = f"North {time.time_ns()}"
    assert run("clinic", "add", clinic, db=postgres_url).returncode == 0
    history = example().model_copy(update={"id": f"long-therapy-{time.time_ns()}"})
    resources = export_history(history, KB, CODES).resources
    [therapy] = [r for r in resources if r["resourceType"] == "Procedure"]
    assert therapy["code"]["text"] == "CBT"
    text = "Cognitive behavioural therapy, " + "individual sessions, " * 4 + "weekly"
    therapy["code"]["text"] = text
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle(resources)), "utf-8")
    result = run("import", path, "--clinic", clinic, db=postgres_url)
    assert result.returncode == 0, result.stderr
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        kept = conn.scalars(
            select(PsychotherapyCourse.type)
            .join(Patient, Patient.pk == PsychotherapyCourse.patient_pk)
            .where(Patient.id == history.id)
        ).all()
    engine.dispose()
    assert len(text) > 64
    assert kept == [text[:63].rstrip() + "…"]
