"""Personal links to the board (`/board` in a private chat): a command post's wall screen opens
the board with a token bound to one person, for `[board] token_days`.

A token is 32 random bytes (URL-safe base64, 43 characters): unguessable, so it needs no
signature of its own. Only its SHA-256 is stored, so a copy of the database opens no board. It
expires; `/board revoke` revokes every token of its person at once. This module is the one
writer of `board_tokens`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from bot.core.db import Tx, UnitOfWork, to_db_time, utcnow

# what `issue` makes: 43 characters of URL-safe base64
_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_DAYS = 366


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token: str) -> bool:
    """Whether a string has the shape of a token (checked before any hashing or lookup)."""
    return bool(_SHAPE.fullmatch(token))


async def issue(unit: UnitOfWork, person_id: int, days: int) -> str:
    """A new token for this person, valid for `days` days (1 to MAX_DAYS); the token itself
    is returned once and never stored."""
    days = max(1, min(days, MAX_DAYS))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await unit.execute(
        "INSERT INTO board_tokens (person_id, token_hash, created_at, expires_at)"
        " VALUES (?, ?, ?, ?)",
        (person_id, _hash(token), to_db_time(now), to_db_time(now + timedelta(days=days))),
    )
    return token


async def verify_in(tx: Tx, token: str) -> int | None:
    """The person a token is bound to; None if it is malformed, unknown, expired or revoked."""
    state = await state_in(tx, token)
    return state[1] if state[0] == "valid" else None


async def state_in(tx: Tx, token: str) -> tuple[str, int | None]:
    """What a token is: ("valid", person), ("expired", person), ("revoked", person) or
    ("unknown", None), for a refusal that says why (the board's `expired`, `revoked`)."""
    if not isinstance(token, str) or not well_formed(token):
        return ("unknown", None)
    row = await tx.one(
        "SELECT person_id, expires_at, revoked_at FROM board_tokens WHERE token_hash = ?",
        (_hash(token),),
    )
    if row is None:
        return ("unknown", None)
    person_id = int(row["person_id"])
    if row["revoked_at"] is not None:
        return ("revoked", person_id)
    if row["expires_at"] <= to_db_time(utcnow()):
        return ("expired", person_id)
    return ("valid", person_id)


async def revoke(unit: UnitOfWork, person_id: int) -> int:
    """Revoke every token of this person still in force; how many were."""
    return await unit.execute(
        "UPDATE board_tokens SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL",
        (to_db_time(utcnow()), person_id),
    )


async def forget_expired(unit: UnitOfWork, older_than: timedelta = timedelta(days=90)) -> int:
    """Tokens expired or revoked long ago: dropped (housekeeping)."""
    cutoff = to_db_time(utcnow() - older_than)
    return await unit.execute(
        "DELETE FROM board_tokens WHERE expires_at < ? OR revoked_at < ?", (cutoff, cutoff)
    )
