"""FHIR adapters: read Bundles and NDJSON into measure records, write MeasureReports.

FHIR is read as plain JSON (no FHIR model objects): :mod:`trdnav.fhir.bundles` reads files
and folders, :mod:`trdnav.fhir.resources` turns resources into
:class:`~trdnav.measures.records.PatientRecord`, and :mod:`trdnav.fhir.measure_report` renders
results as MeasureReport resources.
"""
