from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.fhir.elements import ElementReader, read_moment
from trdnav.measures.records import Coding
from trdnav.measures.timing import Moment, Precision


@pytest.mark.parametrize(
    ("text", "day", "at"),
    [
        ("2025-03-04", date(2025, 3, 4), None),
        ("2025-03-04T10:20:30Z", date(2025, 3, 4), datetime(2025, 3, 4, 10, 20, 30, tzinfo=UTC)),
        (
            "2025-03-04T23:30:00.123456789-05:00",
            date(2025, 3, 4),
            datetime(2025, 3, 4, 23, 30, 0, 123456, timezone(-timedelta(hours=5))),
        ),
        (
            "2016-12-31T23:59:60Z",
            date(2016, 12, 31),
            datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
    ],
)
def test_fhir_dates_and_times(text, day, at):
    assert read_moment(text) == Moment(day, at)


@pytest.mark.parametrize(
    ("text", "precision", "first", "last"),
    [
        ("2013", Precision.YEAR, date(2013, 1, 1), date(2013, 12, 31)),
        ("2024-02", Precision.MONTH, date(2024, 2, 1), date(2024, 2, 29)),
        ("2025-02", Precision.MONTH, date(2025, 2, 1), date(2025, 2, 28)),
        ("2025-12", Precision.MONTH, date(2025, 12, 1), date(2025, 12, 31)),
        ("2025-03-04", Precision.DAY, date(2025, 3, 4), date(2025, 3, 4)),
        ("2025-03-04T10:20:30Z", Precision.TIME, date(2025, 3, 4), date(2025, 3, 4)),
    ],
)
def test_a_date_keeps_its_precision_and_shows_as_given(text, precision, first, last):
    moment = read_moment(text)
    assert (moment.precision, moment.day, moment.last_day) == (precision, first, last)
    assert moment.is_partial == (precision < Precision.DAY)
    assert str(moment) == text[:10]


@pytest.mark.parametrize(
    "text",
    [
        "2025-3-4",
        "2025-13-01",
        "2025-02-30",
        "2025-03-04T10:20:30",
        "04/03/2025",
        "",
        "2025-01-01\n",
    ],
)
def test_not_fhir_dates(text):
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the text itself
        read_moment(text)


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    )
)
def test_any_written_instant_reads_back(when):
    moment = read_moment(when.isoformat())
    assert moment.at == when
    assert moment.day == when.date()


def test_codeable_concepts_keep_codings_with_a_system_and_a_code():
    reader = ElementReader("Observation/o1")
    concept = {
        "coding": [
            {"system": "http://loinc.org", "code": "44261-6", "display": "PHQ-9 total"},
            {"code": "local-1"},
        ]
    }
    assert reader.concept(concept, "code") == (Coding("http://loinc.org", "44261-6"),)
    assert reader.concept({"text": "PHQ-9"}, "code") == ()
    assert reader.problems == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("44261-6", 'Observation/o1.code: got "44261-6"; expected a CodeableConcept object'),
        (
            {"coding": {"code": "x"}},
            'Observation/o1.code.coding: got {"code": "x"}; expected an array',
        ),
        ({"coding": ["x"]}, 'Observation/o1.code.coding[0]: got "x"; expected a Coding object'),
        (
            {"coding": [{"system": 1}]},
            "Observation/o1.code.coding[0].system: got 1; expected a non-empty string",
        ),
        (
            {"coding": [{"code": ""}]},
            'Observation/o1.code.coding[0].code: got ""; expected a non-empty string',
        ),
    ],
)
def test_bad_codeable_concepts_are_reported_with_their_path(value, problem):
    reader = ElementReader("Observation/o1")
    assert reader.concept(value, "code") == ()
    assert [str(p) for p in reader.problems] == [problem]


def test_spans_from_periods_and_points():
    reader = ElementReader("Encounter/e1")
    open_start = reader.period({"period": {"end": "2025-01-02"}}, "period", "period")
    assert open_start is not None
    assert open_start.start_unknown
    ongoing = reader.period({"period": {"start": "2025-01-02"}}, "period", "period")
    assert ongoing is not None
    assert ongoing.end is None
    assert not ongoing.end_unknown
    point = reader.timing({"effectiveInstant": "2025-01-02T03:04:05Z"}, "effective")
    assert point is not None
    assert point.start == point.end
    assert reader.timing({"effectiveTiming": {"event": ["2025-01-02"]}}, "effective") is None
    assert reader.problems == []


def test_numbers_quantities_and_booleans():
    reader = ElementReader("X/1")
    assert reader.number({"n": True}, "n", "n") is None
    assert reader.quantity({"q": {"value": 30, "code": "d"}}, "q", "q") == (30.0, "d")
    assert reader.quantity({"q": {"value": 2, "unit": "wk"}}, "q", "q") == (2.0, "wk")
    assert reader.boolean({"b": "yes"}, "b", "b") is None
    assert [p.path for p in reader.problems] == ["X/1.n", "X/1.b"]


def test_a_date_read_again_is_the_same_and_a_bad_one_is_refused_every_time():
    first = read_moment("2025-03-04T10:20:30+01:00")
    assert read_moment("2025-03-04T10:20:30+01:00") == first
    assert first.at == datetime(2025, 3, 4, 10, 20, 30, tzinfo=timezone(timedelta(hours=1)))
    for _ in range(2):
        with pytest.raises(ValueError, match="2025-03-04T10:20:30"):
            read_moment("2025-03-04T10:20:30")
    reader = ElementReader("Observation/o1")
    for _ in range(2):
        assert reader.moment({"issued": "2025-13-01"}, "issued", "issued") is None
    assert [p.path for p in reader.problems] == ["Observation/o1.issued"] * 2


def test_timing_reads_the_first_form_given():
    reader = ElementReader("Procedure/p1")
    both = {"performedDateTime": "2025-01-02", "performedPeriod": {"start": "2024-01-01"}}
    span = reader.timing(both, "performed")
    assert span is not None
    assert span.start == Moment(date(2025, 1, 2))
    bad_point = {"performedDateTime": "soon", "performedPeriod": {"start": "2024-01-01"}}
    span = reader.timing(bad_point, "performed")
    assert span is not None
    assert span.start == Moment(date(2024, 1, 1))
    assert [p.path for p in reader.problems] == ["Procedure/p1.performedDateTime"]
    assert reader.timing({}, "performed") is None


def test_a_point_in_time_read_again_is_the_same_span():
    reader = ElementReader("Observation/o1")
    first = reader.timing({"effectiveDateTime": "2025-01-02T03:04:05Z"}, "effective")
    again = reader.timing({"effectiveDateTime": "2025-01-02T03:04:05Z"}, "effective")
    assert first is not None
    assert first == again
    assert first.start == first.end == read_moment("2025-01-02T03:04:05Z")
    assert reader.timing({"effectiveDateTime": "2025-01-02T03:04:05"}, "effective") is None
    assert [p.path for p in reader.problems] == ["Observation/o1.effectiveDateTime"]
