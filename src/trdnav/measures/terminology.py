"""Value sets and code lists, and matching a record's codings against them.

A value set (from ``knowledge/data/measures/valuesets.yaml``) is its VSAC name, OID, URL,
expansion version and codes per code system. The measure logic matches against
:class:`Terms`: one or more value sets, or a short list of codes from the measure's data file.
A coding matches when its system and code are both in the terms (CQL ``in`` and ``~``); the
coding's version and display are not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationInfo

from trdnav.measures.records import Coding

__all__ = [
    "Code",
    "CodeTerms",
    "Match",
    "Terms",
    "ValueSet",
    "ValueSetTerms",
]

OID = Annotated[str, StringConstraints(pattern=r"^[0-2](\.\d+)+$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class Code(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    system: NonEmpty
    code: NonEmpty
    display: str | None = None


class ValueSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: NonEmpty
    oid: OID
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    version: NonEmpty
    used_by: tuple[NonEmpty, ...]
    codes: dict[NonEmpty, tuple[NonEmpty, ...]]


@dataclass(frozen=True, slots=True)
class Match:
    """A coding found in a set of terms, with the name of what it matched (a value set's
    name or a listed code's display)."""

    coding: Coding
    label: str

    def __str__(self) -> str:
        return f"{self.label} ({self.coding.code})"


class Terms:
    """Codes to match: each ``(system, code)`` with the label of where it came from."""

    __slots__ = ("_index", "labels")

    def __init__(self, entries: Iterable[tuple[str, str, str]]) -> None:
        self._index: dict[tuple[str, str], str] = {}
        labels: list[str] = []
        for system, code, label in entries:
            self._index.setdefault((system, code), label)
            if label not in labels:
                labels.append(label)
        self.labels: tuple[str, ...] = tuple(labels)

    @classmethod
    def of_value_sets(cls, value_sets: Sequence[ValueSet]) -> Terms:
        return cls(
            (system, code, vs.name)
            for vs in value_sets
            for system, codes in vs.codes.items()
            for code in codes
        )

    @classmethod
    def of_codes(cls, codes: Sequence[Code]) -> Terms:
        return cls((c.system, c.code, c.display or c.code) for c in codes)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, coding: object) -> bool:
        return isinstance(coding, Coding) and (coding.system, coding.code) in self._index

    def match(self, codings: Iterable[Coding]) -> Match | None:
        """The first coding that is in these terms, or None."""
        for coding in codings:
            label = self._index.get((coding.system, coding.code))
            if label is not None:
                return Match(coding, label)
        return None

    def __str__(self) -> str:
        return " or ".join(self.labels)

    def __repr__(self) -> str:
        return f"Terms({self.labels!r}, {len(self)} codes)"


def _value_set_terms(value: Any, info: ValidationInfo) -> Any:
    """Resolve a list of value-set OIDs with the value sets given in the validation context."""
    if isinstance(value, Terms):
        return value
    known: Mapping[str, ValueSet] = (info.context or {}).get("value_sets", {})
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a non-empty list of value-set OIDs")
    unknown = [oid for oid in value if oid not in known]
    if unknown:
        raise ValueError(f"unknown value set {', '.join(unknown)} (not in valuesets.yaml)")
    return Terms.of_value_sets([known[oid] for oid in value])


def _code_terms(value: Any) -> Any:
    if isinstance(value, Terms):
        return value
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty list of codes {system, code, display}")
    return Terms.of_codes([Code.model_validate(item) for item in value])


ValueSetTerms = Annotated[Terms, BeforeValidator(_value_set_terms)]
"""A field holding one or more value sets, written as a list of OIDs."""

CodeTerms = Annotated[Terms, BeforeValidator(_code_terms)]
"""A field holding a list of codes, written as ``{system, code, display}`` mappings."""
