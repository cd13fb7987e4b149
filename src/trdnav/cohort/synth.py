"""A seeded synthetic OMOP CDM generator with realistic depression treatment sequences.

Each person with major depression goes through treatment steps in the spirit of STAR*D
(remission at steps 1-4 of about 37 %, 31 %, 14 % and 13 %, Rush et al. 2006): a first SSRI,
then a switch or an augmentation, tricyclics and MAOIs at later steps, and now and then
ECT, TMS, esketamine or ketamine. Fills are 30-day prescriptions of clinical drugs (local
concept ids mapped to their ingredient through ``concept_ancestor``, strengths in
``drug_strength``); some doses are below the adequate dose and some trials are cut short.
PHQ-9 totals follow the course: high at onset, below 5 after remission. A few records are
deliberately bad (exposures ending before they start, records with concept 0, PHQ-9 values
out of range, records of unknown persons) so the data checks have something to find.

Output: one folder per table of Parquet files (``DIR/drug_exposure/part-00000.parquet``),
written in chunks of persons so memory stays flat. The same seed (and chunk size) gives
the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trdnav.cohort.concepts import CohortKnowledge
from trdnav.cohort.omop import MICROGRAM, MILLIGRAM, SCHEMAS
from trdnav.files import new_folder

__all__ = ["LOCAL_CONCEPT_BASE", "SynthConfig", "generate", "vocabulary_tables"]

LOCAL_CONCEPT_BASE = 2_000_000_000
"""OMOP reserves concept ids above 2,000,000,000 for local concepts; synthetic codes that
have no known OMOP id, and the synthetic clinical drugs, take ids from here."""
_CLINICAL_BASE = LOCAL_CONCEPT_BASE + 100_000_000
_OTHER_DRUGS = [LOCAL_CONCEPT_BASE + 200_000_000 + n for n in range(1, 21)]
_EPOCH = date(1970, 1, 1).toordinal()
START = date(2012, 1, 1).toordinal() - _EPOCH
END = date(2025, 12, 31).toordinal() - _EPOCH
MDD_STANDARD = 4152280  # Major depressive disorder (SNOMED 370143000)

REMISSION_BY_STEP = (0.37, 0.31, 0.14, 0.13, 0.10, 0.10)
FIRST_LINE = ("sertraline", "citalopram", "escitalopram", "fluoxetine", "paroxetine")
SWITCH_BY_STEP = (
    ("venlafaxine", "duloxetine", "bupropion", "sertraline", "escitalopram", "mirtazapine"),
    ("nortriptyline", "mirtazapine", "venlafaxine", "desvenlafaxine", "vortioxetine"),
    ("tranylcypromine", "phenelzine", "amitriptyline", "venlafaxine"),
    ("clomipramine", "imipramine", "trazodone", "vilazodone", "isocarboxazid"),
)
AUGMENT = ("aripiprazole", "quetiapine", "lithium", "liothyronine", "brexpiprazole")


@dataclass(frozen=True)
class SynthConfig:
    persons: int
    seed: int = 0
    chunk_size: int = 50_000
    mdd_share: float = 0.7
    bad_data: bool = True
    first_person_id: int = 1


@dataclass
class _Vocabulary:
    """Concept ids of the concept-set codes, and synthetic clinical drugs per ingredient."""

    ids: dict[tuple[str, str], int]
    ingredient: dict[str, int]
    clinical: dict[str, list[tuple[int, float]]]
    mdd: list[tuple[int, int]]
    """(condition_concept_id, condition_source_concept_id) pairs to draw from."""
    treatment_procedure: dict[str, list[int]]
    treatment_drug: dict[str, int]
    phq9: int
    concept_rows: list[dict[str, Any]] = field(default_factory=list)
    ancestor_rows: list[dict[str, Any]] = field(default_factory=list)
    strength_rows: list[dict[str, Any]] = field(default_factory=list)


def _vocabulary(ck: CohortKnowledge) -> _Vocabulary:
    entries = [(cs, e) for cs in ck.concept_sets.values() for e in cs.concepts]
    codes = sorted({(e.vocabulary, e.code) for _, e in entries} | {("LOINC", ck.phq9_loinc)})
    given = {(e.vocabulary, e.code): e.concept_id for _, e in entries if e.concept_id}
    ids: dict[tuple[str, str], int] = {}
    for n, key in enumerate(codes, start=1):
        ids[key] = given.get(key) or LOCAL_CONCEPT_BASE + n
    domain = {"condition": "Condition", "drug": "Drug", "procedure": "Procedure"}
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for cs, e in entries:
        dom = "Drug" if e.vocabulary.startswith("RxNorm") else domain[cs.domain]
        if e.treatment and not e.vocabulary.startswith("RxNorm"):
            dom = "Procedure"
        names[(e.vocabulary, e.code)] = (e.name or e.drug or e.code, dom)
    names[("LOINC", ck.phq9_loinc)] = ("PHQ-9 total score", "Measurement")
    vocab = _Vocabulary(
        ids=ids,
        ingredient={},
        clinical={},
        mdd=[],
        treatment_procedure={},
        treatment_drug={},
        phq9=ids[("LOINC", ck.phq9_loinc)],
    )
    for key, cid in ids.items():
        name, dom = names[key]
        vocab.concept_rows.append(
            {
                "concept_id": cid,
                "concept_name": name,
                "domain_id": dom,
                "vocabulary_id": key[0],
                "concept_class_id": "Ingredient" if dom == "Drug" else "Clinical Finding",
                "standard_concept": "S",
                "concept_code": key[1],
            }
        )
    for cs, e in entries:
        cid = ids[(e.vocabulary, e.code)]
        if e.drug:
            vocab.ingredient[e.drug] = cid
        if e.treatment and e.vocabulary.startswith("RxNorm"):
            vocab.treatment_drug[e.treatment] = cid
        elif e.treatment:
            vocab.treatment_procedure.setdefault(e.treatment, []).append(cid)
        if cs.domain == "condition":
            if e.vocabulary == "ICD10CM":
                vocab.mdd.append((MDD_STANDARD, cid))
            else:
                vocab.mdd.append((cid, 0))
    n = 0
    for drug, ingredient in sorted(vocab.ingredient.items()):
        floor = ck.min_dose_mg.get(drug) or 100.0
        micro = floor < 1
        for fraction in (0.5, 1.0):
            n += 1
            cid = _CLINICAL_BASE + n
            strength = floor * fraction
            unit = MICROGRAM if micro else MILLIGRAM
            amount = strength * 1000 if micro else strength
            vocab.clinical.setdefault(drug, []).append((cid, strength))
            vocab.concept_rows.append(
                {
                    "concept_id": cid,
                    "concept_name": f"{drug} {amount:g} {'UG' if micro else 'MG'} Oral Tablet",
                    "domain_id": "Drug",
                    "vocabulary_id": "RxNorm",
                    "concept_class_id": "Clinical Drug",
                    "standard_concept": "S",
                    "concept_code": f"SYNTH{cid}",
                }
            )
            vocab.ancestor_rows.append(
                {"ancestor_concept_id": ingredient, "descendant_concept_id": cid}
            )
            vocab.strength_rows.append(
                {
                    "drug_concept_id": cid,
                    "ingredient_concept_id": ingredient,
                    "amount_value": amount,
                    "amount_unit_concept_id": unit,
                }
            )
    for ingredient in sorted(set(vocab.ingredient.values())):
        vocab.ancestor_rows.append(
            {"ancestor_concept_id": ingredient, "descendant_concept_id": ingredient}
        )
    vocab.mdd.sort()
    return vocab


def vocabulary_tables(ck: CohortKnowledge) -> dict[str, pa.Table]:
    """The synthetic vocabulary: concept, concept_ancestor and drug_strength."""
    v = _vocabulary(ck)
    return {
        name: pa.Table.from_pylist(rows, schema=_schema(name))
        for name, rows in (
            ("concept", v.concept_rows),
            ("concept_ancestor", v.ancestor_rows),
            ("drug_strength", v.strength_rows),
        )
    }


def _schema(table: str) -> pa.Schema:
    types = {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "date": pa.date32(),
    }
    return pa.schema([(c, types[t]) for c, t in SCHEMAS[table].items()])


class _Columns:
    """Column-wise rows of one table for one chunk (dates as day numbers)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.names = list(SCHEMAS[table])
        self.data: dict[str, list[Any]] = {c: [] for c in self.names}

    def add(self, *values: Any) -> None:
        for column, value in zip(self.names, values, strict=True):
            self.data[column].append(value)

    def to_arrow(self) -> pa.Table:
        schema = _schema(self.table)
        arrays = []
        for column in self.names:
            kind = schema.field(column).type
            if kind == pa.date32():
                arrays.append(pa.array(self.data[column], pa.int32()).cast(pa.date32()))
            else:
                arrays.append(pa.array(self.data[column], kind))
        return pa.Table.from_arrays(arrays, schema=schema)


