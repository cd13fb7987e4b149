"""JSON text with a limit on nesting: parsed up to it, refused beyond it, whatever the depth
(thousands of levels once crashed the commands and stopped an import halfway)."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav import json_text


def nested(depth: int, kind: str) -> str:
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opening * depth + "1" + closing * depth


@given(depth=st.integers(0, 200), kind=st.sampled_from(["list", "object"]))
def test_nesting_up_to_the_limit_parses_and_beyond_it_is_refused(depth, kind):
    text = nested(depth, kind)
    if depth <= json_text.MAX_DEPTH:
        assert json_text.loads(text) == json.loads(text)
    else:
        with pytest.raises(json_text.TooDeep):
            json_text.loads(text)


@pytest.mark.parametrize("depth", [2_000, 200_000])
def test_nesting_deeper_than_the_parser_goes_is_refused_too(depth):
    with pytest.raises(json_text.TooDeep, match="nested more than 64 levels"):
        json_text.loads(nested(depth, "list").encode())


def test_bad_json_is_still_a_decode_error():
    with pytest.raises(json.JSONDecodeError):
        json_text.loads('{"a": ')
