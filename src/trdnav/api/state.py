"""What the API's requests share: settings, the store, the knowledge base, the token key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from trdnav.clinic import accounts
from trdnav.core.knowledge import KnowledgeBase
from trdnav.settings import Settings
from trdnav.store.database import Store

__all__ = ["AppState"]


@dataclass
class AppState:
    settings: Settings
    store: Store
    kb: KnowledgeBase
    _key: str | None = field(default=None, repr=False)

    def token_key(self) -> str:
        if self._key is None:
            self._key = accounts.token_key(self.store, self.settings)
        return self._key

    def today(self) -> date:
        return self.settings.today()
