import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.core import instruments

# Expected values are the published definitions (issue #2), not read from the data files.
BANDS = {
    "PHQ-9": [
        (0, 4, "minimal"),
        (5, 9, "mild"),
        (10, 14, "moderate"),
        (15, 19, "moderately_severe"),
        (20, 27, "severe"),
    ],
    "QIDS-SR16": [
        (0, 5, "none"),
        (6, 10, "mild"),
        (11, 15, "moderate"),
        (16, 20, "severe"),
        (21, 27, "very_severe"),
    ],
    "MADRS": [(0, 6, "normal"), (7, 19, "mild"), (20, 34, "moderate"), (35, 60, "severe")],
    "HAMD-17": [(0, 7, "none"), (8, 16, "mild"), (17, 23, "moderate"), (24, 52, "severe")],
}
REMISSION_MAX = {"PHQ-9": 4, "QIDS-SR16": 5, "MADRS": 10, "HAMD-17": 7}
SUICIDE = {"PHQ-9": (9, 1), "QIDS-SR16": (12, 1), "MADRS": (10, 2), "HAMD-17": (3, 1)}
ITEM_MAX = {
    "PHQ-9": [3] * 9,
    "QIDS-SR16": [3] * 16,
    "MADRS": [6] * 10,
    "HAMD-17": [4, 4, 4, 2, 2, 2, 4, 4, 4, 4, 4, 2, 2, 2, 4, 2, 2],
}


@pytest.mark.parametrize("inst_id", list(BANDS))
def test_items_and_ranges(kb, inst_id):
    inst = kb.instruments[inst_id]
    assert [i.max for i in inst.items] == ITEM_MAX[inst_id]
    assert all(i.min == 0 for i in inst.items)
    assert inst.max_total == BANDS[inst_id][-1][1]


@pytest.mark.parametrize(
    ("inst_id", "low", "high", "label"),
    [(i, lo, hi, lab) for i, bands in BANDS.items() for lo, hi, lab in bands],
)
def test_every_band_edge(kb, inst_id, low, high, label):
    inst = kb.instruments[inst_id]
    assert instruments.severity(inst, low) == label
    assert instruments.severity(inst, high) == label


@pytest.mark.parametrize("inst_id", list(BANDS))
def test_remission_threshold_edges(kb, inst_id):
    inst = kb.instruments[inst_id]
    edge = REMISSION_MAX[inst_id]
    assert instruments.is_remission(inst, edge)
    assert not instruments.is_remission(inst, edge + 1)


@pytest.mark.parametrize("inst_id", list(BANDS))
def test_suicide_item(kb, inst_id):
    inst = kb.instruments[inst_id]
    item, alert_at = SUICIDE[inst_id]
    assert (inst.suicide_item.item, inst.suicide_item.alert_at) == (item, alert_at)
    items = [0] * inst.item_count
    items[item - 1] = alert_at
    assert instruments.suicide_item_value(inst, items) == alert_at


def test_severity_outside_the_scale_is_an_error(kb):
    with pytest.raises(ValueError, match="outside"):
        instruments.severity(kb.instruments["PHQ-9"], 28)


def test_phq9_total_is_the_item_sum(kb):
    assert instruments.total(kb.instruments["PHQ-9"], [3, 3, 2, 3, 2, 2, 2, 1, 0]) == 18


def test_qids_scores_domains_not_items(kb):
    inst = kb.instruments["QIDS-SR16"]
    # sleep items 1-4 = 3,1,2,0 -> 3; appetite/weight 6-9 = 1,2,0,3 -> 3; psychomotor 2,1 -> 2
    items = [3, 1, 2, 0, 2, 1, 2, 0, 3, 1, 1, 0, 2, 2, 2, 1]
    assert instruments.total(inst, items) == 3 + 2 + 3 + 1 + 1 + 0 + 2 + 2 + 2
    assert sum(items) == 23  # the common error of summing all 16 items


def test_wrong_item_count_is_rejected(kb):
    with pytest.raises(ValueError, match="takes 9 items"):
        instruments.total(kb.instruments["PHQ-9"], [1] * 8)


@pytest.mark.parametrize(
    ("baseline", "latest", "response"),
    [(20, 10, True), (20, 11, False), (15, 7, True), (15, 8, False), (0, 0, True), (1, 1, False)],
)
def test_response_is_at_most_half_of_baseline(baseline, latest, response):
    assert instruments.is_response(baseline, latest, 0.5) is response


def _items(inst_id):
    return st.tuples(*(st.integers(0, m) for m in ITEM_MAX[inst_id])).map(list)


@pytest.mark.parametrize("inst_id", list(BANDS))
@given(data=st.data())
def test_total_stays_on_the_scale_and_has_one_band(kb, inst_id, data):
    inst = kb.instruments[inst_id]
    items = data.draw(_items(inst_id))
    total = instruments.total(inst, items)
    assert 0 <= total <= BANDS[inst_id][-1][1]
    labels = [lab for lo, hi, lab in BANDS[inst_id] if lo <= total <= hi]
    assert instruments.severity(inst, total) == labels[0]
    assert instruments.is_remission(inst, total) is (total <= REMISSION_MAX[inst_id])


@pytest.mark.parametrize("inst_id", list(BANDS))
@given(data=st.data())
def test_raising_an_item_never_lowers_the_total(kb, inst_id, data):
    inst = kb.instruments[inst_id]
    items = data.draw(_items(inst_id))
    index = data.draw(st.integers(0, len(items) - 1))
    if items[index] < ITEM_MAX[inst_id][index]:
        raised = [*items[:index], items[index] + 1, *items[index + 1 :]]
        assert instruments.total(inst, raised) >= instruments.total(inst, items)


@given(_items("QIDS-SR16"))
def test_qids_total_matches_the_published_formula(kb, i):
    expected = (
        max(i[0:4]) + i[4] + max(i[5:9]) + i[9] + i[10] + i[11] + i[12] + i[13] + max(i[14], i[15])
    )
    assert instruments.total(kb.instruments["QIDS-SR16"], i) == expected


@given(st.integers(0, 60), st.integers(0, 60))
def test_response_matches_exact_arithmetic(baseline, latest):
    assert instruments.is_response(baseline, latest, 0.5) is (2 * latest <= baseline)
