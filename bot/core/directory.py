"""Registered chats and known people (the `chats` and `people` tables): seeded from the
configuration, changed by commands."""

from __future__ import annotations

import logging

from bot.core.config import Settings
from bot.core.db import Database, Row, Tx, UnitOfWork, to_db_time, utcnow
from bot.core.models import Chat, ChatKind, Country, Person, Role

log = logging.getLogger(__name__)


def _chat(row: Row, prefix: str = "") -> Chat:
    return Chat(
        id=row[f"{prefix}id"],
        name=row[f"{prefix}name"],
        kind=ChatKind(row[f"{prefix}kind"]),
        country=Country(row[f"{prefix}country"]),
        languages=tuple(row[f"{prefix}languages"].split(",")),
        agency=row[f"{prefix}agency"],
        timezone=row[f"{prefix}timezone"],
    )


def _person(row: Row, prefix: str = "") -> Person:
    return Person(
        id=row[f"{prefix}id"],
        name=row[f"{prefix}name"],
        username=row[f"{prefix}username"],
        roles=frozenset(Role(r) for r in row[f"{prefix}roles"].split(",") if r),
        country=Country(row[f"{prefix}country"]) if row[f"{prefix}country"] else None,
        agency=row[f"{prefix}agency"],
        language=row[f"{prefix}language"],
        telegram_language=row[f"{prefix}tg_language"],
    )


async def seed(db: Database, settings: Settings) -> None:
    """Apply the configuration's chats and people.

    A new entry is inserted. An existing one is overwritten only when its entry in the file
    changed since it was last applied: the database keeps what commands changed, but an
    admin who edits the file gets what they wrote.
    """
    now = to_db_time(utcnow())
    async with db.unit() as tx:
        for chat in settings.chats:
            seed_json = chat.model_dump_json()
            row = await tx.one("SELECT seed FROM chats WHERE id = ?", (chat.id,))
            if row is not None and row["seed"] == seed_json:
                continue
            if row is None:
                moved = await tx.one("SELECT id FROM chats WHERE seed = ?", (seed_json,))
                if moved is not None:
                    # the group became a supergroup: the database follows its new id
                    log.warning(
                        "event=chat_moved config_id=%d id=%d hint=update the id in the config",
                        chat.id,
                        moved["id"],
                    )
                    continue
            values = (
                chat.name,
                chat.kind.value,
                chat.country.value,
                ",".join(chat.languages),
                chat.agency,
                chat.timezone or settings.i18n.timezone,
                seed_json,
            )
            if row is None:
                await tx.execute(
                    "INSERT INTO chats (name, kind, country, languages, agency, timezone, seed,"
                    " id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, chat.id, now),
                )
            else:
                await tx.execute(
                    "UPDATE chats SET name = ?, kind = ?, country = ?, languages = ?, agency = ?,"
                    " timezone = ?, seed = ? WHERE id = ?",
                    (*values, chat.id),
                )
        for person in settings.people:
            seed_json = person.model_dump_json()
            row = await tx.one("SELECT seed FROM people WHERE id = ?", (person.id,))
            if row is not None and row["seed"] == seed_json:
                continue
            person_values: tuple[object, ...] = (
                person.name,
                person.username,
                ",".join(person.roles),
                person.country.value if person.country else None,
                person.agency,
                person.language,
                seed_json,
            )
            if row is None:
                await tx.execute(
                    "INSERT INTO people (name, username, roles, country, agency, language, seed,"
                    " id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*person_values, person.id, now),
                )
            else:
                await tx.execute(
                    "UPDATE people SET name = ?, username = ?, roles = ?, country = ?,"
                    " agency = ?, language = ?, seed = ? WHERE id = ?",
                    (*person_values, person.id),
                )


async def get_chat(db: Database, chat_id: int) -> Chat | None:
    async with db.read() as tx:
        return await registered_chat_in(tx, chat_id)


async def registered_chat_in(tx: Tx, chat_id: int) -> Chat | None:
    """A registered chat, reachable or not."""
    row = await tx.one("SELECT * FROM chats WHERE id = ?", (chat_id,))
    return _chat(row) if row else None


async def get_person(db: Database, person_id: int) -> Person | None:
    async with db.read() as tx:
        return await person_in(tx, person_id)


# The gate's one statement: the person acting and the chat, each NULL when unknown. Columns
# are named apart (both tables have id, name, country, agency).
_GATE_LOOKUP = (
    "SELECT p.id AS p_id, p.name AS p_name, p.username AS p_username, p.roles AS p_roles,"
    " p.country AS p_country, p.agency AS p_agency, p.language AS p_language,"
    " p.tg_language AS p_tg_language, p.seed AS p_seed,"
    " c.id AS c_id, c.name AS c_name, c.kind AS c_kind, c.country AS c_country,"
    " c.languages AS c_languages, c.agency AS c_agency, c.timezone AS c_timezone"
    " FROM (SELECT 1 AS one) AS gate"
    " LEFT JOIN people p ON p.id = ?"
    " LEFT JOIN chats c ON c.id = ?"
)


