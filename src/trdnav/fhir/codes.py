"""The codes trdnav reads and writes in FHIR, compiled from the data files in
``knowledge/data/fhir/`` (loaded by :mod:`trdnav.knowledge.fhir_codes`, shaped by
:mod:`trdnav.fhir.code_files`).

:class:`FhirCodes` is what the import, the export and the CDS service use: code systems by
short name, matchers for each clinical code list (codes, ICD prefixes and value sets of
``valuesets.yaml``), and trdnav's own code systems and extensions. Nothing here reads files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

from trdnav.core.knowledge import KnowledgeBase, normalise_name
from trdnav.fhir.code_files import (
    CodeList,
    CodesFile,
    ConditionsFile,
    InstrumentsFile,
    LocalExtension,
    LocalSystem,
    MedicationsFile,
    ProceduresFile,
)
from trdnav.measures.records import Coding
from trdnav.measures.terminology import ValueSet

if TYPE_CHECKING:
    from trdnav.fhir.mapping import Term, TermKey

__all__ = ["CodeMatcher", "FhirCodes", "NameIndex"]


@dataclass
class CodeMatcher:
    """Matches codings against codes, code prefixes and value sets (by canonical system)."""

    label: str
    exact: set[tuple[str, str]] = field(default_factory=set)
    prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, system: str, code: str) -> None:
        self.exact.add((system, code))

    def matches(self, coding: Coding) -> bool:
        if (coding.system, coding.code) in self.exact:
            return True
        starts = self.prefixes.get(coding.system)
        return bool(starts) and coding.code.startswith(starts)  # type: ignore[arg-type]

    def first(self, codings: Iterable[Coding]) -> Coding | None:
        return next((c for c in codings if self.matches(c)), None)


class NameIndex:
    """Finds names as whole words in free text (``"Sertraline 100 MG Oral Tablet"``); the
    longest name wins, and text naming two different targets is ambiguous."""

    def __init__(self, names: Mapping[str, str]) -> None:
        ordered = sorted(
            ((normalise_name(n), target) for n, target in names.items()), key=lambda p: -len(p[0])
        )
        self._targets = dict(ordered)
        alternatives = "|".join(re.escape(n) for n, _ in ordered)
        self._pattern = re.compile(rf"(?<![\w]){'(?:' + alternatives + ')'}(?![\w])")

    def find(self, text: str) -> set[str]:
        """The targets named in ``text`` (empty when none)."""
        found = self._pattern.findall(normalise_name(text))
        return {self._targets[m] for m in found}


class FhirCodes:
    """Everything the FHIR adapter needs to know about codes, compiled for lookups."""

    def __init__(
        self,
        codes: CodesFile,
        conditions: ConditionsFile,
        medications: MedicationsFile,
        procedures: ProceduresFile,
        instruments: InstrumentsFile,
        kb: KnowledgeBase,
        value_sets: Mapping[str, ValueSet],
    ) -> None:
        self.file = codes
        self.conditions_file = conditions
        self.medications_file = medications
        self.procedures_file = procedures
        self.instruments_file = instruments
        self.version = "/".join(
            f.version for f in (codes, conditions, medications, procedures, instruments)
        )
        self.systems = {name: s.url for name, s in codes.systems.items()}
        self.aliases = {alias: s.url for s in codes.systems.values() for alias in s.aliases}
        """Other URIs of a code system -> its canonical URI."""
        self.terms: dict[TermKey, Term] = {}
        """CodeableConcepts read (:func:`trdnav.fhir.mapping.read_term`), by text and codings."""
        self.local = codes.local
        self.bindings = {k: frozenset(v) for k, v in codes.required_bindings.items()}
        self.other_versions = dict(codes.other_versions)
        self._value_sets = value_sets

        ep = conditions.episode
        self.major_depression = self.matcher("major depression", ep.major_depression)
        self.dysthymia = self.matcher("dysthymia", ep.dysthymia)
        self.bipolar = self.matcher("bipolar disorder", conditions.bipolar)
        self.facets = {(self.system(f.system), f.code): f for f in ep.facets.codes}
        self.severity_codes = {
            (self.system(s.system), s.code): s.severity for s in ep.severity_codes.codes
        }
        self.findings = [
            (f.condition, f.include_inactive, self.matcher(f.condition, f))
            for f in conditions.findings
        ]
        allergy_names: dict[str, str] = {}
        self.allergy_codes: dict[tuple[str, str], str] = {}
        for allergy in conditions.allergies:
            allergy_names.update(dict.fromkeys(allergy.names, allergy.condition))
            for code in allergy.rxnorm:
                self.allergy_codes[(self.systems["rxnorm"], code)] = allergy.condition
        self.allergy_names = NameIndex(allergy_names)

        self.drug_codes = {
            (self.systems["rxnorm"], code): drug
            for drug, codes_ in medications.drugs.codes.items()
            for code in codes_
        }
        drug_names = {name: drug.id for drug in kb.drugs.values() for name in drug.names()}
        self.drug_names = NameIndex(drug_names)
        self.antidepressants = self.matcher(
            "antidepressant", CodeList(value_sets=medications.antidepressant_value_sets)
        )
        order_names: dict[str, str] = {}
        self.order_codes: dict[tuple[str, str], str] = {}
        for treatment, med in medications.orders.medications.items():
            order_names.update(dict.fromkeys(med.names, treatment))
            for code in med.rxnorm:
                self.order_codes[(self.systems["rxnorm"], code)] = treatment
        self.order_names = NameIndex(order_names)
        self.status_reasons = {
            (self.system(r.system), r.code): r.response for r in medications.status_reasons.codes
        }
        self.mg_per_unit = {normalise_name(k): v for k, v in medications.dosage.mg_per_unit.items()}
        self._mg_factors: dict[str, float | None] = {}
        """Each dose unit as written -> its factor to mg (None: not a mass unit), found once."""
        self.timing_codes = dict(medications.dosage.timing_codes)

        self.procedures = [(p.type, self.matcher(p.type, p)) for p in procedures.procedures]
        self.psychotherapy = self.matcher("psychotherapy", procedures.psychotherapy)
        self.service_orders = {
            ptype: treatment
            for treatment, ptypes in procedures.orders.services.items()
            for ptype in ptypes
        }

        self.answers = {(self.system(a.system), a.code): a.score for a in instruments.answers.codes}
        self.totals = self.matcher(
            "rating-scale total", CodeList(value_sets=instruments.totals_value_sets)
        )
        self.questionnaires = {
            url: inst for inst, urls in instruments.questionnaires.urls.items() for url in urls
        }
        self.instrument_codes: dict[tuple[str, str], tuple[str, str, int]] = {}
        """``(system, code)`` -> (instrument id, "panel" | "total" | "item", item number)."""
        loinc, local = self.systems["loinc"], self.local.code_systems["instrument"]
        for inst in kb.instruments.values():
            if inst.loinc.panel:
                self.instrument_codes[(loinc, inst.loinc.panel)] = (inst.id, "panel", 0)
            if inst.loinc.total:
                self.instrument_codes[(loinc, inst.loinc.total)] = (inst.id, "total", 0)
            for number, code in enumerate(inst.loinc.items or [], start=1):
                self.instrument_codes[(loinc, code)] = (inst.id, "item", number)
            self.instrument_codes[(local, self.local_instrument_code(inst.id))] = (
                inst.id,
                "panel",
                0,
            )
            self.instrument_codes[(local, self.local_instrument_code(inst.id, "total"))] = (
                inst.id,
                "total",
                0,
            )
            for item in inst.items:
                code = self.local_instrument_code(inst.id, item.number)
                self.instrument_codes[(local, code)] = (inst.id, "item", item.number)

    def cited(self) -> set[str]:
        """Every source id the FHIR code files cite."""
        found: set[str] = set()

        def walk(value: object) -> None:
            if isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    item = getattr(value, name)
                    if name == "sources" or name.endswith("_sources"):
                        found.update(item)
                    else:
                        walk(item)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list | tuple):
                for item in value:
                    walk(item)

        for file in (
            self.file,
            self.conditions_file,
            self.medications_file,
            self.procedures_file,
            self.instruments_file,
        ):
            walk(file)
        return found

    # -- systems ---------------------------------------------------------------------------
    def system(self, name: str) -> str:
        return self.systems[name]

    def canonical(self, url: str) -> str:
        """A system URI as the data files name it (an alias becomes its canonical URI)."""
        return self.aliases.get(url, url)

    def local_system(self, name: LocalSystem) -> str:
        return self.local.code_systems[name]

    def extension(self, name: LocalExtension) -> str:
        return self.local.extensions[name]

    def local_instrument_code(self, instrument: str, part: str | int = "panel") -> str:
        pattern = self.instruments_file.local
        if part == "panel":
            return pattern.panel.format(instrument=instrument)
        if part == "total":
            return pattern.total.format(instrument=instrument)
        return pattern.item.format(instrument=instrument, item=part)

    def matcher(self, label: str, codes: CodeList) -> CodeMatcher:
        out = CodeMatcher(label)
        for name, listed in codes.codes.items():
            for value in listed:
                out.add(self.system(name), value)
        for name, starts in codes.prefixes.items():
            out.prefixes[self.system(name)] = tuple(starts)
        for oid in codes.value_sets:
            for system, expansion in self._value_sets[oid].codes.items():
                for value in expansion:
                    out.add(system, value)
        return out

    def mg_factor(self, unit: str) -> float | None:
        """The factor from a dose unit as written (``mg``, ``Milligram``...) to mg, or None
        when it is not a mass unit of the data file."""
        if unit in self._mg_factors:
            return self._mg_factors[unit]
        factor = self.mg_per_unit.get(normalise_name(unit))
        if len(self._mg_factors) < 1024:
            self._mg_factors[unit] = factor
        return factor

    def in_binding(self, binding: str, value: str) -> bool:
        return value in self.bindings[binding]
