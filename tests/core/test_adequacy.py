from datetime import date

import pytest

from trdnav.core.adequacy import duration_days


def only_trial(run, history, t, **kwargs):
    return run(history(medication_trials=[t]), **kwargs).trials[0]


@pytest.mark.parametrize(("end", "days"), [("2024-03-12", 41), ("2024-03-13", 42)])
def test_six_weeks_is_42_days_by_plain_date_subtraction(run, history, trial, end, days):
    assert duration_days(date(2024, 1, 31), date.fromisoformat(end), date(2025, 1, 1)) == days
    finding = only_trial(run, history, trial("sertraline", 50, "2024-01-31", end))
    assert finding.adequate is (days == 42)


def test_duration_runs_to_as_of_when_the_trial_is_ongoing(run, history, trial):
    doc = history(
        as_of="2024-03-13", medication_trials=[trial("sertraline", 50, "2024-01-31", None)]
    )
    assert run(doc).trials[0].adequate
    doc = history(
        as_of="2024-03-12", medication_trials=[trial("sertraline", 50, "2024-01-31", None)]
    )
    assert not run(doc).trials[0].adequate


def test_an_end_after_as_of_is_cut_at_as_of(run, history, trial):
    doc = history(
        as_of="2024-03-12", medication_trials=[trial("sertraline", 50, "2024-01-31", "2024-12-31")]
    )
    finding = run(doc).trials[0]
    assert not finding.adequate
    assert "41 days is shorter than the 42-day minimum" in finding.why


@pytest.mark.parametrize(("dose", "adequate"), [(149, False), (149.9, False), (150, True)])
def test_dose_floor(run, history, trial, dose, adequate):
    t = trial("venlafaxine", dose, "2024-02-01", "2024-05-01")
    assert only_trial(run, history, t).adequate is adequate


def test_liothyronine_dose_is_in_mg(run, history, trial):
    t = trial("liothyronine", 0.025, "2024-02-01", "2024-05-01", role="antidepressant")
    assert only_trial(run, history, t).adequate


def test_intolerance_is_never_adequate(run, history, trial):
    finding = only_trial(
        run, history, trial("sertraline", 200, "2024-02-01", "2024-06-01", response="intolerance")
    )
    assert (finding.adequate, finding.failed) == (False, False)
    assert "intolerance" in finding.why


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        ("none", True),
        ("partial", True),
        ("response", False),
        ("remission", False),
        ("unknown", False),
    ],
)
def test_failed_means_adequate_with_no_or_partial_response(run, history, trial, response, failed):
    finding = only_trial(
        run, history, trial("sertraline", 100, "2024-02-01", "2024-05-01", response=response)
    )
    assert finding.adequate
    assert finding.failed is failed


def test_augmentation_is_not_an_antidepressant_trial(run, history, trial):
    finding = only_trial(
        run, history, trial("aripiprazole", 10, "2024-02-01", "2024-05-01", role="augmentation")
    )
    assert (finding.adequate, finding.failed) == (False, False)
    assert "augmentation" in finding.why


def test_a_drug_without_a_floor_cannot_be_adequate(run, history, trial):
    finding = only_trial(run, history, trial("lithium", 900, "2024-02-01", "2024-05-01"))
    assert not finding.adequate
    assert "no minimum adequate antidepressant dose" in finding.why


def test_past_episode_trials_are_judged_but_not_counted(run, history, trial):
    doc = history(
        medication_trials=[
            trial("sertraline", 100, "2023-01-01", "2023-06-01"),
            trial("citalopram", 20, "2023-07-01", "2023-12-31"),
        ]
    )
    a = run(doc)
    assert [(t.in_episode, t.adequate, t.failed) for t in a.trials] == [(False, True, True)] * 2
    assert a.failed_adequate_trials == 0
    assert not a.trd
    assert "before the episode onset" in a.trials[0].why


def test_a_trial_starting_on_the_onset_day_counts(run, history, trial):
    a = run(history(medication_trials=[trial("sertraline", 100, "2024-01-01", "2024-03-01")]))
    assert a.trials[0].in_episode


def test_a_trial_starting_after_as_of_is_outside_and_inadequate(run, history, trial):
    a = run(history(medication_trials=[trial("sertraline", 100, "2025-06-02", None)]))
    finding = a.trials[0]
    assert (finding.in_episode, finding.adequate) == (False, False)
    assert "starts after the assessment date" in finding.why


def test_duration_setting_overrides_six_weeks(run, history, trial):
    t = trial("sertraline", 50, "2024-02-01", "2024-03-01")  # 29 days
    assert not only_trial(run, history, t).adequate
    assert only_trial(run, history, t, adequate_trial_days=28).adequate


def test_trials_are_reported_in_input_order(run, history, trial):
    doc = history(
        medication_trials=[
            trial("fluoxetine", 20, "2024-06-01", None),
            trial("sertraline", 100, "2024-02-01", "2024-05-01"),
        ]
    )
    assert [t.drug for t in run(doc).trials] == ["fluoxetine", "sertraline"]
