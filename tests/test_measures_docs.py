"""docs/measures.md says what the measure code does: every evidence criterion is documented."""

import re
from pathlib import Path

from trdnav.fhir.bundles import read_resources
from trdnav.fhir.resources import patient_records
from trdnav.knowledge.measures import load_measure, measure_ids
from trdnav.measures import MeasurementPeriod

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "measures.md").read_text(encoding="utf-8")


def test_every_evidence_criterion_is_documented():
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)?)`", DOC))
    seen = set()
    for measure_id in measure_ids():
        records = patient_records(read_resources([ROOT / "tests" / "conformance" / measure_id]))
        result = load_measure(measure_id).evaluate(records, MeasurementPeriod.year(2026))
        seen |= {e.criterion for p in result.patients for e in p.evidence}
    assert len(seen) >= 18
    assert seen - documented == set()


def test_the_docs_name_each_measure_version_and_the_benchmark():
    for measure_id in measure_ids():
        info = load_measure(measure_id).info
        assert f"{info.short_name} v{info.version}" in DOC
    assert "[docs/measures.md](docs/measures.md)" in (ROOT / "README.md").read_text()
    performance = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert ".venv/bin/python benchmarks/measures.py" in performance
