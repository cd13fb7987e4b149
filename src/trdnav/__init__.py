"""trdnav: clinical decision support and measurement-based care for treatment-resistant
depression. Not a medical device.

The library's public surface::

    from trdnav import assess, load_knowledge, parse_history

    kb = load_knowledge()
    result = assess(parse_history(document, kb), kb)
    result.to_json()
"""

from importlib.metadata import PackageNotFoundError, version

from trdnav.core.assessment import Assessment, assess
from trdnav.core.intake import parse_history
from trdnav.knowledge import load_knowledge

try:
    __version__ = version("trdnav")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["Assessment", "__version__", "assess", "load_knowledge", "parse_history"]
