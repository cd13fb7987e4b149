"""What a FHIR import did with each resource: mapped, ignored (why), ambiguous (why), and what
the history needed but the data did not say (and what was used instead).

Nothing is dropped silently: every resource read ends up in exactly one of ``mapped``,
``ignored`` or ``ambiguous``. Ignored resources are grouped by type and reason, keeping at most
:data:`EXAMPLES` references per group, so the report of a bulk file stays small however many
resources it ignores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["EXAMPLES", "ImportReport", "Missing", "ReportItem"]

EXAMPLES = 20
"""References kept per group of ignored resources (the count is always exact)."""


class ReportItem(NamedTuple):
    """One resource (or element) and what happened to it (a named tuple: one is made for
    every resource mapped)."""

    resource: str
    where: str
    text: str
    to: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"resource": self.resource, "where": self.where}
        if self.to is not None:
            data["to"] = self.to
        data["text"] = self.text
        return data


@dataclass(frozen=True, slots=True)
class Missing:
    """A field of the history the FHIR data did not give, and what was used instead."""

    field: str
    text: str
    assumed: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "assumed": self.assumed, "text": self.text}


@dataclass
class _Group:
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    patient: str | None = None
    resources: int = 0
    mapped: list[ReportItem] = field(default_factory=list)
    ambiguous: list[ReportItem] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    warnings: list[ReportItem] = field(default_factory=list)
    _ignored: dict[tuple[str, str], _Group] = field(default_factory=dict)

    def map(self, resource: str, where: str, to: str, text: str) -> None:
        self.mapped.append(ReportItem(resource, where, text, to))

    def ignore(self, resource_type: str, resource: str, reason: str) -> None:
        group = self._ignored.setdefault((resource_type, reason), _Group())
        group.count += 1
        if len(group.examples) < EXAMPLES:
            group.examples.append(resource)

    def ambiguity(self, resource: str, where: str, text: str) -> None:
        self.ambiguous.append(ReportItem(resource, where, text))

    def warn(self, resource: str, where: str, text: str) -> None:
        self.warnings.append(ReportItem(resource, where, text))

    def lack(self, field_: str, text: str, assumed: Any = None) -> None:
        self.missing.append(Missing(field_, text, assumed))

    def absorb(self, other: ImportReport) -> None:
        """Add another report's entries (the same patient read under another reference)."""
        self.resources += other.resources
        self.mapped += other.mapped
        self.ambiguous += other.ambiguous
        self.missing += other.missing
        self.warnings += other.warnings
        for key, group in other._ignored.items():
            mine = self._ignored.setdefault(key, _Group())
            mine.count += group.count
            mine.examples += group.examples[: EXAMPLES - len(mine.examples)]

    @property
    def ignored_count(self) -> int:
        return sum(g.count for g in self._ignored.values())

    def ignored(self) -> list[dict[str, Any]]:
        return [
            {
                "resource_type": kind,
                "reason": reason,
                "count": group.count,
                "examples": list(group.examples),
            }
            for (kind, reason), group in self._ignored.items()
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "resources": self.resources,
            "mapped": [m.to_json() for m in self.mapped],
            "ignored": self.ignored(),
            "ambiguous": [a.to_json() for a in self.ambiguous],
            "missing": [m.to_json() for m in self.missing],
            "warnings": [w.to_json() for w in self.warnings],
        }

    def lines(self) -> list[str]:
        """What a person should know, one line each: missing data, ambiguities, warnings and
        a count of what was ignored (the JSON report has everything)."""
        out = [
            f"missing: {m.field}: {m.text}"
            + ("" if m.assumed is None else f"; assumed {m.assumed!r}")
            for m in self.missing
        ]
        out += [f"ambiguous: {a.resource} ({a.where}): {a.text}" for a in self.ambiguous]
        out += [f"warning: {w.resource}: {w.text}" for w in self.warnings]
        out += [
            f"ignored: {g['count']} {g['resource_type']}: {g['reason']}" for g in self.ignored()
        ]
        return out
