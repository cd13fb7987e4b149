"""``trdnav synth omop`` and ``trdnav cohort run|load``: the cohort engine on the command line.

The engines (Ibis, DuckDB, Spark, Arrow) are imported by the commands that use them, so the
other ``trdnav`` commands start as fast as before.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trdnav.cli.options import option_date
from trdnav.cohort.concepts import load_cohort_knowledge
from trdnav.errors import InputError, Problem
from trdnav.files import Writer, check_output_files, write_files
from trdnav.service import knowledge_for
from trdnav.settings import load_settings

if TYPE_CHECKING:
    from trdnav.cohort.runner import Runner

__all__ = ["cohort_app", "synth_app"]

synth_app = typer.Typer(help="Generate synthetic data.", no_args_is_help=True)
cohort_app = typer.Typer(
    help="Find and stage TRD across a population in OMOP CDM data.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", show_default=False)
]
Engine = Literal["duckdb", "spark", "postgres"]


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


MAX_PERSONS = 100_000_000
"""The most persons one synthetic data set holds (about a billion drug exposures)."""


@synth_app.command("omop")
def synth_omop(
    persons: Annotated[int, typer.Option(min=1, max=MAX_PERSONS, help="Number of persons.")],
    out: Annotated[Path, typer.Option(help="Folder to write the OMOP Parquet tables to.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 0,
    clean: Annotated[
        bool, typer.Option("--clean", help="Leave out the deliberately bad records.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write a seeded synthetic OMOP CDM data set (Parquet) with realistic TRD sequences."""
    from trdnav.cohort.synth import SynthConfig, generate

    kb = knowledge_for(load_settings({}, config_file=config))
    ck = load_cohort_knowledge(kb)
    console = _stderr()
    with _progress(console) as progress:
        task = progress.add_task("generating persons", total=persons)
        counts = generate(
            SynthConfig(persons=persons, seed=seed, bad_data=not clean),
            ck,
            out,
            progress=lambda n: progress.advance(task, n),
        )
    rows = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    console.print(f"wrote {out}: {rows}")


def _runner(engine: Engine, data: str, schema: str, spark_master: str) -> Runner:
    if engine == "postgres":
        from trdnav.cohort.postgres_runner import PostgresRunner

        if "://" not in data:
            raise InputError(
                [Problem("--data", data, "a postgresql:// URL with --engine postgres")]
            )
        return PostgresRunner(data, schema=schema)
    if engine == "spark":
        from trdnav.cohort.spark_runner import SparkRunner, is_url

        return SparkRunner(data if is_url(data) else Path(data), master=spark_master)
    folder = Path(data)
    if not folder.is_dir():
        raise InputError([Problem("--data", data, "a folder of OMOP Parquet files")])
    from trdnav.cohort.duckdb_runner import DuckDBRunner

    return DuckDBRunner(folder)


