"""``trdnav synth omop`` and ``trdnav cohort run|load``, through the installed entry point."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
TRDNAV = Path(sys.executable).parent / "trdnav"


def cli(*args: str, env: dict[str, str | None] | None = None):
    """Run ``trdnav``; a variable of ``env`` given as None is taken out of the environment."""
    merged = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [str(TRDNAV), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={name: value for name, value in merged.items() if value is not None},
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "omop"
    result = cli("synth", "omop", "--persons", "400", "--seed", "3", "--out", str(folder))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr
    return folder


@contextmanager
def refusing_port() -> Iterator[int]:
    """A local port bound but not listening: connections to it are refused."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        yield taken.getsockname()[1]


def test_synth_is_seeded(synthetic, tmp_path):
    again = tmp_path / "again"
    other = tmp_path / "other"
    assert (
        cli("synth", "omop", "--persons", "400", "--seed", "3", "--out", str(again)).returncode == 0
    )
    assert (
        cli("synth", "omop", "--persons", "400", "--seed", "4", "--out", str(other)).returncode == 0
    )
    first = pq.read_table(synthetic / "drug_exposure")
    assert first.equals(pq.read_table(again / "drug_exposure"))
    assert not first.equals(pq.read_table(other / "drug_exposure"))
    assert pq.read_table(synthetic / "person").num_rows == 400


@pytest.fixture(scope="module")
def default_run(synthetic):
    out = synthetic.parent / "results" / "persons.parquet"
    episodes = synthetic.parent / "episodes.parquet"
    result = cli(
        "cohort", "run", "--data", str(synthetic), "--out", str(out), "--episodes", str(episodes)
    )
    assert result.returncode == 0, result.stderr
    return result, out, episodes


