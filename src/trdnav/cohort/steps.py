"""The steps of the TRD phenotype, written once with Ibis (see :mod:`trdnav.cohort.definition`).

``Steps`` builds, from the OMOP tables of one backend, the intermediate tables: resolved
concepts, exposures, eras, episodes, trials, treatments, ECT courses, PHQ-9 totals and lines
of treatment. :class:`~trdnav.cohort.definition.Definition` adds the results.
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
    "flag",
    "severity_points",
    "step_points",
]

LINES_SHOWN = 4
TREATMENTS: tuple[str, ...] = ("ECT", "TMS", "VNS", "DBS", "esketamine", "ketamine")
SEVERITY_NAME = {rank: name for name, rank in SEVERITY_RANK.items()}

Materialize = Callable[[ir.Table], ir.Table]


def _same(table: ir.Table) -> ir.Table:
    return table


def day_number(value: ir.DateValue) -> ir.IntegerValue:
    return value.epoch_days().cast("int64")


def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    return ibis.ifelse(condition, 1, 0)


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
        """Build a step once; the runner keeps it unless it is cheaper to recompute."""
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

    def persons(self) -> ir.Table:
        """Every person with the assessment date of their data (``as_of_day``)."""

        def build() -> ir.Table:
            rows = self.t["person"]
            person = (
                rows.filter(rows.person_id.notnull())
                .group_by("person_id")
                .agg(
                    gender_concept_id=rows.gender_concept_id.min(),
                    year_of_birth=rows.year_of_birth.min(),
                    month_of_birth=rows.month_of_birth.min(),
                    day_of_birth=rows.day_of_birth.min(),
                )
            )  # a repeated person id counts once (the data checks report it)
            obs = self.t["observation_period"]
            ends = obs.group_by("person_id").agg(obs_end=obs.observation_period_end_date.max())
            cap = ibis.literal(self.p.as_of, type="date")
            joined = person.left_join(ends, person.person_id == ends.person_id)
            as_of = ibis.least(joined.obs_end.fill_null(cap), cap)
            return joined.select(
                "person_id",
                "gender_concept_id",
                "year_of_birth",
                "month_of_birth",
                "day_of_birth",
                as_of=as_of,
                as_of_day=day_number(as_of),
            )

        return self._once("persons", build)

    def _known(self, table: ir.Table) -> ir.Table:
        """Rows whose person exists (the others are reported by the data checks)."""
        persons = self.persons()
        return table.filter(table.person_id.isin(persons.person_id))

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

    # --- 2-3. exposures and eras -------------------------------------------------------

    def exposures(self) -> ir.Table:
        """Exposures of known ingredients, as day numbers; ``valid`` is false when the end
        falls before the start (those are reported and left out of the eras)."""

        def build() -> ir.Table:
            de = self._known(self.t["drug_exposure"])
            dm = self.drug_map()
            x = de.join(dm, de.drug_concept_id == dm.drug_concept_id)
            start = day_number(x.drug_exposure_start_date)
            supplied = ibis.ifelse(x.days_supply > 0, start + x.days_supply, ibis.null("int64"))
            end = ibis.coalesce(day_number(x.drug_exposure_end_date), supplied, start + 1)
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
                "drug_class",
                "min_dose_mg",
                start_day=start,
                end_day=end,
                dose=dose,
            ).filter(lambda t: t.start_day.notnull())

        return self._once("exposures", build, keep=False)  # a scan and a small join

    def eras(self) -> ir.Table:
        """Treatment eras per person and ingredient (antidepressants, augmentation agents)."""

        def build() -> ir.Table:
            x = self.exposures()
            x = x.filter(x.kind.isin([ANTIDEPRESSANT, AUGMENTATION]) & (x.end_day >= x.start_day))
            order = ["start_day", "end_day", "drug_exposure_id"]
            by = ["person_id", "key"]
            previous = x.end_day.max().over(
                ibis.window(group_by=by, order_by=order, rows=(None, -1))
            )
            x = x.mutate(
                new=flag(previous.isnull() | (x.start_day > previous + self.p.era_gap_days))
            )
            x = x.mutate(
                era_no=x.new.sum().over(ibis.cumulative_window(group_by=by, order_by=order))
            )
            return x.group_by(["person_id", "key", "era_no"]).agg(
                kind=x.kind.max(),
                drug_class=x.drug_class.max(),
                min_dose_mg=x.min_dose_mg.max(),
                start_day=x.start_day.min(),
                end_day=x.end_day.max(),
                dose=x.dose.max(),
                first_dose=ibis.ifelse(x.new == 1, x.dose, ibis.null("float64")).max(),
                exposures=x.count(),
            )

        return self._once("eras", build)

    # --- 4. episodes ------------------------------------------------------------------

    def mdd_records(self) -> ir.Table:
        def build() -> ir.Table:
            co = self._known(self.t["condition_occurrence"])
            attrs = ["severity_rank", "psychotic", "recurrent"]
            mdd = self._resolve(self._lookups["condition"], attrs)
            parts = [
                co.join(mdd, co[column] == mdd.concept_id).select(
                    "condition_occurrence_id",
                    "person_id",
                    "condition_start_date",
                    *attrs,
                )
                for column in ("condition_concept_id", "condition_source_concept_id")
            ]
            recs = parts[0].union(parts[1])
            recs = recs.group_by(
                ["condition_occurrence_id", "person_id", "condition_start_date"]
            ).agg(
                severity_rank=recs.severity_rank.max(),
                psychotic=recs.psychotic.max(),
                recurrent=recs.recurrent.max(),
            )
            persons = self.persons()
            recs = recs.join(persons, recs.person_id == persons.person_id).select(
                recs, as_of_day=persons.as_of_day, person_as_of=persons.as_of
            )
            recs = recs.mutate(day=day_number(recs.condition_start_date))
            return recs.filter(recs.day.notnull() & (recs.day <= recs.as_of_day))

        return self._once("mdd_records", build)

    def episodes(self) -> ir.Table:
        """Episodes: ``episode`` (1, 2, ...), onset, the episode's assessment date ``as_of``,
        severity rank and flags."""

        def build() -> ir.Table:
            r = self.mdd_records()
            order = ["day", "condition_occurrence_id"]
            previous = r.day.lag().over(ibis.window(group_by="person_id", order_by=order))
            r = r.mutate(new=flag(previous.isnull() | (r.day - previous > self.p.episode_gap_days)))
            r = r.mutate(
                episode=r.new.sum().over(
                    ibis.cumulative_window(group_by="person_id", order_by=order)
                )
            )
            e = r.group_by(["person_id", "episode"]).agg(
                onset=r.condition_start_date.min(),
                onset_day=r.day.min(),
                severity_rank=r.severity_rank.max(),
                psychotic=r.psychotic.max(),
                coded_recurrent=r.recurrent.max(),
                person_as_of=r.person_as_of.max(),
            )
            following = e.onset.lead().over(ibis.window(group_by=e.person_id, order_by=e.episode))
            e = e.mutate(
                as_of=ibis.ifelse(
                    following.isnull(),
                    e.person_as_of,
                    ibis.least(following - ibis.interval(days=1), e.person_as_of),
                )
            )
            return e.mutate(as_of_day=day_number(e.as_of))

        return self._once("episodes", build)

    # --- 5. trials --------------------------------------------------------------------

    def trials(self) -> ir.Table:
        """The eras of each episode with adequacy, dose optimisation and failure."""

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
            t = t.mutate(
                duration_days=duration,
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
            t = self.keep(t)
            steps = t.select(
                "person_id",
                "episode",
                next_key=t.key,
                next_start=t.start_day,
            )
            adequate = t.filter(t.adequate)
            hits = adequate.join(
                steps,
                [
                    adequate.person_id == steps.person_id,
                    adequate.episode == steps.episode,
                    adequate.key != steps.next_key,
                    steps.next_start >= adequate.start_day + self.p.min_duration_days,
                    steps.next_start <= adequate.end_day + self.p.next_step_window_days,
                ],
            )
            fails = hits.group_by([hits.person_id, hits.key, hits.era_no]).agg(
                fail_day=hits.next_start.min()
            )
            out = t.left_join(
                fails,
                [
                    t.person_id == fails.person_id,
                    t.key == fails.key,
                    t.era_no == fails.era_no,
                ],
            ).select(t, fail_day=fails.fail_day)
            return out.mutate(failed=out.adequate & out.fail_day.notnull())

        return self._once("trials", build)

    # --- 6. treatments received and ECT courses ---------------------------------------------

    def treatment_days(self) -> ir.Table:
        """(person, treatment, day) of every treatment record: procedures and drugs."""

        def build() -> ir.Table:
            po = self._known(self.t["procedure_occurrence"])
            codes = self._resolve(self._lookups["procedure"], ["treatment"])
            procs = po.join(codes, po.procedure_concept_id == codes.concept_id).select(
                "person_id", "treatment", day=day_number(po.procedure_date)
            )
            x = self.exposures()
            names = self._lookups["drug"].select(number="drug_no", name="key").distinct()
            treated = x.filter(x.kind == TREATMENT)
            drugs = treated.join(names, treated.key == names.number).select(
                "person_id", treatment=names.name, day=treated.start_day
            )
            both = procs.union(drugs, distinct=True)
            return both.filter(both.day.notnull())

        return self._once("treatment_days", build)

    def ect_courses(self) -> ir.Table:
        def build() -> ir.Table:
            td = self.treatment_days()
            d = td.filter(td.treatment == "ECT").select("person_id", "day").distinct()
            previous = d.day.lag().over(ibis.window(group_by="person_id", order_by="day"))
            d = d.mutate(
                new=flag(previous.isnull() | (d.day - previous > self.p.ect_course_gap_days))
            )
            d = d.mutate(
                course=d.new.sum().over(
                    ibis.cumulative_window(group_by="person_id", order_by="day")
                )
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
                "person_id", "episode", next_start=t.start_day
            )
            hits = c.join(
                steps,
                [
                    c.person_id == steps.person_id,
                    c.episode == steps.episode,
                    steps.next_start > c.start_day,
                    steps.next_start <= c.end_day + self.p.next_step_window_days,
                ],
            )
            fails = hits.group_by([hits.person_id, hits.course]).agg(fail_day=hits.next_start.min())
            out = c.left_join(
                fails, [c.person_id == fails.person_id, c.course == fails.course]
            ).select(c, fail_day=fails.fail_day)
            return out.mutate(
                failed=(out.sessions >= self.p.ect_min_sessions) & out.fail_day.notnull()
            )

        return self._once("ect_courses", build)

    # --- 7. PHQ-9 -----------------------------------------------------------------------

    def phq9(self) -> ir.Table:
        """Valid PHQ-9 totals (whole numbers in range) up to the person's assessment date."""

        def build() -> ir.Table:
            m = self._known(self.t["measurement"])
            codes = self._resolve(self._lookups["measurement"], [])
            m = m.filter(m.measurement_concept_id.isin(codes.concept_id))
            v = m.value_as_number
            valid = (
                v.notnull()
                & (v.floor() == v)
                & (v >= 0)
                & (v <= self.p.phq9_max_total)
                & m.measurement_date.notnull()
            )
            m = m.filter(valid)
            persons = self.persons()
            m = m.join(persons, m.person_id == persons.person_id).select(
                m.person_id,
                m.measurement_id,
                m.measurement_date,
                day=day_number(m.measurement_date),
                total=m.value_as_number.floor().cast("int64"),
                as_of_day=persons.as_of_day,
            )
            return m.filter(m.day <= m.as_of_day)

        return self._once("phq9", build)

    def _episode_phq9(self) -> ir.Table:
        def build() -> ir.Table:
            m, eps = self.phq9(), self.episodes()
            return m.join(
                eps,
                [m.person_id == eps.person_id, m.day >= eps.onset_day, m.day <= eps.as_of_day],
            ).select(m, episode=eps.episode, onset_day=eps.onset_day, episode_end_day=eps.as_of_day)

        return self._once("episode_phq9", build)

    def phq9_outcomes(self) -> ir.Table:
        e = self._episode_phq9()
        by = [e.person_id, e.episode]
        first = ibis.row_number().over(ibis.window(group_by=by, order_by=[e.day, e.measurement_id]))
        last = ibis.row_number().over(
            ibis.window(group_by=by, order_by=[e.day.desc(), e.measurement_id.desc()])
        )
        e = e.mutate(first=first, last=last)
        o = e.group_by(["person_id", "episode"]).agg(
            phq9_count=e.count(),
            phq9_baseline=ibis.ifelse(e.first == 0, e.total, ibis.null("int64")).max(),
            phq9_latest=ibis.ifelse(e.last == 0, e.total, ibis.null("int64")).max(),
            index_date=ibis.ifelse(
                e.total >= self.p.phq9_index_min_total, e.measurement_date, ibis.null("date")
            ).min(),
        )
        num, den = self.p.response_fraction
        o = o.mutate(
            phq9_response=ibis.ifelse(
                o.phq9_count > 1,
                o.phq9_latest * den <= o.phq9_baseline * num,
                ibis.null("boolean"),
            ),
            phq9_remission=o.phq9_latest <= self.p.phq9_remission_max,
            due_day=day_number(o.index_date + ibis.interval(months=self.p.phq9_followup_months)),
        )
        w = self.p.phq9_followup_window_days
        m = self.phq9()
        f = (
            o.filter(o.due_day.notnull())
            .join(
                m,
                [
                    o.person_id == m.person_id,
                    m.day >= o.due_day - w,
                    m.day <= o.due_day + w,
                ],
            )
            .select(o.person_id, o.episode, m.day, m.measurement_id, m.total)
        )
        f = f.mutate(
            last=ibis.row_number().over(
                ibis.window(
                    group_by=[f.person_id, f.episode],
                    order_by=[f.day.desc(), f.measurement_id.desc()],
                )
            )
        )
        f = f.filter(f.last == 0).select(
            "person_id",
            "episode",
            remission_12m=f.total <= self.p.phq9_remission_max,
        )
        out = o.left_join(f, [o.person_id == f.person_id, o.episode == f.episode]).select(
            o, remission_12m=f.remission_12m
        )
        return out.drop("index_date", "due_day")

    # --- lines of treatment -----------------------------------------------------------

    def lines(self) -> ir.Table:
        """Lines of treatment: each day in an episode on which an antidepressant or
        augmentation era starts begins a line, labelled with the new drug(s)."""

        def build() -> ir.Table:
            t = self.trials()
            starts = t.group_by(["person_id", "episode", "start_day"]).agg(
                first_key=t.key.min(),
                new_drugs=t.key.nunique(),
                episode_end_day=t.episode_end_day.max(),
            )
            w = ibis.window(group_by=[starts.person_id, starts.episode], order_by=starts.start_day)
            names = self._lookups["drug"].select(number="drug_no", name="key").distinct()
            starts = starts.join(names, starts.first_key == names.number).select(
                starts, first_name=names.name
            )
            starts = starts.mutate(
                line=ibis.row_number().over(w) + 1,
                next_day=starts.start_day.lead().over(w),
                label=ibis.ifelse(
                    starts.new_drugs > 1, starts.first_name.concat("+"), starts.first_name
                ),
            )
            m = self._episode_phq9()
            m = m.filter(m.total <= self.p.phq9_remission_max)
            upto = ibis.coalesce(starts.next_day, starts.episode_end_day + 1)
            remitted = (
                starts.join(
                    m,
                    [
                        starts.person_id == m.person_id,
                        starts.episode == m.episode,
                        m.day >= starts.start_day,
                        m.day < upto,
                    ],
                )
                .select(starts.person_id, starts.episode, starts.line)
                .distinct()
            )
            return starts.left_join(
                remitted,
                [
                    starts.person_id == remitted.person_id,
                    starts.episode == remitted.episode,
                    starts.line == remitted.line,
                ],
            ).select(starts, remitted=remitted.line.notnull())

        return self._once("lines", build)
