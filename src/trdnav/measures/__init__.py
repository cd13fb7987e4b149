"""Quality measures (CMS159, CMS2) computed from a patient's FHIR-derived records.

Pure like :mod:`trdnav.core`: no I/O and no clock. The measurement period is passed in, the
records come from an adapter (:mod:`trdnav.fhir`), and the numbers, codes and value sets come
from the measure data files (:mod:`trdnav.knowledge.measures`)::

    measure = load_measure("cms159")
    result = measure.evaluate(patients, MeasurementPeriod.year(2026))
    result.score, [r.to_json() for r in result.patients]
"""

from trdnav.measures.measure import Measure, MeasureInfo
from trdnav.measures.records import PatientRecord
from trdnav.measures.registry import LOGIC
from trdnav.measures.results import (
    Evidence,
    MeasurementPeriod,
    MeasureResult,
    PatientResult,
    Population,
)

__all__ = [
    "LOGIC",
    "Evidence",
    "Measure",
    "MeasureInfo",
    "MeasureResult",
    "MeasurementPeriod",
    "PatientRecord",
    "PatientResult",
    "Population",
]
