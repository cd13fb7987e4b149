"""One person's OMOP records as the core's patient history: the per-patient path.

The core (:func:`trdnav.core.assessment.assess`) judges trials it is given; OMOP data has
exposures, not trials, and no response. This module is the explicit mapping, written in
plain Python, record by record, so that the core can check the engines:

* a **trial** is a treatment era (exposures of one ingredient merged across gaps of at most
  the era gap), with the era's highest daily dose; without a known dose the trial gets the
  drug's minimum adequate dose (adequacy is then judged on duration alone, as the engines
  do); ``dose_optimized`` when that dose is above the minimum and above the era's first;
* the **response** is ``none`` when a switch or augmentation followed the era (see
  :mod:`trdnav.cohort.definition`), ``unknown`` otherwise; an augmentation agent's era is a
  trial with role ``augmentation``;
* an **ECT course** is a procedure with its number of session days, response ``none`` when a
  switch or augmentation followed it;
* each **episode** is assessed on its own: onset = its first MDD record, ``as_of`` = the day
  before the next episode or the person's assessment date, severity from the codes
  (``moderate`` stands in where no code gives one; severity-dependent values are then not
  compared); PHQ-9 totals become item lists with that total;
* the **TRD date** is the earliest date on which the core finds TRD when the history is
  assessed as of that date, with the responses known by then.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from trdnav.cohort.concepts import SEVERITY_RANK
from trdnav.cohort.lookups import EngineParams
from trdnav.cohort.omop import SCHEMAS, UNIT_TO_MG
from trdnav.core.assessment import assess
from trdnav.core.history import (
    Episode,
    Measurement,
    MedicationTrial,
    Patient,
    PatientHistory,
    Procedure,
)
from trdnav.core.knowledge import KnowledgeBase

__all__ = [
    "COMPARED",
    "EpisodeRecords",
    "PersonRecords",
    "Vocabulary",
    "core_episode_results",
    "group_by_person",
]

_EPOCH = date(1970, 1, 1)
_SEVERITY_NAME = {rank: name for name, rank in SEVERITY_RANK.items()}

COMPARED: tuple[str, ...] = (
    "person_id",
    "episode",
    "onset",
    "as_of",
    "trd",
    "trd_date",
    "failed_trials",
    "failed_drugs",
    "dose_optimized_failed_trials",
    "augmentation_trials",
    "ect_courses",
    "failed_ect_courses",
    "thase_rush",
    "mgh_s",
    "msm_duration_months",
    "msm_duration",
    "msm_severity",
    "msm_failed_antidepressants",
    "msm_augmentation",
    "msm_ect",
    "msm_total",
    "msm_band",
    "phq9_count",
    "phq9_baseline",
    "phq9_latest",
    "phq9_response",
    "phq9_remission",
)
"""The episode results that both the engines and the per-patient core compute."""


def _day(value: date) -> int:
    return (value - _EPOCH).days


def _date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


@dataclass(frozen=True)
class Ingredient:
    key: str
    kind: str
    drug_class: str | None
    min_dose_mg: float | None
    mg_per_unit: float | None


@dataclass
class Vocabulary:
    """The concept sets resolved against one data set's vocabulary tables."""

    condition: dict[int, tuple[int | None, int, int]]
    drug: dict[int, list[Ingredient]]
    procedure: dict[int, str]
    phq9: set[int]

    @classmethod
    def build(cls, lookups: Mapping[str, pa.Table], tables: Mapping[str, pa.Table]) -> Vocabulary:
        concept = {
            (r["vocabulary_id"], r["concept_code"]): r["concept_id"]
            for r in tables["concept"].to_pylist()
        }

        def ids(row: dict[str, Any]) -> set[int]:
            found = {
                concept.get((row["vocabulary_id"], row["concept_code"])),
                row["known_concept_id"],
            }
            return {i for i in found if i is not None}

        condition: dict[int, tuple[int | None, int, int]] = {}
        for row in lookups["condition"].to_pylist():
            for cid in ids(row):
                old = condition.get(cid)
                new = (row["severity_rank"], row["psychotic"], row["recurrent"])
                if old is not None:  # the same id for two codes: keep the strongest attributes
                    ranks = [r for r in (old[0], new[0]) if r is not None]
                    new = (max(ranks) if ranks else None, max(old[1], new[1]), max(old[2], new[2]))
                condition[cid] = new
        ingredients: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in lookups["drug"].to_pylist():
            for cid in ids(row):
                if row not in ingredients[cid]:
                    ingredients[cid].append(row)
        descendants: dict[int, set[int]] = defaultdict(set)
        for r in tables["concept_ancestor"].to_pylist():
            if r["ancestor_concept_id"] in ingredients and r["descendant_concept_id"] is not None:
                descendants[r["ancestor_concept_id"]].add(r["descendant_concept_id"])
        strength: dict[tuple[int, int], float] = {}
        for r in tables["drug_strength"].to_pylist():
            factor = UNIT_TO_MG.get(r["amount_unit_concept_id"])
            amount = r["amount_value"]
            if amount is None or amount <= 0 or r["drug_concept_id"] is None:
                continue
            mg = amount * factor if factor is not None else None
            key = (r["drug_concept_id"], r["ingredient_concept_id"])
            if mg is not None and (key not in strength or strength[key] < mg):
                strength[key] = mg
            elif mg is None:
                strength.setdefault(key, float("nan"))
        drug: dict[int, list[Ingredient]] = defaultdict(list)
        for ingredient_id, rows in ingredients.items():
            for drug_id in {ingredient_id} | descendants[ingredient_id]:
                mg = strength.get((drug_id, ingredient_id))
                for row in rows:
                    item = Ingredient(
                        row["key"],
                        row["kind"],
                        row["drug_class"],
                        row["min_dose_mg"],
                        None if mg is None or mg != mg else mg,
                    )
                    if item not in drug[drug_id]:
                        drug[drug_id].append(item)
        procedure: dict[int, str] = {}
        for row in lookups["procedure"].to_pylist():
            for cid in ids(row):
                procedure[cid] = row["treatment"]
        phq9 = {cid for row in lookups["measurement"].to_pylist() for cid in ids(row)}
        return cls(condition, dict(drug), procedure, phq9)


