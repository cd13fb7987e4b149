"""Treatment options: a verdict for each, with its reasons, rules and sources.

Verdicts (rule ``verdict.precedence``): ``contraindicated`` outranks everything; a
``caution`` applies only to an option that is otherwise ``eligible``; an option not
yet open stays ``not_yet`` and a research-only option stays ``trial_only``, with any
caution still listed in its reasons. Which findings contraindicate or call for caution
is knowledge data (each with its source); the eligibility logic is below, one function
per option, its thresholds read from the rules' parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from trdnav.core.episode import EpisodeFacts
from trdnav.core.history import PatientHistory
from trdnav.core.knowledge import FindingRef, KnowledgeBase, Treatment
from trdnav.core.rule_params import (
    EsketamineEligibilityParams,
    EsketamineOralParams,
    TmsEligibilityParams,
    TrdParams,
    VnsEligibilityParams,
)

__all__ = ["OptionVerdict", "Verdict", "evaluate_options", "findings"]

Verdict = Literal["eligible", "caution", "contraindicated", "not_yet", "trial_only"]
BaseVerdict = Literal["eligible", "not_yet", "trial_only"]


class OptionVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    treatment: str
    verdict: Verdict
    regulatory_status: str
    reasons: list[str]
    sources: list[str]
    rule_ids: list[str]
    name: str
    setting: str
    contraindications: list[str]
    cautions: list[str]
    with_oral_antidepressant: Literal["required", "optional"] | None = None
    basis: dict[str, Any] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _drop_unused(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        data = handler(self)
        if data.get("with_oral_antidepressant") is None:
            data.pop("with_oral_antidepressant", None)
        return data


@dataclass
class Context:
    history: PatientHistory
    facts: EpisodeFacts
    suicidal_ideation: bool
    kb: KnowledgeBase

    @property
    def trd_threshold(self) -> int:
        return self.kb.params("trd.definition", TrdParams).min_failed_adequate_trials

    def trd_phrase(self) -> str:
        f = self.facts
        drugs = f" ({', '.join(f.failed_drugs)})" if f.failed_drugs else ""
        state = "TRD" if f.trd else "not TRD"
        return (
            f"{state}: {f.failed_adequate_trials} failed adequate antidepressant trial(s)"
            f"{drugs}; TRD needs {self.trd_threshold}"
        )


@dataclass
class Basis:
    verdict: BaseVerdict
    reasons: list[str]
    basis: dict[str, Any] = field(default_factory=dict)
    with_oral_antidepressant: Literal["required", "optional"] | None = None


SI_PHRASE = "suicidal-ideation alert on the latest measurement"


def _always(ctx: Context) -> Basis:
    return Basis("eligible", ["Open to every patient with depression, at any stage."])


def _medication_change(ctx: Context) -> Basis:
    f = ctx.facts
    tried = ", ".join(f.failed_drugs) or "none yet"
    return Basis(
        "eligible",
        [
            "Switching, augmenting or combining medication is open at any stage.",
            f"Failed adequate antidepressant trials in this episode: {tried}.",
        ],
        {"failed_adequate_trials": f.failed_adequate_trials},
    )


def _tms(ctx: Context) -> Basis:
    p = ctx.kb.params("option.tms.eligibility", TmsEligibilityParams)
    event = ctx.kb.treatments["tms"].regulatory_event(p.adolescent_event)
    n, age = ctx.facts.failed_adequate_trials, ctx.facts.age_years
    need = p.min_failed_adequate_trials
    adolescent_cleared = ctx.history.as_of >= event.effective
    basis = {
        "failed_adequate_trials": n,
        "required": need,
        "age_years": age,
        "adolescent_clearance": event.effective.isoformat(),
    }
    if age >= p.adult_age_years:
        age_ok, age_reason = True, f"Adult (age {age})."
    elif age >= p.adolescent_min_age_years and adolescent_cleared:
        age_ok, age_reason = (
            True,
            f"Age {age}: cleared for adolescents from {p.adolescent_min_age_years} as an add-on "
            f"to antidepressant medication (from {event.effective.isoformat()}).",
        )
    else:
        age_ok, age_reason = (
            False,
            f"Age {age}: TMS is cleared for adults ({p.adult_age_years} or older), and for "
            f"adolescents from {p.adolescent_min_age_years} as an add-on to medication from "
            f"{event.effective.isoformat()}.",
        )
    trials = f"{n} failed adequate antidepressant trial(s); TMS needs {need}."
    verdict: BaseVerdict = "eligible" if age_ok and n >= need else "not_yet"
    return Basis(verdict, [age_reason, trials], basis)


def _ect(ctx: Context) -> Basis:
    ep = ctx.history.episode
    severe_psychotic = ep.severity == "severe" and ep.psychotic_features
    met = []
    if ctx.facts.trd:
        met.append(ctx.trd_phrase() + ".")
    if severe_psychotic:
        met.append("Severe episode with psychotic features.")
    if ctx.suicidal_ideation:
        met.append(f"A {SI_PHRASE}.")
    basis = {
        "trd": ctx.facts.trd,
        "severe_psychotic": severe_psychotic,
        "suicidal_ideation": ctx.suicidal_ideation,
    }
    if met:
        return Basis("eligible", met, basis)
    return Basis(
        "not_yet",
        [
            ctx.trd_phrase() + "; the episode is not severe with psychotic features; "
            f"no {SI_PHRASE}.",
        ],
        basis,
    )


def _esketamine(ctx: Context) -> Basis:
    kb = ctx.kb
    min_age = kb.params("option.esketamine.eligibility", EsketamineEligibilityParams).min_age_years
    event_id = kb.params(
        "option.esketamine.oral_antidepressant", EsketamineOralParams
    ).monotherapy_event
    event = kb.treatments["esketamine"].regulatory_event(event_id)
    age, trd, si = ctx.facts.age_years, ctx.facts.trd, ctx.suicidal_ideation
    basis: dict[str, Any] = {"age_years": age, "trd": trd, "suicidal_ideation": si}
    reasons: list[str] = []
    if age < min_age:
        reasons.append(f"Age {age}: esketamine is for adults ({min_age} or older).")
    else:
        reasons.append(f"Adult (age {age}).")
    if trd:
        reasons.append(ctx.trd_phrase() + ".")
    if si:
        reasons.append(
            f"A {SI_PHRASE}: esketamine is also approved for depression with acute suicidal "
            "ideation or behaviour, which is the clinician's judgement (the alert is a "
            "screening answer, not that diagnosis)."
        )
    if not (trd or si):
        reasons.append(ctx.trd_phrase() + f"; no {SI_PHRASE}.")
    verdict: BaseVerdict = "eligible" if age >= min_age and (trd or si) else "not_yet"

    as_of = ctx.history.as_of
    if trd and as_of >= event.effective:
        oral: Literal["required", "optional"] = "optional"
        reasons.append(
            f"An oral antidepressant is optional: TRD, and monotherapy for TRD is approved "
            f"from {event.effective.isoformat()}."
        )
    else:
        oral = "required"
        why = (
            f"assessment date before the {event.effective.isoformat()} monotherapy approval"
            if trd
            else "monotherapy is approved only for TRD"
        )
        reasons.append(f"Labelled for use with an oral antidepressant ({why}).")
    basis["monotherapy_approved"] = event.effective.isoformat()
    return Basis(verdict, reasons, basis, with_oral_antidepressant=oral)


def _ketamine(ctx: Context) -> Basis:
    trd, si = ctx.facts.trd, ctx.suicidal_ideation
    basis = {"trd": trd, "suicidal_ideation": si}
    if trd or si:
        reasons = [ctx.trd_phrase() + "."] if trd else []
        if si:
            reasons.append(f"A {SI_PHRASE}; ketamine acts within a day on suicidal ideation.")
        reasons.append("Off-label: IV racemic ketamine is not approved for depression.")
        return Basis("eligible", reasons, basis)
    return Basis("not_yet", [ctx.trd_phrase() + f"; no {SI_PHRASE}."], basis)


def _vns(ctx: Context) -> Basis:
    p = ctx.kb.params("option.vns.eligibility", VnsEligibilityParams)
    f = ctx.facts
    failures = f.failed_adequate_trials + f.failed_ect_courses
    recurrent = ctx.history.episode.recurrent
    chronic = f.episode_months >= p.chronic_min_months
    adult = f.age_years >= p.min_age_years
    basis = {
        "failed_treatments": failures,
        "recurrent": recurrent,
        "episode_months": f.episode_months,
        "age_years": f.age_years,
    }
    reasons = [
        f"{'Adult' if adult else 'Not an adult'} (age {f.age_years}; VNS needs "
        f"{p.min_age_years} or older).",
        f"{failures} failed treatment(s) ({f.failed_adequate_trials} adequate antidepressant "
        f"trial(s) + {f.failed_ect_courses} failed ECT course(s)); VNS needs "
        f"{p.min_failed_treatments}.",
        f"Episode {'recurrent' if recurrent else 'not recurrent'}, {f.episode_months} months "
        f"long (VNS needs a recurrent episode or one of at least {p.chronic_min_months} "
        "months).",
    ]
    ok = adult and failures >= p.min_failed_treatments and (recurrent or chronic)
    return Basis("eligible" if ok else "not_yet", reasons, basis)


def _dbs(ctx: Context) -> Basis:
    f = ctx.facts
    met = {
        "trd": f.trd,
        "psychotherapy_in_episode": f.psychotherapy_courses > 0,
        "failed_ect_course": f.failed_ect_courses > 0,
    }
    reasons = [
        ctx.trd_phrase() + ".",
        f"Psychotherapy in this episode: {'yes' if met['psychotherapy_in_episode'] else 'no'}.",
        f"Failed ECT course in this episode: {'yes' if met['failed_ect_course'] else 'no'}.",
    ]
    if all(met.values()):
        reasons.append("Investigational: DBS for depression is offered only within research.")
        return Basis("trial_only", reasons, dict(met))
    reasons.append("DBS research needs TRD, psychotherapy and a failed ECT course first.")
    return Basis("not_yet", reasons, dict(met))


def _research_only(ctx: Context) -> Basis:
    return Basis(
        "trial_only",
        [
            "Investigational for depression: only within a clinical trial or under specialist "
            "off-label review."
        ],
    )


ELIGIBILITY: dict[str, Callable[[Context], Basis]] = {
    "psychotherapy": _always,
    "medication_change": _medication_change,
    "tms": _tms,
    "ect": _ect,
    "esketamine": _esketamine,
    "ketamine": _ketamine,
    "vns": _vns,
    "dbs": _dbs,
    "psilocybin": _research_only,
    "botox": _research_only,
    "celecoxib": _research_only,
}


def findings(history: PatientHistory, kb: KnowledgeBase) -> dict[str, str | None]:
    """Condition ids that apply: those listed, the episode's psychotic features, and those a
    procedure on record implies (an implant), each with the procedure it came from."""
    found: dict[str, str | None] = dict.fromkeys(history.conditions)
    for cond in kb.conditions.values():
        if cond.id in found:
            continue
        if cond.derived_from == "episode.psychotic_features" and history.episode.psychotic_features:
            found[cond.id] = None  # its name says where it comes from
        implying = [p for p in history.procedures if p.type in cond.implied_by_procedures]
        if implying and cond.id not in found:
            first = min(implying, key=lambda p: p.start)
            found[cond.id] = f"{first.type} on record from {first.start.isoformat()}"
    return found


def _finding_line(kind: str, ref: FindingRef, kb: KnowledgeBase, origin: str | None) -> str:
    where = f" ({origin})" if origin else ""
    return f"{kind}: {kb.conditions[ref.finding].name}{where} - {ref.why}"


def _evaluate(treatment: Treatment, ctx: Context, present: dict[str, str | None]) -> OptionVerdict:
    kb = ctx.kb
    basis = ELIGIBILITY[treatment.id](ctx)
    contra = [r for r in treatment.contraindications if r.finding in present]
    cautions = [r for r in treatment.cautions if r.finding in present]
    verdict: Verdict
    if contra:
        verdict = "contraindicated"
    elif cautions and basis.verdict == "eligible":
        verdict = "caution"
    else:
        verdict = basis.verdict
    reasons = [_finding_line("Contraindicated", r, kb, present[r.finding]) for r in contra]
    caution_kind = "Caution" if verdict == "caution" else "Caution if it becomes an option"
    reasons += [_finding_line(caution_kind, r, kb, present[r.finding]) for r in cautions]
    reasons += basis.reasons
    rule_ids = [*treatment.eligibility_rules, "verdict.precedence"]
    source_ids = [s for rid in rule_ids if rid.startswith("option.") for s in kb.rule(rid).sources]
    source_ids += [s for r in (*contra, *cautions) for s in r.sources]
    return OptionVerdict(
        treatment=treatment.id,
        verdict=verdict,
        regulatory_status=treatment.regulatory_status(ctx.history.as_of),
        reasons=reasons,
        sources=kb.cite(source_ids),
        rule_ids=rule_ids,
        name=treatment.name,
        setting=treatment.setting,
        contraindications=[r.finding for r in contra],
        cautions=[r.finding for r in cautions],
        with_oral_antidepressant=basis.with_oral_antidepressant,
        basis=basis.basis,
    )


def evaluate_options(
    history: PatientHistory, facts: EpisodeFacts, suicidal_ideation: bool, kb: KnowledgeBase
) -> list[OptionVerdict]:
    """One verdict per treatment, in knowledge-base order."""
    ctx = Context(history=history, facts=facts, suicidal_ideation=suicidal_ideation, kb=kb)
    present = findings(history, kb)
    return [_evaluate(t, ctx, present) for t in kb.treatments.values()]
