"""The human-readable assessment report (Rich)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trdnav.core.assessment import Assessment
from trdnav.fhir.report import ImportReport

__all__ = ["DISCLAIMER", "VERDICT_STYLE", "assessment_report", "import_report"]

DISCLAIMER = (
    "trdnav supports clinical decisions; it does not make them and is not a medical device. "
    "Check every verdict against its basis and sources."
)

VERDICT_STYLE = {
    "contraindicated": "bold white on red",
    "caution": "bold black on yellow",
    "eligible": "bold white on green",
    "not_yet": "bold white on grey42",
    "trial_only": "bold white on blue",
}

ROMAN = ["0", "I", "II", "III", "IV", "V"]


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _ref(refs: dict[str, int], source: str) -> str:
    return f"[{refs.setdefault(source, len(refs) + 1)}]"


def _alerts(a: Assessment, refs: dict[str, int]) -> RenderableType | None:
    if not a.alerts:
        return None
    lines = Text()
    for al in a.alerts:
        numbers = " ".join(_ref(refs, s) for s in al.references)
        lines.append(f"{al.code}: {al.message}", style="bold")
        lines.append(f" sources {numbers}\n", style="dim")
    return Panel(lines, title="ALERTS", border_style="bold red", style="red")


def _summary(a: Assessment) -> RenderableType:
    f, s = a.facts, a.staging
    c = s.msm.components
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    drugs = ", ".join(f.failed_drugs) or "none"
    grid.add_row("TRD", f"{_yes(a.trd)} ({a.failed_adequate_trials} failed adequate: {drugs})")
    grid.add_row("Episode", f"{f.episode_months} months; age {f.age_years}")
    grid.add_row("Thase-Rush", f"stage {ROMAN[s.thase_rush]}  ({s.explanations['thase_rush']})")
    grid.add_row("MGH-S", f"{s.mgh_s:g}  ({s.explanations['mgh_s']})")
    grid.add_row(
        "Maudsley",
        f"{s.msm.total} {s.msm.band}  (duration {c.duration} + severity {c.severity} + "
        f"failures {c.failed_antidepressants} + augmentation {c.augmentation} + ECT {c.ect})",
    )
    return Panel(grid, title="Where the patient stands")


def _trials(a: Assessment) -> RenderableType:
    text = Text()
    for t in a.trials:
        status = "FAILED" if t.failed else ("adequate" if t.adequate else "not adequate")
        scope = "" if t.in_episode else " (outside the episode)"
        text.append(f"{t.drug}", style="bold")
        text.append(f" from {t.start.isoformat()}: {status}{scope}\n")
        text.append(f"    {t.why}\n", style="dim")
    if not a.trials:
        text.append("no medication trials recorded\n")
    return Panel(text, title="Medication trials")


def _scores(a: Assessment) -> RenderableType:
    table = Table(title="Scores in this episode", expand=True)
    for col in ("instrument", "baseline", "latest", "severity", "response", "remission"):
        table.add_column(col)
    for line in a.scores:
        out = a.outcome[line.instrument]
        table.add_row(
            line.instrument,
            f"{out.baseline.total} ({out.baseline.date.isoformat()})",
            f"{line.total} ({line.date.isoformat()})",
            line.severity,
            _yes(out.response),
            _yes(out.remission),
        )
    if not a.scores:
        table.add_row("-", "", "", "no measurements in this episode", "", "")
    return table


def _options(a: Assessment, refs: dict[str, int]) -> RenderableType:
    text = Text()
    for o in a.options:
        text.append(f" {o.verdict} ", style=VERDICT_STYLE[o.verdict])
        text.append(f" {o.name}", style="bold")
        text.append(f"  {o.regulatory_status}\n")
        for reason in o.reasons:
            text.append(f"    - {reason}\n")
        if o.with_oral_antidepressant:
            text.append(f"    - oral antidepressant: {o.with_oral_antidepressant}\n", style="bold")
        numbers = " ".join(_ref(refs, s) for s in o.sources)
        text.append(f"    rules: {', '.join(o.rule_ids)}; sources {numbers}\n", style="dim")
    return Panel(text, title="Treatment options")


def assessment_report(a: Assessment, data_notes: RenderableType | None = None) -> RenderableType:
    """The assessment as the terminal shows it: alerts first, then ``data_notes`` (what a FHIR
    import used, assumed and left out), then the rest."""
    refs: dict[str, int] = {}
    header = Text.assemble(
        (f"trdnav assessment - {a.id} - as of {a.as_of.isoformat()}\n", "bold"),
        (f"knowledge base {a.knowledge_version}. {DISCLAIMER}", "italic"),
    )
    parts: list[RenderableType] = [header]
    alerts = _alerts(a, refs)
    if alerts is not None:
        parts.append(alerts)
    if data_notes is not None:
        parts.append(data_notes)
    parts += [_summary(a), _trials(a), _scores(a), _options(a, refs)]
    references = Text("References\n", style="bold")
    for source, number in refs.items():
        references.append(f"[{number}] {source}\n")
    parts.append(references)
    return Group(*parts)


def import_report(report: ImportReport) -> RenderableType:
    """What a FHIR import used, assumed and left out, shown after the alerts."""
    text = Text()
    used = len({m.resource for m in report.mapped})
    text.append(
        f"{report.resources} FHIR resources read: {used} used, {report.ignored_count} ignored, "
        f"{len(report.ambiguous)} ambiguous.\n"
    )
    for missing in report.missing:
        text.append("Missing: ", style="bold yellow")
        assumed = "" if missing.assumed is None else f" (assumed: {missing.assumed})"
        text.append(f"{missing.field}{assumed}: {missing.text}\n")
    for item in report.ambiguous:
        text.append("Not used: ", style="bold yellow")
        text.append(f"{item.resource}: {item.text}\n")
    for item in report.warnings:
        text.append("Warning: ", style="bold red")
        text.append(f"{item.resource}: {item.text}\n")
    for group in report.ignored():
        text.append(
            f"Ignored: {group['count']} {group['resource_type']} ({group['reason']})\n", style="dim"
        )
    return Panel(text, title="Data from FHIR", border_style="yellow")
