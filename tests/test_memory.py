"""The collector's tuning (bot.core.memory): the bot's long-lived objects are left out of
collections once it has started, and an answer's objects die young."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core import memory


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_enlarges_the_young_generation_only(collector: None) -> None:
    gc.set_threshold(700, 10, 10)
    memory.tune()
    assert gc.get_threshold() == (memory.YOUNG, 10, 10)


def test_settle_freezes_what_is_alive_and_collects_the_rest_first(collector: None) -> None:
    gc.unfreeze()
    kept: list[Any] = [{"n": n} for n in range(1000)]
    cycle: list[Any] = []
    cycle.append(cycle)  # garbage only the collector can free
    del cycle
    memory.settle()
    assert gc.get_freeze_count() >= len(kept)
    # the cycle was collected before the freeze: nothing unreachable is kept for good
    assert not gc.garbage


async def test_the_started_bot_has_settled(harness: Any) -> None:
    assert gc.get_freeze_count() > 0