class _Person:
    """Generates one person's records into the chunk's columns."""

    def __init__(
        self,
        rng: random.Random,
        vocab: _Vocabulary,
        ck: CohortKnowledge,
        out: dict[str, _Columns],
        ids: dict[str, int],
        bad: bool,
    ) -> None:
        self.rng, self.v, self.ck, self.out, self.ids, self.bad = rng, vocab, ck, out, ids, bad

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def fill(self, pid: int, drug: str, start: int, days: int, level: int) -> int:
        """30-day fills of ``drug`` from ``start`` for about ``days`` days at dose level
        ``level`` (1: half the adequate dose, 2: adequate, 3-4: higher); returns the end."""
        rng = self.rng
        strengths = self.v.clinical[drug]
        day = start
        end = start
        while day < start + days:
            use_ingredient = rng.random() < 0.1
            concept = strengths[0][0]
            if use_ingredient:
                concept = self.v.ingredient[drug]
            quantity = 30.0 * level
            supply = 30
            stop = day + supply
            if self.bad and rng.random() < 0.003:
                stop = day - rng.randint(1, 20)  # ends before it starts
            if self.bad and rng.random() < 0.002:
                concept = 0
            no_end = rng.random() < 0.1
            self.out["drug_exposure"].add(
                self.next_id("drug_exposure"),
                pid,
                concept,
                day,
                None if no_end else stop,
                supply,
                quantity,
            )
            end = day + supply
            day = end + rng.choice((0, 0, 1, 2, 3, 5, 8))
        return end

    def phq9(self, pid: int, day: int, total: int) -> None:
        value: float = float(max(0, min(27, total)))
        if self.bad and self.rng.random() < 0.004:
            value = self.rng.choice((31.0, 12.5, -1.0))
        self.out["measurement"].add(self.next_id("measurement"), pid, self.v.phq9, day, value)

    def mdd(self, pid: int, day: int) -> None:
        concept, source = self.rng.choice(self.v.mdd)
        self.out["condition_occurrence"].add(
            self.next_id("condition_occurrence"), pid, concept, day, source
        )

    def procedure(self, pid: int, treatment: str, day: int) -> None:
        concept = self.rng.choice(self.v.treatment_procedure[treatment])
        self.out["procedure_occurrence"].add(
            self.next_id("procedure_occurrence"), pid, concept, day
        )

    def episode(self, pid: int, onset: int, obs_end: int) -> int:
        """One depressive episode from ``onset``; returns the day it ended."""
        rng = self.rng
        self.mdd(pid, onset)
        score = rng.randint(10, 24)
        self.phq9(pid, onset, score)
        day = onset + rng.randint(0, 14)
        drug = rng.choice(FIRST_LINE)
        current: list[str] = []
        for step in range(6):
            if day >= obs_end - 30:
                return day
            level = (
                rng.choice((1, 2, 2, 2, 2, 2, 3, 3, 4))
                if step == 0
                else rng.choice((2, 2, 3, 3, 4))
            )
            remits = rng.random() < REMISSION_BY_STEP[step]
            weeks = rng.randint(10, 26) if remits else rng.choice((3, 4, 5, 7, 8, 9, 10, 12, 14))
            if drug not in self.v.clinical:
                return day
            end = self.fill(pid, drug, day, weeks * 7, level)
            if rng.random() < 0.2:  # dose raised part-way
                end = self.fill(pid, drug, end + 1, rng.randint(3, 8) * 7, min(level + 1, 4))
            for other in current:
                if other != drug:
                    self.fill(pid, other, day, end - day, 2)
            self.phq9(pid, day + 28, score - rng.randint(0, 5))
            if rng.random() < 0.7:
                self.mdd(pid, day + rng.randint(20, 80))
            if remits:
                self.phq9(pid, end - rng.randint(0, 10), rng.randint(0, 4))
                if rng.random() < 0.5:
                    self.phq9(pid, onset + 365 + rng.randint(-50, 50), rng.randint(0, 8))
                return end + rng.randint(90, 240)
            self.phq9(pid, end - rng.randint(0, 7), max(score - rng.randint(0, 8), 10))
            if step >= 1:
                self.advanced(pid, end)
            nxt = end - rng.randint(0, 10)
            if rng.random() < 0.6 or step >= 2:
                current = []
                drug = rng.choice(SWITCH_BY_STEP[min(step, len(SWITCH_BY_STEP) - 1)])
            else:
                current = [drug]
                drug = rng.choice(AUGMENT)
            day = nxt
        return day

    def advanced(self, pid: int, day: int) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            sessions = rng.randint(4, 12)
            for n in range(sessions):
                self.procedure(pid, "ECT", day + n * 2 + n // 3)
        elif roll < 0.09:
            for n in range(rng.randint(10, 30)):
                self.procedure(pid, "TMS", day + n + 2 * (n // 5))
        elif roll < 0.12:
            for n in range(rng.randint(4, 16)):
                if rng.random() < 0.5:
                    self.procedure(pid, "esketamine", day + 3 * n)
                else:
                    self.drug_dose(pid, "esketamine", day + 3 * n)
        elif roll < 0.13:
            for n in range(rng.randint(2, 6)):
                self.drug_dose(pid, "ketamine", day + 4 * n)
        elif roll < 0.132:
            self.procedure(pid, "VNS", day)

    def drug_dose(self, pid: int, treatment: str, day: int) -> None:
        self.out["drug_exposure"].add(
            self.next_id("drug_exposure"), pid, self.v.treatment_drug[treatment], day, day, 1, 1.0
        )

    def person(self, pid: int, mdd_share: float) -> None:
        rng = self.rng
        year = rng.randint(1940, 2006)
        self.out["person"].add(
            pid, rng.choice((8507, 8532, 8532)), year, rng.randint(1, 12), rng.randint(1, 28)
        )
        obs_start = START + rng.randint(0, 1500)
        obs_end = END - (rng.randint(0, 900) if rng.random() < 0.3 else 0)
        self.out["observation_period"].add(
            self.next_id("observation_period"), pid, obs_start, obs_end
        )
        for _ in range(rng.randint(0, 3)):
            day = rng.randint(obs_start, obs_end)
            self.out["drug_exposure"].add(
                self.next_id("drug_exposure"),
                pid,
                rng.choice(_OTHER_DRUGS),
                day,
                day + 30,
                30,
                30.0,
            )
        if rng.random() >= mdd_share:
            return
        onset = rng.randint(obs_start, max(obs_start, obs_end - 200))
        ended = self.episode(pid, onset, obs_end)
        if rng.random() < 0.12 and ended + 500 < obs_end - 200:
            self.episode(pid, ended + rng.randint(420, 700), obs_end)


def _generated_entry(entry: Path) -> bool:
    """Whether ``entry`` of an output folder is one :func:`generate` writes: an OMOP table
    as ``<name>.parquet`` or as a folder ``<name>/`` of Parquet files."""
    if entry.is_file() and entry.suffix == ".parquet":
        return entry.stem in SCHEMAS
    if entry.is_dir() and not entry.is_symlink() and entry.name in SCHEMAS:
        return all(part.is_file() and part.suffix == ".parquet" for part in entry.iterdir())
    return False


def generate(
    config: SynthConfig,
    ck: CohortKnowledge,
    out: Path,
    *,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, int]:
    """Write ``config.persons`` synthetic persons to ``out``; returns the number of rows per
    table. ``progress(n)`` is called after each chunk. ``out`` must be new, empty or hold
    an earlier output (which is replaced): a folder holding anything else is refused. The
    tables are written beside it and replace its contents only when all are written."""
    with new_folder("--out", out, _generated_entry) as folder:
        return _write(config, ck, folder, progress)


def _write(
    config: SynthConfig,
    ck: CohortKnowledge,
    out: Path,
    progress: Callable[[int], Any] | None,
) -> dict[str, int]:
    vocab = _vocabulary(ck)
    counts: dict[str, int] = dict.fromkeys(SCHEMAS, 0)
    for name, table in vocabulary_tables(ck).items():
        pq.write_table(table, out / f"{name}.parquet")
        counts[name] = table.num_rows
    event_tables = [n for n in SCHEMAS if n not in ("concept", "concept_ancestor", "drug_strength")]
    for name in event_tables:
        (out / name).mkdir()
    ids = dict.fromkeys(event_tables, 0)
    first = config.first_person_id
    last = first + config.persons
    for chunk, lo in enumerate(range(first, last, config.chunk_size)):
        hi = min(lo + config.chunk_size, last)
        rng = random.Random(f"{config.seed}:{chunk}")
        columns = {name: _Columns(name) for name in event_tables}
        maker = _Person(rng, vocab, ck, columns, ids, config.bad_data)
        for pid in range(lo, hi):
            maker.person(pid, config.mdd_share)
        if config.bad_data and rng.random() < 0.5:
            columns["measurement"].add(
                maker.next_id("measurement"), last + chunk, vocab.phq9, START + 10, 12.0
            )
        for name, cols in columns.items():
            table = cols.to_arrow()
            pq.write_table(table, out / name / f"part-{chunk:05d}.parquet")
            counts[name] += table.num_rows
        if progress:
            progress(hi - lo)
    return counts
