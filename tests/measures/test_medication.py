from datetime import date

import pytest

from trdnav.measures.medication import doses_per_day, request_days, request_period, supply_days
from trdnav.measures.records import MedicationRequest, Supply
from trdnav.measures.timing import Moment, Span


def order(authored: str | None = "2026-06-21", **supply) -> MedicationRequest:
    return MedicationRequest(
        id="m1",
        status="active",
        intent="order",
        medication=(),
        authored_on=Moment(date.fromisoformat(authored)) if authored else None,
        supply=Supply(**supply),
    )


def days(span: Span | None) -> tuple[str, str] | None:
    if span is None:
        return None
    return str(span.start), str(span.end)


@pytest.mark.parametrize(
    ("supply", "expected"),
    [
        ({"expected_supply_days": 30}, ("2026-06-21", "2026-07-20")),
        ({"expected_supply_days": 30, "refills": 2}, ("2026-06-21", "2026-09-18")),
        ({"expected_supply_days": 1}, ("2026-06-21", "2026-06-21")),
        ({"expected_supply_days": 1.9}, ("2026-06-21", "2026-06-21")),  # truncated
        (
            {"quantity": 60, "dose": 1, "frequency": 2, "period": 1, "period_unit": "d"},
            ("2026-06-21", "2026-07-20"),
        ),
        (
            {"quantity": 14, "dose": 1, "frequency": 1, "period": 1, "period_unit": "wk"},
            ("2026-06-21", "2026-09-26"),
        ),
        ({"quantity": 30, "dose": 1, "times_of_day": 1}, ("2026-06-21", "2026-07-20")),
        ({"quantity": 30, "dose": 1}, None),  # no doses per day: nothing to divide by
        ({}, None),
        ({"expected_supply_days": 0}, None),
        # more days than any date can hold, or not a number of days: no period (not a crash)
        ({"expected_supply_days": 1e300}, None),
        ({"expected_supply_days": 30, "refills": 10**12}, None),
        ({"expected_supply_days": float("inf")}, None),
        ({"expected_supply_days": float("nan")}, None),
        ({"quantity": 1e308, "dose": 1e-300, "times_of_day": 1}, None),
    ],
)
def test_days_supplied_from_the_authored_day(supply, expected):
    request = order(**supply)
    assert days(request_period(request)) == expected
    assert plain_days(request) == expected


def plain_days(request: MedicationRequest) -> tuple[str, str] | None:
    """The order's first and last day as ``request_days`` gives them (no Span)."""
    found = request_days(request)
    return None if found is None else (str(found[0]), str(found[1]))


def test_bounds_start_first_and_their_end_without_a_supply():
    bounds = Span(Moment(date(2026, 7, 1)), Moment(date(2026, 7, 10)))
    assert days(request_period(order(bounds=bounds, expected_supply_days=5))) == (
        "2026-07-01",
        "2026-07-05",
    )
    assert days(request_period(order(bounds=bounds))) == ("2026-07-01", "2026-07-10")
    assert plain_days(order(bounds=bounds)) == ("2026-07-01", "2026-07-10")
    ended_before = Span(Moment(date(2026, 7, 1)), Moment(date(2026, 6, 30)))
    assert request_period(order(bounds=ended_before)) is None
    assert request_days(order(bounds=ended_before)) is None


def test_validity_period_starts_it_when_nothing_else_does():
    start = Moment(date(2026, 8, 1))
    assert days(request_period(order(None, validity_start=start, expected_supply_days=10))) == (
        "2026-08-01",
        "2026-08-10",
    )
    assert request_period(order(None, expected_supply_days=10)) is None


def test_a_start_given_to_the_month_keeps_its_precision_and_so_does_the_end():
    march = Moment.month(2026, 3)
    assert days(request_period(order(None, validity_start=march, expected_supply_days=30))) == (
        "2026-03",
        "2026-03",
    )
    assert days(request_period(order(None, validity_start=march, expected_supply_days=40))) == (
        "2026-03",
        "2026-04",
    )
    # the FHIR import reads the month as its first day
    assert plain_days(order(None, validity_start=march, expected_supply_days=40)) == (
        "2026-03-01",
        "2026-04-09",
    )
    may = Span(march, Moment.month(2026, 5))
    assert days(request_period(order(bounds=may))) == ("2026-03", "2026-05")
    assert days(request_period(order(bounds=Span(march, march)))) == ("2026-03", "2026-03")


def test_doses_per_day():
    assert doses_per_day(Supply(frequency=3, period=1, period_unit="d")) == 3
    assert doses_per_day(Supply(frequency=1, period=8, period_unit="h")) == 3
    assert doses_per_day(Supply(frequency=1, period=1, period_unit="fortnight")) == 0
    assert doses_per_day(Supply(times_of_day=2)) == 2
    assert supply_days(Supply(quantity=10, dose=2, times_of_day=1, refills=1)) == 10
