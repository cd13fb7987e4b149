"""The steps of the TRD phenotype, written once with Ibis (see :mod:`trdnav.cohort.definition`).

``Steps`` builds, from the OMOP tables of one backend, the intermediate tables: resolved
concepts, exposures, eras, episodes, trials and their failures, treatments, ECT courses,
PHQ-9 totals and lines of treatment. :class:`~trdnav.cohort.definition.Definition` adds the
results.

How the steps are shaped for speed (the results do not depend on it):

* only steps that later steps read more than once are kept (``materialize``); the others
  are part of the query that reads them;
* the large tables carry numbers only: ingredient, kind and class numbers, treatment
  numbers, day numbers; names join in at the end, on one row per episode;
* windows are few and narrow: treatment eras take one pass over the exposures and one over
  the era starts; the baseline, the latest and the 12-month PHQ-9 come from one
  aggregate each, over a number that orders totals by day and then by total; every other
  per-episode fact is an aggregate or a join;
* a record of a person missing from ``person`` falls out where its step joins the
  person's episodes or assessment date, so no step filters the large tables by person
  (the data checks count those records).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from trdnav.cohort.concepts import SEVERITY_RANK
from trdnav.cohort.lookups import (
    ANTIDEPRESSANT,
    AUGMENTATION,
    TREATMENT,
    EngineParams,
)
from trdnav.cohort.omop import UNIT_TO_MG
from trdnav.core.rule_params import BandStep, MsmParams, Step

__all__ = [
    "LINES_SHOWN",
    "SEVERITY_NAME",
    "TREATMENTS",
    "Steps",
    "band_label",
    "day_number",
    "exposure_end_day",
    "flag",
    "severity_points",
    "step_points",
    "valid_total",
]

LINES_SHOWN = 4
TREATMENTS: tuple[str, ...] = ("ECT", "TMS", "VNS", "DBS", "esketamine", "ketamine")
"""Treatments received, by number (``treatment`` in :meth:`Steps.treatment_days`)."""
SEVERITY_NAME = {rank: name for name, rank in SEVERITY_RANK.items()}
_ECT = TREATMENTS.index("ECT")

Materialize = Callable[[ir.Table], ir.Table]


def _same(table: ir.Table) -> ir.Table:
    return table


def day_number(value: ir.DateValue) -> ir.IntegerValue:
    return value.epoch_days().cast("int64")


def exposure_end_day(
    start_day: ir.IntegerValue, end_date: ir.DateValue, days_supply: ir.IntegerValue
) -> ir.IntegerValue:
    """The end of a drug exposure: its end date, else start + days_supply, else start + 1."""
    supplied = ibis.ifelse(days_supply > 0, start_day + days_supply, ibis.null("int64"))
    return ibis.coalesce(day_number(end_date), supplied, start_day + 1)


def _in_range(v: ir.FloatingValue, top: int) -> ir.FloatingValue:
    """``v`` when it is from 0 to ``top``, else 0. Ibis rounds down to an integer (a cast),
    and an engine may compute an expression on rows it filters out afterwards (DuckDB does):
    rounding NaN or 1e20 down fails the whole run, so out-of-range values never reach it."""
    return ibis.ifelse((v >= 0) & (v <= top), v, 0.0)


def valid_total(v: ir.FloatingValue, top: int) -> ir.BooleanValue:
    """Whether a scale's total ``v`` is a whole number from 0 to ``top`` (NaN is not: every
    engine orders it above all numbers)."""
    kept = _in_range(v, top)
    return v.notnull() & (v >= 0) & (v <= top) & (kept.floor() == kept)


def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    return ibis.ifelse(condition, 1, 0)


def _larger(a: ir.IntegerValue, b: ir.IntegerValue) -> ir.IntegerValue:
    """The larger of two values, ignoring a null (as ``max`` over both would)."""
    return ibis.coalesce(ibis.greatest(a, b), a, b)


def _treatment_number(name: ir.StringValue) -> ir.IntegerValue:
    return ibis.cases(
        *[(name == treatment, n) for n, treatment in enumerate(TREATMENTS)],
        else_=ibis.null("int64"),
    )


def severity_points(msm: MsmParams) -> dict[int, int]:
    """Maudsley severity points by severity rank (1 subsyndromal ... 4 severe)."""
    return {
        SEVERITY_RANK["subsyndromal"]: msm.severity["subsyndromal"],
        SEVERITY_RANK["mild"]: msm.severity["mild"],
        SEVERITY_RANK["moderate"]: msm.severity["moderate"],
        SEVERITY_RANK["severe"]: msm.severity["severe"],
    }


def step_points(value: ir.IntegerValue, steps: list[Step]) -> ir.IntegerValue:
    cases = [(value <= s.max, s.points) for s in steps if s.max is not None]
    return ibis.cases(*cases, else_=steps[-1].points)


def band_label(value: ir.IntegerValue, steps: list[BandStep]) -> ir.StringValue:
    cases = [(value <= s.max, s.label) for s in steps if s.max is not None]
    return ibis.cases(*cases, else_=steps[-1].label)


class Steps:
    """The phenotype over one backend's OMOP tables (``tables``: every name of
    :data:`trdnav.cohort.omop.SCHEMAS`, empty where the data has none)."""

    def __init__(
        self,
        tables: Mapping[str, ir.Table],
        lookups: Mapping[str, Any],
        params: EngineParams,
        materialize: Materialize = _same,
    ) -> None:
        self.t = tables
        self.p = params
        self.keep = materialize
        self._lookups = lookups
        self._cache: dict[str, ir.Table] = {}

    def _once(self, name: str, build: Callable[[], ir.Table], *, keep: bool = True) -> ir.Table:
        """Build a step once; the runner keeps it when later steps read it more than once."""
        if name not in self._cache:
            self._cache[name] = self.keep(build()) if keep else build()
        return self._cache[name]

    # --- 1. concepts --------------------------------------------------------------

    def _resolve(self, lookup: ir.Table, attrs: list[str]) -> ir.Table:
        concept = self.t["concept"]
        by_vocabulary = lookup.join(
            concept,
            [
                lookup.vocabulary_id == concept.vocabulary_id,
                lookup.concept_code == concept.concept_code,
            ],
        ).select(concept_id=concept.concept_id, **{a: lookup[a] for a in attrs})
        given = lookup.filter(lookup.known_concept_id.notnull()).select(
            concept_id=lookup.known_concept_id, **{a: lookup[a] for a in attrs}
        )
        return by_vocabulary.union(given, distinct=True)

    def phq9_codes(self) -> ir.Table:
        """The data's concept ids of the PHQ-9 total (one row each)."""
        return self._resolve(self._lookups["measurement"], [])

    def person_ids(self) -> ir.Table:
        """Each value of ``person.person_id`` once, a null included, with how many rows
        have it (``records``) and the person's assessment date (``as_of``, ``as_of_day``:
        the end of observation, at most the run's ``as_of``)."""

        def build() -> ir.Table:
            rows = self.t["person"]
            ids = rows.group_by("person_id").agg(records=rows.count())
            obs = self.t["observation_period"]
            ends = obs.group_by("person_id").agg(obs_end=obs.observation_period_end_date.max())
            cap = ibis.literal(self.p.as_of, type="date")
            joined = ids.left_join(ends, ids.person_id == ends.person_id)
            as_of = ibis.least(joined.obs_end.fill_null(cap), cap)
            return joined.select(
                ids.person_id, ids.records, as_of=as_of, as_of_day=day_number(as_of)
            )

        return self._once("person_ids", build)

    def persons(self) -> ir.Table:
        """Every person (a repeated person id counts once; the data checks report it) with
        the assessment date of their data."""
        ids = self.person_ids()
        return ids.filter(ids.person_id.notnull())

    def drug_map(self) -> ir.Table:
        """Drug concept -> ingredient key, kind, class, minimum dose and mg per unit."""

        def build() -> ir.Table:
            lookup = self._lookups["drug"]
            lookup = lookup.select(
                "vocabulary_id",
                "concept_code",
                "known_concept_id",
                "min_dose_mg",
                key=lookup.drug_no,
                kind=lookup.kind_no,
                drug_class=lookup.class_no,
            )
            attrs = ["key", "kind", "drug_class", "min_dose_mg"]
            ingredients = self._resolve(lookup, attrs)
            ancestor = self.t["concept_ancestor"]
            direct = ingredients.select(
                drug_concept_id=ingredients.concept_id,
                ingredient_concept_id=ingredients.concept_id,
                **{a: ingredients[a] for a in attrs},
            )
            via = ancestor.join(
                ingredients, ancestor.ancestor_concept_id == ingredients.concept_id
            ).select(
                drug_concept_id=ancestor.descendant_concept_id,
                ingredient_concept_id=ingredients.concept_id,
                **{a: ingredients[a] for a in attrs},
            )
            mapped = direct.union(via, distinct=True)
            ds = self.t["drug_strength"]
            factor = ibis.cases(
                *[(ds.amount_unit_concept_id == unit, mg) for unit, mg in UNIT_TO_MG.items()],
                else_=ibis.null("float64"),
            )
            strength = (
                ds.filter(ds.amount_value.notnull() & (ds.amount_value > 0))
                .mutate(mg=ds.amount_value * factor)
                .group_by(["drug_concept_id", "ingredient_concept_id"])
                .agg(mg_per_unit=lambda t: t.mg.max())
            )
            joined = mapped.left_join(
                strength,
                [
                    mapped.drug_concept_id == strength.drug_concept_id,
                    mapped.ingredient_concept_id == strength.ingredient_concept_id,
                ],
            )
            return joined.select(
                drug_concept_id=mapped.drug_concept_id,
                **{a: mapped[a] for a in attrs},
                mg_per_unit=strength.mg_per_unit,
            )

        return self._once("drug_map", build)

    def _ingredients(self) -> ir.Table:
        """Kind, class and minimum dose of each antidepressant and augmentation ingredient
        (a function of the ingredient: :func:`trdnav.cohort.lookups.drug_lookup`)."""
        lookup = self._lookups["drug"]
        lookup = lookup.filter(lookup.kind_no.isin([ANTIDEPRESSANT, AUGMENTATION]))
        return lookup.group_by(key=lookup.drug_no).agg(
            kind=lookup.kind_no.max(),
            drug_class=lookup.class_no.max(),
            min_dose_mg=lookup.min_dose_mg.max(),
        )

    def _drug_names(self) -> ir.Table:
        lookup = self._lookups["drug"]
        return lookup.select(number=lookup.drug_no, name=lookup.key).distinct()

    # --- 2-3. exposures and eras -------------------------------------------------------

    def exposures(self) -> ir.Table:
        """Exposures of known ingredients, as day numbers; the end falls before the start
        for some (those are reported and left out of the eras). Records of persons missing
        from ``person`` are included (the data checks count them)."""

        def build() -> ir.Table:
            de = self.t["drug_exposure"]
            dm = self.drug_map()
            x = de.join(dm, de.drug_concept_id == dm.drug_concept_id)
            start = day_number(x.drug_exposure_start_date)
            end = exposure_end_day(start, x.drug_exposure_end_date, x.days_supply)
            dose = ibis.ifelse(
                (x.quantity > 0) & (x.days_supply > 0) & x.mg_per_unit.notnull(),
                x.quantity * x.mg_per_unit / x.days_supply,
                ibis.null("float64"),
            )
            return x.select(
                "person_id",
                "drug_exposure_id",
                "key",
                "kind",
                start_day=start,
                end_day=end,
                dose=dose,
            ).filter(lambda t: t.start_day.notnull())

        return self._once("exposures", build, keep=False)  # a scan and a small join

    def eras(self) -> ir.Table:
        """Treatment eras per person and ingredient (antidepressants, augmentation agents).

        One window pass over the exposures finds the exposures that start an era (those
        starting more than the era gap after the latest end so far). Such an exposure starts
        after every earlier exposure of the ingredient has ended, so within a person and
        ingredient each era has its own start day and holds the exposures starting from it
        up to the next era's start: a join on that range, with the next start from a window
        over the era starts only, gives each exposure its era (a second pass over all
        exposures, a running count, would cost as much as the first)."""
        x = self.exposures()
        x = x.filter(x.kind.isin([ANTIDEPRESSANT, AUGMENTATION]) & (x.end_day >= x.start_day))
        x = x.select("person_id", "key", "start_day", "end_day", "drug_exposure_id", "dose")
        by = ["person_id", "key"]
        order = ["start_day", "end_day", "drug_exposure_id"]
        previous = x.end_day.max().over(ibis.window(group_by=by, order_by=order, rows=(None, -1)))
        x = x.select(
            "person_id",
            "key",
            "start_day",
            "end_day",
            "dose",
            new=previous.isnull() | (x.start_day > previous + self.p.era_gap_days),
        )
        starts = x.filter(x.new).select(
            era_person="person_id", era_key="key", era_start="start_day", first_dose="dose"
        )
        starts = starts.mutate(
            next_start=starts.era_start.lead().over(
                ibis.window(group_by=["era_person", "era_key"], order_by="era_start")
            )
        )
        x = x.join(
            starts,
            [
                x.person_id == starts.era_person,
                x.key == starts.era_key,
                x.start_day >= starts.era_start,
                starts.next_start.isnull() | (x.start_day < starts.next_start),
            ],
        )
        eras = x.group_by(["person_id", "key", "era_start"]).agg(
            end_day=x.end_day.max(), dose=x.dose.max(), first_dose=x.first_dose.max()
        )
        ing = self._ingredients()
        return eras.join(ing, eras.key == ing.key).select(
            "person_id",
            "key",
            start_day=eras.era_start,
            end_day=eras.end_day,
            dose=eras.dose,
            first_dose=eras.first_dose,
            kind=ing.kind,
            drug_class=ing.drug_class,
            min_dose_mg=ing.min_dose_mg,
        )

    # --- 4. episodes ------------------------------------------------------------------

    def mdd_records(self) -> ir.Table:
        """MDD records with a start date, with the attributes of their codes (standard or
        source concept, the higher of the two). Records of persons missing from ``person``
        and records after a person's assessment date are included: :meth:`episodes` leaves
        them out."""
        attrs = ["severity_rank", "psychotic", "recurrent"]
        codes = self._resolve(self._lookups["condition"], attrs)
        codes = codes.group_by("concept_id").agg(**{a: codes[a].max() for a in attrs})
        std = codes.select(std_id="concept_id", **{f"std_{a}": a for a in attrs})
        src = codes.select(src_id="concept_id", **{f"src_{a}": a for a in attrs})
        co = self.t["condition_occurrence"]
        r = co.left_join(std, co.condition_concept_id == std.std_id).left_join(
            src, co.condition_source_concept_id == src.src_id
        )
        r = r.filter(r.std_id.notnull() | r.src_id.notnull())
        r = r.select(
            r.person_id,
            r.condition_start_date,
            day=day_number(r.condition_start_date),
            **{a: _larger(r[f"std_{a}"], r[f"src_{a}"]) for a in attrs},
        )
        return r.filter(r.day.notnull())

    def episodes(self) -> ir.Table:
        """Episodes: ``episode`` (1, 2, ...), onset, the episode's assessment date ``as_of``,
        severity rank and flags."""

        def build() -> ir.Table:
            r = self.mdd_records()
            # Records of one day follow each other by 0 days, so the previous record's day
            # does not depend on how they are ordered within the day.
            previous = r.day.lag().over(ibis.window(group_by="person_id", order_by="day"))
            r = r.mutate(new=previous.isnull() | (r.day - previous > self.p.episode_gap_days))
            # A record starting an episode is the first of its day (a later one of the same
            # day follows it by 0 days), so each episode has its own onset day and holds the
            # records from it up to the next onset: a join on that range, with the episodes
            # numbered over their onsets only. Records after the person's assessment date
            # come after all the others, so they change no earlier record's ``new``: they
            # are left out here, with the episodes starting after that date (the episode
            # before them still ends on the assessment date).
            starts = r.filter(r.new).select(
                start_person="person_id", onset_day="day", onset="condition_start_date"
            )
            w = ibis.window(group_by="start_person", order_by="onset_day")
            starts = starts.mutate(
                episode=ibis.row_number().over(w) + 1,
                next_onset_day=starts.onset_day.lead().over(w),
                following=starts.onset.lead().over(w),
            )
            persons = self.persons()
            starts = starts.join(persons, starts.start_person == persons.person_id).select(
                starts, person_as_of=persons.as_of, as_of_day=persons.as_of_day
            )
            starts = starts.filter(starts.onset_day <= starts.as_of_day)
            r = r.join(
                starts,
                [
                    r.person_id == starts.start_person,
                    r.day >= starts.onset_day,
                    starts.next_onset_day.isnull() | (r.day < starts.next_onset_day),
                    r.day <= starts.as_of_day,
                ],
            )
            e = r.group_by(["person_id", "episode"]).agg(
                onset=r.onset.max(),
                onset_day=r.onset_day.max(),
                severity_rank=r.severity_rank.max(),
                psychotic=r.psychotic.max(),
                coded_recurrent=r.recurrent.max(),
                person_as_of=r.person_as_of.max(),
                following=r.following.max(),
            )
            e = e.mutate(
                as_of=ibis.ifelse(
                    e.following.isnull(),
                    e.person_as_of,
                    ibis.least(e.following - ibis.interval(days=1), e.person_as_of),
                )
            )
            e = e.mutate(as_of_day=day_number(e.as_of), person_as_of_day=day_number(e.person_as_of))
            return e.drop("person_as_of", "following")

        return self._once("episodes", build)

    # --- 5. trials --------------------------------------------------------------------

    def trials(self) -> ir.Table:
        """The eras of each episode with adequacy and dose optimisation."""

        def build() -> ir.Table:
            eras, eps = self.eras(), self.episodes()
            t = eras.join(
                eps,
                [
                    eras.person_id == eps.person_id,
                    eras.start_day >= eps.onset_day,
                    eras.start_day <= eps.as_of_day,
                ],
            ).select(eras, episode=eps.episode, episode_end_day=eps.as_of_day)
            duration = ibis.least(t.end_day, t.episode_end_day) - t.start_day
            floor = t.min_dose_mg
            return t.select(
                "person_id",
                "episode",
                "key",
                "kind",
                "drug_class",
                "start_day",
                "end_day",
                "episode_end_day",
                adequate=(t.kind == ANTIDEPRESSANT)
                & floor.notnull()
                & (t.dose.isnull() | (t.dose >= floor))
                & (duration >= self.p.min_duration_days),
                dose_optimized=t.dose.notnull()
                & t.first_dose.notnull()
                & floor.notnull()
                & (t.dose > floor)
                & (t.dose > t.first_dose),
            )

        return self._once("trials", build)

    def failures(self) -> ir.Table:
        """The failed trials: adequate eras that a switch or augmentation followed (an era
        of another ingredient starting in the episode, at least the adequate duration after
        the era's start and at most the next-step window after its end); ``fail_day`` is
        the first such start."""

        def build() -> ir.Table:
            t = self.trials()
            adequate = t.filter(t.adequate).select(
                "person_id",
                "episode",
                "key",
                "drug_class",
                "start_day",
                "end_day",
                "dose_optimized",
            )
            steps = t.select(
                step_person="person_id",
                step_episode="episode",
                next_key="key",
                next_start="start_day",
            )
            hits = adequate.join(
                steps,
                [
                    adequate.person_id == steps.step_person,
                    adequate.episode == steps.step_episode,
                    adequate.key != steps.next_key,
                    steps.next_start >= adequate.start_day + self.p.min_duration_days,
                    steps.next_start <= adequate.end_day + self.p.next_step_window_days,
                ],
            )
            return hits.group_by(["person_id", "episode", "key", "start_day"]).agg(
                drug_class=hits.drug_class.max(),
                dose_optimized=flag(hits.dose_optimized).max(),
                fail_day=hits.next_start.min(),
            )

        return self._once("failures", build)

    # --- 6. treatments received and ECT courses ---------------------------------------------

    def treatment_days(self) -> ir.Table:
        """(person, treatment, day) of every treatment record, procedures and drugs;
        ``treatment`` numbers :data:`TREATMENTS`."""

        def build() -> ir.Table:
            po = self.t["procedure_occurrence"]
            codes = self._resolve(self._lookups["procedure"], ["treatment"])
            codes = codes.select("concept_id", number=_treatment_number(codes.treatment))
            codes = codes.filter(codes.number.notnull())
            procs = po.join(codes, po.procedure_concept_id == codes.concept_id).select(
                "person_id", treatment=codes.number, day=day_number(po.procedure_date)
            )
            x = self.exposures()
            names = self._drug_names()
            names = names.select("number", treatment=_treatment_number(names.name))
            names = names.filter(names.treatment.notnull())
            treated = x.filter(x.kind == TREATMENT)
            drugs = treated.join(names, treated.key == names.number).select(
                "person_id", treatment=names.treatment, day=treated.start_day
            )
            both = procs.union(drugs)
            return both.filter(both.day.notnull())

        return self._once("treatment_days", build)

    def ect_courses(self) -> ir.Table:
        """ECT courses (days within the course gap of each other) of each episode, with the
        first start of a switch or augmentation after each (``fail_day``) and ``failed``."""
        td = self.treatment_days()
        d = td.filter(td.treatment == _ECT).select("person_id", "day").distinct()
        previous = d.day.lag().over(ibis.window(group_by="person_id", order_by="day"))
        d = d.mutate(new=flag(previous.isnull() | (d.day - previous > self.p.ect_course_gap_days)))
        d = d.mutate(
            course=d.new.sum().over(ibis.cumulative_window(group_by="person_id", order_by="day"))
        )
        c = d.group_by(["person_id", "course"]).agg(
            start_day=d.day.min(), end_day=d.day.max(), sessions=d.count()
        )
        eps = self.episodes()
        c = c.join(
            eps,
            [
                c.person_id == eps.person_id,
                c.start_day >= eps.onset_day,
                c.start_day <= eps.as_of_day,
            ],
        ).select(c, episode=eps.episode)
        t = self.trials()
        steps = t.filter(t.kind.isin([ANTIDEPRESSANT, AUGMENTATION])).select(
            step_person="person_id", step_episode="episode", next_start="start_day"
        )
        hits = c.left_join(
            steps,
            [
                c.person_id == steps.step_person,
                c.episode == steps.step_episode,
                steps.next_start > c.start_day,
                steps.next_start <= c.end_day + self.p.next_step_window_days,
            ],
        )
        out = hits.group_by(["person_id", "course"]).agg(
            start_day=hits.start_day.max(),
            end_day=hits.end_day.max(),
            sessions=hits.sessions.max(),
            episode=hits.episode.max(),
            fail_day=hits.next_start.min(),
        )
        return out.mutate(failed=(out.sessions >= self.p.ect_min_sessions) & out.fail_day.notnull())

    # --- 7. PHQ-9 -----------------------------------------------------------------------

    def episode_phq9(self) -> ir.Table:
        """Valid PHQ-9 totals (whole numbers in range) of each episode. The episodes of a
        person cover every day from the first onset to the person's assessment date, so
        these are all the person's valid totals from the first onset on."""

        def build() -> ir.Table:
            m = self.t["measurement"]
            codes = self.phq9_codes()
            m = m.filter(m.measurement_concept_id.isin(codes.concept_id))
            m = m.filter(self._valid_phq9(m)).select(
                "person_id",
                "measurement_date",
                day=day_number(m.measurement_date),
                total=self._phq9_total(m.value_as_number),
            )
            eps = self.episodes()
            return m.join(
                eps,
                [m.person_id == eps.person_id, m.day >= eps.onset_day, m.day <= eps.as_of_day],
            ).select(m, episode=eps.episode)

        return self._once("episode_phq9", build)

    def _valid_phq9(self, m: ir.Table) -> ir.BooleanValue:
        """A PHQ-9 total that counts: a whole number in range, dated."""
        return valid_total(m.value_as_number, self.p.phq9_max_total) & (
            m.measurement_date.notnull()
        )

    def _phq9_total(self, v: ir.FloatingValue) -> ir.IntegerValue:
        """A valid total as an integer (only valid totals are kept: :meth:`_valid_phq9`)."""
        return _in_range(v, self.p.phq9_max_total).floor().cast("int64")

    def _phq9_after_onset(self) -> ir.Table:
        """Valid PHQ-9 totals up to the person's assessment date, for the follow-up
        window: the episodes' totals when that window cannot start before the first onset
        (as with the default 12 months +/- 60 days), else read again."""
        if 28 * self.p.phq9_followup_months >= self.p.phq9_followup_window_days:
            return self.episode_phq9()
        m = self.t["measurement"]
        m = m.filter(m.measurement_concept_id.isin(self.phq9_codes().concept_id))
        m = m.filter(self._valid_phq9(m))
        persons = self.persons()
        m = m.join(persons, m.person_id == persons.person_id).select(
            m.person_id,
            day=day_number(m.measurement_date),
            total=self._phq9_total(m.value_as_number),
            as_of_day=persons.as_of_day,
        )
        return m.filter(m.day <= m.as_of_day)

    def _day_and_total(self, day: ir.IntegerValue, total: ir.IntegerValue) -> ir.IntegerValue:
        """One number that orders PHQ-9 totals by day, then by total: of a group's totals,
        its minimum is the lowest total of the first day and its maximum the highest of the
        last day (:meth:`_total_of`), in one aggregate with no join back to the totals."""
        return day * (self.p.phq9_max_total + 1) + total

    def _total_of(self, key: ir.IntegerValue, day: ir.IntegerValue) -> ir.IntegerValue:
        """The total in a :meth:`_day_and_total` number of ``day``."""
        return key - day * (self.p.phq9_max_total + 1)

    def phq9_outcomes(self) -> ir.Table:
        e = self.episode_phq9()
        key = self._day_and_total(e.day, e.total)
        o = e.group_by(["person_id", "episode"]).agg(
            phq9_count=e.count(),
            first_day=e.day.min(),
            last_day=e.day.max(),
            first=key.min(),
            last=key.max(),
            index_date=ibis.ifelse(
                e.total >= self.p.phq9_index_min_total, e.measurement_date, ibis.null("date")
            ).min(),
        )
        # As in the core, the baseline is the lowest total of the first day and the latest
        # the highest of the last day.
        o = o.select(
            "person_id",
            "episode",
            "phq9_count",
            "index_date",
            phq9_baseline=self._total_of(o.first, o.first_day),
            phq9_latest=self._total_of(o.last, o.last_day),
        )
        num, den = self.p.response_fraction
        o = o.mutate(
            phq9_response=ibis.ifelse(
                (o.phq9_count > 1) & (o.phq9_baseline > 0),
                o.phq9_latest * den <= o.phq9_baseline * num,
                ibis.null("boolean"),
            ),
            phq9_remission=o.phq9_latest <= self.p.phq9_remission_max,
            due_day=day_number(o.index_date + ibis.interval(months=self.p.phq9_followup_months)),
        )
        w_days = self.p.phq9_followup_window_days
        m = self._phq9_after_onset()
        due = o.filter(o.due_day.notnull()).select("person_id", "episode", "due_day")
        f = due.join(
            m,
            [
                due.person_id == m.person_id,
                m.day >= due.due_day - w_days,
                m.day <= due.due_day + w_days,
            ],
        ).select(due.person_id, due.episode, m.day, m.total)
        # The last total of the window: of several on its last day, the highest.
        f = f.group_by(["person_id", "episode"]).agg(
            last_day=f.day.max(), last=self._day_and_total(f.day, f.total).max()
        )
        f = f.select(
            "person_id",
            "episode",
            remission_12m=self._total_of(f.last, f.last_day) <= self.p.phq9_remission_max,
        )
        out = o.left_join(f, [o.person_id == f.person_id, o.episode == f.episode]).select(
            o, remission_12m=f.remission_12m
        )
        # ``due_day`` stays: the result is pending while the window is open on the
        # person's assessment date (:meth:`Definition._episode_results`)
        return out.drop("index_date")

    # --- lines of treatment -----------------------------------------------------------

    def line_facts(self) -> ir.Table:
        """Per episode: lines of treatment (each day on which an antidepressant or
        augmentation era starts begins a line, labelled with the new drug, ``+`` when more
        than one started), the first :data:`LINES_SHOWN` labels, the first line during
        which a PHQ-9 showed remission, and the number of augmentation trials."""
        t = self.trials()
        t = t.select(
            "person_id",
            "episode",
            "key",
            "kind",
            "start_day",
            line=ibis.dense_rank().over(
                ibis.window(group_by=[t.person_id, t.episode], order_by=t.start_day)
            )
            + 1,
        )
        # Lines cover the episode from the first start to its end, so the first line with
        # a remission is the line of the first remission on or after the first start (the
        # trials of the first line all start that day: a repeated day leaves the minimum).
        firsts = t.filter(t.line == 1).select(
            first_person="person_id", first_episode="episode", first_day="start_day"
        )
        m = self.episode_phq9()
        m = m.filter(m.total <= self.p.phq9_remission_max)
        m = m.join(
            firsts,
            [
                m.person_id == firsts.first_person,
                m.episode == firsts.first_episode,
                m.day >= firsts.first_day,
            ],
        )
        remitted = m.group_by(["person_id", "episode"]).agg(remission_day=m.day.min())
        s = t.left_join(
            remitted,
            [t.person_id == remitted.person_id, t.episode == remitted.episode],
        ).select(t, remission_day=remitted.remission_day)

        def line_key(n: int) -> ir.IntegerValue:
            return ibis.ifelse(s.line == n, s.key, ibis.null("int64"))

        facts = s.group_by(["person_id", "episode"]).agg(
            lines=s.line.max(),
            augmentation_trials=flag(s.kind == AUGMENTATION).sum(),
            remission_line=ibis.ifelse(
                s.start_day <= s.remission_day, s.line, ibis.null("int64")
            ).max(),
            **{f"line_{n}_key": line_key(n).min() for n in range(1, LINES_SHOWN + 1)},
            **{f"line_{n}_last": line_key(n).max() for n in range(1, LINES_SHOWN + 1)},
        )
        for n in range(1, LINES_SHOWN + 1):
            names = self._drug_names().view()
            key, last = facts[f"line_{n}_key"], facts[f"line_{n}_last"]
            facts = facts.left_join(names, key == names.number).select(
                facts,
                **{
                    f"line_{n}": ibis.ifelse(key != last, names.name.concat("+"), names.name),
                },
            )
        return facts.drop(
            *[f"line_{n}_key" for n in range(1, LINES_SHOWN + 1)],
            *[f"line_{n}_last" for n in range(1, LINES_SHOWN + 1)],
        )
