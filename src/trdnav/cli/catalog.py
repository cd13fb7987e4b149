"""Renderings of the knowledge base: the treatment list, ``explain`` pages, the rule list."""

from __future__ import annotations

import difflib
from datetime import date

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trdnav.cli.report import DISCLAIMER
from trdnav.core.facts import Cited
from trdnav.core.knowledge import KnowledgeBase, Rule, Treatment
from trdnav.errors import Problem, UnknownName
from trdnav.knowledge.export import knowledge_json

__all__ = [
    "explain",
    "knowledge_json",
    "rules_markdown",
    "treatments_table",
]

CONFIDENCE_MARK = {
    "verified": "",
    "secondary": " (secondary source)",
    "unverified": " (UNVERIFIED)",
}


def treatments_table(kb: KnowledgeBase, on: date) -> RenderableType:
    table = Table(title=f"trdnav treatment options (knowledge base {kb.version})", expand=True)
    # every column wraps but the id: at 80 columns, text that may not wrap left the
    # schedule no room at all (it showed as "…")
    table.add_column("id", no_wrap=True)
    table.add_column("name", ratio=2, overflow="fold")
    table.add_column(f"status on {on.isoformat()}", ratio=2, overflow="fold")
    table.add_column("setting", ratio=2, overflow="fold")
    table.add_column("typical schedule", ratio=3, overflow="fold")
    for t in kb.treatments.values():
        table.add_row(t.id, t.name, t.regulatory_status(on), t.setting, t.schedule.summary)
    return table


def _cites(fact: Cited) -> str:
    numbers = ", ".join(fact.sources)
    return f"[{numbers}]{CONFIDENCE_MARK[fact.confidence]}"


def _section(title: str, lines: list[str]) -> Text:
    text = Text(f"\n{title}\n", style="bold")
    for line in lines or ["none recorded"]:
        text.append(f"  - {line}\n")
    return text


def explain_treatment(t: Treatment, kb: KnowledgeBase, on: date) -> RenderableType:
    parts: list[RenderableType] = [
        Text(f"{t.name} ({t.id})", style="bold"),
        Text(
            f"{t.kind}; setting: {t.setting}; status on {on.isoformat()}: {t.regulatory_status(on)}"
        ),
        Text(f"\n{t.summary}\n\nFor patients: {t.plain_language}"),
        _section(
            "Regulatory history",
            [f"{e.date} {e.status}: {e.summary} {_cites(e)}" for e in t.regulatory],
        ),
        _section("Schedule", [f"{t.schedule.summary} {_cites(t.schedule)}", *t.schedule.details]),
        _section("Protocols", [f"{p.name}: {p.summary} {_cites(p)}" for p in t.protocols]),
        _section(
            "What to expect",
            [
                f"{e.outcome}: {e.figure} - {e.population} {_cites(e)}"
                + (f" Note: {e.note}" if e.note else "")
                for e in t.efficacy
            ],
        ),
        _section(
            "Side effects",
            [
                s.name
                + (f" ({s.frequency})" if s.frequency else "")
                + (f" - {s.note}" if s.note else "")
                + f" {_cites(s)}"
                for s in t.side_effects
            ],
        ),
        _section(
            "Contraindications",
            [
                f"{kb.conditions[r.finding].name} [{r.finding}]: {r.why} {_cites(r)}"
                for r in t.contraindications
            ],
        ),
        _section(
            "Cautions",
            [
                f"{kb.conditions[r.finding].name} [{r.finding}]: {r.why} {_cites(r)}"
                for r in t.cautions
            ],
        ),
        _section("Rules", [f"{r}: {kb.rules[r].statement}" for r in t.eligibility_rules]),
        _references(kb, _treatment_source_ids(t)),
    ]
    return Panel(Group(*parts), title=f"explain {t.id}")


def _treatment_source_ids(t: Treatment) -> list[str]:
    facts: list[Cited] = [
        t.schedule,
        *t.regulatory,
        *t.protocols,
        *t.efficacy,
        *t.side_effects,
        *t.contraindications,
        *t.cautions,
    ]
    return list(dict.fromkeys([*t.sources, *(s for f in facts for s in f.sources)]))


def _references(kb: KnowledgeBase, source_ids: list[str]) -> Text:
    text = Text("\nSources\n", style="bold")
    for sid in dict.fromkeys(source_ids):
        text.append(f"  [{sid}] {kb.sources[sid].reference()}\n")
    return text


