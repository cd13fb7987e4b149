"""The assessment as CDS Hooks cards.

``patient-view``:

* **critical**, first: each alert (a positive suicide item on the latest measurement);
* **warning**: the options that are contraindicated, each with why and its sources;
* **info**: where the patient stands (TRD, Thase-Rush, MGH-S, Maudsley);
* **info**: the open options (eligible, or eligible with a caution);
* **info**: the data the record is missing or that could not be used (the import report).

``order-select`` / ``order-sign``: a **warning** for each drafted order of esketamine,
ketamine, ECT, TMS, VNS or DBS whose option is contraindicated or has a caution for this
patient, with a suggestion to remove the order (a ``delete`` action) and override reasons.

Every card has a ``uuid`` (for feedback), a ``source`` naming trdnav and its knowledge base, and
a link to the patient in the trdnav web app.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from trdnav import __version__
from trdnav.cds.models import Action, Card, Coding, Link, Source, Suggestion
from trdnav.core.assessment import Assessment
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.options import OptionVerdict
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.mapping import Context, read_term
from trdnav.fhir.report import ImportReport

__all__ = ["CardContext", "drafted_orders", "order_cards", "patient_view_cards"]

ROMAN = ["0", "I", "II", "III", "IV", "V"]
SUMMARY = 139


@dataclass(frozen=True)
class CardContext:
    """What every card shares: the source, the link into the web app, the override reasons."""

    source: Source
    link: Link
    override_reasons: list[Coding]
    short_names: dict[str, str]

    def name(self, option: OptionVerdict) -> str:
        return self.short_names.get(option.treatment, option.name)

    @classmethod
    def make(
        cls, base_url: str, patient_id: str, kb: KnowledgeBase, codes: FhirCodes
    ) -> CardContext:
        label = f"trdnav {__version__}, knowledge base {kb.version} (not a medical device)"
        link = Link(
            label="Open the patient in trdnav",
            url=f"{base_url.rstrip('/')}/app/patients/{quote(patient_id, safe='')}",
            type="absolute",
        )
        system = codes.local_system("override_reason")
        reasons = [
            Coding(system=system, code=code, display=display)
            for code, display in codes.local.override_reasons.items()
        ]
        short = {t.id: t.short_name for t in kb.treatments.values()}
        return cls(Source(label=label), link, reasons, short)

    def card(
        self,
        indicator: Literal["info", "warning", "critical"],
        summary: str,
        detail: str,
        **extra: Any,
    ) -> Card:
        return Card(
            uuid=str(uuid.uuid4()),
            summary=_short(summary),
            detail=detail,
            indicator=indicator,
            source=self.source,
            links=[self.link],
            **extra,
        )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY else text[: SUMMARY - 1].rstrip() + "…"


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _sources(option: OptionVerdict) -> str:
    return "\n\nSources:\n" + _bullets(option.sources) if option.sources else ""


def patient_view_cards(a: Assessment, report: ImportReport | None, ctx: CardContext) -> list[Card]:
    cards: list[Card] = []
    for alert in a.alerts:
        headline = alert.message.split(":", 1)[0]
        cards.append(
            ctx.card(
                "critical",
                f"{headline}: assess suicide risk now",
                f"{alert.message}\n\nSource: {alert.source}",
            )
        )
    contraindicated = [o for o in a.options if o.verdict == "contraindicated"]
    if contraindicated:
        names = ", ".join(ctx.name(o) for o in contraindicated)
        detail = "\n\n".join(
            f"**{o.name}**\n{_bullets(o.reasons)}{_sources(o)}" for o in contraindicated
        )
        cards.append(
            ctx.card(
                "warning",
                f"Contraindicated: {names}",
                detail,
                overrideReasons=ctx.override_reasons,
            )
        )
    s = a.staging
    trd = "TRD" if a.trd else "Not TRD"
    cards.append(
        ctx.card(
            "info",
            f"{trd}: {a.failed_adequate_trials} failed adequate trial(s); Thase-Rush stage "
            f"{ROMAN[s.thase_rush]}, MGH-S {s.mgh_s:g}, MSM {s.msm.total} ({s.msm.band})",
            _bullets(
                [
                    f"Thase-Rush stage {ROMAN[s.thase_rush]}: {s.explanations['thase_rush']}",
                    f"MGH-S {s.mgh_s:g}: {s.explanations['mgh_s']}",
                    f"Maudsley {s.msm.total} ({s.msm.band}): {s.explanations['msm']}",
                    *[f"{t.drug} from {t.start.isoformat()}: {t.why}" for t in a.trials],
                ]
            ),
        )
    )
    open_ = [o for o in a.options if o.verdict in ("eligible", "caution")]
    if open_:
        names = ", ".join(
            ctx.name(o) + (" (caution)" if o.verdict == "caution" else "") for o in open_
        )
        cards.append(
            ctx.card(
                "info",
                f"Open options: {names}",
                "\n\n".join(f"**{o.name}** ({o.verdict})\n{_bullets(o.reasons)}" for o in open_),
            )
        )
    if report is not None and (report.missing or report.ambiguous):
        lines = [f"{m.field}: {m.text}" for m in report.missing]
        lines += [f"{x.resource}: {x.text}" for x in report.ambiguous]
        cards.append(
            ctx.card(
                "info",
                f"The record lacks data the assessment needs ({len(lines)} item(s)); see details",
                "The assessment used what the record says; these were missing or could not be "
                "used:\n\n" + _bullets(lines),
            )
        )
    return cards


@dataclass(frozen=True)
class DraftedOrder:
    reference: str | None
    """``MedicationRequest/<id>``; None for an order sent without an id (it cannot be named
    in an action, but its warning is given all the same)."""
    treatment: str
    text: str


def drafted_orders(
    draft: Any, selections: list[str] | None, codes: FhirCodes, ctx: Context
) -> list[DraftedOrder]:
    """The drafted orders that open a treatment option (only the selected ones, if given)."""
    found: list[DraftedOrder] = []
    entries = draft.get("entry") if isinstance(draft, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            continue
        kind, rid = res.get("resourceType"), res.get("id")
        reference = f"{kind}/{rid}" if isinstance(rid, str) and rid else None
        if selections is not None and reference not in selections:
            continue
        reader = ctx.reader(f"context.draftOrders.entry[{index}].resource")
        treatment = None
        if kind == "MedicationRequest":
            term = read_term(
                ctx, reader, res.get("medicationCodeableConcept"), "medicationCodeableConcept"
            )
            treatment = next(
                (
                    codes.order_codes[(c.system, c.code)]
                    for c in term.codings
                    if (c.system, c.code) in codes.order_codes
                ),
                None,
            )
            for word in term.words if treatment is None else ():
                names = codes.order_names.find(word)
                if len(names) == 1:
                    treatment = names.pop()
                    break
        elif kind == "ServiceRequest":
            term = read_term(ctx, reader, res.get("code"), "code")
            local = term.local(codes.local_system("treatment"))
            if local is not None and local in codes.service_orders.values():
                treatment = local
            for ptype, matcher in codes.procedures:
                if treatment is None and matcher.first(term.codings):
                    treatment = codes.service_orders.get(ptype)
        else:
            continue
        if treatment is not None:
            found.append(DraftedOrder(reference, treatment, term.describe()))
    return found


def order_cards(a: Assessment, orders: list[DraftedOrder], ctx: CardContext) -> list[Card]:
    by_id = {o.treatment: o for o in a.options}
    cards = []
    for order in orders:
        option = by_id.get(order.treatment)
        if option is None or option.verdict not in ("contraindicated", "caution"):
            continue
        findings = option.contraindications or option.cautions
        first = findings[0].replace("_", " ") if findings else ""
        suggestions = []
        if order.reference is not None:  # an order without an id cannot be named to remove
            remove = Action(
                type="delete",
                description=f"Remove the drafted order for {option.name} ({order.text})",
                resourceId=order.reference,
            )
            suggestions.append(
                Suggestion(
                    label=f"Remove the {option.name} order",
                    uuid=str(uuid.uuid4()),
                    actions=[remove],
                )
            )
        named = f" {order.reference}" if order.reference else ""
        cards.append(
            ctx.card(
                "warning",
                f"{ctx.name(option)}: {option.verdict.replace('_', ' ')} for this patient "
                f"({first})",
                f"The drafted order{named} ({order.text}) is for {option.name}.\n\n"
                f"{_bullets(option.reasons)}{_sources(option)}",
                suggestions=suggestions or None,
                selectionBehavior="at-most-one" if suggestions else None,
                overrideReasons=ctx.override_reasons,
            )
        )
    return cards
