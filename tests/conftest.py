"""Shared fixtures, and the collector of clinical vignettes (``tests/cases/*.yaml``).

A vignette is one patient history and what the assessment must say about it::

    title: Two failed SSRIs at full dose make TRD stage I
    covers: [trd.definition, staging.thase_rush]   # rule ids this vignette exercises
    history: {...}                                 # the patient-history format, as YAML
    expect:                                        # a subset of `trdnav assess --json`
      trd: true
      staging: {thase_rush: 1}
      options: {tms: eligible, esketamine: {verdict: eligible, with_oral_antidepressant: optional}}
      alerts: [suicidal_ideation]                  # the alert codes, in order
    # or, for invalid input:
    errors: ["medication_trials[0].drug"]          # paths that must be reported

Every mapping in ``expect`` is compared key by key; lists are compared element by element
and must have the same length. Each file is collected as its own test.
"""

from __future__ import annotations

import copy
import os
import time as time_module
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from trdnav.core.assessment import Assessment, assess
from trdnav.core.course_rules import (
    CourseMeasurement,
    GivenSession,
    RecordedSession,
    check_session,
    check_spacing,
    course_alerts,
    course_outcome,
)
from trdnav.core.intake import parse_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.scheduling import Taken, WorkCalendar, plan, replan
from trdnav.errors import InputError
from trdnav.knowledge import load_knowledge
from trdnav.store.database import Store
from trdnav.store.tables import AuditEvent, LoginFailure, Patient, PsychotherapyCourse, User

CASES_DIR = Path(__file__).parent / "cases"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture
def stored_rows() -> Callable[[Store, int], dict[str, Any]]:
    """What a clinic has stored, to compare before and after a refused request: its patients
    with their versions, the history items and failed sign-ins of every clinic, its users, its
    audit events, and audit events of any clinic whose client address is longer than kept."""

    def rows(store: Store, clinic_id: int) -> dict[str, Any]:
        with store.reading() as session:
            return {
                "patients": session.execute(
                    select(Patient.id, Patient.version).where(Patient.clinic_id == clinic_id)
                ).all(),
                "history": session.scalars(
                    select(func.count()).select_from(PsychotherapyCourse)
                ).one(),
                "users": session.scalars(
                    select(User.email).where(User.clinic_id == clinic_id)
                ).all(),
                "audit": session.scalars(
                    select(func.count()).where(AuditEvent.clinic_id == clinic_id)
                ).one(),
                "audit of far addresses": session.scalars(
                    select(func.count()).where(func.length(AuditEvent.remote_addr) > 64)
                ).one(),
                "login failures": session.scalars(select(func.count(LoginFailure.id))).one(),
            }

    return rows


BASE_HISTORY: dict[str, Any] = {
    "id": "p1",
    "as_of": "2025-06-01",
    "patient": {"birth_date": "1980-01-15", "sex": "female"},
    "episode": {
        "onset": "2024-01-01",
        "severity": "moderate",
        "psychotic_features": False,
        "recurrent": False,
    },
    "conditions": [],
    "medication_trials": [],
    "psychotherapy": [],
    "procedures": [],
    "measurements": [],
}


def make_trial(
    drug: str,
    dose: float,
    start: str,
    end: str | None,
    response: str = "none",
    role: str = "antidepressant",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "drug": drug,
        "daily_dose_mg": dose,
        "start": start,
        "end": end,
        "role": role,
        "response": response,
        **extra,
    }


@pytest.fixture
def trial() -> Callable[..., dict[str, Any]]:
    """Build a medication trial: ``trial("sertraline", 100, "2024-01-01", "2024-03-01")``."""
    return make_trial


@pytest.fixture
def history() -> Callable[..., dict[str, Any]]:
    """Build a patient-history document: ``history(episode={...}, medication_trials=[...])``;
    nested mappings are merged into the base document."""

    def build(**changes: Any) -> dict[str, Any]:
        doc = copy.deepcopy(BASE_HISTORY)
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(doc.get(key), dict):
                doc[key] = {**doc[key], **value}
            else:
                doc[key] = value
        return doc

    return build


