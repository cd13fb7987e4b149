"""The one exception tree of trdnav.

Every error raised by trdnav is a ``TrdnavError``. Each class knows how the edges
render it: the HTTP status of the API, the FHIR ``OperationOutcome.issue.code``,
and the exit code of the command line.

    TrdnavError
    ├── InputError            bad input: one Problem per field (HTTP 422, exit 2)
    │   └── UnknownName       a name that is not in the knowledge base (HTTP 404)
    ├── KnowledgeError        the knowledge data failed validation on load (HTTP 500)
    ├── NotAuthenticated      no valid credentials (HTTP 401)
    ├── NotPermitted          authenticated, but the role may not do this (HTTP 403)
    ├── NotFound              no such record for this user; also hides other clinics' records (404)
    ├── Conflict              the record exists already or the state forbids it (HTTP 409)
    ├── PreconditionFailed    a stale version (If-Match) (HTTP 412)
    │   └── DataUnavailable   data a CDS Hooks call needs cannot be had (HTTP 412)
    ├── PreconditionRequired  a write without a version to check (HTTP 428)
    └── TooManyRequests       throttled, with the seconds to wait (HTTP 429)

This module is pure (standard library only) so the clinical core may raise these.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "Conflict",
    "DataUnavailable",
    "InputError",
    "KnowledgeError",
    "NotAuthenticated",
    "NotFound",
    "NotPermitted",
    "PreconditionFailed",
    "PreconditionRequired",
    "Problem",
    "TooManyRequests",
    "TrdnavError",
    "UnknownName",
    "format_path",
    "hide_password",
    "printable",
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


def hide_password(url: str) -> str:
    """``url`` as an error may show it: a password in it replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))


def printable(text: str) -> str:
    """``text`` as it can be written in UTF-8: an unpaired surrogate (which JSON's ``\\ud800``
    can make) shown as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _render_value(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):  # a huge integer, say
        text = repr(value) if not isinstance(value, int) else "a very long integer"
    if len(text) > 80:
        text = text[:77] + "..."
    return printable(text)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where it is, what was there, what was expected."""

    path: str
    value: Any
    expected: str
    missing: bool = False

    def __str__(self) -> str:
        if self.missing:
            return printable(f"{self.path}: missing; expected {self.expected}")
        return printable(f"{self.path}: got {_render_value(self.value)}; expected {self.expected}")

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON data; a missing field has no value and ``"missing": true``."""
        if self.missing:
            return {"path": self.path, "value": None, "expected": self.expected, "missing": True}
        return {"path": self.path, "value": self.value, "expected": self.expected}


class TrdnavError(Exception):
    """Base of every error trdnav raises on purpose."""

    http_status: ClassVar[int] = 500
    fhir_issue_code: ClassVar[str] = "exception"
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "trdnav error"
    problem_type: ClassVar[str | None] = None
    """The API problem type, when it is not the one of the HTTP status."""


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


class NotAuthenticated(TrdnavError):
    http_status = 401
    fhir_issue_code = "login"
    exit_code = 2
    title = "Not authenticated"


class NotPermitted(TrdnavError):
    http_status = 403
    fhir_issue_code = "forbidden"
    exit_code = 2
    title = "Not permitted"


class NotFound(TrdnavError):
    http_status = 404
    fhir_issue_code = "not-found"
    exit_code = 2
    title = "Not found"


class Conflict(TrdnavError):
    http_status = 409
    fhir_issue_code = "conflict"
    exit_code = 2
    title = "Conflict"


class PreconditionFailed(TrdnavError):
    http_status = 412
    fhir_issue_code = "conflict"
    exit_code = 2
    title = "Precondition failed"


class DataUnavailable(PreconditionFailed):
    """The FHIR data a CDS Hooks call needs is neither prefetched nor fetchable."""

    fhir_issue_code = "not-found"
    title = "Data unavailable"
    problem_type = "data-unavailable"


class PreconditionRequired(TrdnavError):
    http_status = 428
    fhir_issue_code = "required"
    exit_code = 2
    title = "Precondition required"


class TooManyRequests(TrdnavError):
    http_status = 429
    fhir_issue_code = "throttled"
    exit_code = 2
    title = "Too many requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
