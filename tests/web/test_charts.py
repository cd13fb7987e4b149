"""The score chart: bands from the knowledge data, response and remission lines, chart states,
the suicide-item mark, escaping, and an accessible name."""

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from trdnav.core.scores import ScoreLine
from trdnav.web.charts import chart_state, score_chart

SVG = "{http://www.w3.org/2000/svg}"


def line(day, items, kb, instrument="PHQ-9"):
    from trdnav.core import instruments

    inst = kb.instruments[instrument]
    total = instruments.total(inst, items)
    return ScoreLine(
        instrument=instrument,
        date=date.fromisoformat(day),
        total=total,
        severity=instruments.severity(inst, total),
        items=tuple(items),
    )


def phq(total, suicide=0):
    items = [0] * 9
    left = total - suicide
    for i in range(8):
        items[i] = min(3, left)
        left -= items[i]
    items[8] = suicide
    return items


@pytest.mark.parametrize(
    ("totals", "state"),
    [
        ([], "none"),
        ([14], "single"),
        ([20, 12], "improving"),
        ([20, 4], "remission"),
        ([8, 16], "worsening"),
        ([10, 10], "unchanged"),
    ],
)
def test_chart_states(kb, totals, state):
    points = [line(f"2025-0{i + 1}-01", phq(t), kb) for i, t in enumerate(totals)]
    assert chart_state(kb.instruments["PHQ-9"], points) == state
    svg = score_chart(kb.instruments["PHQ-9"], points, response_fraction=0.5)
    assert f'data-state="{state}"' in svg
    ET.fromstring(svg)  # well-formed


def test_bands_come_from_the_instrument_and_lines_from_the_rules(kb):
    inst = kb.instruments["MADRS"]
    points = [
        line("2025-01-01", [3] * 10, kb, "MADRS"),
        line("2025-02-01", [2] * 10, kb, "MADRS"),
    ]
    root = ET.fromstring(score_chart(inst, points, response_fraction=0.5))
    bands = root.findall(f"{SVG}rect[@class='band']")
    assert len(bands) == len(inst.bands) == 4
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "band-label"]
    assert labels == ["normal 0–6", "mild 7–19", "moderate 20–34", "severe 35–60"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "remission ≤ 10" in texts
    assert "response ≤ 15 (50% of 30)" in texts
    # the response line sits at half the baseline, the remission line above 10
    response = root.find(f"{SVG}line[@class='response-line']")
    remission = root.find(f"{SVG}line[@class='remission-line']")
    assert float(response.get("y1")) < float(remission.get("y1"))


def test_a_positive_suicide_item_is_marked_and_described(kb):
    inst = kb.instruments["PHQ-9"]
    points = [line("2025-01-01", phq(18), kb), line("2025-02-01", phq(12, suicide=2), kb)]
    root = ET.fromstring(score_chart(inst, points, response_fraction=0.5))
    groups = root.findall(f"{SVG}g")
    flagged = [g for g in groups if "flagged" in g.get("class", "")]
    assert len(flagged) == 1
    assert flagged[0].get("data-date") == "2025-02-01"
    assert "suicide item positive" in flagged[0].find(f"{SVG}title").text


def test_the_chart_has_an_accessible_name_and_description(kb):
    inst = kb.instruments["PHQ-9"]
    svg = score_chart(inst, [line("2025-01-01", phq(14), kb)], response_fraction=0.5, chart_id="c1")
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    desc = root.find(f"{SVG}desc").text
    assert desc == "PHQ-9: one measurement, 14 (moderate) on 2025-01-01."


def test_an_empty_chart_says_so(kb):
    svg = score_chart(kb.instruments["HAMD-17"], [], response_fraction=0.5)
    assert "No measurements in this episode" in svg
    assert "response-line" not in svg


def test_qids_totals_score_domains(kb):
    items = [3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # one sleep domain: 3, not 12
    point = line("2025-01-01", items, kb, "QIDS-SR16")
    assert point.total == 3
    svg = score_chart(kb.instruments["QIDS-SR16"], [point], response_fraction=0.5)
    assert re.search(r'data-total="3"', svg)


def test_chart_ids_are_escaped(kb):
    svg = score_chart(kb.instruments["PHQ-9"], [], response_fraction=0.5, chart_id='x"><b')
    assert '"><b' not in svg
    ET.fromstring(svg)
