"""FHIR Procedure resources: procedure courses (ECT, TMS, VNS, DBS, esketamine, ketamine) and
psychotherapy courses.

* **Which procedure**: trdnav's procedure-type code (an export of trdnav), else the codes of
  ``data/fhir/procedures.yaml``; psychotherapy by its codes, its type being the code's text
  (shortened to the 64 characters a history keeps of a type, ending in "…").
* **Status**: performed statuses count; others are ignored with the reason, ``unknown`` is
  ambiguous. A Procedure without a performed date is ambiguous.
* **Courses**: a Procedure carrying trdnav's sessions extension is a whole course. Others are
  one session each: sessions of one type at most ``course_gap_days`` apart form a course (its
  sessions counted, from the first to the last).
* **Response**: trdnav's response code in ``outcome``, else unknown (reported as missing for a
  finished ECT or TMS course, which the staging needs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from trdnav.core.history import PSYCHOTHERAPY_TYPE_LENGTH
from trdnav.fhir.mapping import Context, Source, day_of, read_term, shortened

__all__ = ["Course", "ProcedureState", "courses", "read_procedure"]


@dataclass
class Session:
    source: Source
    kind: str
    psychotherapy: bool
    start: date
    end: date | None
    sessions: int | None
    response: str | None
    ongoing: bool


@dataclass
class Course:
    sources: list[Source]
    kind: str
    psychotherapy: bool
    start: date
    end: date | None
    sessions: int
    response: str
    counted: bool
    response_recorded: bool = True

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "sessions": self.sessions,
        }
        if not self.psychotherapy:
            doc["response"] = self.response
        return doc


@dataclass
class ProcedureState:
    sessions: list[Session] = field(default_factory=list)


def read_procedure(ctx: Context, state: ProcedureState, res: dict[str, Any], src: Source) -> None:
    codes = ctx.codes
    reader = ctx.reader(src.where)
    status = reader.string(res, "status", "status", required=True)
    if not ctx.binding(reader, "Procedure.status", status, "status"):
        return
    code = read_term(ctx, reader, res.get("code"), "code")
    rules = codes.procedures_file.statuses
    kind = code.local(codes.local_system("procedure"))
    psychotherapy = False
    if kind is None:
        kind = next((t for t, m in codes.procedures if m.first(code.codings)), None)
    if kind is None and codes.psychotherapy.first(code.codings):
        psychotherapy = True
        # The type is a label (the codes say it is psychotherapy): a longer text is
        # shortened rather than the patient refused.
        text = code.text and shortened(
            ctx, src, "code.text", code.text, PSYCHOTHERAPY_TYPE_LENGTH, "the therapy's type"
        )
        kind = text or codes.procedures_file.psychotherapy.default_type
    if kind is None:
        ctx.report.ignore(
            "Procedure",
            src.ref,
            "not a procedure trdnav reads "
            "(ECT, TMS, VNS, DBS, esketamine, ketamine, psychotherapy)",
        )
        return
    if status in rules.not_performed:
        ctx.report.ignore("Procedure", src.ref, f"status {status}: {rules.not_performed[status]}")
        return
    if status in rules.unknown:
        ctx.report.ambiguity(
            src.ref, src.where, f"{kind}: status unknown, so whether it was performed is not known"
        )
        return
    span = reader.timing(res, "performed")
    start = day_of(span.start) if span else None
    if start is None:
        ctx.report.ambiguity(
            src.ref,
            src.where,
            f"{kind}: no performed date (performedDateTime or performedPeriod.start)",
        )
        return
    end = day_of(span.end) if span else None
    if "performedDateTime" in res or "performedInstant" in res:
        end = start
    sessions = None
    for i, ext in enumerate(reader.array(res, "extension", "extension")):
        if isinstance(ext, dict) and ext.get("url") == codes.extension("sessions"):
            value = reader.number(ext, "valueInteger", f"extension[{i}].valueInteger")
            if value is not None and (value < 0 or value != int(value)):
                reader.bad(
                    f"extension[{i}].valueInteger",
                    ext.get("valueInteger"),
                    "a whole number of sessions, 0 or more",
                )
            elif value is not None:
                sessions = int(value)
    response = None
    outcome = read_term(ctx, reader, res.get("outcome"), "outcome")
    response = outcome.local(codes.local_system("response"))
    if response is None:
        response = next(
            (
                codes.status_reasons[(c.system, c.code)]
                for c in outcome.codings
                if (c.system, c.code) in codes.status_reasons
            ),
            None,
        )
    state.sessions.append(
        Session(src, kind, psychotherapy, start, end, sessions, response, status == "in-progress")
    )


def courses(ctx: Context, state: ProcedureState) -> list[Course]:
    """Courses in start order: explicit courses as given, single sessions grouped."""
    gap = timedelta(days=ctx.codes.procedures_file.course_gap_days)
    out: list[Course] = []
    singles: dict[tuple[bool, str], list[Session]] = {}
    for s in state.sessions:
        if s.sessions is not None:
            out.append(
                Course(
                    [s.source],
                    s.kind,
                    s.psychotherapy,
                    s.start,
                    None if s.ongoing else s.end,
                    s.sessions,
                    s.response or "unknown",
                    True,
                    s.response is not None,
                )
            )
        else:
            singles.setdefault((s.psychotherapy, s.kind), []).append(s)
    for (psychotherapy, kind), group in singles.items():
        group.sort(key=lambda s: s.start)
        current: list[Session] = []
        for s in group:
            if current and s.start - (current[-1].end or current[-1].start) > gap:
                out.append(_course(current, psychotherapy, kind))
                current = []
            current.append(s)
        out.append(_course(current, psychotherapy, kind))
    return sorted(out, key=lambda c: (c.psychotherapy, c.sources[0].seq))


def _course(group: list[Session], psychotherapy: bool, kind: str) -> Course:
    response = next((s.response for s in reversed(group) if s.response), None)
    last = group[-1]
    end = None if last.ongoing else max(s.end or s.start for s in group)
    return Course(
        [s.source for s in group],
        kind,
        psychotherapy,
        group[0].start,
        end,
        len(group),
        response or "unknown",
        False,
        response is not None,
    )