@dataclass
class PersonRecords:
    """One person's rows of every OMOP table (dicts as read from Parquet)."""

    person: dict[str, Any]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


def group_by_person(tables: Mapping[str, pa.Table]) -> Iterator[PersonRecords]:
    """Every person (in person_id order) with their records; rows of unknown persons and
    repeated person rows are left out, as the engines leave them out."""
    people: dict[int, PersonRecords] = {}
    for row in tables["person"].to_pylist():
        if row["person_id"] is not None:  # a row without an id is nobody's (reported)
            people.setdefault(row["person_id"], PersonRecords(row))
    for name in SCHEMAS:
        if name in ("person", "concept", "concept_ancestor", "drug_strength"):
            continue
        for row in tables[name].to_pylist():
            owner = people.get(row["person_id"])
            if owner is not None:
                owner.rows[name].append(row)
    for pid in sorted(people):
        yield people[pid]


@dataclass
class Era:
    key: str
    kind: str
    drug_class: str | None
    min_dose_mg: float | None
    start: int
    end: int
    dose: float | None
    first_dose: float | None
    fail_day: int | None = None


@dataclass
class Course:
    start: int
    end: int
    sessions: int
    fail_day: int | None = None


@dataclass
class EpisodeRecords:
    number: int
    onset: int
    as_of: int
    severity_rank: int | None
    psychotic: bool
    recurrent: bool
    eras: list[Era]
    courses: list[Course]
    phq9: list[tuple[int, int, int]]
    """(day, measurement_id, total) in order."""


def _eras(person: PersonRecords, vocab: Vocabulary, gap: int) -> list[Era]:
    exposures: dict[str, list[tuple[int, int, int, float | None, Ingredient]]] = defaultdict(list)
    for row in person.rows["drug_exposure"]:
        start_date = row["drug_exposure_start_date"]
        if start_date is None:
            continue
        for ing in vocab.drug.get(row["drug_concept_id"], []):
            if ing.kind not in ("antidepressant", "augmentation"):
                continue
            start = _day(start_date)
            supply, quantity = row["days_supply"], row["quantity"]
            if row["drug_exposure_end_date"] is not None:
                end = _day(row["drug_exposure_end_date"])
            elif supply is not None and supply > 0:
                end = start + supply
            else:
                end = start + 1
            if end < start:
                continue
            dose = None
            known = quantity is not None and supply is not None and ing.mg_per_unit is not None
            if known and quantity > 0 and supply > 0:
                dose = quantity * ing.mg_per_unit / supply
            exposures[ing.key].append((start, end, row["drug_exposure_id"], dose, ing))
    eras: list[Era] = []
    for key in sorted(exposures):
        current: Era | None = None
        for start, end, _, dose, ing in sorted(exposures[key], key=lambda x: x[:3]):
            if current is None or start > current.end + gap:
                current = Era(
                    key, ing.kind, ing.drug_class, ing.min_dose_mg, start, end, dose, dose
                )
                eras.append(current)
            else:
                current.end = max(current.end, end)
                if dose is not None and (current.dose is None or dose > current.dose):
                    current.dose = dose
    return eras


