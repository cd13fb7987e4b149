"""A CDS call's body is parsed by the route once the caller is authenticated."""

import pytest

from trdnav.cds.body import read_body
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
