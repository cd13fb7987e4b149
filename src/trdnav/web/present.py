"""From an assessment and a stored patient to what the pages show.

The patient page, the clinician summary and the patient handout read the same things: the
staging with its components, the score charts, the timeline, and every option with its
verdict, reasons, sources and what to expect from the knowledge base. They are built here
once, as plain data for the templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trdnav.core import instruments
from trdnav.core.assessment import Assessment
from trdnav.core.knowledge import KnowledgeBase, Treatment
from trdnav.core.options import OptionVerdict
from trdnav.core.rule_params import ResponseParams
from trdnav.web.charts import STATE_TEXT, ChartState, chart_state, score_chart
from trdnav.web.timeline import Bar, Marker, timeline

__all__ = [
    "OPEN_VERDICTS",
    "ChartView",
    "OptionView",
    "SourceLink",
    "charts",
    "episode_timeline",
    "measurement_rows",
    "options",
    "source_link",
]

OPEN_VERDICTS = ("eligible", "caution")
GOOD_RESPONSES = ("response", "remission")
FAILING_RESPONSES = ("none", "partial")


@dataclass(frozen=True)
class SourceLink:
    text: str
    url: str | None


def source_link(reference: str) -> SourceLink:
    """A formatted reference ("citation locator") split into its text and its link."""
    head, _, last = reference.rpartition(" ")
    if head and last.startswith(("https://", "http://")):
        return SourceLink(head, last)
    return SourceLink(reference, None)


@dataclass(frozen=True)
class ChartView:
    instrument: str
    name: str
    svg: str
    state: ChartState
    state_text: str
    measurements: int
    latest: int | None
    latest_band: str | None
    response: bool | None
    remission: bool | None


def charts(a: Assessment, kb: KnowledgeBase, *, prefix: str = "chart") -> list[ChartView]:
    """A chart per instrument measured in the episode (PHQ-9's empty chart when none is)."""
    fraction = kb.params("outcome.response", ResponseParams).max_fraction_of_baseline
    keys = list(a.series) or ["PHQ-9"]
    out = []
    for key in keys:
        inst = kb.instruments[key]
        points = a.series.get(key, [])
        state = chart_state(inst, points)
        outcome = a.outcome.get(key)
        out.append(
            ChartView(
                instrument=inst.id,
                name=inst.name,
                svg=score_chart(
                    inst,
                    points,
                    response_fraction=fraction,
                    chart_id=f"{prefix}-{inst.id.lower()}",
                ),
                state=state,
                state_text=STATE_TEXT[state],
                measurements=len(points),
                latest=points[-1].total if points else None,
                latest_band=points[-1].severity.replace("_", " ") if points else None,
                response=outcome.response if outcome else None,
                remission=outcome.remission if outcome else None,
            )
        )
    return out


@dataclass(frozen=True)
class OptionView:
    """An option's verdict with what the knowledge base says to expect."""

    verdict: OptionVerdict
    treatment: Treatment
    sources: list[SourceLink]
    templates: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.verdict.verdict in OPEN_VERDICTS


def options(a: Assessment, kb: KnowledgeBase) -> list[OptionView]:
    return [
        OptionView(
            verdict=o,
            treatment=kb.treatments[o.treatment],
            sources=[source_link(s) for s in o.sources],
            templates=[(t.id, t.name) for t in kb.courses.values() if t.treatment == o.treatment],
        )
        for o in a.options
    ]


def _iso(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _trial_kind(item: dict[str, Any], adequate: bool, failed: bool) -> str:
    if item.get("role") == "augmentation":
        return "augmentation"
    if item.get("response") == "intolerance":
        return "intolerance"
    if failed:
        return "failed"
    if adequate:
        return "adequate" if item.get("response") in GOOD_RESPONSES else "pending"
    return "not_adequate"


def _procedure_kind(response: str) -> str:
    if response in FAILING_RESPONSES:
        return "procedure_failed"
    if response in GOOD_RESPONSES:
        return "procedure_response"
    return "procedure_unknown"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def episode_bars(view: dict[str, Any], a: Assessment, courses: list[dict[str, Any]]) -> list[Bar]:
    """Timeline bars: trials (judged), procedures and psychotherapy (the records of courses
    are drawn as their courses), and courses."""
    onset = a.as_of if not view.get("episode") else date.fromisoformat(view["episode"]["onset"])
    bars: list[Bar] = []
    trials = view.get("medication_trials", [])
    findings = a.trials if len(a.trials) == len(trials) else [None] * len(trials)
    for item, finding in zip(trials, findings, strict=True):
        start = date.fromisoformat(item["start"])
        adequate = bool(finding and finding.adequate)
        failed = bool(finding and finding.failed)
        bars.append(
            Bar(
                lane="Medication",
                label=f"{item['drug']} {_num(item['daily_dose_mg'])} mg",
                start=start,
                end=_iso(item.get("end")),
                kind=_trial_kind(item, adequate, failed),
                detail=finding.why if finding else "",
                outside=start < onset,
            )
        )
    for item in view.get("procedures", []):
        if "course" in item:
            continue
        start = date.fromisoformat(item["start"])
        bars.append(
            Bar(
                lane="Procedures",
                label=f"{item['type']} ×{item['sessions']}",
                start=start,
                end=_iso(item.get("end")),
                kind=_procedure_kind(item["response"]),
                detail=f"{item['sessions']} sessions; response: {item['response']}",
                outside=start < onset,
            )
        )
    for item in view.get("psychotherapy", []):
        if "course" in item:
            continue
        start = date.fromisoformat(item["start"])
        bars.append(
            Bar(
                lane="Psychotherapy",
                label=f"{item['type']} ×{item['sessions']}",
                start=start,
                end=_iso(item.get("end")),
                kind="psychotherapy",
                detail=f"{item['sessions']} sessions",
                outside=start < onset,
            )
        )
    for course in courses:
        start = date.fromisoformat(course["start"])
        last = _iso(course.get("last_session")) or start
        bars.append(
            Bar(
                lane="Courses",
                label=f"{course['name']} ({course['delivered']} delivered)",
                start=start,
                end=last,
                kind=f"course_{course['status']}",
                detail=f"{course['status']}; outcome so far: {course['outcome']}; "
                f"{course['planned']} still planned",
                outside=start < onset,
            )
        )
    return bars


def episode_timeline(
    view: dict[str, Any],
    a: Assessment,
    courses: list[dict[str, Any]],
    *,
    chart_id: str = "timeline",
) -> str:
    onset = date.fromisoformat(view["episode"]["onset"])
    bars = episode_bars(view, a, courses)
    ends = [b.end for b in bars if b.end]
    end = max([a.as_of, *ends])
    start = min([onset, *(b.start for b in bars)])
    markers = [Marker(onset, "episode onset", "onset"), Marker(a.as_of, "today", "today")]
    return timeline(bars, start=start, end=end, markers=markers, chart_id=chart_id)


@dataclass(frozen=True)
class MeasurementRow:
    item: dict[str, Any]
    total: int
    band: str
    suicide_item: int
    suicide_value: int
    flagged: bool


def measurement_rows(view: dict[str, Any], kb: KnowledgeBase) -> list[MeasurementRow]:
    """The stored measurements, newest first, with totals, bands and the suicide item."""
    rows = []
    for item in view.get("measurements", []):
        inst = kb.find_instrument(item["instrument"])
        if inst is None or len(item["items"]) != inst.item_count:
            continue
        total = instruments.total(inst, item["items"])
        value = instruments.suicide_item_value(inst, item["items"])
        rows.append(
            MeasurementRow(
                item=item,
                total=total,
                band=instruments.severity(inst, total).replace("_", " "),
                suicide_item=inst.suicide_item.item,
                suicide_value=value,
                flagged=value >= inst.suicide_item.alert_at,
            )
        )
    return sorted(rows, key=lambda r: (r.item["date"], r.item["item_id"]), reverse=True)