def _episodes(
    person: PersonRecords, vocab: Vocabulary, params: EngineParams, as_of: int
) -> list[tuple[int, int, int | None, bool, bool]]:
    records: dict[int, tuple[int, int | None, int, int]] = {}
    for row in person.rows["condition_occurrence"]:
        if row["condition_start_date"] is None:
            continue
        day = _day(row["condition_start_date"])
        if day > as_of:
            continue
        for column in ("condition_concept_id", "condition_source_concept_id"):
            attrs = vocab.condition.get(row[column])
            if attrs is None:
                continue
            rid = row["condition_occurrence_id"]
            old = records.get(rid)
            if old is None:
                records[rid] = (day, attrs[0], attrs[1], attrs[2])
            else:
                ranks = [r for r in (old[1], attrs[0]) if r is not None]
                records[rid] = (
                    day,
                    max(ranks) if ranks else None,
                    max(old[2], attrs[1]),
                    max(old[3], attrs[2]),
                )
    ordered = sorted((v[0], rid, v) for rid, v in records.items())
    groups: list[list[tuple[int, int | None, int, int]]] = []
    previous: int | None = None
    for day, _, values in ordered:
        if previous is None or day - previous > params.episode_gap_days:
            groups.append([])
        groups[-1].append(values)
        previous = day
    out = []
    for group in groups:
        ranks = [v[1] for v in group if v[1] is not None]
        out.append(
            (
                group[0][0],
                max(ranks) if ranks else None,
                max(v[2] for v in group) == 1,
                max(v[3] for v in group) == 1,
            )
        )
    return [(n + 1, *values) for n, values in enumerate(out)]


def _person_as_of(person: PersonRecords, params: EngineParams) -> int:
    cap = _day(params.as_of)
    ends = [r["observation_period_end_date"] for r in person.rows["observation_period"]]
    ends = [e for e in ends if e is not None]
    return min(_day(max(ends)), cap) if ends else cap


def episode_records(
    person: PersonRecords, vocab: Vocabulary, params: EngineParams
) -> list[EpisodeRecords]:
    """The person's episodes with their trials, ECT courses and PHQ-9 totals."""
    as_of = _person_as_of(person, params)
    raw = _episodes(person, vocab, params, as_of)
    eras = _eras(person, vocab, params.era_gap_days)
    ect_days = sorted(
        {
            _day(r["procedure_date"])
            for r in person.rows["procedure_occurrence"]
            if r["procedure_date"] is not None
            and vocab.procedure.get(r["procedure_concept_id"]) == "ECT"
        }
    )
    courses: list[Course] = []
    for day in ect_days:
        if courses and day - courses[-1].end <= params.ect_course_gap_days:
            courses[-1].end = day
            courses[-1].sessions += 1
        else:
            courses.append(Course(day, day, 1))
    phq9 = sorted(
        (_day(r["measurement_date"]), r["measurement_id"], int(r["value_as_number"]))
        for r in person.rows["measurement"]
        if r["measurement_concept_id"] in vocab.phq9
        and r["measurement_date"] is not None
        and r["value_as_number"] is not None
        and float(r["value_as_number"]).is_integer()
        and 0 <= r["value_as_number"] <= params.phq9_max_total
        and _day(r["measurement_date"]) <= as_of
    )
    episodes = []
    for index, (number, onset, rank, psychotic, recurrent) in enumerate(raw):
        end = raw[index + 1][1] - 1 if index + 1 < len(raw) else as_of
        end = min(end, as_of)
        mine = [e for e in eras if onset <= e.start <= end]
        steps = [(e.key, e.start) for e in mine]
        for era in mine:
            if era.kind != "antidepressant":
                continue
            after = [
                s
                for k, s in steps
                if k != era.key
                and era.start + params.min_duration_days
                <= s
                <= era.end + params.next_step_window_days
            ]
            era.fail_day = min(after) if after else None
        my_courses = [c for c in courses if onset <= c.start <= end]
        for course in my_courses:
            after = [
                s for _, s in steps if course.start < s <= course.end + params.next_step_window_days
            ]
            course.fail_day = min(after) if after else None
        episodes.append(
            EpisodeRecords(
                number=number,
                onset=onset,
                as_of=end,
                severity_rank=rank,
                psychotic=psychotic,
                recurrent=recurrent or number > 1,
                eras=mine,
                courses=my_courses,
                phq9=[m for m in phq9 if onset <= m[0] <= end],
            )
        )
    return episodes


def _items(total: int) -> list[int]:
    """Nine PHQ-9 item scores adding up to ``total`` (threes first)."""
    items = []
    left = total
    for _ in range(9):
        items.append(min(3, left))
        left -= items[-1]
    return items


