import pytest

from trdnav.errors import InputError, KnowledgeError, Problem, TrdnavError, UnknownName, format_path


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
