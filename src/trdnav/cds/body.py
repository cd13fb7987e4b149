"""A CDS call's JSON body: read by the route after the caller is authenticated, parsed once.

:func:`read_call` also keeps, for each key of the body's ``prefetch``, the JSON text of what
the service reads of it as it was sent: a Bundle's ``entry`` array, else the whole value. The
kept answers of :mod:`~trdnav.cds.decisions` are found by a digest of that text, so the data is
not written out again as JSON to be digested. The text is found while the body is parsed: the
body, its ``prefetch`` and each object in it are walked member by member, and each member's
value is parsed by the JSON module's own scanner, which says where the value ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trdnav import json_text
from trdnav.core.nesting import too_deep
from trdnav.errors import InputError, Problem

__all__ = ["CallBody", "read_body", "read_call"]

_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The JSON module's scanner: the value starting at a position, and where it ends."""
_SPACE = frozenset(" \t\n\r")


@dataclass(frozen=True)
class CallBody:
    value: Any
    """The parsed body, as :func:`json.loads` parses it."""
    prefetch_text: dict[str, tuple[str, str]] | None
    """For each key of the body's ``prefetch`` object: ``("entry", text)`` for a Bundle (the
    text of its ``entry`` array, ``""`` when it has none), else ``("value", text)`` (the text of
    the whole value). None when the body has no ``prefetch`` object or was not read this way."""


def read_body(raw: bytes) -> Any:
    """The parsed body (UTF-8, -16 or -32); a body that is not JSON is an :class:`InputError`."""
    try:
        return json_text.loads(raw)
    except ValueError as exc:  # TooDeep is one too
        raise InputError([Problem("(body)", None, f"a JSON object ({exc})")]) from None


def read_call(raw: bytes) -> CallBody:
    """The parsed body and the text of its prefetch (:class:`CallBody`). Anything unusual
    (a body that is not a JSON object, bad JSON) is left to :func:`read_body`, which parses
    it, or says what is wrong with it, as before."""
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        walk = _Walk(text)
        value, end = walk.top()
        if _skip(text, end) != len(text):
            raise ValueError("extra data")
    except (ValueError, IndexError, StopIteration, RecursionError):
        return CallBody(read_body(raw), None)
    if too_deep(value):  # as every other document: its reader would recurse through it
        return CallBody(read_body(raw), None)
    return CallBody(value, walk.prefetch)


def _skip(text: str, i: int) -> int:
    """The position of the first character from ``i`` that is not JSON white space."""
    n = len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    return i


class _Walk:
    def __init__(self, text: str) -> None:
        self.text = text
        self.prefetch: dict[str, tuple[str, str]] | None = None
        self._entry = ""

    def top(self) -> tuple[Any, int]:
        i = _skip(self.text, 0)
        if self.text[i] != "{":
            raise ValueError("not an object")
        return self._object(i, self._body_member)

    def _object(self, i: int, member: Any) -> tuple[dict[str, Any], int]:
        """The object starting at ``i`` (a ``{``), each member's value read by ``member``."""
        text = self.text
        out: dict[str, Any] = {}
        i = _skip(text, i + 1)
        if text[i] == "}":
            return out, i + 1
        while True:
            if text[i] != '"':
                raise ValueError("a member name")
            key, i = _scan(text, i)
            i = _skip(text, i)
            if text[i] != ":":
                raise ValueError("':'")
            i = _skip(text, i + 1)
            out[key], i = member(key, i)
            i = _skip(text, i)
            if text[i] == "}":
                return out, i + 1
            if text[i] != ",":
                raise ValueError("',' or '}'")
            i = _skip(text, i + 1)

    def _body_member(self, key: str, i: int) -> tuple[Any, int]:
        if key == "prefetch" and self.text[i] == "{":
            self.prefetch = {}  # a name given twice: the last one counts, as in json.loads
            return self._object(i, self._prefetch_member)
        if key == "prefetch":
            self.prefetch = None
        value: tuple[Any, int] = _scan(self.text, i)
        return value

    def _prefetch_member(self, key: str, i: int) -> tuple[Any, int]:
        assert self.prefetch is not None
        if self.text[i] != "{":
            value, end = _scan(self.text, i)
            self.prefetch[key] = ("value", self.text[i:end])
            return value, end
        self._entry = ""
        found, end = self._object(i, self._resource_member)
        if found.get("resourceType") == "Bundle":
            self.prefetch[key] = ("entry", self._entry)
        else:
            self.prefetch[key] = ("value", self.text[i:end])
        return found, end

    def _resource_member(self, key: str, i: int) -> tuple[Any, int]:
        value, end = _scan(self.text, i)
        if key == "entry":
            self._entry = self.text[i:end]
        return value, end