async def gate_lookup(
    unit: UnitOfWork, *, person_id: int, chat_id: int | None
) -> tuple[Person | None, Chat | None]:
    """What the gate needs for one update, in one statement: who acts, and the registered
    chat (None for a private chat or an unknown one). The person's row is remembered in the
    unit, so that keeping it current (ensure_person) writes only when something changed."""
    row = await unit.one(_GATE_LOOKUP, (person_id, chat_id))
    assert row is not None  # one row, whatever matched
    person = None
    if row["p_id"] is not None:
        person = _person(row, "p_")
        unit.people_read[person_id] = (
            row["p_name"],
            row["p_username"],
            row["p_tg_language"],
            row["p_seed"] is not None,
        )
    chat = _chat(row, "c_") if row["c_id"] is not None else None
    return person, chat


async def person_in(tx: Tx, person_id: int) -> Person | None:
    row = await tx.one("SELECT * FROM people WHERE id = ?", (person_id,))
    return _person(row) if row else None


async def find_by_username(tx: Tx, username: str) -> Person | None:
    row = await tx.one(
        "SELECT * FROM people WHERE lower(username) = lower(?)", (username.lstrip("@"),)
    )
    return _person(row) if row else None


async def ensure_person(
    tx: Tx, person_id: int, name: str, username: str | None, language: str | None = None
) -> None:
    """Make sure someone who acts in a registered chat has a row (timeline authors), keeping
    their name, username and Telegram language current. Nothing is written when the row this
    unit read (the gate) already says so."""
    if isinstance(tx, UnitOfWork):
        stored = tx.people_read.get(person_id)
        if stored is not None and _unchanged(stored, name, username, language):
            return
        tx.people_read.pop(person_id, None)  # written below: no longer as it was read
    await tx.execute(
        "INSERT INTO people (id, name, username, tg_language, created_at) VALUES (?, ?, ?, ?, ?)"
        # a configured name ("Cdt Dubois, SDIS 59") wins over the Telegram display name
        " ON CONFLICT (id) DO UPDATE SET"
        " name = CASE WHEN people.seed IS NULL THEN excluded.name ELSE people.name END,"
        " username = COALESCE(excluded.username, people.username),"
        " tg_language = COALESCE(excluded.tg_language, people.tg_language)",
        (person_id, name, username, language, to_db_time(utcnow())),
    )


def _unchanged(
    stored: tuple[str, str | None, str | None, bool],
    name: str,
    username: str | None,
    language: str | None,
) -> bool:
    """Whether ensure_person's upsert would leave the stored row as it is."""
    stored_name, stored_username, stored_language, seeded = stored
    return (
        (seeded or name == stored_name)
        and (username is None or username == stored_username)
        and (language is None or language == stored_language)
    )


async def set_language(
    unit: UnitOfWork, person_id: int, name: str, username: str | None, language: str
) -> None:
    await ensure_person(unit, person_id, name, username)
    await unit.execute("UPDATE people SET language = ? WHERE id = ?", (language, person_id))


async def set_chat_languages(unit: UnitOfWork, chat_id: int, languages: list[str]) -> None:
    await unit.execute(
        "UPDATE chats SET languages = ? WHERE id = ?", (",".join(languages), chat_id)
    )


async def chat_names(db: Database) -> dict[int, str]:
    async with db.read() as tx:
        rows = await tx.all("SELECT id, name FROM chats")
    return {row["id"]: row["name"] for row in rows}


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup with a new id (told twice by Telegram, and again by a
    refused call: idempotent)."""
    exists = await unit.one("SELECT 1 FROM chats WHERE id = ?", (new_id,))
    if exists is None:
        await unit.execute("UPDATE chats SET id = ? WHERE id = ?", (new_id, old_id))


async def mark_unreachable(unit: UnitOfWork, chat_id: int) -> bool:
    """The bot was blocked or removed there. True the first time."""
    changed = await unit.execute(
        "UPDATE chats SET unreachable_at = ? WHERE id = ? AND unreachable_at IS NULL",
        (to_db_time(utcnow()), chat_id),
    )
    return changed > 0


async def reinstate(unit: UnitOfWork, chat_id: int) -> bool:
    """The bot can write to this chat again. True if it was marked unreachable."""
    changed = await unit.execute(
        "UPDATE chats SET unreachable_at = NULL WHERE id = ? AND unreachable_at IS NOT NULL",
        (chat_id,),
    )
    return changed > 0


async def chat_name_in(tx: Tx, chat_id: int) -> str:
    row = await tx.one("SELECT name FROM chats WHERE id = ?", (chat_id,))
    return row["name"] if row else str(chat_id)


async def liaison_chats(tx: Tx, country: Country | None = None) -> list[Chat]:
    """Chats of kind liaison (of one country, or all) that can still be reached."""
    rows = await tx.all(
        "SELECT * FROM chats WHERE kind = ? AND unreachable_at IS NULL"
        + (" AND country = ?" if country else "")
        + " ORDER BY id",
        (ChatKind.LIAISON.value, country.value) if country else (ChatKind.LIAISON.value,),
    )
    return [_chat(row) for row in rows]


async def chat_in(tx: Tx, chat_id: int) -> Chat | None:
    """A registered chat that can still be reached."""
    row = await tx.one("SELECT * FROM chats WHERE id = ? AND unreachable_at IS NULL", (chat_id,))
    return _chat(row) if row else None


async def reachable_chats(tx: Tx, kind: ChatKind | None = None) -> list[Chat]:
    if kind is None:
        rows = await tx.all("SELECT * FROM chats WHERE unreachable_at IS NULL ORDER BY id")
    else:
        rows = await tx.all(
            "SELECT * FROM chats WHERE unreachable_at IS NULL AND kind = ? ORDER BY id",
            (kind.value,),
        )
    return [_chat(row) for row in rows]
