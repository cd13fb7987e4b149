"""Output files and folders are written whole or not at all, and a folder of other files is
never emptied."""

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trdnav.errors import InputError
from trdnav.files import check_output_files, new_folder, write_files


def _text(content: str):
    return lambda path: path.write_text(content, encoding="utf-8")


def _entries(folder: Path) -> set[str]:
    return {entry.name for entry in folder.iterdir()}


def test_outputs_are_written_with_the_usual_mode_and_nothing_left_beside(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "deeper" / "b.txt"
    write_files([("--a", a, _text("one")), ("--b", b, _text("two"))])
    assert a.read_text() == "one"
    assert b.read_text() == "two"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(a.stat().st_mode) == 0o666 & ~umask
    assert _entries(tmp_path) == {"a.txt", "deeper"}
    assert _entries(tmp_path / "deeper") == {"b.txt"}


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), ValueError("bad")])
def test_a_failed_output_leaves_every_earlier_file_as_it_was(tmp_path, error):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")

    def fails(path: Path) -> None:
        path.write_text("half")
        raise error

    with pytest.raises((InputError, ValueError)) as caught:
        write_files([("--a", a, _text("new a")), ("--b", b, fails)])
    assert a.read_text() == "old a"
    assert not b.exists()
    assert _entries(tmp_path) == {"a.txt"}
    if isinstance(error, OSError):
        (problem,) = caught.value.problems
        assert problem.path == "--b"
        assert problem.value == str(b)
        assert "No space left on device" in problem.expected


def test_paths_that_cannot_be_written_are_all_named_before_any_work(tmp_path):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(InputError) as caught:
        check_output_files(
            {
                "--out": tmp_path / "a-folder",
                "--report": tmp_path / "a-file" / "report.html",
                "--episodes": tmp_path / "e.parquet",
                "--again": tmp_path / "sub" / ".." / "e.parquet",
            }
        )
    found = {p.path: p.expected for p in caught.value.problems}
    assert found == {
        "--out": "a file path, not a folder",
        "--report": f"a file path in a folder that can be written to ({tmp_path / 'a-file'} "
        "is a file)",
        "--again": "a file other than --episodes's",
    }
    assert _entries(tmp_path) == {"a-file", "a-folder"}


def test_a_path_on_a_file_system_that_takes_no_files_is_refused():
    with pytest.raises(InputError) as caught:
        check_output_files({"--out": Path("/proc/results.parquet")})
    (problem,) = caught.value.problems
    assert problem.path == "--out"
    assert problem.expected.startswith("a file path in a folder that can be written to (/proc")


def _owned(entry: Path) -> bool:
    return entry.name.startswith("table-")


def _write_then_fail(out: Path) -> None:
    """Start writing ``table-a`` into ``out`` as :func:`new_folder` gives it, then fail."""
    with new_folder("--out", out, _owned) as folder:
        (folder / "table-a").write_text("new a")
        raise RuntimeError("interrupted")


def test_a_device_or_a_pipe_is_refused_not_replaced(tmp_path):
    """Writing replaces the path with a new file: run as root, --report /dev/full replaced
    the device, and a FIFO became a file."""
    fifo = tmp_path / "fifo"  # not a device: were the check to fail, it would be replaced
    os.mkfifo(fifo)
    with pytest.raises(InputError) as exc:
        write_files([("--report", fifo, lambda out: out.write_text("[]"))])
    [problem] = exc.value.problems
    assert (problem.path, problem.value) == ("--report", str(fifo))
    assert problem.expected == "a regular file path, not a device, pipe or socket"
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_new_folder_is_created_only_when_the_block_succeeds(tmp_path):
    out = tmp_path / "deep" / "out"
    with pytest.raises(RuntimeError):
        _write_then_fail(out)
    assert not out.exists()
    assert _entries(tmp_path / "deep") == set()
    with new_folder("--out", out, _owned) as folder:
        (folder / "table-a").write_text("a")
        (folder / "table-b").mkdir()
    assert _entries(out) == {"table-a", "table-b"}
    assert _entries(tmp_path / "deep") == {"out"}


def test_an_earlier_output_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "table-old").mkdir()
    (out / "table-old" / "part").write_text("old")
    (out / "table-a").write_text("old a")
    with pytest.raises(RuntimeError):
        _write_then_fail(out)
    assert (out / "table-a").read_text() == "old a"
    assert _entries(out) == {"table-a", "table-old"}
    with new_folder("--out", out, _owned) as folder:
        assert folder.parent == out.resolve()  # so the parent need not be writable
        (folder / "table-a").write_text("new a")
    assert _entries(out) == {"table-a"}
    assert (out / "table-a").read_text() == "new a"
    assert _entries(tmp_path) == {"out"}


def test_a_file_is_not_a_folder_to_write_into(tmp_path):
    out = tmp_path / "out"
    out.write_text("mine")
    with pytest.raises(InputError) as caught, new_folder("--out", out, _owned):
        pass
    assert caught.value.problems[0].expected.endswith("(it is a file)")
    assert out.read_text() == "mine"


@settings(max_examples=40, deadline=None)
@given(
    names=st.sets(
        st.sampled_from(["table-a", "table-b", "notes.txt", "data", "table-c", ".hidden"]),
        max_size=6,
    )
)
def test_a_folder_holding_anything_else_is_refused_and_left_alone(tmp_path_factory, names):
    out = tmp_path_factory.mktemp("folder") / "out"
    out.mkdir()
    for name in names:
        (out / name).write_text(name)
    strangers = sorted(name for name in names if not name.startswith("table-"))
    if strangers:
        with pytest.raises(InputError) as caught, new_folder("--out", out, _owned):
            pytest.fail("the block ran")
        (problem,) = caught.value.problems
        assert problem.path == "--out"
        assert f"it holds {', '.join(strangers[:3])}" in problem.expected
        assert _entries(out) == names
        assert all((out / name).read_text() == name for name in names)
    else:
        with new_folder("--out", out, _owned) as folder:
            (folder / "table-new").write_text("new")
        assert _entries(out) == {"table-new"}
    assert _entries(out.parent) == {"out"}


def test_links_are_written_through(tmp_path):
    real, elsewhere = tmp_path / "real", tmp_path / "elsewhere"
    real.mkdir()
    elsewhere.mkdir()
    (real / "report.html").write_text("old")
    link = elsewhere / "report.html"
    link.symlink_to(real / "report.html")
    write_files([("--report", link, _text("new"))])
    assert link.is_symlink()
    assert (real / "report.html").read_text() == "new"
    folder_link = elsewhere / "omop"
    (real / "omop").mkdir()
    folder_link.symlink_to(real / "omop")
    with new_folder("--out", folder_link, _owned) as folder:
        (folder / "table-a").write_text("a")
    assert folder_link.is_symlink()
    assert _entries(real / "omop") == {"table-a"}
    assert _entries(real) == {"report.html", "omop"}
    assert _entries(elsewhere) == {"report.html", "omop"}


def test_what_a_killed_run_left_inside_the_folder_is_cleared(tmp_path):
    out = tmp_path / "out"
    (out / ".out.partial-abc123").mkdir(parents=True)
    (out / ".out.partial-abc123" / "table-a").write_text("half")
    (out / "table-a").write_text("old")
    with new_folder("--out", out, _owned) as folder:
        (folder / "table-a").write_text("new")
    assert _entries(out) == {"table-a"}
    assert (out / "table-a").read_text() == "new"
