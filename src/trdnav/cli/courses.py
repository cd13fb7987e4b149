"""``trdnav course``: templates, plan, list, record, show, export."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from trdnav.cli.options import option_date
from trdnav.cli.server import (
    ClinicOption,
    ConfigOption,
    DatabaseOption,
    _cli_actor,
    _schema_url,
    _settings,
)
from trdnav.clinic import courses
from trdnav.clinic.actor import Actor
from trdnav.clinic.calendars import ClinicCalendar
from trdnav.clinic.patients import get_patient
from trdnav.core.scheduling import LATEST_START, assign_measurements, plan
from trdnav.errors import InputError, Problem, TrdnavError
from trdnav.files import check_output_files, write_files
from trdnav.service import knowledge_for
from trdnav.store.database import Store

__all__ = ["course_app"]

course_app = typer.Typer(
    help="Treatment courses: templates, plan, list, record, show, export.", no_args_is_help=True
)

STATUSES = ("delivered", "missed", "cancelled")


def _start(value: str) -> date:
    first = option_date("--start", value)
    if first > LATEST_START:
        expected = (
            f"a date on or before {LATEST_START.isoformat()} (a course is planned up to three "
            "years after its start, and the calendar ends on 9999-12-31)"
        )
        raise InputError([Problem("--start", value, expected)])
    return first


def _time(option: str, value: str | None) -> time | None:
    """A session time: hours and minutes (sessions are planned to the minute)."""
    if value is None:
        return None
    found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if found is None:
        raise InputError([Problem(option, value, "a time as HH:MM (24-hour, no seconds)")])
    return time(int(found[1]), int(found[2]))


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _sessions_table(view: dict[str, Any]) -> Table:
    """The sessions; the title names the course id (for ``course record``, ``show`` and
    ``export``) when the course is stored."""
    course = f"course {view['id']}: " if "id" in view else "preview: "
    table = Table(title=f"{course}{view['name']} - plan version {view['plan_version']}")
    for column in ("#", "date", "time", "phase", "status", "measure", "recorded"):
        table.add_column(column)
    for s in view["sessions"]:
        due = ", ".join(f"{d['instrument']} {d['timing']}" for d in s["due"])
        recorded = ", ".join(f"{k}={v}" for k, v in s["parameters"].items())
        if s["side_effects"]:
            recorded += "; " + ", ".join(
                f"{e['name']} ({e['severity']})" for e in s["side_effects"]
            )
        table.add_row(
            str(s["number"]), s["date"], s["time"], s["phase"], s["status"], due, recorded
        )
    return table


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@course_app.command("templates")
def templates(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List the course templates."""
    kb = knowledge_for(_settings(config, None))
    if as_json:
        sys.stdout.write(
            json.dumps([t.model_dump(mode="json") for t in kb.courses.values()], indent=2) + "\n"
        )
        return
    table = Table(title="Course templates")
    for column in ("id", "treatment", "sessions", "summary"):
        table.add_column(column)
    for t in kb.courses.values():
        table.add_row(t.id, t.treatment, str(t.planned_sessions), t.summary)
    Console().print(table)


def _version(store: Store, actor: Actor, patient_id: str) -> int:
    """The command line acts on the current version (it is one user at a terminal)."""
    return int(get_patient(store, actor, patient_id)["version"])


_FIELD_OPTIONS = {"delivered_at": "--at", "status": "--status", "note": "--note"}
_LIST_OPTIONS = {"side_effects": "--side-effect", "measurements": "--measurement"}


def _as_option(problem: Problem) -> Problem:
    """A session's problem named by the option it came from: ``parameters.dose_mg`` is
    ``--param dose_mg``, ``side_effects[0].severity`` ``--side-effect 1 severity`` (the
    first ``--side-effect`` given)."""
    path = problem.path
    if path in _FIELD_OPTIONS:
        path = _FIELD_OPTIONS[path]
    elif path.startswith("parameters."):
        path = "--param " + path.removeprefix("parameters.")
    else:
        name, bracket, rest = path.partition("[")
        index, _, field = rest.partition("]")
        if name in _LIST_OPTIONS and bracket and index.isdigit():
            path = f"{_LIST_OPTIONS[name]} {int(index) + 1}"
            path += f" {field.removeprefix('.')}" if field else ""
    return Problem(path, problem.value, problem.expected, problem.missing)