@pytest.fixture
def run(kb: KnowledgeBase) -> Callable[..., Assessment]:
    def go(doc: dict[str, Any], **kwargs: Any) -> Assessment:
        return assess(parse_history(doc, kb), kb, **kwargs)

    return go


# --- PostgreSQL ---------------------------------------------------------------------


def _postgres_admin() -> str:
    admin = os.environ.get("TRDNAV_TEST_POSTGRES_URL")
    if not admin:
        if os.environ.get("CI"):
            pytest.fail("CI needs TRDNAV_TEST_POSTGRES_URL (see .ci/services.sh)")
        pytest.skip("set TRDNAV_TEST_POSTGRES_URL to run the PostgreSQL tests")
    return admin


@contextmanager
def fresh_postgres_database(admin: str) -> Iterator[str]:
    """Create a database, yield its URL, drop it. The drop waits for our own connections to
    close; PostgreSQL stops any autovacuum worker itself (which FORCE could not, as the test
    role may not signal superuser processes)."""
    import psycopg

    name = f"trdnav_test_{uuid.uuid4().hex[:12]}"
    conninfo = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        for attempt in range(20):
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 19:
                    raise
                time_module.sleep(0.5)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards); its URL.

    ``TRDNAV_TEST_POSTGRES_URL`` names a maintenance database and a role that may create
    databases (``.ci/services.sh`` sets it). Without it the PostgreSQL tests are skipped,
    except under CI (``CI`` set), where that is a failure.
    """
    with fresh_postgres_database(_postgres_admin()) as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """Like ``postgres_url``, but a new database for each test."""
    with fresh_postgres_database(_postgres_admin()) as url:
        yield url


# --- vignettes ---------------------------------------------------------------------


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and file_path.parent == CASES_DIR:
        return VignetteFile.from_parent(parent, path=file_path)
    return None


class VignetteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        yield VignetteItem.from_parent(self, name=self.path.stem, spec=data)


class VignetteMismatch(Exception):
    pass


class VignetteItem(pytest.Item):
    def __init__(self, *, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        kb = load_knowledge()
        spec = self.spec
        if not spec.get("covers"):
            raise VignetteMismatch("a vignette must list the rule ids it covers")
        unknown = [r for r in spec["covers"] if r not in kb.rules]
        if unknown:
            raise VignetteMismatch(f"unknown rule ids in covers: {unknown}")
        if "course" in spec:
            _run_course(spec, kb)
            return
        if "errors" in spec:
            with pytest.raises(InputError) as info:
                parse_history(spec["history"], kb)
            found = [p.path for p in info.value.problems]
            missing = [p for p in spec["errors"] if p not in found]
            if missing:
                raise VignetteMismatch(f"expected problems at {missing}; got {found}")
            return
        result = assess(parse_history(spec["history"], kb), kb).to_json()
        expect = dict(spec["expect"])
        if "options" in expect:
            by_id = {o["treatment"]: o for o in result["options"]}
            for treatment, wanted in expect.pop("options").items():
                if treatment not in by_id:
                    raise VignetteMismatch(f"no option {treatment!r}")
                want = wanted if isinstance(wanted, dict) else {"verdict": wanted}
                _match(by_id[treatment], want, f"options.{treatment}")
        if "alerts" in expect:
            codes = [a["code"] for a in result["alerts"]]
            if codes != expect.pop("alerts"):
                raise VignetteMismatch(f"alerts: got {codes}")
        _match(result, expect, "")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, VignetteMismatch):
            return f"vignette {self.name}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"vignette: {self.spec.get('title', self.name)}"


def _run_course(spec: dict[str, Any], kb: KnowledgeBase) -> None:
    """A course vignette: plan, apply the records in order (re-planning after a missed or
    cancelled session), then compare dates, count, problems, alerts and outcome."""
    c = spec["course"]
    template = kb.courses[c["template"]]
    start = c["start"]
    at = time.fromisoformat(str(c.get("time", "09:00")))
    calendar = WorkCalendar(closed=frozenset(c.get("closed", [])))
    sessions = {
        s.number: {"date": s.date, "phase": s.phase, "status": "planned", "slot": s}
        for s in plan(template, start, at, calendar)
    }
    recorded: list[RecordedSession] = []
    measured: list[CourseMeasurement] = []
    problems: list[str] = []
    given: list[GivenSession] = []
    for record in c.get("records", []):
        number, status = record["number"], record.get("status", "delivered")
        row = sessions[number]
        if status == "delivered":
            slot = row["slot"]
            when = record.get("at") or datetime.combine(slot.date, slot.time)
            this = GivenSession(
                number=number,
                start=when.replace(tzinfo=UTC),
                day=when.date(),
                minutes=slot.minutes,
                phase=slot.phase,
            )
            spacing = check_spacing(template, this, given)
            if spacing is not None:  # refused: the session is still owed
                problems.append(spacing.path)
                continue
            given.append(this)
            row["date"] = this.day
            found, named = check_session(
                template,
                kb,
                record.get("parameters", {}),
                record.get("side_effects", []),
                age=c.get("age"),
                first_dose=not any(r.status == "delivered" for r in recorded),
            )
            problems += [p.path for p in found]
            row["status"] = "delivered"
            recorded.append(
                RecordedSession(
                    number=number,
                    date=row["date"],
                    status=status,
                    parameters=record.get("parameters", {}),
                    side_effects=named,
                    phase=row["phase"],
                )
            )
            measured += [
                CourseMeasurement(
                    session=number,
                    date=row["date"],
                    instrument=m["instrument"],
                    items=tuple(m["items"]),
                )
                for m in record.get("measurements", [])
            ]
            continue
        row["status"] = status
        recorded.append(RecordedSession(number=number, date=row["date"], status=status))
        taken = [
            Taken(n, r["date"], r["phase"], r["status"] == "delivered")
            for n, r in sessions.items()
            if r["status"] != "planned"
        ]
        for n in [n for n, r in sessions.items() if r["status"] == "planned"]:
            del sessions[n]
        for slot in replan(template, start, at, calendar, taken, row["date"] + timedelta(days=1)):
            sessions[slot.number] = {
                "date": slot.date,
                "phase": slot.phase,
                "status": "planned",
                "slot": slot,
            }
    expect = spec["expect"]
    actual = {
        "count": len(sessions),
        "sessions": {n: r["date"] for n, r in sessions.items()},
        "problems": problems,
        "alerts": [a.code for a in course_alerts(template, kb, recorded, measured)],
        "outcome": course_outcome(template, kb, measured),
    }
    for key, wanted in expect.items():
        got = actual[key]
        if key == "sessions":
            wrong = {n: (d, got.get(n)) for n, d in wanted.items() if got.get(n) != d}
            if wrong:
                raise VignetteMismatch(f"session dates (wanted, got): {wrong}")
        elif got != wanted:
            raise VignetteMismatch(f"{key}: expected {wanted!r}, got {got!r}")


def _match(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise VignetteMismatch(f"{where}: expected an object, got {actual!r}")
        for key, value in expected.items():
            if key not in actual:
                raise VignetteMismatch(f"{where}.{key}: missing from the result")
            _match(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list) and not all(isinstance(x, str) for x in expected):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise VignetteMismatch(f"{where}: expected {len(expected)} items, got {actual!r}")
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _match(a, e, f"{where}[{index}]")
    elif actual != expected:
        raise VignetteMismatch(f"{where}: expected {expected!r}, got {actual!r}")
