"""Clinic calendars: working days, public holidays and closures; iCalendar export.

Public holidays come from the ``holidays`` library for the clinic's country and subdivision.
Session times are wall-clock times in the clinic's time zone; events carry that zone
(TZID), so a session at 09:00 stays at 09:00 across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import icalendar

from trdnav.core.course_templates import WEEKDAYS
from trdnav.core.scheduling import WorkCalendar
from trdnav.errors import InputError, Problem
from trdnav.settings import Settings, holiday_problem, is_time_zone

__all__ = ["ClinicCalendar", "course_ical", "validate_clinic_settings"]

CLINIC_KEYS = ("timezone", "holiday_country", "holiday_subdivision", "closures", "working_days")


class ClinicCalendar:
    """The calendar rules of one clinic, resolved against the server settings."""

    def __init__(self, values: Mapping[str, Any], settings: Settings) -> None:
        self.timezone: str = values.get("timezone") or settings.timezone or "UTC"
        self.country: str | None = values.get("holiday_country", settings.holiday_country)
        # the server's default subdivision is one of the server's default country: a clinic
        # with a country of its own has its own subdivision or none
        default_subdivision = (
            settings.holiday_subdivision if self.country == settings.holiday_country else None
        )
        self.subdivision: str | None = values.get("holiday_subdivision", default_subdivision)
        self.closures: list[date] = [date.fromisoformat(d) for d in values.get("closures", [])]
        self.working_days: list[str] = list(
            values.get("working_days", ["mon", "tue", "wed", "thu", "fri"])
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "holiday_country": self.country,
            "holiday_subdivision": self.subdivision,
            "closures": [d.isoformat() for d in self.closures],
            "working_days": self.working_days,
        }

    def holidays_between(self, first: date, last: date) -> dict[date, str]:
        if not self.country:
            return {}
        years = range(first.year, last.year + 1)
        try:
            found = holidays.country_holidays(self.country, subdiv=self.subdivision, years=years)
        except NotImplementedError:  # settings stored before they were checked
            wrong = holiday_problem(self.country, self.subdivision)
            field, expected = wrong or ("holiday_country", "a country of the holidays library")
            value = self.country if field == "holiday_country" else self.subdivision
            raise InputError(
                [Problem(field, value, f"{expected} (the clinic's calendar setting)")]
            ) from None
        return {d: str(name) for d, name in found.items() if first <= d <= last}

    def work_calendar(self, start: date, years: int = 3) -> WorkCalendar:
        try:
            last = start + timedelta(days=366 * years)
        except OverflowError:  # the calendar ends on 9999-12-31
            last = date.max
        closed = set(self.holidays_between(start, last)) | set(self.closures)
        working = frozenset(WEEKDAYS.index(d) for d in self.working_days)
        return WorkCalendar(working_weekdays=working, closed=frozenset(closed))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _any_subdivision(code: str) -> bool:
    """Whether ``code`` is a subdivision of some country of the holidays library (a clinic
    that sets only its subdivision; the country it goes with is checked when its calendar
    is read)."""
    return any(code in codes for codes in holidays.list_supported_countries().values())


def validate_clinic_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a clinic's calendar settings; raises InputError naming every bad field."""
    problems: list[Problem] = []
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in CLINIC_KEYS:
            problems.append(Problem(key, value, f"one of {', '.join(CLINIC_KEYS)}"))
        elif key == "timezone":
            if is_time_zone(str(value)):
                clean[key] = str(value)
            else:
                problems.append(Problem(key, value, "an IANA time zone such as Europe/London"))
        elif key == "holiday_country":
            if value is not None and not isinstance(value, str):
                problems.append(Problem(key, value, "an ISO country code, e.g. US, GB, DE"))
            elif value and (wrong := holiday_problem(value, None)) is not None:
                problems.append(Problem(key, value, wrong[1]))
            clean[key] = value
        elif key == "holiday_subdivision":
            if value is not None and not isinstance(value, str):
                problems.append(Problem(key, value, "a state or region code, e.g. CA, ENG"))
            elif value and "holiday_country" not in values and not _any_subdivision(value):
                problems.append(
                    Problem(key, value, "a subdivision of a country of the holidays library")
                )
            clean[key] = value
        elif key == "closures":
            if not isinstance(value, list):
                problems.append(Problem(key, value, "a list of dates"))
                continue
            for index, item in enumerate(value):
                try:
                    date.fromisoformat(str(item))
                except ValueError:
                    problems.append(Problem(f"closures[{index}]", item, "a date as YYYY-MM-DD"))
            clean[key] = [str(v) for v in value]
        elif key == "working_days":
            if not isinstance(value, list) or not value or any(v not in WEEKDAYS for v in value):
                problems.append(Problem(key, value, f"a non-empty list of {', '.join(WEEKDAYS)}"))
            clean[key] = value
    country = clean.get("holiday_country", values.get("holiday_country"))
    subdivision = clean.get("holiday_subdivision")
    if country and subdivision and not problems:
        wrong = holiday_problem(country, subdivision)
        if wrong is not None:
            problems.append(Problem("holiday_subdivision", subdivision, wrong[1]))
    if problems:
        raise InputError(problems)
    return clean


def course_ical(
    *,
    course_uid: str,
    title: str,
    patient_id: str,
    zone: ZoneInfo,
    plan_version: int,
    stamp: datetime,
    sessions: Iterable[Mapping[str, Any]],
    domain: str = "trdnav",
) -> bytes:
    """One VEVENT per session. UIDs are stable per course and session number, and SEQUENCE
    is the plan version, so re-importing an export updates the events instead of
    duplicating them."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//trdnav//treatment courses//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{title} ({patient_id})")
    for s in sessions:
        start = datetime.combine(s["date"], s["time"], tzinfo=zone)
        event = icalendar.Event()
        event.add("uid", f"{course_uid}-{s['number']}@{domain}")
        event.add("sequence", plan_version)
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=s["minutes"]))
        event.add("summary", f"{title}: session {s['number']} (patient {patient_id})")
        lines = [f"Phase: {s['phase']}", f"Status: {s['status']}"]
        lines += [f"Measure {d['instrument']} {d['timing']} the session" for d in s["due"]]
        event.add("description", "\n".join(lines))
        event.add("status", "CANCELLED" if s["status"] in ("missed", "cancelled") else "CONFIRMED")
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