@course_app.command("plan")
def plan_command(
    patient: Annotated[str | None, typer.Argument(help="Patient id; omit to preview only.")] = None,
    template: Annotated[str, typer.Option(help="Course template id.")] = "tms-10hz",
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "",
    at: Annotated[str | None, typer.Option("--time", help="Session time, HH:MM.")] = None,
    clinic: Annotated[str | None, typer.Option(help="Clinic id or name (to store).")] = None,
    reviewed: Annotated[
        bool,
        typer.Option(
            "--reviewed",
            help="Confirm that you have reviewed the treatment's verdict for this patient: "
            "needed unless it is eligible (the refusal lists its reasons).",
        ),
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Plan a course: stored for a patient, or previewed from the server's calendar settings."""
    settings = _settings(config, database_url)
    kb = knowledge_for(settings)
    first = _start(start or settings.today().isoformat())
    when = _time("--time", at)
    if template not in kb.courses:
        raise InputError([Problem("--template", template, "one of " + ", ".join(kb.courses))])
    if patient is None:
        calendar = ClinicCalendar({}, settings)
        slots = plan(kb.courses[template], first, when or time(9, 0), calendar.work_calendar(first))
        due = assign_measurements(kb.courses[template], [(s.number, s.date) for s in slots])
        view = {
            "name": kb.courses[template].name,
            "plan_version": 1,
            "sessions": [
                {
                    "number": s.number,
                    "date": s.date.isoformat(),
                    "time": s.time.isoformat(timespec="minutes"),
                    "phase": s.phase_name,
                    "status": "planned",
                    "parameters": {},
                    "side_effects": [],
                    "due": [d.model_dump() for d in due.get(s.number, [])],
                }
                for s in slots
            ],
        }
    else:
        if clinic is None:
            raise InputError([Problem("--clinic", None, "the patient's clinic")])
        store = Store(_schema_url(settings))
        actor = _cli_actor(store, clinic)
        first = _start(start or settings.today(actor.timezone).isoformat())  # the clinic's today
        try:
            view = courses.create_course(
                store,
                actor,
                kb,
                settings,
                patient,
                template_id=template,
                start=first,
                session_time=when,
                if_match=_version(store, actor, patient),
                today=settings.today(actor.timezone),
                reviewed=reviewed,
            )
        except InputError as exc:  # the review is given on the command line as --reviewed
            raise InputError(
                [
                    replace(p, path="--reviewed") if p.path == courses.REVIEWED else p
                    for p in exc.problems
                ]
            ) from None
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
    else:
        Console().print(_sessions_table(view))


@course_app.command("list")
def list_command(
    patient: str,
    clinic: ClinicOption,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """List a patient's courses with their ids (which record, show and export take)."""
    settings = _settings(config, database_url)
    store = Store(_schema_url(settings))
    found = courses.list_courses(store, _cli_actor(store, clinic), knowledge_for(settings), patient)
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
        return
    table = Table(title=f"Courses of patient {patient}")
    for column in ("id", "template", "status", "start", "delivered", "planned", "next", "outcome"):
        table.add_column(column)
    for c in found:
        following = c["next_session"]
        table.add_row(
            str(c["id"]),
            c["template"],
            c["status"],
            c["start"],
            str(c["delivered"]),
            str(c["planned"]),
            f"#{following['number']} {following['date']} {following['time']}" if following else "",
            c["outcome"] if isinstance(c["outcome"], str) else str(c["outcome"]),
        )
    Console().print(table if found else f"patient {patient} has no courses")


@course_app.command("record")
def record_command(
    patient: str,
    course: int,
    number: int,
    clinic: ClinicOption,
    status: Annotated[str, typer.Option(help="delivered, missed or cancelled")] = "delivered",
    param: Annotated[list[str] | None, typer.Option(help="name=value, repeatable.")] = None,
    side_effect: Annotated[
        list[str] | None,
        typer.Option(help="name:severity, repeatable (severity mild, moderate or severe)."),
    ] = None,
    measurement: Annotated[
        list[str] | None, typer.Option(help="INSTRUMENT:item,item,..., repeatable.")
    ] = None,
    delivered_at: Annotated[str | None, typer.Option("--at", help="When (ISO date-time).")] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the session.")] = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Record session NUMBER of a course; every problem of the options and of the session
    is listed, and nothing is stored while there is one."""
    settings = _settings(config, database_url)
    kb = knowledge_for(settings)
    store = Store(_schema_url(settings))
    actor = _cli_actor(store, clinic)
    problems: list[Problem] = []
    if status not in STATUSES:
        problems.append(Problem("--status", status, "delivered, missed or cancelled"))
    if delivered_at:
        try:
            datetime.fromisoformat(delivered_at)
        except ValueError:
            problems.append(Problem("--at", delivered_at, "a date-time such as 2026-01-05T09:00"))
    parameters: dict[str, Any] = {}
    for item in param or []:
        if "=" not in item:
            problems.append(Problem("--param", item, "name=value"))
            continue
        key, value = item.split("=", 1)
        parameters[key] = _number(value)
    effects = []
    for item in side_effect or []:
        name, _, severity = item.rpartition(":")
        effects.append({"name": name or severity, "severity": severity if name else ""})
    scores = []
    for item in measurement or []:
        instrument, _, values = item.partition(":")
        try:
            scores.append(
                {
                    "instrument": instrument,
                    "items": [int(v) for v in values.split(",") if v.strip()],
                }
            )
        except ValueError:
            problems.append(Problem("--measurement", item, "INSTRUMENT:1,2,3,..."))
    body: dict[str, Any] = {
        # the session's own checks still run with an unknown status, after it: as a
        # delivered session when something only a delivered one records was given
        "status": status
        if status in STATUSES
        else ("delivered" if parameters or effects or scores else "missed"),
        "parameters": parameters,
        "side_effects": effects,
        "measurements": scores,
    }
    bad_at = any(p.path == "--at" for p in problems)
    if delivered_at and not bad_at:
        body["delivered_at"] = delivered_at
    if note:
        body["note"] = note
    try:
        view = courses.record_session(
            store,
            actor,
            kb,
            settings,
            patient,
            course,
            number,
            body,
            _version(store, actor, patient),
            settings.today(actor.timezone),
            given_problems=problems,
        )
    except InputError as exc:  # the options' problems are listed in it, first
        # with --at refused, the session was checked at its planned time: not what was given
        found = [p for p in exc.problems if not (bad_at and p.path == "delivered_at")]
        raise InputError([_as_option(p) for p in found]) from None
    except TrdnavError:  # no such course or session, or it is recorded already
        for line in InputError(problems).lines() if problems else []:
            sys.stderr.write(f"error: {line}\n")
        raise
    console = Console()
    console.print(
        f"session {number}: {status}; {view['delivered']} delivered, "
        f"{view['planned']} planned; outcome {view['outcome']}"
    )
    for alert in view["alerts"]:
        console.print(f"[bold red]{alert['code']}[/bold red]: {alert['message']}")


@course_app.command("show")
def show_command(
    patient: str,
    course: int,
    clinic: ClinicOption,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Show a course: sessions, measurement points, alerts, outcome."""
    settings = _settings(config, database_url)
    store = Store(_schema_url(settings))
    view = courses.get_course(
        store, _cli_actor(store, clinic), knowledge_for(settings), settings, patient, course
    )
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
        return
    console = Console()
    for alert in view["alerts"]:
        console.print(f"[bold red]{alert['code']}[/bold red]: {alert['message']}")
    console.print(_sessions_table(view))
    console.print(f"status {view['status']}; outcome on {view['instrument']}: {view['outcome']}")


@course_app.command("export")
def export_command(
    patient: str,
    course: int,
    clinic: ClinicOption,
    out: Annotated[Path, typer.Option(help="The .ics file to write.")],
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Export a course to iCalendar."""
    check_output_files({"--out": out})
    settings = _settings(config, database_url)
    store = Store(_schema_url(settings))
    data = courses.course_calendar(
        store, _cli_actor(store, clinic), knowledge_for(settings), patient, course
    )
    write_files([("--out", out, lambda path: path.write_bytes(data))])
    Console().print(f"wrote {out}")
