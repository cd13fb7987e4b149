"""A server process settled for serving (``settle``, as ``trdnav serve`` workers are)."""

import gc

from trdnav.api.app import GC_YOUNG_THRESHOLD, create_app, settle
from trdnav.settings import Settings


def test_a_settled_process_freezes_what_it_has_loaded_and_collects_less_often(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'trdnav.db'}"))
    before = gc.get_threshold()
    try:
        settle(app)
        assert gc.get_freeze_count() > 100_000  # the knowledge base and the FHIR codes
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        # a reference cycle is still collected once enough objects have piled up
        collected: list[int] = []

        def count(phase, info):
            if phase == "stop":
                collected.append(info["collected"])

        gc.callbacks.append(count)
        try:
            for _ in range(2 * GC_YOUNG_THRESHOLD):
                cycle: list[object] = []
                cycle.append(cycle)
        finally:
            gc.callbacks.remove(count)
        assert sum(collected) > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
