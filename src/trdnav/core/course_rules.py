"""What a course's record says: checks of recorded sessions, alerts, and the outcome.

A delivered session is spaced as its phase allows (``course.session_spacing``): it starts
after the previous one ended; in a phase of one session a day, on a later day; in a phase of
several, at most that many a day and the phase's gap after the previous one ended.

Alerts (each a rule with its sources in the knowledge data), suicide item first:

* ``course.suicide_item``: a course measurement whose suicide item reaches the alert value
  when the previous measurement of that instrument in the course did not (or there was none);
* ``course.esketamine_blood_pressure``: blood pressure before dosing above the template's
  limit (140/90);
* ``course.severe_side_effect``: a side effect recorded as severe;
* ``course.weekly_limit``: more sessions delivered in a calendar week (Monday to Sunday) than
  their phase gives, or in the ``every_weeks`` calendar weeks ending with the session's for a
  phase given every ``every_weeks`` weeks;
* ``course.ect_remission``: the latest ECT course measurement meets remission: stop or taper;
* ``course.ect_plateau``: after the minimum number of treatments, the latest measurement is
  no better than the one before;
* ``course.early_nonresponse``: at the template's review point, improvement from the course
  baseline below the template's minimum (20 %).

Outcome (``course.outcome``): baseline = first course measurement on the course instrument,
latest = last; remission when the latest meets the instrument's threshold, response when it
is at most half the baseline, partial when improved 25 % or more, none below that, unknown
with fewer than two measurements.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from trdnav.core import instruments
from trdnav.core.course_templates import CourseTemplate, ParameterSpec
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.rule_params import CoursePlateauParams
from trdnav.errors import Problem

__all__ = [
    "SEVERITIES",
    "CourseAlert",
    "CourseMeasurement",
    "GivenSession",
    "RecordedSession",
    "check_session",
    "check_spacing",
    "course_alerts",
    "course_outcome",
]

SEVERITIES = ("mild", "moderate", "severe")
Outcome = Literal["remission", "response", "partial", "none", "unknown"]


class RecordedSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    date: date
    status: Literal["delivered", "missed", "cancelled"]
    parameters: dict[str, Any] = {}
    side_effects: list[dict[str, str]] = []
    phase: int = 0
    """The template phase the session belongs to (an index of ``phases``)."""


class CourseMeasurement(BaseModel):
    model_config = ConfigDict(frozen=True)

    session: int
    date: date
    instrument: str
    items: tuple[int, ...]


class GivenSession(BaseModel):
    """A delivered session as its spacing sees it: when it began (an instant), its day on
    the course's calendar, its length and phase."""

    model_config = ConfigDict(frozen=True)

    number: int
    start: datetime
    day: date
    minutes: int
    phase: int


