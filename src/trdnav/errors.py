"""The one exception tree of trdnav.

Every error raised by trdnav is a ``TrdnavError``. Each class knows how the edges
render it: the HTTP status of the API, the FHIR ``OperationOutcome.issue.code``,
and the exit code of the command line.

    TrdnavError
    ├── InputError        bad input: one Problem per field (HTTP 422, exit 2)
    │   └── UnknownName   a name that is not in the knowledge base (treatment, rule, ...)
    └── KnowledgeError    the knowledge data failed validation on load (HTTP 500, exit 1)

This module is pure (standard library only) so the clinical core may raise these.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "InputError",
    "KnowledgeError",
    "Problem",
    "TrdnavError",
    "UnknownName",
    "format_path",
]


def format_path(loc: Iterable[str | int]) -> str:
    """Render a location such as ``("medication_trials", 1, "drug")`` as
    ``medication_trials[1].drug``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


def _render_value(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where it is, what was there, what was expected."""

    path: str
    value: Any
    expected: str
    missing: bool = False

    def __str__(self) -> str:
        if self.missing:
            return f"{self.path}: missing; expected {self.expected}"
        return f"{self.path}: got {_render_value(self.value)}; expected {self.expected}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": self.value, "expected": self.expected}


class TrdnavError(Exception):
    """Base of every error trdnav raises on purpose."""

    http_status: ClassVar[int] = 500
    fhir_issue_code: ClassVar[str] = "exception"
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "trdnav error"


class InputError(TrdnavError):
    """The input is invalid; ``problems`` lists every problem found, with its field path."""

    http_status = 422
    fhir_issue_code = "invalid"
    exit_code = 2
    title = "Invalid input"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        super().__init__("; ".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        """One line per problem, for the command line."""
        return [str(p) for p in self.problems]


class UnknownName(InputError):
    """A name (treatment, rule, drug, condition...) that the knowledge base does not know."""

    http_status = 404
    fhir_issue_code = "not-found"
    title = "Unknown name"


class KnowledgeError(TrdnavError):
    """The knowledge data files are inconsistent or fail validation."""

    title = "Invalid knowledge data"

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("knowledge data is invalid:\n" + "\n".join(self.problems))
