"""FHIR Condition and AllergyIntolerance resources: the current episode and the findings.

* A Condition coded as major depression (or dysthymia) is a candidate for the current
  episode; :func:`decide_episode` picks one and reads its onset, recurrence, severity and
  psychotic features (trdnav's episode extension, else ``Condition.severity``, else what the
  ICD-10-CM code says), and reports each value the data does not give as missing.
* A Condition coded as a bipolar disorder is kept as a warning.
* A Condition or AllergyIntolerance coded as one of the option rules' conditions is a finding.
* A refuted or entered-in-error record is ignored, and so is a finding no longer active
  (unless the finding is a history by nature, such as a past intracerebral haemorrhage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trdnav.fhir.code_files import EpisodeFacet
from trdnav.fhir.mapping import Context, Source, day_of, read_term

__all__ = ["ConditionState", "Episode", "decide_episode", "read_allergy", "read_condition"]

ACTIVE = frozenset({"active", "recurrence", "relapse"})
NOT_TRUE = frozenset({"refuted", "entered-in-error"})


@dataclass
class EpisodeCandidate:
    source: Source
    kind: str
    code: str
    facet: EpisodeFacet | None
    active: bool
    clinical_status: str | None
    problem_list: bool
    onset: date | None
    recorded: date | None
    severity: str | None
    exact: dict[str, Any]


@dataclass
class ConditionState:
    episodes: list[EpisodeCandidate] = field(default_factory=list)
    findings: dict[str, list[Source]] = field(default_factory=dict)


@dataclass
class Episode:
    onset: date
    severity: str
    psychotic_features: bool
    recurrent: bool
    source: Source | None


def _status(ctx: Context, reader: Any, res: dict[str, Any], key: str, binding: str) -> str | None:
    term = read_term(ctx, reader, res.get(key), key)
    code = term.codings[0].code if term.codings else None
    if code is not None and not ctx.binding(reader, binding, code, f"{key}.coding[0].code"):
        return None
    return code


def _episode_extension(ctx: Context, reader: Any, res: dict[str, Any]) -> dict[str, Any]:
    url = ctx.codes.extension("episode")
    exact: dict[str, Any] = {}
    for i, ext in enumerate(reader.array(res, "extension", "extension")):
        if not isinstance(ext, dict) or ext.get("url") != url:
            continue
        for j, part in enumerate(reader.array(ext, "extension", f"extension[{i}].extension")):
            path = f"extension[{i}].extension[{j}]"
            name = part.get("url") if isinstance(part, dict) else None
            if name == "severity":
                exact["severity"] = reader.string(part, "valueCode", f"{path}.valueCode")
            elif name in ("psychoticFeatures", "recurrent"):
                value = reader.boolean(part, "valueBoolean", f"{path}.valueBoolean")
                exact["psychotic_features" if name == "psychoticFeatures" else name] = value
    return {k: v for k, v in exact.items() if v is not None}


def read_condition(ctx: Context, state: ConditionState, res: dict[str, Any], src: Source) -> None:
    codes = ctx.codes
    reader = ctx.reader(src.where)
    code = read_term(ctx, reader, res.get("code"), "code")
    clinical = _status(ctx, reader, res, "clinicalStatus", "Condition.clinicalStatus")
    verification = _status(ctx, reader, res, "verificationStatus", "Condition.verificationStatus")
    onset = reader.timing(res, "onset")
    recorded = reader.moment(res, "recordedDate", "recordedDate")
    categories = {c.code for c in read_codings(ctx, reader, res, "category")}
    if verification in NOT_TRUE:
        ctx.report.ignore("Condition", src.ref, f"verificationStatus {verification}")
        return
    active = clinical is None or clinical in ACTIVE
    local = code.local(codes.local_system("condition"))
    kind = None
    if codes.major_depression.first(code.codings):
        kind = "major_depression"
    elif codes.dysthymia.first(code.codings):
        kind = "dysthymia"
    if kind is not None:
        coding = codes.major_depression.first(code.codings) or codes.dysthymia.first(code.codings)
        assert coding is not None
        severity_term = read_term(ctx, reader, res.get("severity"), "severity")
        severity = severity_term.local(codes.local_system("severity"))
        if severity is None:
            severity = next(
                (
                    codes.severity_codes[(c.system, c.code)]
                    for c in severity_term.codings
                    if (c.system, c.code) in codes.severity_codes
                ),
                None,
            )
        state.episodes.append(
            EpisodeCandidate(
                source=src,
                kind=kind,
                code=coding.code,
                facet=codes.facets.get((coding.system, coding.code)),
                active=active,
                clinical_status=clinical,
                problem_list=not categories or "encounter-diagnosis" not in categories,
                onset=day_of(onset.start) if onset else None,
                recorded=day_of(recorded),
                severity=severity,
                exact=_episode_extension(ctx, reader, res),
            )
        )
        return
    if codes.bipolar.first(code.codings):
        ctx.report.warn(
            src.ref,
            src.where,
            f"bipolar disorder on record ({code.describe()}): trdnav's rules are for unipolar "
            "depression; review before relying on the assessment",
        )
        return
    finding = None
    include_inactive = False
    if local is not None and local in ctx.kb.conditions:
        finding = local
        include_inactive = True
    else:
        for condition, history, matcher in codes.findings:
            if matcher.first(code.codings):
                finding, include_inactive = condition, history
                break
    if finding is None:
        ctx.report.ignore(
            "Condition",
            src.ref,
            "not a diagnosis trdnav reads (depression, bipolar disorder, or a condition of the "
            "option rules)",
        )
        return
    if not active and not include_inactive:
        ctx.report.ignore("Condition", src.ref, f"clinicalStatus {clinical}: no longer applies")
        return
    state.findings.setdefault(finding, []).append(src)


def read_codings(ctx: Context, reader: Any, res: dict[str, Any], key: str) -> list[Any]:
    out: list[Any] = []
    for i, value in enumerate(reader.array(res, key, key)):
        out.extend(read_term(ctx, reader, value, f"{key}[{i}]").codings)
    return out


def read_allergy(ctx: Context, state: ConditionState, res: dict[str, Any], src: Source) -> None:
    codes = ctx.codes
    reader = ctx.reader(src.where)
    code = read_term(ctx, reader, res.get("code"), "code")
    clinical = _status(ctx, reader, res, "clinicalStatus", "AllergyIntolerance.clinicalStatus")
    verification = _status(
        ctx, reader, res, "verificationStatus", "AllergyIntolerance.verificationStatus"
    )
    if verification in NOT_TRUE:
        ctx.report.ignore("AllergyIntolerance", src.ref, f"verificationStatus {verification}")
        return
    if clinical in ("inactive", "resolved"):
        ctx.report.ignore("AllergyIntolerance", src.ref, f"clinicalStatus {clinical}")
        return
    found = {
        codes.allergy_codes[(c.system, c.code)]
        for c in code.codings
        if (c.system, c.code) in codes.allergy_codes
    }
    if not found:
        for word in code.words:
            found |= codes.allergy_names.find(word)
            if found:
                break
    if not found:
        ctx.report.ignore(
            "AllergyIntolerance", src.ref, "not a substance of the option rules' conditions"
        )
        return
    for condition in sorted(found):
        state.findings.setdefault(condition, []).append(src)


def _choose(candidates: list[EpisodeCandidate], as_of: date) -> EpisodeCandidate | None:
    """The diagnosis of the current episode: major depression before dysthymia, problem-list
    entries before encounter diagnoses, active before not, then the latest onset."""

    def when(c: EpisodeCandidate) -> date:
        return c.onset or c.recorded or date.min

    usable = [c for c in candidates if when(c) <= as_of]
    if not usable:
        return None
    return max(
        usable,
        key=lambda c: (
            c.kind == "major_depression",
            c.problem_list,
            c.active and not (c.facet and c.facet.remission),
            when(c),
        ),
    )


def decide_episode(ctx: Context, state: ConditionState, earliest_record: date | None) -> Episode:
    """The current episode, with every value the data does not give reported as missing."""
    report, assumed = ctx.report, ctx.codes.conditions_file.episode.assumed
    chosen = _choose(state.episodes, ctx.as_of)
    for candidate in state.episodes:
        if candidate is not chosen:
            report.ignore(
                "Condition",
                candidate.source.ref,
                "an earlier or other depression diagnosis (not the current episode)",
            )
    if chosen is None:
        start = earliest_record or ctx.as_of
        future = " (those on record start after the assessment date)" if state.episodes else ""
        report.lack(
            "episode",
            "no diagnosis of major depression or dysthymia" + future + "; the episode is taken "
            f"to start {start.isoformat()} (the earliest trial or measurement, else the "
            "assessment date), with the assumed values below",
            start.isoformat(),
        )
        for key in ("severity", "psychotic_features", "recurrent"):
            report.lack(f"episode.{key}", "no diagnosis gives it", getattr(assumed, key))
        return Episode(start, assumed.severity, assumed.psychotic_features, assumed.recurrent, None)

    src = chosen.source
    report.map(
        src.ref,
        src.where,
        "episode",
        f"current episode: {chosen.kind.replace('_', ' ')} ({chosen.code})",
    )
    if chosen.kind == "dysthymia":
        report.warn(src.ref, src.where, "dysthymia, not a major depressive episode, is on record")
    if not chosen.active or (chosen.facet and chosen.facet.remission):
        state_ = chosen.clinical_status or f"{chosen.facet.remission} remission"  # type: ignore[union-attr]
        report.warn(
            src.ref,
            src.where,
            f"the latest depression diagnosis is not active ({state_}); assessed as the "
            "current episode",
        )
    onset: date = chosen.onset or chosen.recorded or earliest_record or ctx.as_of
    if chosen.onset is None:
        said = (
            "its recordedDate" if chosen.recorded else "the earliest record or the assessment date"
        )
        report.lack(
            "episode.onset", f"{src.ref} gives no onset; taken from {said}", onset.isoformat()
        )
    facet = chosen.facet
    values: dict[str, Any] = {}
    for key in ("severity", "psychotic_features", "recurrent"):
        value = chosen.exact.get(key)
        if value is None and key == "severity":
            value = chosen.severity
        if value is None and facet is not None:
            value = getattr(facet, key)
        if value is None:
            value = getattr(assumed, key)
            report.lack(f"episode.{key}", f"{src.ref} ({chosen.code}) does not say", value)
        values[key] = value
    return Episode(
        onset, values["severity"], values["psychotic_features"], values["recurrent"], src
    )
