import pytest

ADEQUATE = {"start": "2024-02-01", "end": "2024-05-01"}


def failed(trial, drug, dose, **extra):
    return trial(drug, dose, ADEQUATE["start"], ADEQUATE["end"], response="none", **extra)


def failed_ect(sessions=8, response="none", start="2024-06-01"):
    return {"type": "ECT", "start": start, "end": None, "sessions": sessions, "response": response}


@pytest.mark.parametrize(
    ("drugs", "ect", "stage"),
    [
        ([], False, 0),
        ([("sertraline", 100)], False, 1),
        ([("sertraline", 100), ("citalopram", 20), ("fluoxetine", 20)], False, 1),
        ([("sertraline", 100), ("venlafaxine", 150)], False, 2),
        # Cumulative: the TCA of stage III is a class beyond two, the MAOI of IV one beyond three.
        ([("sertraline", 100), ("amitriptyline", 150)], False, 2),
        ([("amitriptyline", 150)], False, 1),
        ([("amitriptyline", 150), ("phenelzine", 45)], False, 2),
        ([("sertraline", 100), ("phenelzine", 45)], False, 2),
        ([("sertraline", 100), ("venlafaxine", 150), ("amitriptyline", 150)], False, 3),
        ([("sertraline", 100), ("amitriptyline", 150), ("phenelzine", 45)], False, 3),
        ([("sertraline", 100), ("amitriptyline", 150), ("phenelzine", 45)], True, 3),
        (
            [("sertraline", 100), ("venlafaxine", 150), ("amitriptyline", 150), ("phenelzine", 45)],
            False,
            4,
        ),
        (
            [("sertraline", 100), ("venlafaxine", 150), ("amitriptyline", 150), ("phenelzine", 45)],
            True,
            5,
        ),
        ([("sertraline", 100), ("amitriptyline", 150)], True, 2),
    ],
)
def test_thase_rush(run, history, trial, drugs, ect, stage):
    doc = history(
        medication_trials=[failed(trial, d, dose) for d, dose in drugs],
        procedures=[failed_ect()] if ect else [],
    )
    assert run(doc).staging.thase_rush == stage


def test_distinct_drugs_count_towards_trd_but_each_trial_towards_mgh_s(run, history, trial):
    doc = history(
        medication_trials=[
            failed(trial, "sertraline", 100),
            trial("sertraline", 200, "2024-05-02", "2024-08-01", response="partial"),
        ]
    )
    a = run(doc)
    assert a.failed_adequate_trials == 1
    assert not a.trd
    assert a.staging.mgh_s == 2.0


def test_mgh_s_adds_optimisation_augmentation_and_ect(run, history, trial):
    doc = history(
        medication_trials=[
            failed(trial, "sertraline", 100, dose_optimized=True),
            failed(trial, "venlafaxine", 225),
            trial("aripiprazole", 5, "2024-03-01", "2024-05-01", role="augmentation"),
            trial(
                "lithium",
                600,
                "2024-03-01",
                "2024-05-01",
                role="augmentation",
                response="intolerance",
            ),
        ],
        procedures=[failed_ect(), failed_ect(start="2024-09-01")],
    )
    # 2 failed + 0.5 optimised + 2 x 0.5 augmentation + 3 for failed ECT (once)
    assert run(doc).staging.mgh_s == 6.5


@pytest.mark.parametrize(
    ("sessions", "response", "is_failed"),
    [
        (6, "none", True),
        (5, "none", False),
        (12, "partial", True),
        (12, "response", False),
        (12, "unknown", False),
    ],
)
def test_failed_ect_course_needs_six_sessions(run, history, sessions, response, is_failed):
    a = run(history(procedures=[failed_ect(sessions, response)]))
    assert a.facts.failed_ect_courses == int(is_failed)
    assert a.staging.mgh_s == (3.0 if is_failed else 0.0)


