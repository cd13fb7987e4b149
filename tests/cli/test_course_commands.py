"""`trdnav course` through the installed script."""

import json
import os
import subprocess
import sys
from pathlib import Path

import icalendar

ROOT = Path(__file__).resolve().parents[2]
TRDNAV = Path(sys.executable).parent / "trdnav"


def run(*args, db=None):
    extra = ["--database-url", db] if db else []
    return subprocess.run(
        [str(TRDNAV), *args, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "TRDNAV_TIMEZONE": "UTC"},
    )


def test_templates_and_preview():
    listing = run("course", "templates")
    assert "ect-mwf" in listing.stdout
    templates = json.loads(run("course", "templates", "--json").stdout)
    assert {t["id"] for t in templates} >= {"tms-10hz", "esketamine-trd", "cbt-weekly"}
    preview = json.loads(
        run("course", "plan", "--template", "ect-mwf", "--start", "2026-12-21", "--json").stdout
    )
    assert [s["date"] for s in preview["sessions"][:3]] == [
        "2026-12-21",
        "2026-12-23",
        "2026-12-28",
    ]
    bad = run("course", "plan", "--template", "ect-daily", "--start", "2026-12-21")
    assert bad.returncode == 2
    assert "--template" in bad.stderr


def test_plan_record_show_export(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert run("db", "upgrade", db=db).returncode == 0
    run("clinic", "add", "Course Clinic", db=db)
    run("import", str(ROOT / "examples" / "stage-2-trd.json"), "--clinic", "1", db=db)
    planned = run(
        "course",
        "plan",
        "example-stage-2",
        "--template",
        "ketamine-iv",
        "--start",
        "2025-06-02",
        "--time",
        "10:30",
        "--clinic",
        "1",
        "--json",
        db=db,
    )
    assert planned.returncode == 0, planned.stderr
    course = json.loads(planned.stdout)
    assert course["sessions"][0]["time"] == "10:30"
    ok = run(
        "course",
        "record",
        "example-stage-2",
        str(course["id"]),
        "1",
        "--clinic",
        "1",
        "--param",
        "dose_mg_per_kg=0.5",
        "--param",
        "infusion_minutes=40",
        "--side-effect",
        "Dissociation:severe",
        "--measurement",
        "QIDS-SR16:2,2,1,0,2,2,0,1,0,2,2,1,3,2,1,1",
        db=db,
    )
    assert ok.returncode == 0, ok.stderr
    assert "severe_side_effect" in ok.stdout
    assert "suicidal_ideation" in ok.stdout
    bad = run(
        "course",
        "record",
        "example-stage-2",
        str(course["id"]),
        "2",
        "--clinic",
        "1",
        "--param",
        "dose_mg_per_kg=2",
        db=db,
    )
    assert bad.returncode == 2
    assert "parameters.dose_mg_per_kg: got 2" in bad.stderr
    shown = json.loads(
        run(
            "course", "show", "example-stage-2", str(course["id"]), "--clinic", "1", "--json", db=db
        ).stdout
    )
    assert shown["delivered"] == 1

    def export(out: Path):
        args = ["course", "export", "example-stage-2", str(course["id"]), "--clinic", "1"]
        return run(*args, "--out", str(out), db=db)

    out = tmp_path / "course.ics"
    assert export(out).returncode == 0
    events = icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT")
    assert len(events) == 6
    into_folder = export(tmp_path)
    assert into_folder.returncode == 2
    assert into_folder.stderr.startswith('error: --out: got "')
    assert "expected a file path, not a folder" in into_folder.stderr