def test_cohort_run_writes_results_and_a_report(default_run):
    result, out, episodes = default_run
    assert "400 persons" in result.stderr
    persons = pq.read_table(out)
    assert persons.num_rows == 400
    assert {"trd", "trd_date", "thase_rush", "msm_total", "remission_12m"} <= set(
        persons.column_names
    )
    assert (
        pq.read_table(episodes).num_rows
        >= persons.filter(persons["episodes"].to_numpy() > 0).num_rows
    )
    page = out.with_suffix(".html").read_text(encoding="utf-8")
    for heading in (
        "Thase-Rush stage",
        "Treatment sequences",
        "Time to TRD",
        "Remission by line of treatment",
        "Data checks",
        "not a medical device",
    ):
        assert heading in page
    figures = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert figures["persons"] == 400
    assert figures["trd"] == persons.column("trd").to_pylist().count(True)
    assert any(f["check"] == "dates_out_of_order" for f in figures["findings"])
    bands = list(figures["msm_band"])
    ordered = [b for b in ("mild", "moderate", "severe", "None") if b in bands]
    assert bands == ordered
    assert len(ordered) >= 3
    days = sorted(d for d in persons.column("days_to_trd").to_pylist() if d is not None)
    assert figures["median_days_to_trd"] == days[len(days) // 2]


def test_settings_change_the_run(synthetic, default_run, tmp_path):
    a, b = default_run[1], tmp_path / "b.parquet"
    slow = cli(
        "cohort", "run", "--data", str(synthetic), "--out", str(b), "--adequate-trial-days", "120"
    )
    assert slow.returncode == 0, slow.stderr
    trd = lambda p: pq.read_table(p).column("trd").to_pylist().count(True)  # noqa: E731
    assert trd(b) < trd(a)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "no/such/folder"], 'error: --data: got "no/such/folder"; expected a folder'),
        (["--as-of", "2025-13-01"], 'error: --as-of: got "2025-13-01"; expected a date'),
        (["--engine", "postgres"], "expected a postgresql:// URL"),
        (
            ["--era-gap-days", "-1"],
            "error: --era-gap-days: got -1; expected a number of at least 0",
        ),
        (
            ["--adequate-trial-days", "5"],
            "error: --adequate-trial-days: got 5; expected a number of days from 28 (4 weeks",
        ),
        (
            ["--engine", "spark", "--spark-master", "bogus://x"],
            'error: --spark-master: got "bogus://x"; expected local, local[*], local[N]',
        ),
        (
            ["--engine", "spark", "--spark-master", "k8s://ftp://127.0.0.1:1"],
            'error: --spark-master: got "k8s://ftp://127.0.0.1:1"; expected a Kubernetes API '
            "server URL of https or http (not ftp://)",
        ),
        (
            ["--engine", "postgres", "--data", "postgresql://u@127.0.0.1:1/x", "--schema", 'a"b'],
            'error: --schema: got "a\\"b"; expected a schema name of letters',
        ),
    ],
)
def test_invalid_input_is_one_line_and_exit_2(synthetic, tmp_path, args, message):
    base = {"--data": str(synthetic), "--out": str(tmp_path / "x.parquet")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = cli("cohort", "run", *[x for kv in base.items() for x in kv])
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_is_named_where_it_was_given(synthetic, tmp_path):
    """An option's value is named by the option the user typed (it was named by the
    setting, settings.era_gap_days); a value from the environment or a settings file by
    the setting."""
    config = tmp_path / "trdnav.toml"
    config.write_text("adequate_trial_days = 7\n", encoding="utf-8")
    cases = [
        (["--era-gap-days", "400"], {}, ["error: --era-gap-days: got 400; expected a number"]),
        (
            ["--config", str(config)],
            {"TRDNAV_ERA_GAP_DAYS": "-1"},
            [
                "error: settings.adequate_trial_days: got 7; expected a number of days from 28",
                'error: settings.era_gap_days: got "-1"; expected a number of at least 0',
            ],
        ),
        (
            ["--adequate-trial-days", "366", "--config", str(config)],
            {"TRDNAV_ERA_GAP_DAYS": "-1"},
            [
                "error: --adequate-trial-days: got 366; expected a number of days from 28",
                'error: settings.era_gap_days: got "-1"; expected a number of at least 0',
            ],
        ),
    ]
    for args, env, lines in cases:
        out = ["--data", str(synthetic), "--out", str(tmp_path / "x.parquet")]
        result = cli("cohort", "run", *out, *args, env=env)
        assert result.returncode == 2, result.stderr
        said = result.stderr.splitlines()
        assert len(said) == len(lines), said
        for line, start in zip(sorted(said), sorted(lines), strict=True):
            assert line.startswith(start), said


def run_on_postgres(url, schema, out):
    engine = ("--engine", "postgres", "--data", url, "--schema", schema)
    return cli("cohort", "run", *engine, "--out", str(out))


def test_postgres_engine_gives_the_duckdb_results(synthetic, default_run, tmp_path, postgres_url):
    loaded = cli(
        "cohort", "load", "--data", str(synthetic), "--to", postgres_url, "--schema", "omop"
    )
    assert loaded.returncode == 0, loaded.stderr
    duck, pg = default_run[1], tmp_path / "pg.parquet"
    result = run_on_postgres(postgres_url, "omop", pg)
    assert result.returncode == 0, result.stderr
    assert pq.read_table(duck).equals(pq.read_table(pg))


def test_load_replaces_only_the_tables_of_the_folder(synthetic, tmp_path, fresh_postgres_url):
    """A folder holding only some tables leaves the schema's other tables in place: they
    were dropped before (the vocabulary and clinical tables of a real schema included)."""
    url = fresh_postgres_url
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    assert cli("cohort", "load", "--data", str(synthetic), "--to", url).returncode == 0
    with psycopg.connect(plain) as conn:
        conn.execute("CREATE TABLE my_notes (n int)")
    only_person = tmp_path / "only-person"
    only_person.mkdir()
    if (synthetic / "person.parquet").is_file():
        shutil.copy(synthetic / "person.parquet", only_person / "person.parquet")
    else:
        shutil.copytree(synthetic / "person", only_person / "person")
    loaded = cli("cohort", "load", "--data", str(only_person), "--to", url)
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded into public: person " in loaded.stderr
    with psycopg.connect(plain) as conn:
        names = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        rows = conn.execute("SELECT count(*) FROM drug_exposure").fetchone()
    assert {"my_notes", "person", "drug_exposure", "concept", "measurement"} <= names
    exposures = next(synthetic.glob("drug_exposure*"))
    assert rows is not None
    assert rows[0] == pq.read_table(exposures).num_rows


def test_a_table_folder_with_a_bad_file_is_refused_naming_it(synthetic, tmp_path):
    """DuckDB reads a table's other files only when the run reaches them: a file that is not
    Parquet, or one with other columns, was an internal error in the middle of the run."""
    for case, extra in [("not-parquet", None), ("other-columns", pa.table({"person_id": [1]}))]:
        data = tmp_path / case
        shutil.copytree(synthetic, data)
        people = data / "person"
        if (data / "person.parquet").is_file():
            people.mkdir()
            (data / "person.parquet").rename(people / "part-0.parquet")
        if extra is None:
            (people / "part-9.parquet").write_text("a,b\n")
        else:
            pq.write_table(extra, people / "part-9.parquet")
        result = cli("cohort", "run", "--data", str(data), "--out", str(tmp_path / "x.parquet"))
        assert result.returncode == 2, result.stderr
        assert "\nerror: --data: got" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert "internal error" not in result.stderr
        if extra is not None:
            said = " ".join(result.stderr.split())  # the console wraps long lines
            assert said.endswith("year_of_birth; part-9.parquet has person_id)"), said


def test_a_table_given_twice_or_beside_other_files_is_refused(synthetic, tmp_path):
    """Both person.parquet and person/ were read as the file alone, and a text file in a
    table folder was passed over: part of the data left out without a word. Files named
    with a leading _ or . (Spark's _SUCCESS, .crc) are not data and are passed over."""
    data = tmp_path / "both"
    shutil.copytree(synthetic, data)
    people = data / "person"
    if people.is_dir():
        shutil.copy(next(people.glob("*.parquet")), data / "person.parquet")
    else:
        people.mkdir()
        shutil.copy(data / "person.parquet", people / "part-0.parquet")
    (people / "_SUCCESS").write_text("")
    (people / ".part-0.parquet.crc").write_text("")

    def refused_with(expected: str) -> None:
        result = cli("cohort", "run", "--data", str(data), "--out", str(tmp_path / "x.parquet"))
        assert result.returncode == 2, result.stderr
        assert expected in " ".join(result.stderr.split())  # the console wraps long lines

    refused_with("expected person.parquet or a folder person/ of Parquet files, not both")
    (data / "person.parquet").unlink()
    (people / "notes.txt").write_text("x")
    refused_with("expected a folder of Parquet files (*.parquet) only; it holds notes.txt")
    (people / "notes.txt").unlink()
    fine = cli("cohort", "run", "--data", str(data), "--out", str(tmp_path / "x.parquet"))
    assert fine.returncode == 0, fine.stderr


def test_data_without_a_person_table_is_named(synthetic, tmp_path):
    data = tmp_path / "no-person"
    shutil.copytree(synthetic, data, ignore=shutil.ignore_patterns("person", "person.parquet"))
    result = cli("cohort", "run", "--data", str(data), "--out", str(tmp_path / "x.parquet"))
    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert said.endswith("expected a folder holding person.parquet or person/*.parquet")


def test_a_schema_without_a_person_table_is_named(tmp_path, postgres_url):
    result = run_on_postgres(postgres_url, "nosuch", tmp_path / "x.parquet")
    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert said.endswith(
        'error: --schema: got "nosuch"; expected a schema holding an OMOP table person'
    )


def test_output_paths_are_checked_before_the_run(synthetic, tmp_path):
    (tmp_path / "a-file").write_text("x")
    cases = [
        (["--out", str(tmp_path / "a-file" / "r.parquet")], "error: --out: got"),
        (
            ["--out", str(tmp_path / "r.parquet"), "--episodes", str(tmp_path / "r.parquet")],
            "error: --episodes: got",
        ),
        (
            ["--out", str(tmp_path / "r.parquet"), "--report", str(tmp_path / "r.parquet")],
            "expected a file other than --out's",
        ),
        (["--out", str(tmp_path)], "expected a file path, not a folder"),
    ]
    for args, message in cases:
        result = cli("cohort", "run", "--data", str(synthetic), *args)
        assert result.returncode == 2, args
        assert message in result.stderr
        assert "persons" not in result.stderr  # refused before running
        assert "Traceback" not in result.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"a-file"}


