"""A CDS call's body is parsed by the route once the caller is authenticated."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.cds.body import read_body, read_call
from trdnav.errors import InputError


def test_json_in_any_of_its_encodings_is_read():
    assert read_body('{"hook": "patient-view", "x": "é"}'.encode()) == {
        "hook": "patient-view",
        "x": "é",
    }
    assert read_body('{"a": [1, 2.5, null]}'.encode("utf-16")) == {"a": [1, 2.5, None]}


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": 1,}', b'{"a": 1} x', b"\xff\x00\x00"])
def test_a_body_that_is_not_json_is_an_input_error(raw):
    with pytest.raises(InputError) as caught:
        read_body(raw)
    assert caught.value.problems[0].path == "(body)"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
prefetch_values = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"resourceType": st.sampled_from(["Bundle", "Patient"]), "id": st.text()},
        optional={"entry": json_values, "meta": json_values, "type": st.text()},
    ),
)
bodies = st.fixed_dictionaries(
    {"hook": st.text(), "prefetch": st.dictionaries(st.text(), prefetch_values, max_size=5)},
    optional={"context": json_values},
)


@given(bodies, st.sampled_from([None, 1, "\t"]), st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_a_body_is_read_as_json_loads_reads_it_with_its_prefetch_text(body, indent, encoding):
    raw = json.dumps(body, indent=indent, ensure_ascii=indent is None).encode(encoding)
    read = read_call(raw)
    assert read.value == json.loads(raw)
    assert read.prefetch_text is not None
    assert set(read.prefetch_text) == set(body["prefetch"])
    for key, (kind, text) in read.prefetch_text.items():
        value = body["prefetch"][key]
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            assert kind == "entry"
            assert (json.loads(text) if text else None) == value.get("entry")
        else:
            assert kind == "value"
            assert json.loads(text) == value


def test_a_name_given_twice_counts_once_the_last_as_in_json_loads():
    raw = (
        b'{"prefetch": {"p": {"resourceType": "Bundle", "entry": [1], "entry": [2]}},'
        b' "prefetch": {"q": {"resourceType": "Bundle", "entry": [3]},'
        b' "q": {"resourceType": "Patient", "id": "x"}}}'
    )
    read = read_call(raw)
    assert read.value == json.loads(raw)
    assert read.prefetch_text == {"q": ("value", '{"resourceType": "Patient", "id": "x"}')}
    again = read_call(
        b'{"prefetch": {"p": {"resourceType": "Bundle", "entry": [1]}}, "prefetch": 1}'
    )
    assert again.value == {"prefetch": 1}
    assert again.prefetch_text is None


@pytest.mark.parametrize(
    "raw", [b"[1, 2]", b'"text"', b' {"prefetch": {"a": 1}} ', '\ufeff{"a": 1}'.encode()]
)
def test_other_json_is_read_as_json_loads_reads_it(raw):
    assert read_call(raw).value == json.loads(raw)


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": 1,}', b'{"a": 1} x', b'{"prefetch": {"a": }}'])
def test_bad_json_is_the_same_input_error(raw):
    with pytest.raises(InputError) as by_call:
        read_call(raw)
    with pytest.raises(InputError) as by_body:
        read_body(raw)
    assert by_call.value.problems == by_body.value.problems
