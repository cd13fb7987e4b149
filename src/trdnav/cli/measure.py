"""``trdnav measure``: a quality measure over FHIR files, per patient and in total."""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from trdnav.errors import InputError, Problem
from trdnav.fhir.bundles import read_resources
from trdnav.fhir.measure_report import report_folder, write_reports_into
from trdnav.fhir.resources import patient_records
from trdnav.knowledge.measures import load_measure
from trdnav.measures import MeasurementPeriod, MeasureResult, Population
from trdnav.measures.measure import MeasureInfo
from trdnav.service import knowledge_dir
from trdnav.settings import load_settings

__all__ = ["measure", "measure_table", "parse_period"]

SHORT = {
    Population.INITIAL_POPULATION: "IP",
    Population.DENOMINATOR: "DEN",
    Population.DENOMINATOR_EXCLUSION: "DENEX",
    Population.NUMERATOR: "NUM",
    Population.DENOMINATOR_EXCEPTION: "DENEXCEP",
}


FIRST_YEAR, LAST_YEAR = 4, 9996
"""The years a period can be: a measure's windows reach up to three years either side of
its period, and the calendar has the years 1 to 9999."""


def parse_period(value: str) -> MeasurementPeriod:
    """``--period YEAR``: the calendar year as the measurement period."""
    if not re.fullmatch(r"\d{4}", value) or not FIRST_YEAR <= int(value) <= LAST_YEAR:
        expected = (
            f"a calendar year such as 2026, from {FIRST_YEAR:04} to {LAST_YEAR} (a measure "
            "looks up to three years before and after its period)"
        )
        raise InputError([Problem("--period", value, expected)])
    return MeasurementPeriod.year(int(value))


def _score(result: MeasureResult) -> str:
    counts = result.counts()
    performance = (
        counts.get(Population.DENOMINATOR, 0)
        - counts.get(Population.DENOMINATOR_EXCLUSION, 0)
        - counts.get(Population.DENOMINATOR_EXCEPTION, 0)
    )
    numerator = counts.get(Population.NUMERATOR, 0)
    if result.score is None:
        return "Score: none (no patient is in the denominator after exclusions and exceptions)"
    return f"Score: {numerator}/{performance} = {result.score:.1%}"


def measure_table(info: MeasureInfo, result: MeasureResult) -> RenderableType:
    """Each patient's populations and evidence, then the counts and the score (the resources
    behind the evidence are in the JSON output and the MeasureReports)."""
    table = Table(
        title=f"{info.short_name} v{info.version} {info.title}, {result.period}",
        show_lines=True,
    )
    table.add_column("Patient", no_wrap=True)
    for population in result.populations:
        table.add_column(SHORT[population], justify="center")
    table.add_column("Evidence", overflow="fold", ratio=1)
    for patient in result.patients:
        marks = ["1" if patient[p] else "0" for p in result.populations]
        evidence = "\n".join(f"- {e.text}" for e in patient.evidence)
        table.add_row(patient.patient, *marks, Text(evidence))
    counts = result.counts()
    totals = ", ".join(f"{SHORT[p]} {counts[p]}" for p in result.populations)
    return Group(table, Text(f"Patients {len(result.patients)}: {totals}"), Text(_score(result)))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: reading and deciding for many patients makes
    millions of objects without reference cycles (reference counting frees them), which the
    collector would otherwise scan again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def measure(
    measure_id: Annotated[
        str, typer.Argument(metavar="MEASURE", help="The measure: cms159 or cms2.")
    ],
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="FHIR Bundle files (.json), bulk-data NDJSON files, or folders of them.",
            show_default=False,
        ),
    ],
    period: Annotated[
        str,
        typer.Option("--period", metavar="YEAR", help="Measurement period: a calendar year."),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the per-patient results and score as JSON.")
    ] = False,
    measure_report: Annotated[
        Path | None,
        typer.Option(
            "--measure-report",
            metavar="DIR",
            help="Also write individual and summary FHIR MeasureReports into DIR (new, "
            "empty, or holding only an earlier run's reports, which are replaced).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file.", show_default=False)
    ] = None,
) -> None:
    """Compute a quality measure (CMS159, CMS2) per patient, with evidence, and its score."""
    when = parse_period(period)
    settings = load_settings({}, config_file=config)
    folder = knowledge_dir(settings) / "measures"
    chosen = load_measure(measure_id.lower(), folder)
    with ExitStack() as outputs:
        # the report folder is checked before the work, and filled only when it succeeded
        reports = (
            None if measure_report is None else outputs.enter_context(report_folder(measure_report))
        )
        with collector_paused():
            patients = patient_records(read_resources(paths))
            if not patients:
                given = " ".join(str(p) for p in paths)
                raise InputError(
                    [Problem("PATH", given, "FHIR files holding at least one Patient")]
                )
            result = chosen.evaluate(patients, when)
        if reports is not None:
            write_reports_into(chosen.info, result, reports)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        Console(highlight=False).print(measure_table(chosen.info, result))
