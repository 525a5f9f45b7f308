"""The local runner's own pieces that need no pipeline run."""

import gc

from pipeline.local_runner import frozen_heap


def test_the_heap_is_frozen_for_the_run_and_thawed_after_it_even_on_failure():
    assert gc.get_freeze_count() == 0
    try:
        with frozen_heap():
            assert gc.get_freeze_count() > 0
            raise RuntimeError("a component failed")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
