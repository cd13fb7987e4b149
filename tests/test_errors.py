import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.errors import (
    InputError,
    KnowledgeError,
    Problem,
    TrdnavError,
    UnknownName,
    format_path,
    hide_password,
)


def test_paths_render_like_the_input():
    assert format_path(("medication_trials", 1, "drug")) == "medication_trials[1].drug"
    assert format_path(("measurements", 0, "items", 8)) == "measurements[0].items[8]"
    assert format_path(()) == "(document)"


def test_a_problem_names_path_value_and_expectation():
    assert str(Problem("episode.severity", "extreme", "one of 'mild', 'severe'")) == (
        "episode.severity: got \"extreme\"; expected one of 'mild', 'severe'"
    )
    assert str(Problem("patient", None, "an object", missing=True)) == (
        "patient: missing; expected an object"
    )


def test_the_tree_and_its_edges():
    error = InputError([Problem("a", 1, "b"), Problem("c", 2, "d")])
    assert isinstance(error, TrdnavError)
    assert error.lines() == ["a: got 1; expected b", "c: got 2; expected d"]
    assert (InputError.http_status, InputError.exit_code) == (422, 2)
    assert (UnknownName.http_status, UnknownName.fhir_issue_code) == (404, "not-found")
    assert issubclass(UnknownName, InputError)
    assert KnowledgeError(["x"]).exit_code == 1
    with pytest.raises(ValueError, match="at least one problem"):
        InputError([])


def test_long_values_are_shortened():
    text = str(Problem("items", list(range(100)), "9 items"))
    assert len(text) < 130
    assert "..." in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://ann:s3cret@db.example:5432/omop",
            "postgresql://ann:***@db.example:5432/omop",
        ),
        ("postgresql+psycopg://ann:p%40ss@host/x", "postgresql+psycopg://ann:***@host/x"),
        ("postgresql://ann@host/x", "postgresql://ann@host/x"),
        ("sqlite:////var/lib/trdnav.db", "sqlite:////var/lib/trdnav.db"),
        ("not a url", "not a url"),
    ],
)
def test_a_password_in_a_url_is_never_shown(url, shown):
    assert hide_password(url) == shown


@given(
    user=st.text(alphabet="abcdefgh", min_size=1, max_size=8),
    password=st.text(alphabet="XYZ0123456789!$%()*+,;=", min_size=1, max_size=20),
    host=st.text(alphabet="abcdefgh.", min_size=1, max_size=12).filter(lambda h: h.strip(".")),
)
def test_hidden_passwords_leave_the_rest_of_the_url(user, password, host):
    shown = hide_password(f"postgresql://{user}:{password}@{host}/omop")
    assert shown == f"postgresql://{user}:***@{host}/omop"
