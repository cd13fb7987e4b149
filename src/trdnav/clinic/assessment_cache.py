"""Assessments kept per version of a patient's history, as their JSON, so that reading one
again costs a lookup instead of reading the whole history and deciding anew.

An assessment depends only on the stored history (which changes only together with the
patient's ``version``), the date it is made as of, the adequate-trial setting and the
knowledge base. The key holds all of them, so an entry can never be served for a changed
history: the patient row, with its version, is read on every request, and a changed history
has a new version. Each server process keeps its own bounded set (least recently used first
out); nothing is shared between processes, nothing is written. An entry is the JSON as bytes,
one object: thousands of kept assessments as model objects would be millions of objects for the
garbage collector to walk, and its full collections showed as latency spikes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import NamedTuple

__all__ = ["AssessmentCache", "AssessmentKey"]


class AssessmentKey(NamedTuple):
    clinic_id: int
    patient_pk: int
    version: int
    as_of: date
    adequate_trial_days: int | None
    knowledge: int
    """``id`` of the knowledge base object: a reloaded knowledge base misses every entry."""


class AssessmentCache:
    """A thread-safe, bounded map from :class:`AssessmentKey` to the assessment's JSON."""

    def __init__(self, size: int = 4096) -> None:
        if size < 0:
            raise ValueError(f"size: got {size}; expected 0 or more")
        self.size = size
        self._entries: OrderedDict[AssessmentKey, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: AssessmentKey) -> bytes | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: AssessmentKey, value: bytes) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
