"""The knowledge base: trdnav's clinical facts as versioned, cited data files.

``load_knowledge()`` reads the YAML files in ``data/`` (or another folder), validates
them into a :class:`~trdnav.core.knowledge.KnowledgeBase` and raises
:class:`~trdnav.errors.KnowledgeError` naming the file and field of every problem.
"""

from __future__ import annotations

from trdnav.knowledge.loader import DATA_DIR, load_knowledge

__all__ = ["DATA_DIR", "load_knowledge"]