def test_synth_replaces_its_own_output_and_refuses_other_folders(tmp_path):
    out = tmp_path / "omop"
    assert cli("synth", "omop", "--persons", "30", "--out", str(out)).returncode == 0
    (out / "drug_exposure" / "part-09999.parquet").write_bytes(
        (out / "drug_exposure" / "part-00000.parquet").read_bytes()
    )
    again = cli("synth", "omop", "--persons", "20", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert pq.read_table(out / "person").num_rows == 20
    assert [p.name for p in (out / "drug_exposure").iterdir()] == ["part-00000.parquet"]
    (out / "notes.txt").write_text("mine")
    refused = cli("synth", "omop", "--persons", "10", "--out", str(out))
    assert refused.returncode == 2
    assert "it holds notes.txt" in refused.stderr
    assert (out / "notes.txt").read_text() == "mine"
    assert pq.read_table(out / "person").num_rows == 20
    assert {p.name for p in tmp_path.iterdir()} == {"omop"}


def test_an_unreachable_database_is_named_without_its_password(synthetic, tmp_path):
    url = "postgresql://ann:s3cret@127.0.0.1:1/omop"
    runs = {
        "--to": cli("cohort", "load", "--data", str(synthetic), "--to", url),
        "--data": cli(
            "cohort", "run", "--engine", "postgres", "--data", url, "--out", str(tmp_path / "x")
        ),
    }
    for option, result in runs.items():
        assert result.returncode == 2
        assert f'error: {option}: got "postgresql://ann:***@127.0.0.1:1/omop"' in result.stderr
        assert "expected a reachable PostgreSQL database" in result.stderr
        assert "s3cret" not in result.stderr


def _copy_with(synthetic: Path, folder: Path, name: str, table) -> Path:
    """The synthetic data in ``folder``, with table ``name`` replaced by ``table``."""
    shutil.copytree(synthetic, folder)
    target = folder / name
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    if table is not None:
        pq.write_table(table, folder / f"{name}.parquet")
    return folder


def test_columns_of_other_types_are_converted_or_refused(synthetic, default_run, tmp_path):
    periods = pq.read_table(synthetic / "observation_period")
    narrower = periods.cast(
        pa.schema(
            [
                pa.field(f.name, pa.int32() if f.name.endswith("_id") else pa.timestamp("s"))
                for f in periods.schema
            ]
        )
    )
    converted = _copy_with(synthetic, tmp_path / "narrow", "observation_period", narrower)
    out = tmp_path / "narrow.parquet"
    result = cli("cohort", "run", "--data", str(converted), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert pq.read_table(out).equals(pq.read_table(default_run[1]))

    persons = pq.read_table(synthetic / "person")
    as_text = persons.set_column(0, "person_id", pc.cast(persons["person_id"], pa.string()))
    refused = _copy_with(synthetic, tmp_path / "text", "person", as_text)
    result = cli("cohort", "run", "--data", str(refused), "--out", str(tmp_path / "t.parquet"))
    assert result.returncode == 2
    assert (
        'error: person.person_id: got "a column of string"; expected a column of integers'
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_file_that_is_not_parquet_is_named(synthetic, tmp_path):
    folder = _copy_with(synthetic, tmp_path / "broken", "measurement", None)
    (folder / "measurement.parquet").write_text("not parquet")
    result = cli("cohort", "run", "--data", str(folder), "--out", str(tmp_path / "x.parquet"))
    assert result.returncode == 2
    assert 'error: --data: got "' in result.stderr
    assert "measurement.parquet" in result.stderr
    assert "expected Parquet files" in result.stderr
    assert "internal error" not in result.stderr


def _schema_state(url: str, schema: str) -> dict[str, tuple[int, str]]:
    """Each table of ``schema``: its rows and a digest of its contents."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [schema],
            )
        ]
        state = {}
        for name in sorted(names):
            found = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                f'FROM "{schema}"."{name}" t'
            ).fetchone()
            assert found is not None
            state[name] = (found[0], found[1])
    return state


def test_load_refuses_what_the_run_refuses_before_writing(synthetic, tmp_path, fresh_postgres_url):
    """A column that does not convert to its OMOP type was an internal error of cohort load
    (a number with a fraction in an integer column), or was converted value by value where
    cohort run refuses it (dates or numbers stored as text). Now load refuses the same
    columns as run, with the same message, before the database is touched."""
    url = fresh_postgres_url
    assert cli("cohort", "load", "--data", str(synthetic), "--to", url).returncode == 0
    before = _schema_state(url, "public")
    assert before["drug_exposure"][0] > 0

    exposures = pq.read_table(synthetic / "drug_exposure")
    supply = exposures.schema.get_field_index("days_supply")
    halves = pc.add(pc.cast(exposures["days_supply"], pa.float64()), 0.5)
    persons = pq.read_table(synthetic / "person")
    periods = pq.read_table(synthetic / "observation_period")
    start = periods.schema.get_field_index("observation_period_start_date")
    cases = {
        "drug_exposure": (
            exposures.set_column(supply, "days_supply", halves),
            'error: drug_exposure.days_supply: got "a column of float64"; expected a column of '
            "integers (OMOP CDM v5.4)",
        ),
        "person": (
            persons.set_column(0, "person_id", pc.cast(persons["person_id"], pa.string())),
            'error: person.person_id: got "a column of string"; expected a column of integers '
            "(OMOP CDM v5.4)",
        ),
        "observation_period": (
            periods.set_column(
                start,
                "observation_period_start_date",
                pc.cast(periods["observation_period_start_date"], pa.string()),
            ),
            'error: observation_period.observation_period_start_date: got "a column of string"; '
            "expected a column of dates (OMOP CDM v5.4)",
        ),
    }
    for name, (table, message) in cases.items():
        data = _copy_with(synthetic, tmp_path / name, name, table)
        for schema in ("public", "other"):
            loaded = cli("cohort", "load", "--data", str(data), "--to", url, "--schema", schema)
            assert loaded.returncode == 2, loaded.stderr
            assert loaded.stderr.splitlines() == [message], loaded.stderr
        run = cli("cohort", "run", "--data", str(data), "--out", str(tmp_path / "x.parquet"))
        assert run.returncode == 2
        assert run.stderr.splitlines()[-1] == message
    assert _schema_state(url, "public") == before
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        schemas = {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}
    assert "other" not in schemas


def test_load_names_a_value_that_does_not_convert(synthetic, tmp_path, fresh_postgres_url):
    """An unsigned integer column converts to OMOP's integers unless a value is above
    2^63-1: the first such value is named, and nothing is loaded."""
    measurements = pq.read_table(synthetic / "measurement")
    ids = measurements["measurement_id"].to_pylist()
    ids[1] = 2**63 + 7
    wide = measurements.set_column(0, "measurement_id", pa.array(ids, pa.uint64()))
    data = _copy_with(synthetic, tmp_path / "wide", "measurement", wide)
    loaded = cli("cohort", "load", "--data", str(data), "--to", fresh_postgres_url)
    assert loaded.returncode == 2, loaded.stderr
    assert loaded.stderr.splitlines() == [
        f"error: measurement.measurement_id: got {2**63 + 7}; expected an integer from -2^63 "
        "to 2^63-1 (OMOP CDM v5.4)"
    ]
    assert _schema_state(fresh_postgres_url, "public") == {}
    out = tmp_path / "x.parquet"
    run = cli("cohort", "run", "--data", str(data), "--out", str(out))
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines()[-1] == loaded.stderr.splitlines()[-1]
    assert not out.exists()


def run_on_spark(synthetic: Path, tmp_path: Path, master: str, **env: str | None):
    spark = ("--engine", "spark", "--spark-master", master, "--data", str(synthetic))
    return cli("cohort", "run", *spark, "--out", str(tmp_path / "x.parquet"), env=env)


def test_a_yarn_master_without_its_configuration_is_named_before_spark_starts(synthetic, tmp_path):
    """Spark refused it only after starting Java, which printed its log lines, and the
    error named a Java gateway that exited."""
    unset = {"HADOOP_CONF_DIR": None, "YARN_CONF_DIR": None}
    result = run_on_spark(synthetic, tmp_path, "yarn", **unset)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        'error: --spark-master: got "yarn"; expected HADOOP_CONF_DIR or YARN_CONF_DIR set to '
        "the folder of the Hadoop/YARN configuration (neither is set)"
    )
    assert "java" not in result.stderr.lower()
    missing = tmp_path / "no-such-conf"
    result = run_on_spark(synthetic, tmp_path, "yarn", **{**unset, "HADOOP_CONF_DIR": str(missing)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        'error: --spark-master: got "yarn"; expected HADOOP_CONF_DIR or YARN_CONF_DIR set to '
        f"the folder of the Hadoop/YARN configuration (HADOOP_CONF_DIR is {missing}, which is "
        "not a folder)"
    )
    assert "java" not in result.stderr.lower()
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.parametrize(
    ("written", "port", "what"),
    [
        ("spark://127.0.0.1:{port}", None, "Spark master"),
        ("k8s://https://127.0.0.1:{port}", None, "Kubernetes API server"),
        ("k8s://127.0.0.1:{port}", None, "Kubernetes API server"),
        ("k8s://http://127.0.0.1:{port}/", None, "Kubernetes API server"),
        ("k8s://https://127.0.0.1", 443, "Kubernetes API server"),
        ("k8s://HTTP://127.0.0.1", 80, "Kubernetes API server"),
    ],
)
def test_an_unreachable_master_is_named_at_once(synthetic, tmp_path, written, port, what):
    """Spark retried a spark:// master that nothing answers at for more than a minute; for a
    k8s:// one it started Java, printed its log lines and stack traces for several seconds,
    and said only that a Kubernetes client exception had occurred."""
    with refusing_port() as free:
        master = written.format(port=free)
        result = run_on_spark(synthetic, tmp_path, master)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f'error: --spark-master: got "{master}"; expected a reachable {what} (nothing answers '
        f"at 127.0.0.1:{port or free}: Connection refused)"
    )
    assert "java" not in result.stderr.lower()
    assert not (tmp_path / "x.parquet").exists()


def test_a_spark_master_that_does_not_start_is_named_without_blaming_java(synthetic, tmp_path):
    """Spark starts Java, then refuses ``local[0]``. Spark's log lines and Java's stack trace
    reached the terminal beside the error; they are kept in a log file the error names."""
    result = run_on_spark(synthetic, tmp_path, "local[0]", TMPDIR=str(tmp_path))
    assert result.returncode == 2
    logs = list(tmp_path.glob("trdnav-spark-*.log"))
    assert len(logs) == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        'error: --spark-master: got "local[0]"; expected a Spark master that starts '
        "(org.apache.spark.SparkException: Asked to run locally with 0 threads; Spark's log "
        f"is in {logs[0]})"
    )
    assert result.stdout == ""
    for line in result.stderr.splitlines():  # the progress line, and the error
        assert line.startswith(("spark: connecting", "error: ")), result.stderr
    for said in ("Java 17", "Traceback", "WARN", "ERROR", "log4j", "\tat "):
        assert said not in result.stderr
    log = logs[0].read_text()
    assert "ERROR SparkContext: Error initializing SparkContext." in log
    assert "\tat org.apache.spark.SparkContext" in log


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def standalone_master(tmp_path_factory) -> Iterator[str]:
    """A Spark standalone cluster on loopback (a master and one worker, from PySpark's own
    scripts): its ``spark://`` URL."""
    import pyspark

    from trdnav.cohort.spark_runner import ensure_java_home

    ensure_java_home()
    home = Path(pyspark.__file__).parent
    folder = tmp_path_factory.mktemp("standalone")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(folder)}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    daemons = [
        ("master", "org.apache.spark.deploy.master.Master", "--port", str(port)),
        ("worker", "org.apache.spark.deploy.worker.Worker", "--work-dir", str(folder), url),
    ]
    started = []
    try:
        for name, main, *args in daemons:
            options = ["--host", "127.0.0.1", "--webui-port", str(free_port())]
            if name == "worker":
                options += ["--cores", "2", "--memory", "1g"]
            with (folder / f"{name}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        [str(home / "bin" / "spark-class"), main, *options, *args],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
        for _ in range(240):  # until the worker has registered, at most a minute
            if b"Registering worker" in (folder / "master.log").read_bytes():
                break
            time.sleep(0.25)
        else:
            pytest.fail((folder / "master.log").read_text() + (folder / "worker.log").read_text())
        yield url
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=60)


def test_a_standalone_cluster_gives_the_embedded_engines_results(
    synthetic, default_run, tmp_path, standalone_master
):
    """``--spark-master spark://...``: the cluster registers the run and its executors read
    the data, named by URL as a cluster's data is (``hdfs://``, ``s3a://``; here
    ``file://``); the results are DuckDB's."""
    spark = ("--engine", "spark", "--spark-master", standalone_master)
    data = ("--data", synthetic.as_uri())
    result = cli("cohort", "run", *spark, *data, "--out", str(tmp_path / "x.parquet"))
    assert result.returncode == 0, result.stderr
    assert "400 persons" in result.stderr
    ours, embedded = pq.read_table(tmp_path / "x.parquet"), pq.read_table(default_run[1])
    assert ours.column_names == embedded.column_names
    assert ours.to_pylist() == embedded.to_pylist()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            "file:///no/such/folder",
            "java.io.FileNotFoundException: File file:/no/such/folder does not exist",
        ),
        (
            "nosuch://x/omop",
            "org.apache.hadoop.fs.UnsupportedFileSystemException: No FileSystem for scheme "
            '"nosuch"',
        ),
    ],
)
def test_a_data_url_spark_cannot_read_is_named_with_its_reason(tmp_path, data, reason):
    result = cli(
        "cohort", "run", "--engine", "spark", "--data", data, "--out", str(tmp_path / "x.parquet")
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f'error: --data: got "{data}"; expected a folder of OMOP Parquet files ({reason})'
    )
    assert not (tmp_path / "x.parquet").exists()


