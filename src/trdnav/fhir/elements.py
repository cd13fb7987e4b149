"""Reading FHIR R4 data types from plain JSON, collecting a problem for each bad element.

:class:`ElementReader` reads the elements of one resource (strings, CodeableConcepts, dates,
Periods, Quantities, booleans) and records a :class:`~trdnav.errors.Problem` naming the
element's path, the value and what was expected for each one it cannot read; the caller
raises them together.

* Dates: a FHIR ``date``, ``dateTime`` or ``instant``. A time must have an offset (``Z`` or
  ``+hh:mm``), as FHIR requires; a year or a year and month keeps that precision (its
  :class:`~trdnav.measures.timing.Moment` knows its first and last possible day).
* ``<x>DateTime``, ``<x>Instant`` or ``<x>Period`` is read as a span of time; other forms of a
  timing element (Age, Range, string, Timing) are taken as not given.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from trdnav.errors import Problem
from trdnav.measures.records import Coding, Concept
from trdnav.measures.timing import Moment, Precision, Span, before

__all__ = ["DATETIME_EXPECTED", "ElementReader", "read_moment"]

_DATETIME = re.compile(
    r"(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_FULL_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_COMMON_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
DATETIME_EXPECTED = (
    "a FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with an offset (Z or +hh:mm)"
)


_MOMENTS: dict[str, Moment] = {}
"""Moments read, by their text (a Moment is immutable): a chart repeats its dates."""
MOMENTS_KEPT = 4096


def read_moment(text: str) -> Moment:
    """Parse a FHIR ``date``, ``dateTime`` or ``instant``; ``ValueError`` if it is not one."""
    found = _MOMENTS.get(text)
    if found is None:
        found = _parse_moment(text)
        if len(_MOMENTS) >= MOMENTS_KEPT:
            _MOMENTS.clear()
        _MOMENTS[text] = found
    return found


def _parse_moment(text: str) -> Moment:
    if _FULL_DAY.fullmatch(text):
        return Moment(date.fromisoformat(text))
    if _COMMON_INSTANT.fullmatch(text):
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            pass  # a leap second, or no such day: the general reading below decides
        else:
            return Moment(at.date(), at)
    found = _DATETIME.fullmatch(text)
    if found is None:
        raise ValueError(text)
    g = found.groupdict()
    day = date(int(g["y"]), int(g["m"] or 1), int(g["d"] or 1))
    if g["m"] is None:
        return Moment(day, precision=Precision.YEAR)
    if g["d"] is None:
        return Moment(day, precision=Precision.MONTH)
    if g["H"] is None:
        return Moment(day)
    if g["tz"] is None:
        raise ValueError(text)
    if g["tz"] == "Z":
        zone = UTC
    else:
        sign = 1 if g["tz"][0] == "+" else -1
        hours, minutes = int(g["tz"][1:3]), int(g["tz"][4:6])
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((g["f"] or ".0")[1:7].ljust(6, "0"))
    second = min(int(g["S"] or 0), 59)  # a leap second is kept within its minute
    at = datetime(day.year, day.month, day.day, int(g["H"]), int(g["M"]), second, micro, zone)
    return Moment(day, at)


_POINTS: dict[str, Span] = {}
"""Spans of a single moment, by the moment's text (a Span is immutable)."""
_TIMING_KEYS: dict[str, tuple[str, str, str]] = {}
"""The element names of each timing prefix: ``effective`` -> ``effectiveDateTime``, ..."""


def _optional_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value != "")


