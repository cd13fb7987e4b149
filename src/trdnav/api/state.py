"""What the API's requests share: settings, the store, the knowledge base, the token key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from trdnav.cds.auth import KeySets
from trdnav.cds.decisions import DecisionCache
from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.clinic.assessment_cache import AssessmentCache
from trdnav.core.knowledge import KnowledgeBase
from trdnav.fhir.codes import FhirCodes
from trdnav.service import fhir_codes_for
from trdnav.settings import Settings
from trdnav.store.database import Store

__all__ = ["AppState"]


@dataclass
class AppState:
    settings: Settings
    store: Store
    kb: KnowledgeBase
    _key: str | None = field(default=None, repr=False)
    cds_keys: KeySets = field(default_factory=KeySets, repr=False)
    """The CDS clients' public keys (fetched JWKS are cached per process)."""
    assessments: AssessmentCache = field(init=False, repr=False)
    """Assessments by patient version, per process (see :mod:`trdnav.clinic.assessment_cache`)."""
    cds_decisions: DecisionCache = field(init=False, repr=False)
    """CDS ``patient-view`` answers by prefetch content, per process (see
    :mod:`trdnav.cds.decisions`)."""

    def __post_init__(self) -> None:
        self.assessments = AssessmentCache(self.settings.assessment_cache_size)
        self.cds_decisions = DecisionCache(self.settings.cds_cache_size)

    def token_key(self) -> str:
        if self._key is None:
            self._key = accounts.token_key(self.store, self.settings)
        return self._key

    def today(self, actor: Actor | None = None) -> date:
        """Today in the time zone of ``actor``'s clinic (else the server's)."""
        return self.settings.today(actor.timezone if actor is not None else None)

    @property
    def codes(self) -> FhirCodes:
        """The FHIR codes of the knowledge base (loaded once per process)."""
        return fhir_codes_for(self.settings)
