"""The live events ask, at each batch of changes, which changed incidents each open board's
person may see: the answer is kept a while per person and incident, so 200 open boards do not
mean 200 reads five times a second."""

from __future__ import annotations

from typing import Any

import pytest

from bot.board import access as board_access
from bot.board.access import Access
from bot.core import directory
from bot.core.db import Database
from bot.core.models import Author
from bot.incidents import service as incidents
from tests.conftest import COMMANDER, OPS_BILINGUAL
from tests.units import once

UNKNOWN_PERSON = 999_999  # nobody the bot knows
BOSS = Author(COMMANDER, "Marc Delattre", "mdelattre")


async def test_visibility_is_read_once_per_person_and_incident(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = await directory.get_chat(db, OPS_BILINGUAL)
    assert chat is not None
    first = await once(db, incidents.declare, chat=chat, title="A", author=BOSS, exercise=False)
    reads: list[set[int]] = []
    real = board_access.visible_in

    async def counted(tx: Any, viewer: Any, refs: Any) -> set[int]:
        reads.append(set(refs))
        return await real(tx, viewer, refs)

    monkeypatch.setattr(board_access, "visible_in", counted)
    seen = Access(db)
    assert await seen.visible(COMMANDER, {first.ref}) == {first.ref}
    assert await seen.visible(COMMANDER, {first.ref}) == {first.ref}
    assert reads == [{first.ref}]  # the second answer was kept
    # an incident not asked about before is read, alone
    second = await once(db, incidents.declare, chat=chat, title="B", author=BOSS, exercise=False)
    assert await seen.visible(COMMANDER, {first.ref, second.ref}) == {first.ref, second.ref}
    assert reads == [{first.ref}, {second.ref}]
    # a stranger sees nothing, and nothing is kept for them
    assert await seen.visible(UNKNOWN_PERSON, {first.ref}) == set()
    # after KNOWN_FOR, it is read again
    monkeypatch.setattr(board_access, "KNOWN_FOR", -1.0)
    assert await seen.visible(COMMANDER, {first.ref}) == {first.ref}
    assert reads[-1] == {first.ref} and len(reads) == 3