def test_a_data_url_is_for_spark_only(tmp_path, synthetic):
    out = str(tmp_path / "x.parquet")
    result = cli("cohort", "run", "--data", synthetic.as_uri(), "--out", out)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f'error: --data: got "{synthetic.as_uri()}"; expected a folder of OMOP Parquet files'
    )


def test_a_port_that_is_not_a_spark_master_is_given_up_after_the_registration_time(
    synthetic, tmp_path
):
    """Something answers but never registers the application (here a listener that holds
    the connection, as a web server waiting for a request line does): Spark waited out
    three attempts of 20 s, then said only "Cannot call methods on a stopped SparkContext"."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        master = f"spark://127.0.0.1:{listener.getsockname()[1]}"
        result = run_on_spark(synthetic, tmp_path, master, TMPDIR=str(tmp_path))
    assert result.returncode == 2
    [log] = tmp_path.glob("trdnav-spark-*.log")
    assert result.stderr.splitlines()[-1] == (
        f'error: --spark-master: got "{master}"; expected a Spark master that starts (the '
        "master did not register the application within 30 s (a Spark master answers at "
        f"once; its port is usually 7077); Spark's log is in {log})"
    )
    assert not (tmp_path / "x.parquet").exists()


def test_spark_without_java_says_so(synthetic, tmp_path):
    missing = tmp_path / "no-java"
    result = run_on_spark(synthetic, tmp_path, "local[*]", JAVA_HOME=str(missing))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        'error: --engine: got "spark"; expected Java 17 or later installed, which Spark runs '
        f"on (JAVA_HOME is {missing}, which has no bin/java)"
    )
    old = tmp_path / "old-java"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "java").write_text("#!/bin/sh\necho 'openjdk version \"11.0.20\"' >&2\n")
    (old / "bin" / "java").chmod(0o755)
    result = run_on_spark(synthetic, tmp_path, "local[*]", JAVA_HOME=str(old))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(f"({old / 'bin' / 'java'} is Java 11)")


def _named_as_written(stderr: str) -> set[Path]:
    """The files the closing line of ``cohort run`` says it wrote."""
    said = stderr.splitlines()[-1]
    assert " Wrote " in said, said
    listed = said.split(" Wrote ", 1)[1].removesuffix(".")
    *first, last = listed.split(" and ")
    return {Path(name) for name in [*" and ".join(first).split(", "), last]}


def test_the_closing_line_names_every_file_written(synthetic, default_run, tmp_path):
    """It named --out and the report, not the report's figures (persons.json) nor
    --episodes."""
    result, out, episodes = default_run
    assert _named_as_written(result.stderr) == {*out.parent.iterdir(), episodes}
    folder = tmp_path / "results"
    run = cli(
        "cohort",
        "run",
        "--data",
        str(synthetic),
        "--out",
        str(folder / "persons.parquet"),
        "--episodes",
        str(folder / "episodes.parquet"),
    )
    assert run.returncode == 0, run.stderr
    written = set(folder.iterdir())
    assert {path.name for path in written} == {
        "persons.parquet",
        "persons.html",
        "persons.json",
        "episodes.parquet",
    }
    assert _named_as_written(run.stderr) == written


def test_phq9_totals_out_of_any_range_are_reported_not_a_failed_run(synthetic, tmp_path):
    """NaN, infinity and 1e20 are numbers a float column holds: the engine converted them
    before leaving them out, and the run failed naming neither the column nor the row."""
    measurements = pq.read_table(synthetic / "measurement")
    values = measurements.column("value_as_number").to_pylist()
    rows = [i for i, v in enumerate(values) if v is not None][:3]
    for row, odd in zip(rows, (float("nan"), float("inf"), 1e20), strict=True):
        values[row] = odd
    index = measurements.column_names.index("value_as_number")
    odd_table = measurements.set_column(index, "value_as_number", pa.array(values, pa.float64()))
    folder = _copy_with(synthetic, tmp_path / "odd", "measurement", odd_table)
    out = tmp_path / "p.parquet"
    result = cli("cohort", "run", "--data", str(folder), "--out", str(out))
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    invalid = [f for f in figures["findings"] if f["check"] == "invalid_value"]
    assert invalid
    assert invalid[0]["count"] >= 3


def test_results_are_never_written_into_the_data_or_taken_from_odd_dates(synthetic, tmp_path):
    """--out inside --data replaced person.parquet with the results; --as-of read
    2025-W01-1 and 20251231 though it asks for YYYY-MM-DD."""
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    before = sorted(p.name for p in data.iterdir())
    into = cli("cohort", "run", "--data", str(data), "--out", str(data / "person.parquet"))
    assert into.returncode == 2
    assert "expected a path outside the --data folder" in " ".join(into.stderr.split())
    assert sorted(p.name for p in data.iterdir()) == before
    for odd in ("2025-W01-1", "20251231"):
        result = cli(
            "cohort",
            "run",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "x.parquet"),
            "--as-of",
            odd,
        )
        assert result.returncode == 2
        assert f'--as-of: got "{odd}"; expected a date as YYYY-MM-DD' in result.stderr
    huge = cli("synth", "omop", "--persons", "99999999999999999999", "--out", str(tmp_path / "s"))
    assert huge.returncode == 2
    assert not (tmp_path / "s").exists()