@dataclass
class ElementReader:
    """Reads elements of one resource, collecting a Problem for each bad one."""

    where: str
    problems: list[Problem] = field(default_factory=list)

    def bad(self, path: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(f"{self.where}.{path}", value, expected))

    def string(
        self, obj: dict[str, Any], key: str, path: str, required: bool = False
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.problems.append(
                    Problem(f"{self.where}.{path}", None, "a string", missing=True)
                )
            return None
        if not isinstance(value, str) or not value:
            self.bad(path, value, "a non-empty string")
            return None
        return value

    def mapping(self, obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.bad(path, value, "an object")
            return None
        return value

    def array(self, obj: dict[str, Any], key: str, path: str) -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.bad(path, value, "an array")
            return []
        return value

    def concept(self, value: Any, path: str) -> Concept:
        """A CodeableConcept's codings with both a system and a code (a coding lacking one
        of them is valid FHIR but can match nothing)."""
        if value is None:
            return ()
        if isinstance(value, dict):
            codings = value.get("coding")
            if codings is None:
                return ()
            if isinstance(codings, list):
                found = []
                for coding in codings:
                    if not isinstance(coding, dict):
                        break
                    system, code = coding.get("system"), coding.get("code")
                    if not (_optional_text(system) and _optional_text(code)):
                        break
                    if system and code:
                        display = coding.get("display")
                        found.append(
                            Coding(system, code, display if isinstance(display, str) else None)
                        )
                else:
                    return tuple(found)
        return self._bad_concept(value, path)

    def _bad_concept(self, value: Any, path: str) -> Concept:
        """Report what is wrong with a CodeableConcept."""
        if not isinstance(value, dict):
            self.bad(path, value, "a CodeableConcept object")
            return ()
        for i, coding in enumerate(self.array(value, "coding", f"{path}.coding")):
            where = f"{path}.coding[{i}]"
            if not isinstance(coding, dict):
                self.bad(where, coding, "a Coding object")
                continue
            self.string(coding, "system", f"{where}.system")
            self.string(coding, "code", f"{where}.code")
        return ()

    def concepts(self, obj: dict[str, Any], key: str) -> Concept:
        """Every coding of a repeating CodeableConcept element."""
        out: list[Coding] = []
        for i, value in enumerate(self.array(obj, key, key)):
            out.extend(self.concept(value, f"{key}[{i}]"))
        return tuple(out)

    def moment(self, obj: dict[str, Any], key: str, path: str) -> Moment | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return read_moment(value)
            except ValueError:
                pass
        self.bad(path, value, DATETIME_EXPECTED)
        return None

    def period(self, obj: dict[str, Any], key: str, path: str) -> Span | None:
        value = self.mapping(obj, key, path)
        if value is None:
            return None
        start = self.moment(value, "start", f"{path}.start")
        end = self.moment(value, "end", f"{path}.end")
        if start is not None and end is not None and before(end, start, by_day=False):
            # only an end certainly before the start: "2025-03" may end on 2025-03-31
            self.bad(f"{path}.end", value.get("end"), "a time not before the period's start")
        return Span(start, end, start_unknown=start is None)

    def timing(self, obj: dict[str, Any], prefix: str) -> Span | None:
        """``<prefix>DateTime``, ``<prefix>Instant`` or ``<prefix>Period`` as a span."""
        keys = _TIMING_KEYS.get(prefix)
        if keys is None:
            keys = _TIMING_KEYS.setdefault(
                prefix, (prefix + "DateTime", prefix + "Instant", prefix + "Period")
            )
        for key in keys[:2]:
            if key in obj:
                value = obj[key]
                point = _POINTS.get(value) if type(value) is str else None
                if point is not None:
                    return point
                moment = self.moment(obj, key, key)
                if moment is not None:
                    point = Span.at(moment)
                    if len(_POINTS) >= MOMENTS_KEPT:
                        _POINTS.clear()
                    _POINTS[value] = point
                    return point
        if keys[2] in obj:
            return self.period(obj, keys[2], keys[2])
        return None

    def number(self, obj: dict[str, Any], key: str, path: str) -> float | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(path, value, "a number")
            return None
        number = float(value)
        if not math.isfinite(number):  # JSON has none; Python's reader makes 1e999 infinite
            self.bad(path, str(number), "a finite number")
            return None
        return number

    def quantity(self, obj: dict[str, Any], key: str, path: str) -> tuple[float, str] | None:
        value = self.mapping(obj, key, path)
        if value is None:
            return None
        number = self.number(value, "value", f"{path}.value")
        if number is None:
            return None
        unit = value.get("code") or value.get("unit")
        return number, unit if isinstance(unit, str) else ""

    def boolean(self, obj: dict[str, Any], key: str, path: str) -> bool | None:
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.bad(path, value, "true or false")
        return None
