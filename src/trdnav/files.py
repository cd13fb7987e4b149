"""Output files and folders, written whole or not at all.

A command that writes results checks every output path before its work starts (a long run
must not fail at its end on a mistyped path), writes each output to a temporary file beside
it, and moves the outputs into place only once all of them were written: a command that
fails or is interrupted leaves no partial output and any previous outputs as they were.

An output folder (``new_folder``) is only ever replaced when it is new, empty or holds
nothing but what the command itself writes: a folder of other files is refused, never
emptied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from trdnav.errors import InputError, Problem

__all__ = ["Writer", "check_output_files", "new_folder", "write_files"]

Writer = Callable[[Path], object]


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _probe(folder: Path) -> str | None:
    """Why a file cannot be created in ``folder`` (None when one can): a real file is
    created and removed, since permissions alone do not tell (a read-only or special file
    system, or a user who may write anywhere)."""
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".trdnav-probe-")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(handle)
    os.unlink(name)
    return None


def _file_mode() -> int:
    """The mode of a new file under the process's umask (a temporary file is created
    readable by its owner only; the output it becomes is not)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _unwritable(folder: Path) -> str | None:
    """Why ``folder`` (created with its parents where missing) could not hold a new file,
    judged at its nearest existing ancestor; None when it could."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        return f"{existing} is a file"
    reason = _probe(existing)
    return None if reason is None else f"{existing}: {reason}"


def _file_problem(option: str, path: Path) -> Problem | None:
    if path.is_dir():
        return Problem(option, str(path), "a file path, not a folder")
    if path.exists() and not path.is_file():
        # a device or a pipe would be replaced by a file, not written to
        return Problem(option, str(path), "a regular file path, not a device, pipe or socket")
    reason = _unwritable(path.parent)
    if reason is not None:
        return Problem(
            option, str(path), f"a file path in a folder that can be written to ({reason})"
        )
    return None


def check_output_files(paths: Mapping[str, Path]) -> None:
    """Raise an :class:`InputError` naming every option (key) whose output file (value)
    cannot be written, or that names the same file as another option."""
    problems: list[Problem] = []
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        same = seen.get(path.resolve())
        if same is not None:
            problems.append(Problem(option, str(path), f"a file other than {same}'s"))
            continue
        seen[path.resolve()] = option
        problem = _file_problem(option, path)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise InputError(problems)


def write_files(outputs: Sequence[tuple[str, Path, Writer]]) -> None:
    """Write each output (option, path, writer): the writer writes the file it is given,
    a temporary one beside the path; the temporary files replace the paths once every
    writer has finished. A file system error becomes an :class:`InputError` naming the
    option, and leaves every path as it was."""
    # Checked again (the caller checked before its work): a path may have become a folder
    # since, which replacing would fail on after other outputs were replaced.
    check_output_files({option: path for option, path, _ in outputs})
    written: list[tuple[Path, Path]] = []
    try:
        for option, given, writer in outputs:
            path = given.resolve()  # through a link, as opening the file would write
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.partial-")
                os.close(handle)
                written.append((Path(name), path))
                writer(Path(name))
                os.chmod(name, _file_mode())
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise InputError(
                    [Problem(option, str(given), f"a file that can be written ({reason})")]
                ) from None
        for temporary, path in written:
            os.replace(temporary, path)
        written.clear()
    finally:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def new_folder(option: str, out: Path, owned: Callable[[Path], bool]) -> Iterator[Path]:
    """A temporary folder to write into (inside ``out`` when it exists, else beside it);
    when the block ends without an error its entries replace ``out``'s. ``out`` must be
    new, empty, or hold only entries for which ``owned`` is true (what an earlier run of
    the same command wrote): anything else is refused before the block runs, and nothing
    in it is touched."""
    expected = "a new or empty folder, or one holding only what this command writes"
    given = out
    if out.exists() and not out.is_dir():
        raise InputError([Problem(option, str(given), f"{expected} (it is a file)")])
    out = out.resolve()  # through a link, to the real folder and its file system
    prefix = f".{out.name}.partial-"

    def ours(entry: Path) -> bool:  # what the command writes, or a killed run left behind
        return entry.name.startswith(prefix) or owned(entry)

    if out.is_dir():
        strangers = sorted(entry.name for entry in out.iterdir() if not ours(entry))
        if strangers:
            shown = ", ".join(strangers[:3]) + (", ..." if len(strangers) > 3 else "")
            raise InputError([Problem(option, str(given), f"{expected} (it holds {shown})")])
    # The temporary folder goes inside the folder when it exists (its parent need not be
    # writable), else beside where it will be.
    base = out if out.is_dir() else out.parent
    reason = _unwritable(base)
    if reason is not None:
        raise InputError([Problem(option, str(given), f"{expected} ({reason})")])
    base.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=base, prefix=prefix))
    try:
        yield temporary
        out.mkdir(exist_ok=True)
        for entry in out.iterdir():
            if entry == temporary or not ours(entry):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in temporary.iterdir():
            os.replace(entry, out / entry.name)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
