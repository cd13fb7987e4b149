"""Regenerate the documentation files that are derived from code and data.

    .venv/bin/python scripts/generate_docs.py

tests/test_docs.py fails when one of them is out of date.
"""

from __future__ import annotations

import json
from pathlib import Path

from trdnav.cli.catalog import rules_markdown
from trdnav.core.history import PatientHistory
from trdnav.knowledge import load_knowledge
from trdnav.settings import settings_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    (DOCS / "rules.md").write_text(rules_markdown(load_knowledge()), encoding="utf-8")
    (DOCS / "settings.md").write_text(settings_markdown(), encoding="utf-8")
    schema = json.dumps(PatientHistory.model_json_schema(), indent=2, ensure_ascii=False)
    (DOCS / "patient-history.schema.json").write_text(schema + "\n", encoding="utf-8")
    print("docs/rules.md, docs/settings.md, docs/patient-history.schema.json regenerated")


if __name__ == "__main__":
    main()