def explain_rule(rule: Rule, kb: KnowledgeBase) -> RenderableType:
    used_by = [t.id for t in kb.treatments.values() if rule.id in t.eligibility_rules]
    lines = [
        Text(f"{rule.title} ({rule.id})", style="bold"),
        Text(f"\n{rule.statement}\nconfidence: {rule.confidence}"),
    ]
    if rule.parameters:
        lines.append(_section("Parameters", [f"{k}: {v}" for k, v in rule.parameters.items()]))
    if used_by:
        lines.append(_section("Used by", used_by))
    lines.append(_references(kb, rule.sources))
    return Panel(Group(*lines), title=f"explain {rule.id}")


def explain(name: str, kb: KnowledgeBase, on: date) -> RenderableType:
    """Explain a treatment, rule, drug, instrument or condition by id or name."""
    key = name.strip()
    if key.lower() in kb.treatments:
        return explain_treatment(kb.treatments[key.lower()], kb, on)
    if key in kb.rules:
        return explain_rule(kb.rules[key], kb)
    drug = kb.find_drug(key)
    if drug is not None:
        floor = f"{drug.min_daily_dose_mg:g} mg/day" if drug.min_daily_dose_mg else "none set"
        body = [
            Text(f"{drug.name} ({drug.id}), class {drug.drug_class}", style="bold"),
            Text(f"minimum adequate dose: {floor} {_cites(drug)}"),
            Text(f"names: {', '.join(drug.names())}"),
        ]
        if drug.dose_note:
            body.append(Text(drug.dose_note))
        body.append(_references(kb, drug.sources))
        return Panel(Group(*body), title=f"explain {drug.id}")
    inst = kb.find_instrument(key)
    if inst is not None:
        bands = ", ".join(f"{b.min}-{b.max} {b.label}" for b in inst.bands)
        body = [
            Text(f"{inst.name} ({inst.id}), {inst.rater}-rated, {inst.recall}", style="bold"),
            Text(f"{inst.item_count} items; total 0-{inst.max_total}; bands: {bands}"),
            Text(
                f"remission: {inst.remission_statement}; suicide item {inst.suicide_item.item} "
                f"alerts at {inst.suicide_item.alert_at} or more"
            ),
            _section("Items", [f"{i.number}. {i.label} ({i.min}-{i.max})" for i in inst.items]),
            _references(kb, inst.sources),
        ]
        return Panel(Group(*body), title=f"explain {inst.id}")
    cond = kb.find_condition(key)
    if cond is not None:
        uses = [
            f"{kind} for {t.id}: {r.why}"
            for t in kb.treatments.values()
            for kind, refs in (("contraindication", t.contraindications), ("caution", t.cautions))
            for r in refs
            if r.finding == cond.id
        ]
        return Panel(
            Group(
                Text(f"{cond.name} ({cond.id})", style="bold"),
                Text(cond.description),
                _section("Used by the rules as", uses),
            ),
            title=f"explain {cond.id}",
        )
    known = [*kb.treatments, *kb.rules]
    close = difflib.get_close_matches(key.lower(), known, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownName(
        [
            Problem(
                "TREATMENT",
                name,
                "a treatment id, rule id, drug, instrument "
                f"or condition{hint}; see `trdnav treatments`",
            )
        ]
    )


def rules_markdown(kb: KnowledgeBase) -> str:
    """docs/rules.md: every rule id with its statement and sources."""
    lines = [
        "# Rules",
        "",
        f"Generated by `trdnav rules --markdown` from knowledge base {kb.version}.",
        DISCLAIMER,
        "",
        "Confidence: *verified* (seen in the source), *secondary* (seen in a secondary",
        "source), *unverified* (a project decision or not yet checked against the primary).",
        "",
    ]
    for rule in kb.rules.values():
        lines += [f"## `{rule.id}`: {rule.title}", "", rule.statement, ""]
        if rule.parameters:
            lines.append(
                "Parameters: "
                + ", ".join(f"`{k}` = `{v}`" for k, v in rule.parameters.items())
                + "."
            )
            lines.append("")
        lines.append(f"Confidence: {rule.confidence}. Sources:")
        lines.append("")
        lines += [f"- {kb.sources[s].reference()}" for s in rule.sources]
        lines.append("")
    return "\n".join(lines)
