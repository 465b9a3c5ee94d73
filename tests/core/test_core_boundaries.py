"""The core's public names, its promise to import nothing else of the package, and the
collector it pauses."""

from __future__ import annotations

import ast
import gc
import weakref
from datetime import UTC, datetime
from pathlib import Path

import pytest

import consentgate.core
from consentgate.core import Policy, World, decide_many
from consentgate.core.collector import collector_paused

CORE = Path(consentgate.core.__file__).parent


def test_all_is_sorted_and_resolves():
    assert consentgate.core.__all__ == sorted(consentgate.core.__all__)
    assert all(getattr(consentgate.core, name) for name in consentgate.core.__all__)


def test_core_imports_only_itself_the_model_and_the_standard_library():
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 or (node.module or "").startswith("model"), (
                    f"{path.name}: {node.module}"
                )
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any((name or "").startswith("consentgate") for name in names), path.name


@pytest.mark.parametrize("enabled", [True, False])
def test_a_batch_leaves_the_collector_as_it_found_it(enabled):
    (gc.enable if enabled else gc.disable)()
    try:
        decide_many(World(), [("nothing", "ai.training", datetime(2024, 1, 1, tzinfo=UTC))], Policy.default())
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("inside")
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_leaving_a_pause_does_not_walk_what_it_made():
    gc.collect()
    passes: list[int] = []
    record = lambda phase, info: passes.append(info["generation"]) if phase == "start" else None  # noqa: E731
    with collector_paused():
        made = [[index] for index in range(50_000)]
        gc.callbacks.append(record)
    try:
        # Without the hand-over to the oldest generation, the youngest would still count
        # the 50,000 lists and these few allocations would start a pass over them all.
        few = [[index] for index in range(100)]
    finally:
        gc.callbacks.remove(record)
    assert passes == []
    assert gc.get_freeze_count() == 0
    assert len(made) == 50_000 and len(few) == 100


def test_cycles_made_during_a_pause_are_still_freed_by_a_full_collection():
    class Node:
        pass

    with collector_paused():
        first, second = Node(), Node()
        first.other, second.other = second, first
        alive = weakref.ref(first)
        del first, second
    assert alive() is not None  # only the collector frees a cycle
    gc.collect()
    assert alive() is None


def test_objects_frozen_by_others_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            made = [[index] for index in range(1000)]
        # Not unfrozen (the count would be 0), nor joined by the 1,000 lists made (it
        # would grow); frozen objects that died meanwhile may have left it.
        assert 0 < gc.get_freeze_count() <= frozen and len(made) == 1000
    finally:
        gc.unfreeze()


def test_a_pause_after_freezing_does_not_count_the_frozen_objects(monkeypatch):
    from consentgate.core import collector
    from consentgate.runtime import freeze_objects

    monkeypatch.setattr(collector, "_frozen", False)  # restored after the test
    count = gc.get_freeze_count
    try:
        freeze_objects()
        frozen = count()
        assert frozen > 0 and collector._frozen

        def walks_them_all() -> int:
            raise AssertionError("counting frozen objects walks every one of them")

        monkeypatch.setattr(gc, "get_freeze_count", walks_them_all)
        with collector_paused():
            made = [[index] for index in range(1000)]
        monkeypatch.setattr(gc, "get_freeze_count", count)
        assert 0 < count() <= frozen and len(made) == 1000 and gc.isenabled()
    finally:
        gc.unfreeze()
