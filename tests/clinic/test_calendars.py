"""A clinic's own holiday settings are checked against the holidays library."""

from datetime import date

import pytest

from trdnav.clinic.calendars import ClinicCalendar, validate_clinic_settings
from trdnav.errors import InputError
from trdnav.settings import load_settings


def test_a_clinics_holiday_settings_are_checked_where_they_are_set():
    with pytest.raises(InputError) as info:
        validate_clinic_settings({"holiday_country": "XX"})
    assert info.value.lines() == [
        'holiday_country: got "XX"; expected an ISO country code supported by the holidays '
        "library, e.g. US, GB, DE"
    ]
    with pytest.raises(
        InputError, match='holiday_subdivision: got "CA"; expected a subdivision of GB'
    ):
        validate_clinic_settings({"holiday_country": "GB", "holiday_subdivision": "CA"})
    with pytest.raises(InputError, match="a subdivision of a country of the holidays library"):
        validate_clinic_settings({"holiday_subdivision": "bogus"})
    assert validate_clinic_settings({"holiday_country": "GB", "holiday_subdivision": "ENG"})


@pytest.mark.parametrize(
    "zone", ["x" * 10_000, "Europe/" + "x" * 300, "a\x00b", "/etc/localtime", "../zoneinfo", ""]
)
def test_a_time_zone_is_a_known_zone_name_whatever_the_text(zone):
    """A name is looked up as a file: one longer than a file name was a server error."""
    with pytest.raises(InputError) as exc:
        validate_clinic_settings({"timezone": zone})
    [problem] = exc.value.problems
    assert (problem.path, problem.expected) == (
        "timezone",
        "an IANA time zone such as Europe/London",
    )
    with pytest.raises(InputError, match="IANA time zone"):
        load_settings(environ={"TRDNAV_TIMEZONE": zone or "x" * 10_000})


def test_a_stored_setting_that_does_not_fit_is_an_input_error_when_the_calendar_is_read():
    settings = load_settings({"holiday_subdivision": "CA"}, environ={})
    # the server's subdivision is one of the server's country, not of the clinic's own
    calendar = ClinicCalendar({"holiday_country": "GB"}, settings)
    assert calendar.subdivision is None
    assert date(2026, 12, 25) in calendar.holidays_between(date(2026, 12, 1), date(2026, 12, 31))
    # stored before settings were checked: US with a subdivision of GB
    stored = ClinicCalendar({"holiday_subdivision": "ENG"}, settings)
    with pytest.raises(InputError) as info:
        stored.holidays_between(date(2026, 1, 1), date(2026, 12, 31))
    assert info.value.lines()[0].startswith(
        'holiday_subdivision: got "ENG"; expected a subdivision of US'
    )
    assert info.value.lines()[0].endswith("(the clinic's calendar setting)")
    # the calendar of a course near the end of time stops at 9999-12-31
    assert ClinicCalendar({}, settings).work_calendar(date(9999, 12, 1)).is_open(date(9999, 12, 31))
