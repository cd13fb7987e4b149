"""What the mappers of FHIR resources share: where a resource came from, the import's context
(codes, knowledge base, report, problems), and reading CodeableConcepts with their text.

A mapper reads only the elements it needs with an :class:`~trdnav.fhir.elements.ElementReader`
(each bad element becomes a problem naming its path) and records what it did in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import Problem
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.elements import ElementReader
from trdnav.fhir.report import ImportReport
from trdnav.measures.records import Coding
from trdnav.measures.timing import Moment

__all__ = ["Context", "Source", "Term", "day_of", "plain_term", "read_term", "shortened"]


class Source(NamedTuple):
    """A resource as the report and error messages name it (a named tuple: one is made for
    every resource read)."""

    ref: str
    where: str
    seq: int = 0
    """The order the resource was read in (records keep the order of their resources)."""


@dataclass
class Context:
    """One patient's import: its codes, knowledge base, date, report and problems."""

    codes: FhirCodes
    kb: KnowledgeBase
    as_of: date
    report: ImportReport
    problems: list[Problem] = field(default_factory=list)

    def reader(self, where: str) -> ElementReader:
        return ElementReader(where, self.problems)

    def binding(self, reader: ElementReader, binding: str, value: str | None, path: str) -> bool:
        """Whether ``value`` is a code of the required binding (a problem if it is not)."""
        if value is None:
            return False
        if self.codes.in_binding(binding, value):
            return True
        allowed = ", ".join(sorted(self.codes.bindings[binding]))
        reader.bad(path, value, f"a {binding} code of FHIR R4: one of {allowed}")
        return False


@dataclass(frozen=True, slots=True)
class Term:
    """A CodeableConcept: its codings (systems made canonical) and its words (text, then the
    codings' displays)."""

    codings: tuple[Coding, ...]
    words: tuple[str, ...]
    text: str | None = None

    def local(self, system: str) -> str | None:
        """The code of the first coding in ``system``."""
        return next((c.code for c in self.codings if c.system == system), None)

    def describe(self) -> str:
        if self.words:
            return self.words[0]
        if self.codings:
            c = self.codings[0]
            return f"{c.system}|{c.code}"
        return "(no code or text)"


TERMS_KEPT = 4096
"""Terms kept by :func:`read_term`: a chart repeats its codes, and so do charts."""
TermKey = tuple[str | None, tuple[tuple[str, str, str | None], ...]]


def _term(value: dict[str, Any], aliases: dict[str, str], kept: dict[TermKey, Term]) -> Term | None:
    """A CodeableConcept as a term, when it is well formed (its codings as
    :meth:`ElementReader.concept` reads them, its text a string): read in one pass. None when
    something in it is not, for :func:`read_term` to read it element by element and say what.
    A Term is immutable, so one is made once for each text and codings and kept in ``kept``."""
    listed = value.get("coding")
    raw = value.get("text")
    if (listed is not None and type(listed) is not list) or (
        raw is not None and type(raw) is not str
    ):
        return None
    found = []
    for coding in listed or ():
        if type(coding) is not dict:
            return None
        system, code = coding.get("system"), coding.get("code")
        if type(system) is str and type(code) is str and system and code:
            display = coding.get("display")
            found.append((system, code, display if isinstance(display, str) else None))
        elif (system is not None and (type(system) is not str or not system)) or (
            code is not None and (type(code) is not str or not code)
        ):
            return None
    key = (raw, tuple(found))
    term = kept.get(key)
    if term is None:
        term = _make_term(key, aliases)
        if len(kept) >= TERMS_KEPT:
            kept.clear()
        kept[key] = term
    return term


def _make_term(key: TermKey, aliases: dict[str, str]) -> Term:
    raw, found = key
    codings = tuple(Coding(aliases.get(s, s), c, d) for s, c, d in found)
    displays = tuple(d for _, _, d in found if d)
    text = raw.strip() if raw is not None else None
    if text:
        return Term(codings, (text, *displays), text)
    return Term(codings, displays)


def plain_term(ctx: Context, value: dict[str, Any]) -> Term | None:
    """A well-formed CodeableConcept as :func:`read_term` reads it, in one pass; None when
    something in it is not well formed (for ``read_term`` to say what)."""
    return _term(value, ctx.codes.aliases, ctx.codes.terms)


def read_term(ctx: Context, reader: ElementReader, value: Any, path: str) -> Term:
    if value is None:
        return _NOTHING
    aliases = ctx.codes.aliases
    if type(value) is dict:
        term = plain_term(ctx, value)
        if term is not None:
            return term
    codings = tuple(
        Coding(aliases[c.system], c.code, c.display) if c.system in aliases else c
        for c in reader.concept(value, path)
    )
    words: list[str] = []
    text = None
    if isinstance(value, dict):
        raw = value.get("text")
        if isinstance(raw, str) and raw.strip():
            text = raw.strip()
            words.append(text)
        elif raw is not None and not isinstance(raw, str):
            reader.bad(f"{path}.text", raw, "a string")
    words += [c.display for c in codings if c.display]
    return Term(codings, tuple(words), text)


_NOTHING = Term((), ())


def day_of(moment: Moment | None) -> date | None:
    return moment.day if moment is not None else None


def shortened(ctx: Context, src: Source, path: str, text: str, limit: int, what: str) -> str:
    """A label longer than a history keeps (``limit`` characters), cut to fit with "…" and
    the cut reported: a label, unlike an identifier, still says what it said."""
    if len(text) <= limit:
        return text
    ctx.report.warn(
        src.ref,
        f"{src.where}.{path}",
        f"{what} is {len(text)} characters long: shortened to the {limit} a history keeps",
    )
    return text[: limit - 1].rstrip() + "…"
