"""`trdnav course` through the installed script."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from trdnav.clinic import courses
from trdnav.clinic.actor import Actor
from trdnav.knowledge import load_knowledge
from trdnav.settings import Settings
from trdnav.store.database import Store

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


def clinic_with_patient(tmp_path):
    """A new SQLite database with one clinic holding example-stage-2; its URL."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert run("db", "upgrade", db=db).returncode == 0
    assert run("clinic", "add", "Course Clinic", db=db).returncode == 0
    stage_2 = str(ROOT / "examples" / "stage-2-trd.json")
    assert run("import", stage_2, "--clinic", "1", db=db).returncode == 0
    return db


def test_plan_record_show_export(tmp_path):
    db = clinic_with_patient(tmp_path)
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
        "--param",
        "bp_before=128/80",
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
    assert "--param dose_mg_per_kg: got 2" in bad.stderr
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


def test_preview_refuses_what_cannot_be_planned():
    cases = [
        (
            ["--start", "9999-12-20"],
            {},
            'error: --start: got "9999-12-20"; expected a date on or before 9996-12-27 (a course '
            "is planned up to three years after its start, and the calendar ends on 9999-12-31)",
        ),
        (
            ["--start", "2026-12-21", "--time", "08:00:30"],
            {},
            'error: --time: got "08:00:30"; expected a time as HH:MM (24-hour, no seconds)',
        ),
        (
            ["--start", "2026-12-21"],
            {"TRDNAV_HOLIDAY_COUNTRY": "XX"},
            'error: settings.holiday_country: got "XX"; expected an ISO country code supported by '
            "the holidays library, e.g. US, GB, DE",
        ),
        (
            ["--start", "2026-12-21"],
            {"TRDNAV_HOLIDAY_SUBDIVISION": "ZZ"},
            'error: settings.holiday_subdivision: got "ZZ"; expected a subdivision of US: AK,',
        ),
    ]
    for args, env, message in cases:
        result = subprocess.run(
            [str(TRDNAV), "course", "plan", "--template", "ect-mwf", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=ROOT,
            env={**os.environ, "COLUMNS": "200", **env},
        )
        assert result.returncode == 2, args
        assert result.stderr.startswith(message), result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert result.stdout == ""
    last = run("course", "plan", "--template", "ect-mwf", "--start", "9996-12-27", "--json")
    assert last.returncode == 0, last.stderr
    assert json.loads(last.stdout)["sessions"][-1]["date"].startswith("9997-")


def test_course_ids_are_shown_and_every_problem_of_a_recording_is_listed(tmp_path):
    db = clinic_with_patient(tmp_path)
    plan = ("course", "plan", "example-stage-2", "--template", "ketamine-iv", "--clinic", "1")
    planned = run(*plan, "--start", "2025-06-02", db=db)
    assert planned.returncode == 0, planned.stderr
    assert "course 1: IV ketamine" in planned.stdout
    again = run(*plan, "--start", "2025-07-07", db=db)
    assert again.returncode == 2
    assert again.stderr.startswith("error: course 1 of ketamine is active for this patient")
    other = ("course", "plan", "example-stage-2", "--template", "esketamine-trd", "--clinic", "1")
    assert run(*other, "--start", "2025-07-07", "--reviewed", db=db).returncode == 0
    listing = run("course", "list", "example-stage-2", "--clinic", "1", db=db)
    assert listing.returncode == 0, listing.stderr
    rows = [line.split("│") for line in listing.stdout.splitlines() if "ketamine-" in line]
    assert [(r[1].strip(), r[2].strip(), r[3].strip(), r[4].strip()) for r in rows] == [
        ("1", "ketamine-iv", "active", "2025-06-02"),
        ("2", "esketamine-trd", "active", "2025-07-07"),
    ]
    listed = json.loads(
        run("course", "list", "example-stage-2", "--clinic", "1", "--json", db=db).stdout
    )
    assert [c["id"] for c in listed] == [1, 2]
    shown = run("course", "show", "example-stage-2", "2", "--clinic", "1", db=db)
    assert "course 2: Esketamine nasal spray" in shown.stdout
    preview = run("course", "plan", "--template", "ketamine-iv", "--start", "2025-06-02")
    assert "preview: IV ketamine" in preview.stdout
    record = ("course", "record", "example-stage-2", "1", "1", "--clinic", "1")
    bad = run(
        *record,
        "--param",
        "dose_mg_per_kg",
        "--param",
        "bogus=3",
        "--measurement",
        "QIDS-SR16:1,x",
        "--side-effect",
        "Dissociation:huge",
        "--at",
        "soon",
        db=db,
    )
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        'error: --at: got "soon"; expected a date-time such as 2026-01-05T09:00',
        'error: --param: got "dose_mg_per_kg"; expected name=value',
        'error: --measurement: got "QIDS-SR16:1,x"; expected INSTRUMENT:1,2,3,...',
        "error: --param dose_mg_per_kg: missing; expected a value: Dose (mg/kg) is recorded "
        "at every ketamine-iv session",
        "error: --param bp_before: missing; expected a value: Blood pressure before dosing "
        "(mmHg) is recorded at every ketamine-iv session",
        "error: --param bogus: got 3; expected a parameter of ketamine-iv (dose_mg_per_kg, "
        "infusion_minutes, bp_before, bp_after, dissociation)",
        'error: --side-effect 1 severity: got "huge"; expected mild, moderate or severe',
    ]
    missed = run(*record, "--status", "lost", db=db)
    assert missed.stderr.splitlines() == [
        'error: --status: got "lost"; expected delivered, missed or cancelled'
    ]
    only_options = run(*record, "--status", "missed", "--at", "soon", db=db)
    assert only_options.stderr.splitlines() == [
        'error: --at: got "soon"; expected a date-time such as 2026-01-05T09:00'
    ]
    # the session's own problems are named by the options they came from
    future = run(
        *record,
        "--param",
        "dose_mg_per_kg=0.5",
        "--param",
        "bp_before=120/80",
        "--measurement",
        "QIDS-SR16:9," + ",".join(["1"] * 15),
        "--at",
        "2099-01-05T09:00",
        db=db,
    )
    assert future.returncode == 2
    assert [line.split(": ")[1] for line in future.stderr.splitlines()] == [
        "--at",
        "--measurement 1 items[0]",
    ]
    after = json.loads(
        run("course", "show", "example-stage-2", "1", "--clinic", "1", "--json", db=db).stdout
    )
    assert after["delivered"] == 0
    assert {s["status"] for s in after["sessions"]} == {"planned"}


