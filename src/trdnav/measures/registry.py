"""The measures trdnav implements, by id: the code side of each ``measures/<id>.yaml``."""

from __future__ import annotations

from typing import Any

from trdnav.measures import cms2, cms159
from trdnav.measures.measure import MeasureLogic

__all__ = ["LOGIC"]

LOGIC: dict[str, MeasureLogic[Any]] = {logic.id: logic for logic in (cms159.LOGIC, cms2.LOGIC)}
