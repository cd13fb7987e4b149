"""``patient-view`` answers kept per process, by the exact content of the call's data.

The cards of a ``patient-view`` call depend only on the FHIR data read (the prefetch), the
patient, the date they are decided as of, the adequate-trial setting, the knowledge base and
its codes, and the base URL of the cards' link. When the prefetch holds all the data (nothing
is fetched from the client's FHIR server, :func:`~trdnav.cds.prefetch.complete`), the key holds
all of these, with a SHA-256 digest of the prefetch, so an entry can never answer a call whose
data differs. Only answers that succeeded are kept; a call answered from here is still
authenticated (its JWT and ``jti``), and its cards (with new ``uuid``\\ s) are stored and the
call audited like any other. Each server process keeps its own bounded set (least recently used
first out); nothing is shared between processes, nothing is written. Kept cards are never
changed: each call gets copies with their own ``uuid``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from datetime import date
from typing import Any, NamedTuple

__all__ = ["DecisionCache", "DecisionKey", "prefetch_digest"]


class DecisionKey(NamedTuple):
    service: str
    patient_id: str
    prefetch: bytes
    """SHA-256 of the prefetch as JSON (:func:`prefetch_digest`)."""
    as_of: date
    adequate_trial_days: int | None
    link_base: str
    knowledge: int
    """``id`` of the knowledge base object: a reloaded knowledge base misses every entry."""
    codes: int
    """``id`` of the FHIR codes object, likewise."""


def prefetch_digest(prefetch: dict[str, Any]) -> bytes:
    """SHA-256 of the prefetch written as JSON in the order it was read (the same data sent in
    another order is another key: a miss, never a wrong answer)."""
    text = json.dumps(prefetch, separators=(",", ":"), check_circular=False)
    return hashlib.sha256(text.encode("ascii")).digest()


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
