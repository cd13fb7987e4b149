"""The per-process cache of patient-view answers: bounded, and every answer with new uuids."""

from datetime import date

import pytest

from trdnav.cds.decisions import DecisionCache, DecisionKey, prefetch_digest


def _key(n: int, prefetch: dict | None = None) -> DecisionKey:
    digest = prefetch_digest(prefetch if prefetch is not None else {"patient": {"id": str(n)}})
    return DecisionKey("trdnav-patient-view", "p", digest, date(2026, 11, 26), None, "x", 1, 2)


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


def test_the_digest_tells_any_change_of_the_data():
    base = {"patient": {"id": "p", "birthDate": "1975-04-02"}, "conditions": None}
    assert _key(0, base) == _key(
        0, {"patient": {"id": "p", "birthDate": "1975-04-02"}, "conditions": None}
    )
    for changed in (
        {**base, "patient": {"id": "p", "birthDate": "1975-04-03"}},
        {**base, "conditions": {}},
        {**base, "patient": {"id": "p", "birthDate": "1975-04-02", "x": 1}},
        {**base, "patient": {"id": "p", "birthDate": "1975-04-02", "x": 1.0}},
    ):
        assert _key(0, changed) != _key(0, base)
    assert _key(0, {"a": 1}) != _key(0, {"a": 1.0})
    assert _key(0, {"a": 1}) != _key(0, {"a": True})


def test_size_zero_keeps_nothing_and_negative_is_refused():
    cache = DecisionCache(0)
    cache.put(_key(1), [{"uuid": "u", "summary": "s"}])
    assert cache.get(_key(1)) is None
    with pytest.raises(ValueError, match="size"):
        DecisionCache(-1)
