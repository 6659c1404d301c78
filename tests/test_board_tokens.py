"""The board's personal links (bot.board.tokens): issued, verified, expired, revoked; stored
hashed, bound to one person."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from bot.board import tokens
from bot.core.db import Database, SqliteDatabase, to_db_time, utcnow
from tests.conftest import COMMANDER, LIAISON
from tests.units import once


async def _verify(db: Database, token: str) -> int | None:
    async with db.read() as tx:
        return await tokens.verify_in(tx, token)


async def _write(db: Database, sql: str, params: tuple[object, ...]) -> None:
    async with db.unit() as unit:
        await unit.execute(sql, params)


async def _state(db: Database, token: str) -> tuple[str, int | None]:
    async with db.read() as tx:
        return await tokens.state_in(tx, token)


async def test_a_token_opens_the_board_for_its_person_only(db: Database) -> None:
    mine = await once(db, tokens.issue, COMMANDER, 30)
    theirs = await once(db, tokens.issue, LIAISON, 30)
    assert mine != theirs and tokens.well_formed(mine)
    assert await _verify(db, mine) == COMMANDER
    assert await _verify(db, theirs) == LIAISON
    # stored hashed: the token itself is nowhere in the database
    async with db.read() as tx:
        rows = await tx.all("SELECT * FROM board_tokens")
    assert {r["token_hash"] for r in rows} == {
        hashlib.sha256(t.encode()).hexdigest() for t in (mine, theirs)
    }
    dump = "\n".join(repr(tuple(r)) for r in rows)
    assert mine not in dump and theirs not in dump
    if isinstance(db, SqliteDatabase):
        dump = "\n".join(db.conn.iterdump())
        assert mine not in dump and theirs not in dump


async def test_unknown_malformed_and_altered_tokens_open_nothing(db: Database) -> None:
    token = await once(db, tokens.issue, COMMANDER, 30)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for junk in (altered, "", "x", token + "A", token[:20], "é" * 43, "../" * 20, "A" * 10_000):
        assert await _verify(db, junk) is None, junk
        assert await _state(db, junk) == ("unknown", None)


async def test_a_token_expires(db: Database) -> None:
    token = await once(db, tokens.issue, COMMANDER, 1)
    assert await _state(db, token) == ("valid", COMMANDER)
    await _write(
        db, "UPDATE board_tokens SET expires_at = ?", (to_db_time(utcnow() - timedelta(seconds=1)),)
    )
    assert await _verify(db, token) is None
    assert await _state(db, token) == ("expired", COMMANDER)


async def test_revoke_ends_every_token_of_the_person_and_no_one_elses(db: Database) -> None:
    first = await once(db, tokens.issue, COMMANDER, 30)
    second = await once(db, tokens.issue, COMMANDER, 30)
    other = await once(db, tokens.issue, LIAISON, 30)
    assert await once(db, tokens.revoke, COMMANDER) == 2
    assert await _verify(db, first) is None and await _verify(db, second) is None
    assert await _state(db, first) == ("revoked", COMMANDER)
    assert await _verify(db, other) == LIAISON
    # again: nothing left to revoke
    assert await once(db, tokens.revoke, COMMANDER) == 0
    # a new link after revoking works
    third = await once(db, tokens.issue, COMMANDER, 30)
    assert await _verify(db, third) == COMMANDER


async def test_days_are_bounded(db: Database) -> None:
    token = await once(db, tokens.issue, COMMANDER, 10**6)
    async with db.read() as tx:
        row = await tx.one("SELECT created_at, expires_at FROM board_tokens")
    assert row is not None
    assert row[1] <= to_db_time(utcnow() + timedelta(days=tokens.MAX_DAYS))
    assert await _verify(db, token) == COMMANDER


async def test_tokens_long_expired_or_revoked_are_forgotten(db: Database) -> None:
    old = await once(db, tokens.issue, COMMANDER, 30)
    revoked = await once(db, tokens.issue, LIAISON, 30)
    fresh = await once(db, tokens.issue, COMMANDER, 30)
    long_ago = to_db_time(utcnow() - timedelta(days=100))
    await _write(
        db,
        "UPDATE board_tokens SET expires_at = ? WHERE token_hash = ?",
        (long_ago, hashlib.sha256(old.encode()).hexdigest()),
    )
    await once(db, tokens.revoke, LIAISON)
    await _write(
        db, "UPDATE board_tokens SET revoked_at = ? WHERE person_id = ?", (long_ago, LIAISON)
    )
    assert await once(db, tokens.forget_expired) == 2
    assert await _state(db, old) == ("unknown", None)
    assert await _state(db, revoked) == ("unknown", None)
    assert await _verify(db, fresh) == COMMANDER
