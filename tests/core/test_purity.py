"""The clinical core and the measures are pure: no I/O, no clock, no framework. This test
enforces it."""

import ast
import sys
from pathlib import Path

import pytest

import trdnav.core
import trdnav.errors
import trdnav.measures

CORE = Path(trdnav.core.__file__).parent
MEASURES = Path(trdnav.measures.__file__).parent
ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core", "typing_extensions", "annotated_types"}
ALLOWED_PROJECT = ("trdnav.core", "trdnav.errors", "trdnav.measures")
FORBIDDEN_STDLIB = {
    "os",
    "sys",
    "io",
    "pathlib",
    "shutil",
    "subprocess",
    "socket",
    "urllib",
    "http",
    "sqlite3",
    "time",
    "random",
    "logging",
    "tempfile",
    "glob",
    "asyncio",
    "threading",
}
FORBIDDEN_CALLS = {"open", "print", "input", "today", "now", "utcnow"}

MODULES = sorted(CORE.glob("*.py")) + sorted(MEASURES.glob("*.py"))


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_core_imports_only_the_standard_library_pydantic_and_itself(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree):
        top = name.split(".")[0]
        if name.startswith(ALLOWED_PROJECT) or top in ALLOWED_THIRD_PARTY or top == "__future__":
            continue
        assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
        assert top not in FORBIDDEN_STDLIB, f"{path.name} imports {name} (I/O or clock)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_core_does_no_io_and_reads_no_clock(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


def test_errors_module_is_pure_too():
    tree = ast.parse(Path(trdnav.errors.__file__).read_text(encoding="utf-8"))
    assert all(n.split(".")[0] in sys.stdlib_module_names for n in _imports(tree))


def test_the_purity_check_catches_an_offender():
    offender = ast.parse("import os\nfrom datetime import date\nx = date.today()\n")
    assert "os" in _imports(offender)
    calls = [n.func.attr for n in ast.walk(offender) if isinstance(n, ast.Call)]
    assert "today" in calls


def test_the_core_may_not_import_the_measures():
    for path in CORE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not [n for n in _imports(tree) if n.startswith("trdnav.measures")], path.name
