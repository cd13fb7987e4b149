"""The TRD phenotype, written once with Ibis: *what* to compute, whatever the engine.

``Definition`` takes the OMOP tables as Ibis tables of one backend and builds, step by step:

1. **concepts**: the concept sets resolved to the data's concept ids (``concept`` table by
   vocabulary and code, plus the ids the knowledge data gives), clinical drugs mapped to
   their ingredients through ``concept_ancestor``, milligrams per unit from ``drug_strength``;
2. **exposures**: drug exposures of known ingredients, end = end date, else start +
   days_supply, else start + 1 day; daily dose = quantity x strength / days_supply;
3. **eras** per ingredient: exposures merged while the next starts within ``era_gap_days``
   of the latest end so far; an era's dose is its highest daily dose, and it was
   dose-optimised when that dose is above the minimum adequate dose and above its first;
4. **episodes**: MDD records grouped while each follows the previous within
   ``episode_gap_days``; an episode runs from its first record to the day before the next
   episode, or to the person's assessment date (end of observation, at most ``as_of``);
5. **trials** of an episode: the eras starting in it. An antidepressant era is adequate when
   the drug has a minimum dose, the dose (where known) reaches it, and it lasted
   ``min_duration_days`` (to its end or the episode's end). It *failed* when a switch or
   augmentation followed it: an era of another antidepressant or of an augmentation agent
   starting in the episode, at least ``min_duration_days`` after the era's start and at most
   ``next_step_window_days`` after its end; the failure is dated at that start;
6. **ECT courses**: ECT days merged within ``ect_course_gap_days``; a course of at least the
   failed-course number of sessions failed when a switch or augmentation followed it;
7. **episode results**: TRD (failed adequate trials of at least two distinct drugs) and its
   date (the failure date of the second drug: the start of the third regimen), Thase-Rush,
   MGH-S, Maudsley components, PHQ-9 baseline, latest, response and remission, remission
   at 12 months, lines of treatment;
8. **person results**: the first episode with TRD, else the latest episode, and the first
   date of each treatment received.

Dates are handled as day numbers (days since 1970-01-01) so every engine computes the same
integers; columns named ``*_day`` are day numbers, which the runners turn back into dates.
The runners decide *where* this runs and pass ``materialize`` to keep intermediate steps.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from trdnav.cohort.concepts import SEVERITY_RANK
from trdnav.cohort.lookups import CLASSES
from trdnav.cohort.steps import (
    LINES_SHOWN,
    SEVERITY_NAME,
    TREATMENTS,
    Steps,
    band_label,
    flag,
    severity_points,
    step_points,
)

__all__ = ["EPISODE_COLUMNS", "LINES_SHOWN", "TREATMENTS", "Definition"]


class Definition(Steps):
    """The phenotype's results over one backend's OMOP tables: one row per episode, one
    row per person."""

    # --- 7. episode results --------------------------------------------------------------

    def episode_results(self) -> ir.Table:
        """One row per episode: :data:`EPISODE_COLUMNS`. Not kept: the runner computes it
        once and gives it back to :meth:`person_results` (:meth:`Runner.keep_result`)."""
        return self._once("episode_results", self._episode_results, keep=False)

    def _episode_results(self) -> ir.Table:
        f = self.failures()
        # Failed trials by drug (a drug's class is its ingredient's), then by episode.
        by_drug = f.group_by(["person_id", "episode", "key"]).agg(
            day=f.fail_day.min(),
            trials=f.count(),
            drug_class=f.drug_class.max(),
            dose_optimized=f.dose_optimized.sum(),
        )
        # The day of the n-th drug by failure day does not depend on the order of drugs
        # failing on the same day.
        by_drug = by_drug.mutate(
            rank=ibis.row_number().over(
                ibis.window(group_by=[by_drug.person_id, by_drug.episode], order_by=by_drug.day)
            )
        )
        classes = range(len(CLASSES))
        drugs = by_drug.group_by(["person_id", "episode"]).agg(
            failed_trials=by_drug.trials.sum(),
            failed_classes=sum(
                (flag(by_drug.drug_class == c).max() for c in classes),
                ibis.literal(0, type="int64"),
            ),
            failed_stage_3_class=flag(
                by_drug.drug_class == CLASSES.index(self.p.thase_rush.stage_3_class)
            ).max(),
            failed_stage_4_class=flag(
                by_drug.drug_class == CLASSES.index(self.p.thase_rush.stage_4_class)
            ).max(),
            dose_optimized_failed_trials=by_drug.dose_optimized.sum(),
            failed_drugs=by_drug.count(),
            trd_day=ibis.ifelse(
                by_drug.rank == self.p.min_failed_drugs - 1, by_drug.day, ibis.null("int64")
            ).max(),
        )
        c = self.ect_courses()
        ect = c.group_by(["person_id", "episode"]).agg(
            ect_courses=c.count(), failed_ect_courses=flag(c.failed).sum()
        )
        r = self.episodes()
        for part in (drugs, ect, self.line_facts(), self.phq9_outcomes()):
            r = r.left_join(
                part, [r.person_id == part.person_id, r.episode == part.episode]
            ).select(r, *[part[c] for c in part.columns if c not in ("person_id", "episode")])
        zero = ibis.literal(0, type="int64")
        # Remission at 12 months is not known while its window is still open on the
        # person's assessment date: a later total in the window could change it.
        window_open = r.due_day + self.p.phq9_followup_window_days > r.person_as_of_day
        r = r.mutate(remission_12m=ibis.ifelse(window_open, ibis.null("boolean"), r.remission_12m))
        r = r.mutate(
            failed_trials=r.failed_trials.fill_null(zero),
            failed_drugs=r.failed_drugs.fill_null(zero).cast("int64"),
            failed_classes=r.failed_classes.fill_null(zero).cast("int64"),
            failed_stage_3_class=r.failed_stage_3_class.fill_null(zero),
            failed_stage_4_class=r.failed_stage_4_class.fill_null(zero),
            dose_optimized_failed_trials=r.dose_optimized_failed_trials.fill_null(zero),
            augmentation_trials=r.augmentation_trials.fill_null(zero),
            ect_courses=r.ect_courses.fill_null(zero),
            failed_ect_courses=r.failed_ect_courses.fill_null(zero),
            lines=r.lines.fill_null(zero),
            phq9_count=r.phq9_count.fill_null(zero),
        )
        return self._staged(r)

    def _staged(self, r: ir.Table) -> ir.Table:
        tr, mg, msm = self.p.thase_rush, self.p.mgh_s, self.p.msm
        stage_2 = r.failed_classes >= tr.stage_2_min_classes
        # Cumulative, as in the core: each stage's class is a failure beyond the stage below.
        stage_3 = (
            stage_2 & (r.failed_stage_3_class == 1) & (r.failed_classes > tr.stage_2_min_classes)
        )
        stage_4 = (
            stage_3
            & (r.failed_stage_4_class == 1)
            & (r.failed_classes > tr.stage_2_min_classes + 1)
        )
        stage_5 = stage_4 & (r.failed_ect_courses > 0)
        thase_rush = ibis.cases(
            (stage_5, 5),
            (stage_4, 4),
            (stage_3, 3),
            (stage_2, 2),
            (r.failed_classes > 0, 1),
            else_=0,
        )
        mgh_s = (
            r.failed_trials.cast("float64") * mg.per_failed_trial
            + r.dose_optimized_failed_trials.cast("float64") * mg.per_dose_optimized_trial
            + r.augmentation_trials.cast("float64") * mg.per_augmentation_trial
            + ibis.ifelse(r.failed_ect_courses > 0, mg.failed_ect_course, 0.0)
        )
        onset, end = r.onset, r.as_of
        months = (
            (end.year() - onset.year()) * 12
            + (end.month() - onset.month())
            - flag(end.day() < onset.day())
        ).cast("int64")
        severe_psychotic = (r.severity_rank == SEVERITY_RANK["severe"]) & (r.psychotic == 1)
        msm_severity = ibis.cases(
            (severe_psychotic, msm.severity["severe_psychotic"]),
            *[(r.severity_rank == rank, points) for rank, points in severity_points(msm).items()],
            else_=ibis.null("int64"),
        )
        r = r.mutate(
            trd=r.failed_drugs >= self.p.min_failed_drugs,
            days_to_trd=r.trd_day - r.onset_day,
            thase_rush=thase_rush,
            mgh_s=mgh_s,
            msm_duration_months=months,
            msm_duration=step_points(months, msm.duration_months),
            msm_severity=msm_severity,
            msm_failed_antidepressants=step_points(r.failed_drugs, msm.failed_antidepressants),
            msm_augmentation=ibis.ifelse(r.augmentation_trials > 0, msm.augmentation_used, 0),
            msm_ect=ibis.ifelse(r.ect_courses > 0, msm.ect_used, 0),
            severity=ibis.cases(
                *[(r.severity_rank == rank, name) for rank, name in SEVERITY_NAME.items()],
                else_=ibis.null("string"),
            ),
            psychotic_features=r.psychotic == 1,
            recurrent=(r.coded_recurrent == 1) | (r.episode > 1),
        )
        total = (
            r.msm_duration
            + r.msm_severity
            + r.msm_failed_antidepressants
            + r.msm_augmentation
            + r.msm_ect
        )
        band = ibis.ifelse(total.isnull(), ibis.null("string"), band_label(total, msm.bands))
        r = r.mutate(msm_total=total, msm_band=band)
        return r.select(**{c: r[c].cast(t) for c, t in _TYPES.items()})

    # --- 8. person results --------------------------------------------------------------

    def person_results(self, episodes: ir.Table) -> ir.Table:
        """One row per person, in no particular order (the runner sorts the rows), from
        ``episodes``, the :meth:`episode_results` as the runner kept them."""
        e = episodes
        pick = e.group_by("person_id").agg(
            episodes=e.count(),
            first_trd=ibis.ifelse(e.trd, e.episode, ibis.null("int64")).min(),
            last=e.episode.max(),
        )
        pick = pick.mutate(chosen=ibis.coalesce(pick.first_trd, pick.last))
        chosen = e.join(pick, [e.person_id == pick.person_id, e.episode == pick.chosen]).select(
            e, episodes=pick.episodes
        )
        # treatments up to the person's assessment date, as every other result
        td, persons = self.treatment_days(), self.persons()
        td = td.join(persons, td.person_id == persons.person_id).select(
            td.person_id, td.treatment, td.day, persons.as_of_day
        )
        td = td.filter(td.day <= td.as_of_day)
        received = td.group_by("person_id").agg(
            **{
                f"{name.lower()}_first_day": ibis.ifelse(
                    td.treatment == number, td.day, ibis.null("int64")
                )
                .min()
                .cast("int64")
                for number, name in enumerate(TREATMENTS)
            }
        )
        out = persons.left_join(chosen, persons.person_id == chosen.person_id).select(
            persons.person_id,
            persons.as_of,
            episodes=chosen.episodes.fill_null(0).cast("int64"),
            **{c: chosen[c].cast(t) for c, t in _TYPES.items() if c not in ("person_id", "as_of")},
            episode_as_of=chosen.as_of,
        )
        out = out.left_join(received, out.person_id == received.person_id).select(
            out, *[received[c] for c in received.columns if c != "person_id"]
        )
        return out.mutate(trd=out.trd.fill_null(False))


_TYPES: dict[str, str] = {
    "person_id": "int64",
    "episode": "int64",
    "onset": "date",
    "as_of": "date",
    "severity": "string",
    "psychotic_features": "boolean",
    "recurrent": "boolean",
    "trd": "boolean",
    "trd_day": "int64",
    "days_to_trd": "int64",
    "failed_trials": "int64",
    "failed_drugs": "int64",
    "dose_optimized_failed_trials": "int64",
    "augmentation_trials": "int64",
    "ect_courses": "int64",
    "failed_ect_courses": "int64",
    "thase_rush": "int64",
    "mgh_s": "float64",
    "msm_duration_months": "int64",
    "msm_duration": "int64",
    "msm_severity": "int64",
    "msm_failed_antidepressants": "int64",
    "msm_augmentation": "int64",
    "msm_ect": "int64",
    "msm_total": "int64",
    "msm_band": "string",
    "phq9_count": "int64",
    "phq9_baseline": "int64",
    "phq9_latest": "int64",
    "phq9_response": "boolean",
    "phq9_remission": "boolean",
    "remission_12m": "boolean",
    "lines": "int64",
    **{f"line_{n}": "string" for n in range(1, LINES_SHOWN + 1)},
    "remission_line": "int64",
}
EPISODE_COLUMNS: tuple[str, ...] = tuple(_TYPES)
"""The columns of the episode results, in order (their types: ``_TYPES``)."""