@cohort_app.command("run")
def cohort_run(
    data: Annotated[
        str,
        typer.Option(
            help="Folder of OMOP Parquet tables (with --engine spark also a URL its file "
            "systems read: hdfs://, s3a://...), or a postgresql:// URL."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Per-person results (Parquet).")],
    engine: Annotated[Engine, typer.Option(help="Where to run.")] = "duckdb",
    report: Annotated[
        Path | None,
        typer.Option(help="Summary report (HTML); default: --out with .html.", show_default=False),
    ] = None,
    episodes: Annotated[
        Path | None,
        typer.Option(help="Also write per-episode results (Parquet).", show_default=False),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Assess as of this date (default: latest end of observation in the data).",
            show_default=False,
        ),
    ] = None,
    schema: Annotated[str, typer.Option(help="PostgreSQL schema of the OMOP tables.")] = "public",
    spark_master: Annotated[
        str, typer.Option(help="Spark master: local[*], or a cluster URL.")
    ] = "local[*]",
    era_gap_days: Annotated[
        int | None,
        typer.Option(
            help="Days between exposures merged into one era (default 30).", show_default=False
        ),
    ] = None,
    adequate_trial_days: Annotated[
        int | None,
        typer.Option(help="Minimum days of an adequate trial (default 42).", show_default=False),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run the TRD phenotype and write per-person results and a summary report."""
    import pyarrow.parquet as pq

    from trdnav.cohort.report import summary, to_html
    from trdnav.cohort.runner import run_cohort

    settings = load_settings(
        {"era_gap_days": era_gap_days, "adequate_trial_days": adequate_trial_days},
        config_file=config,
    )
    when = None
    if as_of is not None:
        when = option_date("--as-of", as_of)
    page = report or out.with_suffix(".html")
    targets = {"--out": out, "--report": page, "--report (its .json)": page.with_suffix(".json")}
    if episodes is not None:
        targets["--episodes"] = episodes
    if "://" not in data:  # results written into the data would replace its tables
        inside = [
            Problem(
                option, str(path), "a path outside the --data folder (it would replace the data)"
            )
            for option, path in targets.items()
            if path.resolve().is_relative_to(Path(data).resolve())
        ]
        if inside:
            raise InputError(inside)
    check_output_files(targets)
    kb = knowledge_for(settings)
    ck = load_cohort_knowledge(kb)
    console = _stderr()
    started = time.perf_counter()
    stages = [
        "reading tables",
        "checking the data",
        "episodes, trials and staging",
        "person results",
        "done",
    ]
    with _progress(console) as progress:
        task = progress.add_task(f"{engine}: connecting", total=len(stages) + 1)
        runner = _runner(engine, data, schema, spark_master)
        try:

            def step(name: str) -> None:
                progress.update(task, description=f"{engine}: {name}", advance=1)

            result = run_cohort(
                runner,
                kb,
                ck,
                as_of=when,
                era_gap_days=settings.era_gap_days,
                adequate_trial_days=settings.adequate_trial_days,
                step=step,
            )
        finally:
            runner.close()
        progress.update(task, description=f"{engine}: writing results")
        figures = summary(result)
        html, figures_json = to_html(result, figures), json.dumps(figures, indent=2)
        writers: dict[str, Writer] = {
            "--out": lambda path: pq.write_table(result.persons, path),
            "--report": lambda path: path.write_text(html, encoding="utf-8"),
            "--report (its .json)": lambda path: path.write_text(figures_json, encoding="utf-8"),
            "--episodes": lambda path: pq.write_table(result.episodes, path),
        }
        write_files([(option, path, writers[option]) for option, path in targets.items()])
        progress.update(task, completed=len(stages) + 1)
    seconds = time.perf_counter() - started
    *first, last = [str(path) for path in targets.values()]
    console.print(
        f"{figures['persons']:,} persons ({figures['with_episode']:,} with an episode, "
        f"{figures['trd']:,} with TRD) in {seconds:.1f} s; {len(result.findings)} kinds of "
        f"data problem reported. Wrote {', '.join(first)} and {last}.",
        soft_wrap=True,  # the paths stay whole, to be copied
    )


@cohort_app.command("load")
def cohort_load(
    data: Annotated[Path, typer.Option(help="Folder of OMOP Parquet tables.")],
    to: Annotated[str, typer.Option("--to", help="postgresql:// URL of the database.")],
    schema: Annotated[str, typer.Option(help="Schema to create the tables in.")] = "public",
) -> None:
    """Copy OMOP Parquet tables into PostgreSQL (tables of the same name are replaced; the
    schema's other tables are left as they are). Data that "cohort run" refuses is refused
    before anything is written."""
    from trdnav.cohort.postgres_runner import load_parquet

    if not data.is_dir():
        raise InputError([Problem("--data", str(data), "a folder of OMOP Parquet files")])
    counts = load_parquet(data, to, schema=schema)
    rows = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    _stderr().print(f"loaded into {schema}: {rows}")