class CourseAlert(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    severity: Literal["critical", "warning", "info"]
    message: str
    rule_id: str
    sources: list[str]
    session: int | None = None


def _blood_pressure(text: Any) -> tuple[int, int] | None:
    if not isinstance(text, str) or text.count("/") != 1:
        return None
    high, low = text.split("/")
    if not (high.strip().isdigit() and low.strip().isdigit()):
        return None
    systolic, diastolic = int(high), int(low)
    if not (50 <= systolic <= 300 and 20 <= diastolic <= 200 and systolic > diastolic):
        return None
    return systolic, diastolic


def _check_parameter(spec: ParameterSpec, value: Any, path: str) -> Problem | None:
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Problem(path, value, f"a number from {spec.min:g} to {spec.max:g}")
        assert spec.min is not None
        assert spec.max is not None
        if not spec.min <= value <= spec.max:
            return Problem(
                path, value, f"a number from {spec.min:g} to {spec.max:g} ({spec.label})"
            )
    elif spec.kind == "choice":
        if value not in (spec.options or []):
            return Problem(path, value, f"one of {', '.join(spec.options or [])}")
    elif _blood_pressure(value) is None:
        return Problem(path, value, "a blood pressure as systolic/diastolic in mmHg, e.g. 128/82")
    return None


def check_session(
    template: CourseTemplate,
    kb: KnowledgeBase,
    parameters: Mapping[str, Any],
    side_effects: Sequence[Mapping[str, Any]],
    *,
    age: int | None = None,
    first_dose: bool = False,
    delivered: bool = True,
) -> tuple[list[Problem], list[dict[str, str]]]:
    """Problems with a session's parameters and side effects, and the side effects named as
    in the knowledge base. ``age`` is the patient's age on the day of the session, and
    ``first_dose`` whether it gives the course's first dose: the label sets the first dose,
    and some doses only from age 65. A ``delivered`` session records every required
    parameter of its template (the dose and the blood pressure before it, for esketamine)."""
    problems: list[Problem] = []
    if delivered:
        problems += [
            Problem(
                f"parameters.{key}",
                None,
                f"a value: {kb.parameters[key].label} is recorded at every {template.id} session",
                missing=True,
            )
            for key in template.required_parameters
            if parameters.get(key) in (None, "")
        ]
    for key, value in parameters.items():
        if key not in template.parameters:
            allowed = ", ".join(template.parameters) or "none"
            problems.append(
                Problem(f"parameters.{key}", value, f"a parameter of {template.id} ({allowed})")
            )
            continue
        problem = _check_parameter(kb.parameters[key], value, f"parameters.{key}")
        if problem:
            problems.append(problem)
    dose = template.dose
    if dose is not None:
        key = "dose_mg" if dose.unit == "mg" else "dose_mg_per_kg"
        value = parameters.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            refused = len(problems)
            if dose.allowed is not None and value not in dose.allowed:
                allowed = ", ".join(f"{a:g}" for a in dose.allowed)
                problems.append(
                    Problem(
                        f"parameters.{key}", value, f"a labelled dose: one of {allowed} {dose.unit}"
                    )
                )
            elif (
                age is not None
                and age < 65
                and dose.allowed_before_age_65 is not None
                and value not in dose.allowed_before_age_65
            ):
                allowed = ", ".join(f"{a:g}" for a in dose.allowed_before_age_65)
                problems.append(
                    Problem(
                        f"parameters.{key}",
                        value,
                        f"a labelled dose at age {age}: one of {allowed} {dose.unit}"
                        " (lower doses from age 65)",
                    )
                )
            # one problem per dose: the first-dose rule only for a dose labelled at this age
            if (
                first_dose
                and age is not None
                and dose.allowed is not None
                and len(problems) == refused
            ):
                first = dose.first_dose
                if age >= 65 and dose.first_dose_from_age_65 is not None:
                    first = dose.first_dose_from_age_65
                if value != first:
                    problems.append(
                        Problem(
                            f"parameters.{key}",
                            value,
                            f"the first dose of {first:g} {dose.unit} at age {age}",
                        )
                    )
            if (
                dose.minimum is not None
                and dose.maximum is not None
                and not dose.minimum <= value <= dose.maximum
            ):
                problems.append(
                    Problem(
                        f"parameters.{key}",
                        value,
                        f"a dose from {dose.minimum:g} to {dose.maximum:g} {dose.unit}",
                    )
                )
    known = {s.name.casefold(): s.name for s in kb.treatments[template.treatment].side_effects}
    named: list[dict[str, str]] = []
    for index, effect in enumerate(side_effects):
        name = str(effect.get("name", ""))
        severity = effect.get("severity")
        if name.casefold() not in known:
            problems.append(
                Problem(
                    f"side_effects[{index}].name",
                    name,
                    f"a side effect of {template.treatment}: " + "; ".join(known.values()),
                )
            )
        if severity not in SEVERITIES:
            problems.append(
                Problem(f"side_effects[{index}].severity", severity, "mild, moderate or severe")
            )
        if name.casefold() in known and severity in SEVERITIES:
            named.append({"name": known[name.casefold()], "severity": str(severity)})
    return problems, named


def check_spacing(
    template: CourseTemplate, session: GivenSession, given: Sequence[GivenSession]
) -> Problem | None:
    """Whether ``session`` can be delivered when it says, after the ``given`` sessions of
    its course (rule ``course.session_spacing``), as a problem with its ``delivered_at``."""
    if not given:
        return None
    phase = template.phases[session.phase]
    last = max(given, key=lambda g: g.start)
    same_day = [g for g in given if g.day == session.day]
    rule = "rule course.session_spacing"
    after = "a time after"
    if session.start < last.start + timedelta(minutes=last.minutes):
        ends = last.start + timedelta(minutes=last.minutes)
        expected = (
            f"{after} session {last.number} ended (it began at {last.start.isoformat()} and "
            f"takes {last.minutes} minutes, to {ends.isoformat()}; {rule})"
        )
    elif len(same_day) >= phase.sessions_per_day:
        per_day = (
            "one session" if phase.sessions_per_day == 1 else (f"{phase.sessions_per_day} sessions")
        )
        numbers = ", ".join(str(g.number) for g in sorted(same_day, key=lambda g: g.number))
        expected = (
            f"a day after {session.day.isoformat()}, when session{'s' * (len(same_day) > 1)} "
            f"{numbers} {'were' if len(same_day) > 1 else 'was'} given: phase "
            f"{phase.name!r} of {template.id} gives {per_day} a day ({rule})"
        )
    elif same_day and session.start < (
        ready := last.start + timedelta(minutes=last.minutes + phase.gap_minutes)
    ):
        expected = (
            f"a time from {ready.isoformat()} on: phase {phase.name!r} of {template.id} leaves "
            f"{phase.gap_minutes} minutes between the end of one session and the next, and "
            f"session {last.number} began at {last.start.isoformat()} ({last.minutes} "
            f"minutes; {rule})"
        )
    else:
        return None
    return Problem("delivered_at", session.start.isoformat(), expected)


def _alert(
    kb: KnowledgeBase,
    rule_id: str,
    code: str,
    severity: Literal["critical", "warning", "info"],
    message: str,
    session: int | None,
) -> CourseAlert:
    rule = kb.rule(rule_id)
    return CourseAlert(
        code=code,
        severity=severity,
        message=message,
        rule_id=rule_id,
        sources=kb.cite(rule.sources),
        session=session,
    )


def _improvement(baseline: int, score: int) -> Fraction:
    return Fraction(baseline - score, baseline) if baseline else Fraction(0)


def _weekly_limit(
    template: CourseTemplate, kb: KnowledgeBase, delivered: Sequence[RecordedSession]
) -> list[CourseAlert]:
    """A warning at each delivered session beyond its phase's number in its calendar week
    (rule ``course.weekly_limit``): an early delivery can put more in a week than planned. A
    phase given every ``every_weeks`` weeks counts the calendar weeks that end with the
    session's and began ``every_weeks`` - 1 weeks before it, so that a session in the week
    between two of an every-other-week phase is counted with the one before it."""
    alerts = []
    earlier: dict[int, list[date]] = {}
    for s in sorted(delivered, key=lambda s: s.number):
        phase = template.phases[s.phase]
        monday = s.date - timedelta(days=s.date.weekday())
        first, sunday = monday - timedelta(weeks=phase.every_weeks - 1), monday + timedelta(6)
        days = earlier.setdefault(s.phase, [])
        days.append(s.date)
        count = sum(1 for day in days if first <= day <= sunday)
        if count <= phase.per_week:
            continue
        if phase.every_weeks == 1:
            where, limit = f"the week of {monday.isoformat()}", "a week"
        else:
            where = (
                f"the {phase.every_weeks} weeks from {first.isoformat()} to {sunday.isoformat()}"
            )
            limit = f"every {phase.every_weeks} weeks"
        alerts.append(
            _alert(
                kb,
                "course.weekly_limit",
                "weekly_limit",
                "warning",
                f"Session {s.number} is the {_ordinal(count)} delivered in {where}; phase "
                f"{phase.name!r} of {template.id} gives at most {phase.per_week} {limit}: "
                "review the schedule.",
                s.number,
            )
        )
    return alerts


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def course_outcome(
    template: CourseTemplate, kb: KnowledgeBase, measurements: Sequence[CourseMeasurement]
) -> Outcome:
    inst = kb.instruments[template.instrument]
    scores = [instruments.total(inst, m.items) for m in measurements if m.instrument == inst.id]
    if len(scores) < 2:
        return "unknown"
    baseline, latest = scores[0], scores[-1]
    if instruments.is_remission(inst, latest):
        return "remission"
    gain = _improvement(baseline, latest)
    if gain >= Fraction(1, 2):
        return "response"
    return "partial" if gain >= Fraction(1, 4) else "none"


def course_alerts(
    template: CourseTemplate,
    kb: KnowledgeBase,
    sessions: Sequence[RecordedSession],
    measurements: Sequence[CourseMeasurement],
) -> list[CourseAlert]:
    alerts: list[CourseAlert] = []
    previous_flag: dict[str, bool] = {}
    for m in measurements:
        inst = kb.instruments[m.instrument]
        value = instruments.suicide_item_value(inst, m.items)
        flagged = value >= inst.suicide_item.alert_at
        if flagged and not previous_flag.get(inst.id, False):
            alerts.append(
                _alert(
                    kb,
                    "course.suicide_item",
                    "suicidal_ideation",
                    "critical",
                    f"New suicide-item response: {inst.id} item {inst.suicide_item.item} = {value} "
                    f"at session {m.session} ({m.date.isoformat()}). Assess suicide risk now.",
                    m.session,
                )
            )
        previous_flag[inst.id] = flagged

    delivered = [s for s in sessions if s.status == "delivered"]
    if template.monitoring is not None:
        limit = template.monitoring
        for s in delivered:
            for key, when, advice in (
                ("bp_before", "before", "weigh the risk before dosing"),
                ("bp_after", "after", "keep monitoring it before the patient leaves"),
            ):
                bp = _blood_pressure(s.parameters.get(key))
                if bp and (bp[0] > limit.bp_limit_systolic or bp[1] > limit.bp_limit_diastolic):
                    alerts.append(
                        _alert(
                            kb,
                            "course.esketamine_blood_pressure",
                            "blood_pressure_high"
                            if when == "before"
                            else "blood_pressure_high_after",
                            "warning",
                            f"Blood pressure {bp[0]}/{bp[1]} {when} dosing at session "
                            f"{s.number} is above {limit.bp_limit_systolic}/"
                            f"{limit.bp_limit_diastolic}: {advice}.",
                            s.number,
                        )
                    )
    for s in delivered:
        for key, value in s.parameters.items():
            spec = kb.parameters.get(key)
            if value == "severe" and spec is not None and spec.kind == "choice":
                alerts.append(
                    _alert(
                        kb,
                        "course.severe_side_effect",
                        "severe_side_effect",
                        "warning",
                        f"Severe {spec.label.lower()} at session {s.number}: review the course.",
                        s.number,
                    )
                )
        for effect in s.side_effects:
            if effect.get("severity") == "severe":
                alerts.append(
                    _alert(
                        kb,
                        "course.severe_side_effect",
                        "severe_side_effect",
                        "warning",
                        f"Severe {effect['name'].lower()} at session {s.number}: "
                        "review the course.",
                        s.number,
                    )
                )

    alerts += _weekly_limit(template, kb, delivered)
    inst = kb.instruments[template.instrument]
    scored = [
        (m, instruments.total(inst, m.items)) for m in measurements if m.instrument == inst.id
    ]
    if template.treatment == "ect" and scored:
        last, score = scored[-1]
        params = kb.params("course.ect_plateau", CoursePlateauParams)
        if instruments.is_remission(inst, score):
            alerts.append(
                _alert(
                    kb,
                    "course.ect_remission",
                    "ect_remission",
                    "info",
                    f"Remission on {inst.id} ({score}) at session {last.session}: consider "
                    "stopping or tapering the course.",
                    last.session,
                )
            )
        elif (
            len(delivered) >= params.min_treatments and len(scored) >= 2 and score >= scored[-2][1]
        ):
            alerts.append(
                _alert(
                    kb,
                    "course.ect_plateau",
                    "ect_plateau",
                    "warning",
                    f"No improvement on {inst.id} ({scored[-2][1]} then {score}) after "
                    f"{len(delivered)} treatments: a plateau; review continuing the course.",
                    last.session,
                )
            )
    if template.review and scored:
        review = template.review
        baseline = scored[0][1]
        # the review point counts treatments given, not session numbers (a missed session
        # keeps its number and the course runs on past it)
        given = sorted(s.number for s in delivered)
        at_review = next(
            ((m, s) for m, s in scored[1:] if bisect_right(given, m.session) >= review.at_session),
            None,
        )
        if at_review is not None:
            m, score = at_review
            gain = _improvement(baseline, score)
            if gain < Fraction(str(review.min_improvement)):
                treatments = bisect_right(given, m.session)
                alerts.append(
                    _alert(
                        kb,
                        "course.early_nonresponse",
                        "early_nonresponse",
                        "warning",
                        f"{float(gain):.0%} improvement on {inst.id} ({baseline} to {score}) "
                        f"at the review point (session {m.session}, after {treatments} "
                        f"treatments); less than {review.min_improvement:.0%}: reconsider "
                        "the course.",
                        m.session,
                    )
                )
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(alerts, key=lambda a: order[a.severity])
