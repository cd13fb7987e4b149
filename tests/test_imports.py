"""Every module of the package imports first, on its own: an import cycle that only an
earlier import hides (the web app's pages loaded before the API) fails here."""

import pkgutil
import subprocess
import sys

import trdnav

# Each module is imported with no module of the package loaded before it.
SCRIPT = """
import importlib, sys, traceback
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "trdnav" or m.startswith("trdnav.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        print(name + ": " + traceback.format_exc().strip().splitlines()[-1])
"""


def test_every_module_imports_first():
    names = sorted(m.name for m in pkgutil.walk_packages(trdnav.__path__, "trdnav."))
    assert len(names) > 100
    # two processes, one for each half: the machine's two CPUs
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, *names[half::2]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for half in (0, 1)
    ]
    failed = []
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        failed += out.splitlines()
    assert failed == []
