"""The episode timeline: lanes, bars coloured by kind with a legend in words, ongoing arrows,
no overlapping bars or labels, escaping."""

import xml.etree.ElementTree as ET
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from trdnav.web.timeline import STYLES, Bar, Marker, timeline

SVG = "{http://www.w3.org/2000/svg}"


def bars(root):
    return [g for g in root.iter(f"{SVG}g") if "bar" in g.get("class", "").split()]


def test_bars_legend_and_markers():
    items = [
        Bar("Medication", "sertraline 150 mg", date(2024, 1, 1), date(2024, 4, 1), "failed"),
        Bar("Medication", "bupropion 150 mg", date(2024, 5, 1), None, "not_adequate"),
        Bar("Procedures", "ECT ×9", date(2024, 6, 1), date(2024, 7, 1), "procedure_failed"),
        Bar("Psychotherapy", "CBT ×16", date(2024, 2, 1), date(2024, 6, 1), "psychotherapy"),
        Bar("Courses", "TMS (3 delivered)", date(2024, 8, 1), date(2024, 9, 15), "course_active"),
    ]
    svg = timeline(
        items,
        start=date(2024, 1, 1),
        end=date(2024, 9, 1),
        markers=[Marker(date(2023, 12, 1), "episode onset", "onset")],
    )
    root = ET.fromstring(svg)
    drawn = bars(root)
    assert [g.get("class") for g in drawn] == [f"bar bar-{b.kind}" for b in items]
    texts = {t.text for t in root.iter(f"{SVG}text")}
    for kind in ("failed", "not_adequate", "procedure_failed", "psychotherapy", "course_active"):
        assert STYLES[kind][1] in texts  # the legend says it in words
    assert "episode onset" in texts
    ongoing = drawn[1]
    assert ongoing.find(f"{SVG}path") is not None  # an arrow: still going on
    assert "ongoing" in ongoing.find(f"{SVG}title").text
    assert root.find(f"{SVG}desc").text.startswith("From 2024-01-01 to 2024-09-01: 2 medication")


def test_overlapping_records_get_rows_of_their_own():
    items = [
        Bar("Medication", "venlafaxine 225 mg", date(2024, 1, 1), date(2024, 6, 1), "failed"),
        Bar("Medication", "aripiprazole 5 mg", date(2024, 3, 1), date(2024, 6, 1), "augmentation"),
        Bar("Medication", "lithium 900 mg", date(2024, 4, 1), date(2024, 6, 1), "augmentation"),
    ]
    root = ET.fromstring(timeline(items, start=date(2024, 1, 1), end=date(2024, 7, 1)))
    rows = {float(g.find(f"{SVG}rect").get("y")) for g in bars(root)}
    assert len(rows) == 3


def test_labels_are_escaped():
    evil = Bar(
        "Psychotherapy", "<script>alert(1)</script>", date(2024, 1, 1), None, "psychotherapy"
    )
    svg = timeline([evil], start=date(2024, 1, 1), end=date(2024, 3, 1))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    ET.fromstring(svg)


def test_records_before_the_episode_are_faded():
    old = Bar(
        "Medication", "sertraline", date(2020, 1, 1), date(2020, 3, 1), "failed", outside=True
    )
    root = ET.fromstring(timeline([old], start=date(2020, 1, 1), end=date(2024, 1, 1)))
    rect = bars(root)[0].find(f"{SVG}rect")
    assert rect.get("opacity") == "0.45"
    assert "not counted" in bars(root)[0].find(f"{SVG}title").text


@settings(max_examples=200, deadline=None)
@given(
    days=st.lists(st.dates(), min_size=1, max_size=4),
    ongoing=st.booleans(),
)
def test_any_dates_the_calendar_holds_are_drawn(days, ongoing):
    """Dates at the ends of the calendar (a year typed as 0050, or 9999) once padded the
    axis past year 1 or 9999: the patient's page and reports answered 500 from then on."""
    first, last = min(days), max(days)
    items = [Bar("Medication", "sertraline", first, None if ongoing else last, "failed")]
    svg = timeline(items, start=first, end=last)
    root = ET.fromstring(svg)
    ticks = [line for line in root.iter(f"{SVG}line") if line.get("stroke") == "#cfd8dc"]
    assert len(ticks) <= 8  # evenly spaced months or years, however long the span
