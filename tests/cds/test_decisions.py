"""The per-process cache of patient-view answers: bounded, and every answer with new uuids."""

import json
from datetime import date

import pytest

from trdnav.cds.body import read_call
from trdnav.cds.decisions import (
    DecisionCache,
    DecisionKey,
    prefetch_digest,
    prefetch_text_digest,
)

TEMPLATES = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient=x"}


def _key(n: int, prefetch: dict | None = None) -> DecisionKey:
    data = prefetch if prefetch is not None else {"patient": {"id": str(n)}}
    digest = prefetch_digest(data, TEMPLATES)
    return DecisionKey("trdnav-patient-view", "p", digest, date(2026, 11, 26), None, "x", 1, 2)


def _bundle(*resources, **envelope):
    entries = [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(resources)]
    return {"resourceType": "Bundle", "type": "searchset", **envelope, "entry": entries}


def test_answers_get_new_uuids_and_the_least_recently_used_goes_first():
    cache = DecisionCache(2)
    cards = [{"uuid": "u-1", "summary": "s", "indicator": "info"}]
    cache.put(_key(1), cards)
    cache.put(_key(2), cards)
    first, second = cache.get(_key(1)), cache.get(_key(1))
    assert first is not None
    assert second is not None
    assert first[0]["summary"] == "s"
    assert len({first[0]["uuid"], second[0]["uuid"], "u-1"}) == 3
    cache.put(_key(3), cards)
    assert cache.get(_key(2)) is None
    assert cache.get(_key(3)) is not None
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)


def _charts() -> tuple[dict, dict, dict, dict]:
    """A patient, a condition, a prefetch of them, and the same data as another search sends
    it (the Bundle's own id, meta, total and links new, a key not asked for added)."""
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1975-04-02"}
    condition = {"resourceType": "Condition", "id": "c", "code": {"text": "x"}, "n": 1}
    base = {"patient": patient, "conditions": _bundle(condition)}
    same = {
        "patient": dict(patient),
        "conditions": _bundle(
            dict(condition),
            id="another-search",
            meta={"lastUpdated": "2026-11-26T10:00:00Z"},
            total=1,
            link=[{"relation": "self", "url": "https://ehr.example.org/fhir/Condition?x"}],
        ),
        "notAsked": {"resourceType": "Patient"},
    }
    return patient, condition, base, same


def _changes(patient: dict, condition: dict, base: dict) -> list[dict]:
    """Prefetches that differ from ``base`` in what is read: each must be another key."""
    return [
        {**base, "patient": {**patient, "birthDate": "1975-04-03"}},
        {**base, "conditions": _bundle({**condition, "n": 1.0})},
        {**base, "conditions": _bundle({**condition, "n": True})},
        {**base, "conditions": _bundle(condition, condition)},
        {**base, "conditions": _bundle({"resourceType": "Condition", "id": "c2"})},
        {**base, "conditions": None},
        {**base, "conditions": {**_bundle(condition), "entry": [{"resource": condition}]}},
        {**base, "conditions": {**_bundle(condition), "entry": [{}, *_bundle(condition)["entry"]]}},
    ]


def test_the_digest_tells_any_change_of_the_data_read():
    patient, condition, base, same = _charts()
    assert _key(0, base) == _key(0, same)
    changed = _changes(patient, condition, base)
    keys = {_key(0, data) for data in changed}
    assert len(keys) == len(changed)
    assert _key(0, base) not in keys


def test_size_zero_keeps_nothing_and_negative_is_refused():
    cache = DecisionCache(0)
    cache.put(_key(1), [{"uuid": "u", "summary": "s"}])
    assert cache.get(_key(1)) is None
    with pytest.raises(ValueError, match="size"):
        DecisionCache(-1)


def _text_digest(prefetch: dict, **dumps) -> bytes | None:
    read = read_call(json.dumps({"hook": "patient-view", "prefetch": prefetch}, **dumps).encode())
    assert read.prefetch_text is not None
    return prefetch_text_digest(read.prefetch_text, TEMPLATES)


def test_the_digest_of_the_text_as_sent_tells_any_change_of_the_data_read():
    patient, condition, base, same = _charts()
    assert _text_digest(base) == _text_digest(same)
    assert _text_digest(base) is not None
    assert _text_digest(base) != prefetch_digest(base, TEMPLATES)
    assert _text_digest({"patient": patient}) is None  # a key not given: no text digest
    changed = [
        *_changes(patient, condition, base),
        {**base, "conditions": {"resourceType": "Bundle"}},
        # the text of a Bundle's entries given as a resource instead is another key
        {**base, "conditions": {**_bundle(condition), "resourceType": "Other"}},
    ]
    digests = {_text_digest(data) for data in changed}
    assert len(digests) == len(changed)
    assert _text_digest(base) not in digests
    # the same data written otherwise is another key: a miss, never a wrong answer
    assert _text_digest(base, indent=1) != _text_digest(base)
