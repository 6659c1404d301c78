"""Calling a service as the bot does: inside a unit of work (bot.core.db), claimed for an
update when one is given, committed when it returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from bot.core.db import Database, UnitOfWork
from bot.core.effects import Effects

P = ParamSpec("P")
T = TypeVar("T")


async def once(
    db: Database,
    work: Callable[Concatenate[UnitOfWork, P], Awaitable[T]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`work(unit, ...)` in a unit of work of its own; `update_id=` claims that update
    (AlreadyProcessed when it was claimed before)."""
    result, _ = await with_effects(db, work, *args, **kwargs)
    return result


async def with_effects(
    db: Database,
    work: Callable[Concatenate[UnitOfWork, P], Awaitable[T]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> tuple[T, Effects]:
    """The same, and the effects the unit of work collected."""
    update_id: Any = kwargs.pop("update_id", None)
    async with db.unit(update_id) as unit:
        result = await work(unit, *args, **kwargs)
    return result, unit.effects