def test_planning_a_course_under_caution_needs_reviewed(tmp_path):
    db = clinic_with_patient(tmp_path)
    plan = ("course", "plan", "example-stage-2", "--template", "tms-10hz", "--clinic", "1")
    refused = run(*plan, "--start", "2025-06-02", db=db)
    assert refused.returncode == 2
    assert "--reviewed: missing" in refused.stderr
    assert "Caution: Seizure disorder" in refused.stderr
    assert (
        run("course", "list", "example-stage-2", "--clinic", "1", "--json", db=db).stdout == "[]\n"
    )
    planned = run(*plan, "--start", "2025-06-02", "--reviewed", db=db)
    assert planned.returncode == 0, planned.stderr


def test_a_course_starts_by_default_on_the_clinics_today(tmp_path):
    """The command runs in UTC (TRDNAV_TIMEZONE). At any hour Kiritimati (UTC+14) or Pago
    Pago (UTC-11) is not on UTC's date; a weekly course open every day starts today there."""
    db = clinic_with_patient(tmp_path)
    zone = "Pacific/Kiritimati"
    if datetime.now(ZoneInfo(zone)).date() == datetime.now(UTC).date():
        zone = "Pacific/Pago_Pago"
    every_day = {
        "timezone": zone,
        "holiday_country": None,
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    }
    courses.update_clinic_settings(
        Store(db), Actor.command_line(1), Settings(), load_knowledge(), every_day
    )
    plan = ("course", "plan", "example-stage-2", "--template", "cbt-weekly", "--clinic", "1")
    planned = run(*plan, "--reviewed", "--json", db=db)
    assert planned.returncode == 0, planned.stderr
    first = json.loads(planned.stdout)["sessions"][0]["date"]
    assert first == datetime.now(ZoneInfo(zone)).date().isoformat()


def test_a_refused_time_is_named_once(tmp_path):
    """With --at refused, the session was checked at its planned time, and a planned time
    after today was reported as --at too: a value the user never gave."""
    db = clinic_with_patient(tmp_path)
    start = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    plan = ("course", "plan", "example-stage-2", "--template", "ketamine-iv", "--clinic", "1")
    assert run(*plan, "--start", start, db=db).returncode == 0
    record = ("course", "record", "example-stage-2", "1", "1", "--clinic", "1")
    given = ("--param", "dose_mg_per_kg=0.5", "--param", "bp_before=120/80")
    refused = run(*record, *given, "--at", "yesterday", db=db)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        'error: --at: got "yesterday"; expected a date-time such as 2026-01-05T09:00'
    ]
