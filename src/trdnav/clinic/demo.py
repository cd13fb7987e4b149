"""Demo data: a clinic, its users, and patients that show every verdict, alert and chart state.

Hand-made histories (``demo_histories/*.json``, package data in the core format, written as
of ``REFERENCE``) are moved to today, so their trials, scores and courses stay recent; the
courses in ``demo_courses`` are planned and recorded on them; ``demo_measures`` adds patients
imported from FHIR who fall into the quality measures' populations. ``demo_histories(n, seed,
today)`` adds generated patients and also feeds the load benchmark: seeded, so the same call
always gives the same patients.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from trdnav.clinic import accounts, demo_courses, demo_measures, fhir, patients
from trdnav.clinic.actor import Actor
from trdnav.core.knowledge import KnowledgeBase
from trdnav.service import fhir_codes_for
from trdnav.settings import Settings
from trdnav.store.database import Store
from trdnav.store.tables import Clinic, Patient, User

__all__ = ["DEMO_CLINIC", "DemoLogin", "demo_histories", "hand_made_histories", "seed_demo"]

DEMO_CLINIC = "Demo Clinic"
DEMO_USERS = (
    ("admin@demo.trdnav.org", "Demo Administrator", "admin"),
    ("clinician@demo.trdnav.org", "Dr Demo Clinician", "clinician"),
    ("viewer@demo.trdnav.org", "Demo Viewer", "viewer"),
)
HAND_MADE = Path(__file__).parent / "demo_histories"
REFERENCE = date(2025, 6, 2)
"""The date the hand-made histories are written as of (their ``as_of``)."""
DATE_FIELDS = frozenset({"as_of", "birth_date", "onset", "start", "end", "date"})

FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Eli",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kai",
    "Lena",
    "Milo",
    "Nina",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Vic",
]
LAST = [
    "Archer",
    "Blake",
    "Cruz",
    "Dunn",
    "Ellis",
    "Frost",
    "Grant",
    "Hale",
    "Iqbal",
    "Jones",
    "Khan",
    "Lopez",
    "Mori",
    "Novak",
    "Okafor",
    "Price",
    "Reyes",
    "Shaw",
    "Tran",
    "Voss",
]
LADDER = [
    ("sertraline", 150),
    ("escitalopram", 20),
    ("venlafaxine", 225),
    ("mirtazapine", 45),
    ("bupropion", 300),
    ("nortriptyline", 100),
    ("duloxetine", 90),
    ("phenelzine", 60),
    ("vortioxetine", 20),
    ("tranylcypromine", 40),
]
CONDITIONS = [
    "seizure_disorder",
    "uncontrolled_hypertension",
    "cochlear_implant",
    "serious_heart_disease",
    "aneurysmal_vascular_disease",
    "substance_use_disorder",
]


def _phq(rng: random.Random, level: int, suicidal: bool) -> list[int]:
    items = [max(0, min(3, level + rng.choice((-1, 0, 0, 1)))) for _ in range(8)]
    return [*items, rng.choice((1, 2)) if suicidal else 0]


def demo_histories(n: int, seed: int, today: date, years: int = 5) -> list[dict[str, Any]]:
    """``n`` varied histories spanning up to ``years`` years before ``today``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        onset = today - timedelta(days=rng.randint(60, 365 * years))
        birth = date(today.year - rng.randint(16, 80), rng.randint(1, 12), rng.randint(1, 28))
        trials = []
        start = onset + timedelta(days=rng.randint(7, 40))
        for drug, dose in LADDER[: rng.randint(0, 6)]:
            length = rng.choice((30, 45, 60, 90, 120))
            end = start + timedelta(days=length)
            if end >= today:
                break
            trials.append(
                {
                    "drug": drug,
                    "daily_dose_mg": dose * rng.choice((0.5, 1, 1)),
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "role": "antidepressant",
                    "response": rng.choice(
                        ("none", "partial", "partial", "response", "intolerance")
                    ),
                }
            )
            if rng.random() < 0.2:
                trials.append(
                    {
                        "drug": "aripiprazole",
                        "daily_dose_mg": 5,
                        "start": (start + timedelta(days=14)).isoformat(),
                        "end": end.isoformat(),
                        "role": "augmentation",
                        "response": "partial",
                    }
                )
            start = end + timedelta(days=rng.randint(3, 30))
        measurements = []
        level = rng.randint(1, 3)
        suicidal = rng.random() < 0.08
        day = onset + timedelta(days=3)
        while day <= today:
            measurements.append(
                {
                    "instrument": "PHQ-9",
                    "date": day.isoformat(),
                    "items": _phq(rng, level, suicidal and day + timedelta(30) > today),
                }
            )
            level = max(0, min(3, level + rng.choice((-1, 0, 0, 0, 1))))
            day += timedelta(days=rng.choice((14, 28, 42)))
        procedures = []
        if len(trials) >= 3 and rng.random() < 0.3:
            ect_start = start
            if ect_start < today - timedelta(days=30):
                procedures.append(
                    {
                        "type": "ECT",
                        "start": ect_start.isoformat(),
                        "end": (ect_start + timedelta(days=28)).isoformat(),
                        "sessions": rng.randint(4, 12),
                        "response": rng.choice(("none", "partial", "response")),
                    }
                )
        psychotherapy = []
        if rng.random() < 0.4:
            ps = onset + timedelta(days=rng.randint(10, 90))
            if ps < today:
                psychotherapy.append(
                    {
                        "type": "CBT",
                        "start": ps.isoformat(),
                        "end": None,
                        "sessions": rng.randint(4, 20),
                    }
                )
        out.append(
            {
                "id": f"demo-{seed}-{i:05d}",
                "as_of": today.isoformat(),
                "patient": {
                    "birth_date": birth.isoformat(),
                    "sex": rng.choice(("female", "male")),
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "mrn": f"MRN{seed % 1000:03d}{i:06d}",
                },
                "episode": {
                    "onset": onset.isoformat(),
                    "severity": rng.choice(("mild", "moderate", "moderate", "severe")),
                    "psychotic_features": rng.random() < 0.05,
                    "recurrent": rng.random() < 0.5,
                },
                "conditions": rng.sample(CONDITIONS, k=rng.choice((0, 0, 0, 1))),
                "medication_trials": trials,
                "psychotherapy": psychotherapy,
                "procedures": procedures,
                "measurements": measurements,
            }
        )
    return out


