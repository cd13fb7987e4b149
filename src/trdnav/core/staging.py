"""TRD staging: Thase-Rush, Massachusetts General Hospital (MGH-S) and Maudsley (MSM).

Points, bands and class names come from the rules' parameters in the knowledge data.
Each result keeps a one-line explanation of how it was reached (not part of the JSON
contract, shown in reports).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from trdnav.core.episode import EpisodeFacts
from trdnav.core.history import PatientHistory
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.rule_params import (
    MghsParams,
    MsmParams,
    ThaseRushParams,
    band_label,
    step_points,
)

__all__ = ["MsmComponents", "MsmScore", "Staging", "mgh_s", "msm", "stage", "thase_rush"]


class MsmComponents(BaseModel):
    model_config = ConfigDict(frozen=True)

    duration_months: int
    duration: int
    severity: int
    failed_antidepressants: int
    augmentation: int
    ect: int


class MsmScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: int
    band: str
    components: MsmComponents = Field(exclude=True)


class Staging(BaseModel):
    model_config = ConfigDict(frozen=True)

    thase_rush: int
    mgh_s: float
    msm: MsmScore
    explanations: dict[str, str] = Field(exclude=True)


def thase_rush(facts: EpisodeFacts, params: ThaseRushParams) -> tuple[int, str]:
    classes = set(facts.failed_classes)
    stage = 0
    if classes:
        stage = 1
    if len(classes) >= params.stage_2_min_classes:
        stage = 2
    # Each stage adds a failure to those of the stage below (the model is cumulative): the
    # TCA of stage III is a class beyond stage II's two, the MAOI of stage IV one beyond those.
    if stage == 2 and params.stage_3_class in classes and len(classes) > params.stage_2_min_classes:
        stage = 3
    if (
        stage == 3
        and params.stage_4_class in classes
        and len(classes) > params.stage_2_min_classes + 1
    ):
        stage = 4
    if stage == 4 and facts.failed_ect_courses:
        stage = 5
    shown = ", ".join(facts.failed_classes) or "none"
    why = f"failed adequate classes: {shown}; failed ECT courses: {facts.failed_ect_courses}"
    return stage, why


def mgh_s(facts: EpisodeFacts, params: MghsParams) -> tuple[float, str]:
    ect_points = params.failed_ect_course if facts.failed_ect_courses else 0.0
    score = (
        facts.failed_trials * params.per_failed_trial
        + facts.dose_optimized_failed_trials * params.per_dose_optimized_trial
        + facts.augmentation_trials * params.per_augmentation_trial
        + ect_points
    )
    why = (
        f"{facts.failed_trials} failed adequate trial(s) x {params.per_failed_trial:g}"
        f" + {facts.dose_optimized_failed_trials} dose-optimised x "
        f"{params.per_dose_optimized_trial:g}"
        f" + {facts.augmentation_trials} augmentation trial(s) x "
        f"{params.per_augmentation_trial:g}"
        f" + failed ECT course {ect_points:g}"
    )
    return float(score), why


def msm(facts: EpisodeFacts, history: PatientHistory, params: MsmParams) -> MsmScore:
    episode = history.episode
    severity_key = (
        "severe_psychotic"
        if episode.severity == "severe" and episode.psychotic_features
        else episode.severity
    )
    components = MsmComponents(
        duration_months=facts.episode_months,
        duration=step_points(params.duration_months, facts.episode_months),
        severity=params.severity[severity_key],
        failed_antidepressants=step_points(
            params.failed_antidepressants, facts.failed_adequate_trials
        ),
        augmentation=params.augmentation_used if facts.augmentation_trials else 0,
        ect=params.ect_used if facts.ect_courses else 0,
    )
    total = (
        components.duration
        + components.severity
        + components.failed_antidepressants
        + components.augmentation
        + components.ect
    )
    return MsmScore(total=total, band=band_label(params.bands, total), components=components)


def stage(facts: EpisodeFacts, history: PatientHistory, kb: KnowledgeBase) -> Staging:
    tr, tr_why = thase_rush(facts, kb.params("staging.thase_rush", ThaseRushParams))
    mg, mg_why = mgh_s(facts, kb.params("staging.mgh_s", MghsParams))
    ms = msm(facts, history, kb.params("staging.msm", MsmParams))
    c = ms.components
    ms_why = (
        f"duration {c.duration_months} months -> {c.duration}; severity -> {c.severity}; "
        f"{facts.failed_adequate_trials} failed antidepressant(s) -> {c.failed_antidepressants}; "
        f"augmentation -> {c.augmentation}; ECT -> {c.ect}"
    )
    return Staging(
        thase_rush=tr,
        mgh_s=mg,
        msm=ms,
        explanations={"thase_rush": tr_why, "mgh_s": mg_why, "msm": ms_why},
    )
