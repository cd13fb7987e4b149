"""``patient-view`` answers kept per process, by the exact content of the call's data.

The cards of a ``patient-view`` call depend only on the FHIR data read (the prefetch), the
patient, the date they are decided as of, the adequate-trial setting, the knowledge base and
its codes, and the base URL of the cards' link. When the prefetch holds all the data (nothing
is fetched from the client's FHIR server, :func:`~trdnav.cds.prefetch.complete`), the key holds
all of these, with a SHA-256 digest of every resource read from the prefetch (and its place),
so an entry can never answer a call whose data differs. Only answers that succeeded are kept.
A call answered from here is still authenticated (its JWT and ``jti``), and its cards (each with a
new ``uuid``) are stored and the call audited like any other. Each server process keeps its own
bounded set (least recently used first out); nothing is shared between processes, nothing is
written. Kept cards are never changed: each call gets copies with their own ``uuid``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from datetime import date
from typing import Any, NamedTuple

__all__ = ["DecisionCache", "DecisionKey", "prefetch_digest", "prefetch_text_digest"]


class DecisionKey(NamedTuple):
    service: str
    patient_id: str
    prefetch: bytes
    """SHA-256 of the data read from the prefetch (:func:`prefetch_text_digest`, else
    :func:`prefetch_digest`; the two never give the same digest)."""
    as_of: date
    adequate_trial_days: int | None
    link_base: str
    knowledge: int
    """``id`` of the knowledge base object: a reloaded knowledge base misses every entry."""
    codes: int
    """``id`` of the FHIR codes object, likewise."""


def prefetch_digest(prefetch: dict[str, Any], templates: dict[str, str]) -> bytes:
    """SHA-256 of what :func:`~trdnav.cds.prefetch.gather` reads of a complete prefetch: for
    each key of the templates, the resource, or each Bundle entry's position, ``fullUrl`` and
    resource, written as JSON in the order they were sent. A Bundle's own ``id``, ``meta``,
    ``total`` and links, which a FHIR server makes anew for every search, are not read and so
    are left out; any change to a resource, its place or its ``fullUrl`` is another key (and
    the same data sent in another order is another key too: a miss, never a wrong answer)."""
    read: list[Any] = []
    for key in templates:
        value = prefetch.get(key)
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            entries = value.get("entry") or []
            read.append(
                [
                    key,
                    [
                        [i, e.get("fullUrl"), e["resource"]]
                        for i, e in enumerate(entries)
                        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                    ]
                    if isinstance(entries, list)
                    else None,
                ]
            )
        else:
            read.append([key, value])
    text = json.dumps(read, separators=(",", ":"), check_circular=False)
    return hashlib.sha256(text.encode("ascii")).digest()


def prefetch_text_digest(
    texts: dict[str, tuple[str, str]], templates: dict[str, str]
) -> bytes | None:
    """SHA-256 of what :func:`~trdnav.cds.prefetch.gather` reads of a complete prefetch, from
    the JSON text of each key as it was sent (:func:`~trdnav.cds.body.read_call`): a Bundle's
    ``entry`` array, else the whole value. The same text is the same data, so an entry can
    never answer a call whose data differs; the same data written otherwise (spacing, order)
    is another key, a miss. None when a key of the templates has no text (not given)."""
    digest = hashlib.sha256(b"text\0")
    for key in templates:
        found = texts.get(key)
        if found is None:
            return None
        kind, text = found
        data = text.encode("utf-8", "surrogatepass")
        digest.update(f"{len(key)}:{key}{kind}{len(data)}:".encode("utf-8", "surrogatepass"))
        digest.update(data)
    return digest.digest()


Cards = tuple[dict[str, Any], ...]


class DecisionCache:
    """A thread-safe, bounded map from :class:`DecisionKey` to the cards (without their
    ``uuid``)."""

    def __init__(self, size: int = 1024) -> None:
        if size < 0:
            raise ValueError(f"size: got {size}; expected 0 or more")
        self.size = size
        self._entries: OrderedDict[DecisionKey, Cards] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: DecisionKey) -> list[dict[str, Any]] | None:
        """The cards kept for ``key``, each with a new ``uuid``; None if there are none."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return [{"uuid": str(uuid.uuid4()), **card} for card in found]

    def put(self, key: DecisionKey, cards: list[dict[str, Any]]) -> None:
        """Keep the cards of a call (as JSON, their ``uuid`` left out)."""
        if self.size == 0:
            return
        kept = tuple({k: v for k, v in card.items() if k != "uuid"} for card in cards)
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