def _moved(value: Any, days: timedelta) -> Any:
    """A document with every date field moved by ``days`` (ages and durations unchanged)."""
    if isinstance(value, dict):
        return {
            key: str(date.fromisoformat(item) + days)
            if key in DATE_FIELDS and isinstance(item, str)
            else _moved(item, days)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_moved(item, days) for item in value]
    return value


def hand_made_histories(today: date) -> list[dict[str, Any]]:
    """The packaged demo histories, moved so that their ``as_of`` is ``today``."""
    return [
        _moved(json.loads(path.read_text(encoding="utf-8")), today - REFERENCE)
        for path in sorted(HAND_MADE.glob("*.json"))
    ]


class DemoLogin:
    def __init__(self, email: str, password: str, created: bool) -> None:
        self.email, self.password, self.created = email, password, created


def seed_demo(
    store: Store,
    kb: KnowledgeBase,
    today: date,
    patients_n: int = 24,
    settings: Settings | None = None,
) -> DemoLogin:
    """Create the demo clinic once; always give its users a fresh password, returned."""
    password = accounts.generate_password()
    with store.reading() as session:
        clinic = session.scalars(select(Clinic).where(Clinic.name == DEMO_CLINIC)).first()
    created = clinic is None
    if clinic is None:
        clinic = accounts.add_clinic(store, DEMO_CLINIC)
    cli = Actor.command_line(clinic.id)
    for email, name, role in DEMO_USERS:
        with store.reading() as session:
            exists = session.scalars(select(User).where(User.email == email)).first()
        if exists is None:
            accounts.add_user(store, cli, email=email, name=name, role=role, password=password)
        else:
            accounts.set_password(store, cli, email, password)
            accounts.set_active(store, cli, email, True)
    with store.reading() as session:
        has_patients = (
            session.scalars(select(Patient.pk).where(Patient.clinic_id == clinic.id)).first()
            is not None
        )
    if not has_patients:
        owner = DEMO_USERS[1][0]
        settings = settings or Settings()
        days = settings.adequate_trial_days
        for doc in hand_made_histories(today):
            patients.import_patient(
                store, cli, kb, doc, today, clinician=owner, adequate_trial_days=days
            )
        for doc in demo_histories(patients_n, seed=7, today=today, years=4):
            patients.import_patient(
                store, cli, kb, doc, today, clinician=owner, adequate_trial_days=days
            )
        codes = fhir_codes_for(settings)
        for bundle in demo_measures.measure_bundles(kb, codes, today):
            fhir.import_fhir_patient(
                store,
                cli,
                kb,
                codes,
                bundle,
                today,
                clinician=owner,
                name="demo",
                adequate_trial_days=days,
            )
        demo_courses.seed_courses(store, cli, kb, settings, today)
    return DemoLogin(DEMO_USERS[0][0], password, created)
