"""Every module of the package imports first, on its own: an import cycle that only an
earlier import hides (the web app's pages loaded before the API) fails here."""

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys, traceback
import trdnav
names = sorted(m.name for m in pkgutil.walk_packages(trdnav.__path__, "trdnav."))
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m == "trdnav" or m.startswith("trdnav.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
print(len(names))
print("\\n".join(failed))
"""


def test_every_module_imports_first():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=True
    )
    count, *failed = done.stdout.strip().splitlines()
    assert int(count) > 100
    assert failed == []