def history_for(
    person: PersonRecords,
    episode: EpisodeRecords,
    as_of: int,
    kb: KnowledgeBase,
) -> PatientHistory:
    """The core's patient history of one episode as known on day ``as_of``: responses count
    only when the switch or augmentation that marks them happened by then."""
    p = person.person
    birth = date(p["year_of_birth"] or 1900, p["month_of_birth"] or 1, p["day_of_birth"] or 1)
    trials = []
    for era in episode.eras:
        failed = era.fail_day is not None and era.fail_day <= as_of
        floor = kb.drugs[era.key].min_daily_dose_mg
        dose = era.dose if era.dose is not None else (floor or 1.0)
        optimized = (
            era.dose is not None
            and era.first_dose is not None
            and floor is not None
            and era.dose > floor
            and era.dose > era.first_dose
        )
        trials.append(
            MedicationTrial(
                drug=era.key,
                daily_dose_mg=float(dose),
                start=_date(era.start),
                end=_date(era.end),
                role=era.kind,
                response="none" if failed and era.kind == "antidepressant" else "unknown",
                dose_optimized=optimized,
            )
        )
    procedures = [
        Procedure(
            type="ECT",
            start=_date(c.start),
            end=_date(c.end),
            sessions=c.sessions,
            response="none" if c.fail_day is not None and c.fail_day <= as_of else "unknown",
        )
        for c in episode.courses
    ]
    measurements = [
        Measurement(instrument="PHQ-9", date=_date(day), items=_items(total))
        for day, _, total in episode.phq9
    ]
    severity = _SEVERITY_NAME.get(episode.severity_rank or 0, "moderate")
    return PatientHistory(
        id=str(p["person_id"]),
        as_of=_date(as_of),
        patient=Patient(
            birth_date=birth,
            sex={8507: "male", 8532: "female"}.get(p["gender_concept_id"], "unknown"),
        ),
        episode=Episode(
            onset=_date(episode.onset),
            severity=severity,
            psychotic_features=episode.psychotic,
            recurrent=episode.recurrent,
        ),
        medication_trials=trials,
        procedures=procedures,
        measurements=measurements,
    )


def _trd_day(
    person: PersonRecords, episode: EpisodeRecords, kb: KnowledgeBase, params: EngineParams
) -> int | None:
    """The first day on which the core finds TRD (binary search over the failure days)."""
    candidates = sorted({e.fail_day for e in episode.eras if e.fail_day is not None})
    if not candidates:
        return None

    def trd_on(day: int) -> bool:
        history = history_for(person, episode, day, kb)
        return assess(history, kb, adequate_trial_days=params.min_duration_days).trd

    if not trd_on(candidates[-1]):
        return None
    lo = bisect_left(range(len(candidates)), True, key=lambda i: trd_on(candidates[i]))
    return candidates[lo]


def core_episode_results(
    person: PersonRecords, vocab: Vocabulary, params: EngineParams, kb: KnowledgeBase
) -> list[dict[str, Any]]:
    """The :data:`COMPARED` results of each of the person's episodes, from the core."""
    out = []
    for episode in episode_records(person, vocab, params):
        history = history_for(person, episode, episode.as_of, kb)
        result = assess(history, kb, adequate_trial_days=params.min_duration_days)
        facts, staging = result.facts, result.staging
        msm = staging.msm.components
        known = episode.severity_rank is not None
        trd_day = _trd_day(person, episode, kb, params) if result.trd else None
        phq = result.outcome.get("PHQ-9")
        out.append(
            {
                "person_id": person.person["person_id"],
                "episode": episode.number,
                "onset": _date(episode.onset),
                "as_of": _date(episode.as_of),
                "trd": result.trd,
                "trd_date": None if trd_day is None else _date(trd_day),
                "failed_trials": facts.failed_trials,
                "failed_drugs": facts.failed_adequate_trials,
                "dose_optimized_failed_trials": facts.dose_optimized_failed_trials,
                "augmentation_trials": facts.augmentation_trials,
                "ect_courses": facts.ect_courses,
                "failed_ect_courses": facts.failed_ect_courses,
                "thase_rush": staging.thase_rush,
                "mgh_s": staging.mgh_s,
                "msm_duration_months": msm.duration_months,
                "msm_duration": msm.duration,
                "msm_severity": msm.severity if known else None,
                "msm_failed_antidepressants": msm.failed_antidepressants,
                "msm_augmentation": msm.augmentation,
                "msm_ect": msm.ect,
                "msm_total": staging.msm.total if known else None,
                "msm_band": staging.msm.band if known else None,
                "phq9_count": phq.measurements if phq else 0,
                "phq9_baseline": phq.baseline.total if phq else None,
                "phq9_latest": phq.latest.total if phq else None,
                "phq9_response": phq.response if phq else None,
                "phq9_remission": phq.remission if phq else None,
            }
        )
    return out


def core_results(
    people: Iterable[PersonRecords], vocab: Vocabulary, params: EngineParams, kb: KnowledgeBase
) -> list[dict[str, Any]]:
    return [row for person in people for row in core_episode_results(person, vocab, params, kb)]