def test_ect_before_the_episode_is_not_counted(run, history):
    a = run(history(procedures=[failed_ect(start="2023-06-01")]))
    assert a.facts.failed_ect_courses == 0
    assert a.staging.msm.components.ect == 0


@pytest.mark.parametrize(
    ("onset", "as_of", "points"),
    [
        ("2024-03-15", "2025-03-15", 1),  # 12 months
        ("2024-03-15", "2025-04-14", 1),  # still 12 completed months
        ("2024-03-15", "2025-04-15", 2),  # 13
        ("2023-03-15", "2025-03-15", 2),  # 24
        ("2023-03-15", "2025-04-15", 3),  # 25
    ],
)
def test_msm_duration_edges(run, history, onset, as_of, points):
    a = run(history(as_of=as_of, episode={"onset": onset}))
    assert a.staging.msm.components.duration == points


@pytest.mark.parametrize(
    ("severity", "psychotic", "points"),
    [
        ("subsyndromal", False, 1),
        ("mild", False, 2),
        ("moderate", False, 3),
        ("severe", False, 4),
        ("severe", True, 5),
        ("moderate", True, 3),
        ("mild", True, 2),
    ],
)
def test_msm_severity(run, history, severity, psychotic, points):
    a = run(history(episode={"severity": severity, "psychotic_features": psychotic}))
    assert a.staging.msm.components.severity == points


SSRIS_AND_MORE = [
    ("sertraline", 100),
    ("citalopram", 20),
    ("escitalopram", 10),
    ("fluoxetine", 20),
    ("paroxetine", 20),
    ("fluvoxamine", 100),
    ("venlafaxine", 150),
    ("duloxetine", 60),
    ("desvenlafaxine", 50),
    ("levomilnacipran", 40),
    ("mirtazapine", 30),
    ("bupropion", 300),
]


@pytest.mark.parametrize(
    ("n", "points"),
    [(0, 0), (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (10, 4), (11, 5), (12, 5)],
)
def test_msm_failure_bands(run, history, trial, n, points):
    doc = history(medication_trials=[failed(trial, d, dose) for d, dose in SSRIS_AND_MORE[:n]])
    a = run(doc)
    assert a.failed_adequate_trials == n
    assert a.staging.msm.components.failed_antidepressants == points


@pytest.mark.parametrize(
    ("episode", "n_failed", "augment", "ect", "total", "band"),
    [
        ({"severity": "moderate"}, 2, True, False, 6, "mild"),  # 1 + 3 + 1 + 1
        ({"severity": "severe"}, 2, True, False, 7, "moderate"),  # 1 + 4 + 1 + 1
        ({"severity": "severe"}, 5, True, True, 10, "moderate"),  # 1 + 4 + 3 + 1 + 1
        ({"severity": "severe", "psychotic_features": True}, 5, True, True, 11, "severe"),
    ],
)
def test_msm_band_edges(run, history, trial, episode, n_failed, augment, ect, total, band):
    trials = [failed(trial, d, dose) for d, dose in SSRIS_AND_MORE[:n_failed]]
    if augment:
        trials.append(trial("aripiprazole", 5, "2024-03-01", None, role="augmentation"))
    doc = history(
        as_of="2024-12-01",
        episode=episode,
        medication_trials=trials,
        procedures=[failed_ect(response="response")] if ect else [],
    )
    msm = run(doc).staging.msm
    assert (msm.total, msm.band) == (total, band)


def test_msm_maximum_without_psychosis_is_14(run, history, trial):
    trials = [failed(trial, d, dose) for d, dose in SSRIS_AND_MORE[:11]]
    trials.append(trial("lithium", 600, "2024-03-01", None, role="augmentation"))
    doc = history(
        as_of="2026-06-01",
        episode={"onset": "2023-01-01", "severity": "severe"},
        medication_trials=trials,
        procedures=[failed_ect()],
    )
    assert run(doc).staging.msm.total == 14
