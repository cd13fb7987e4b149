import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def m(instrument, date, items):
    return {"instrument": instrument, "date": date, "items": items}


def phq(date, items):
    return m("PHQ-9", date, items)


def test_latest_per_instrument_and_outcome(run, history):
    doc = history(
        measurements=[
            phq("2024-06-01", [2] * 9),  # 18, later by date but listed first
            phq("2024-01-10", [3] * 9),  # 27 baseline
            phq("2023-12-01", [0] * 9),  # before the episode: ignored
            m("MADRS", "2024-06-01", [1] * 10),
        ]
    )
    a = run(doc)
    assert [(s.instrument, s.total, s.severity) for s in a.scores] == [
        ("PHQ-9", 18, "moderately_severe"),
        ("MADRS", 10, "mild"),
    ]
    assert a.outcome["PHQ-9"].baseline.total == 27
    assert a.outcome["PHQ-9"].response is False  # 18 > 13.5
    assert a.outcome["MADRS"].response is None
    assert a.outcome["MADRS"].remission is True


@pytest.mark.parametrize(
    ("latest", "response"), [([1] * 9, True), ([2, 1, 1, 1, 1, 1, 1, 1, 1], False)]
)
def test_response_at_half_of_baseline(run, history, latest, response):
    doc = history(measurements=[phq("2024-02-01", [2] * 9), phq("2024-05-01", latest)])
    assert run(doc).outcome["PHQ-9"].response is response


def test_no_measurements_means_no_scores(run, history):
    a = run(history())
    assert (a.scores, a.outcome, a.alerts) == ([], {}, [])


@pytest.mark.parametrize(
    ("instrument", "n", "item", "value", "alert"),
    [
        ("PHQ-9", 9, 9, 1, True),
        ("PHQ-9", 9, 9, 0, False),
        ("QIDS-SR16", 16, 12, 1, True),
        ("QIDS-SR16", 16, 11, 3, False),
        ("MADRS", 10, 10, 2, True),
        ("MADRS", 10, 10, 1, False),
        ("HAMD-17", 17, 3, 1, True),
        ("HAMD-17", 17, 3, 0, False),
    ],
)
def test_suicide_item_alert(run, history, instrument, n, item, value, alert):
    items = [0] * n
    items[item - 1] = value
    a = run(history(measurements=[m(instrument, "2024-05-01", items)]))
    assert [x.code for x in a.alerts] == (["suicidal_ideation"] if alert else [])
    if alert:
        assert f"{instrument} item {item} = {value}" in a.alerts[0].message
        assert a.alerts[0].source


def test_only_the_latest_measurement_raises_the_alert(run, history):
    doc = history(measurements=[phq("2024-02-01", [0] * 8 + [2]), phq("2024-05-01", [0] * 9)])
    assert run(doc).alerts == []


def test_one_alert_names_every_flagged_instrument(run, history):
    doc = history(
        measurements=[
            phq("2024-05-01", [0] * 8 + [1]),
            m("HAMD-17", "2024-05-02", [0, 0, 2] + [0] * 14),
        ]
    )
    alerts = run(doc).alerts
    assert len(alerts) == 1
    assert "PHQ-9 item 9 = 1" in alerts[0].message
    assert "HAMD-17 item 3 = 2" in alerts[0].message


def test_a_positive_suicide_item_before_the_episode_is_said_while_nothing_was_measured_since(
    run, history
):
    """It raised no alert and was not mentioned: the patient's latest answer to the suicide
    item, dropped without a word because it came before the episode's onset."""
    before = phq("2023-12-01", [0] * 8 + [3])
    a = run(history(measurements=[phq("2023-06-01", [0] * 9), before]))
    assert [x.code for x in a.alerts] == ["suicide_item_before_episode"]
    assert "before this episode's onset (2024-01-01)" in a.alerts[0].message
    assert "PHQ-9 item 9 = 3 on 2023-12-01" in a.alerts[0].message
    assert a.alerts[0].rule_id == "alert.suicide_item_before_episode"
    # the verdicts rest on the episode's own measurements
    ect = next(o for o in a.options if o.treatment == "ect")
    assert ect.basis["suicidal_ideation"] is False
    # an earlier positive answer, a negative one since: nothing to say
    assert (
        run(
            history(measurements=[phq("2023-06-01", [0] * 8 + [2]), phq("2023-12-01", [0] * 9)])
        ).alerts
        == []
    )
    # anything measured in the episode is the latest answer
    assert run(history(measurements=[before, phq("2024-02-01", [0] * 9)])).alerts == []


def test_measurement_after_as_of_is_ignored(run, history):
    doc = history(measurements=[phq("2024-05-01", [1] * 9), phq("2025-06-02", [3] * 9)])
    assert run(doc).scores[0].total == 9


def test_a_positive_suicide_item_on_the_latest_day_alerts_whatever_the_order(run, history):
    flagged = [0] * 8 + [2]
    for order in ([flagged, [0] * 9], [[0] * 9, flagged]):
        doc = history(measurements=[phq("2024-06-01", items) for items in order])
        assert [a.code for a in run(doc).alerts] == ["suicidal_ideation"]


# run and history build new objects on each call: nothing carries over between examples.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.lists(st.sampled_from(["2024-02-01", "2024-03-01", "2024-04-01"]), min_size=1),
    data=st.data(),
)
def test_scores_do_not_depend_on_the_order_measurements_are_given_in(run, history, days, data):
    measurements = [
        phq(day, data.draw(st.lists(st.integers(0, 3), min_size=9, max_size=9))) for day in days
    ]
    shuffled = data.draw(st.permutations(measurements))
    first, second = run(history(measurements=measurements)), run(history(measurements=shuffled))
    assert first.model_dump(mode="json") == second.model_dump(mode="json")
    outcome = first.outcome["PHQ-9"]
    totals = {day: [sum(m["items"]) for m in measurements if m["date"] == day] for day in days}
    assert outcome.baseline.total == min(totals[min(days)])
    assert outcome.latest.total == max(totals[max(days)])


def test_a_baseline_of_0_leaves_response_unjudged(run, history):
    doc = history(measurements=[phq("2024-02-01", [0] * 9), phq("2024-05-01", [0] * 9)])
    outcome = run(doc).outcome["PHQ-9"]
    assert (outcome.response, outcome.remission) == (None, True)
