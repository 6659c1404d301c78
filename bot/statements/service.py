"""One voice to the media (the `statements` table): statements are drafted by commanders and
liaison officers, approved (or written) by the incident's spokesperson, and only then published
to the media chats. Nobody else can speak to the media through Passerelle."""

from __future__ import annotations

import json

from bot.core.db import Database, Row, Tx, UnitOfWork, from_db_time, to_db_time, utcnow
from bot.core.directory import chat_in, ensure_person, person_in, reachable_chats
from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import (
    Author,
    ChatKind,
    Incident,
    PersonRef,
    Statement,
    StatementStatus,
    TimelineKind,
)
from bot.core.text import split_languages
from bot.core.vocabulary import STATUS_LABEL
from bot.delivery.outbox import enqueue
from bot.incidents import service as incidents
from bot.render.keyboards import statement_keyboard
from bot.render.statements import render_decision_notice, render_draft, render_statement

MAX_STATEMENT = 3000
# For a spokesperson whose language Passerelle never learnt: the region's first language.
DEFAULT_LANGUAGE = "fr"


def parse_texts(raw: str) -> dict[str, str]:
    return split_languages(raw, MAX_STATEMENT, N_("statement"))


async def _statement(tx: Tx, row: Row) -> Statement:
    incident = await incidents.incident_in(tx, row["incident_id"])
    assert incident is not None
    author = await person_in(tx, row["author_id"])
    decider = await person_in(tx, row["decided_by"]) if row["decided_by"] else None
    return Statement(
        id=row["id"],
        incident=incident,
        author=PersonRef(id=row["author_id"], name=author.name if author else "?"),
        origin_chat_id=row["origin_chat_id"],
        texts=json.loads(row["texts"]),
        version=row["version"],
        status=row["status"],
        decided_by=PersonRef(id=decider.id, name=decider.name) if decider else None,
        decided_at=from_db_time(row["decided_at"]) if row["decided_at"] else None,
        created_at=from_db_time(row["created_at"]),
    )


async def _load(tx: Tx, statement_id: int) -> Statement:
    row = await tx.one("SELECT * FROM statements WHERE id = ?", (statement_id,))
    if row is None:
        raise UserError(N_("There is no statement #{id}."), id=statement_id)
    return await _statement(tx, row)


def _require_spokesperson(incident: Incident) -> PersonRef:
    if incident.spokesperson is None:
        raise UserError(
            N_(
                "Incident #{ref} has no spokesperson. The commander names one with "
                "/assign spokesperson."
            ),
            ref=incident.ref,
        )
    return incident.spokesperson


async def propose(
    unit: UnitOfWork,
    *,
    incident_ref: int,
    author: Author,
    origin_chat_id: int,
    texts: dict[str, str],
) -> Statement:
    """A draft from a commander or liaison officer, or a statement published at once when
    the author is the incident's spokesperson."""
    incident = await incidents.incident_in(unit, incident_ref)
    if incident is None or not incident.is_open:
        raise UserError(N_("There is no open incident #{ref}."), ref=incident_ref)
    spokesperson = _require_spokesperson(incident)
    await ensure_person(unit, author.id, author.name, author.username, author.language)
    now = to_db_time(utcnow())
    statement_id = await unit.execute(
        "INSERT INTO statements (incident_id, author_id, origin_chat_id, texts, status,"
        " spokesperson_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            incident.ref,
            author.id,
            origin_chat_id,
            json.dumps(texts),
            StatementStatus.DRAFT,
            spokesperson.id,
            now,
        ),
    )
    statement = await _load(unit, statement_id)
    if spokesperson.id == author.id:
        return await _publish(unit, statement, author)
    await _send_draft(unit, statement, spokesperson)
    return statement


async def _send_draft(tx: UnitOfWork, statement: Statement, spokesperson: PersonRef) -> None:
    person = await person_in(tx, spokesperson.id)
    # the spokesperson reads it privately, in their own language
    language = person.reads(DEFAULT_LANGUAGE) if person else DEFAULT_LANGUAGE
    await enqueue(
        tx,
        chat_id=spokesperson.id,
        purpose="statement_draft",
        subject_id=statement.id,
        html=render_draft(statement, language),
        reply_markup=statement_keyboard(statement.id, statement.version, language),
        key=f"draft:{statement.id}:{statement.version}",
    )


async def _publish(tx: UnitOfWork, statement: Statement, approver: Author) -> Statement:
    now = to_db_time(utcnow())
    await tx.execute(
        "UPDATE statements SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
        (StatementStatus.PUBLISHED, approver.id, now, statement.id),
    )
    published = await _load(tx, statement.id)
    media = await reachable_chats(tx, ChatKind.MEDIA)
    for chat in media:
        await enqueue(
            tx,
            chat_id=chat.id,
            purpose="statement",
            subject_id=statement.id,
            html=render_statement(published, chat.languages, chat.timezone),
            key=f"statement:{statement.id}:{chat.id}",
        )
    first = next(iter(published.texts.values()))
    await incidents.record(
        tx,
        statement.incident.ref,
        TimelineKind.STATEMENT,
        approver,
        statement.origin_chat_id,
        text=first,
        field=approver.name,
    )
    await _tell_origin(tx, published)
    return published


async def _tell_origin(tx: UnitOfWork, statement: Statement) -> None:
    """The chat where the draft was written learns what became of it."""
    origin = await chat_in(tx, statement.origin_chat_id)
    if origin is None:
        return  # drafted in private: the author's private chat
    await enqueue(
        tx,
        chat_id=origin.id,
        purpose="notice",
        incident_ref=statement.incident.ref,
        html=render_decision_notice(statement, origin.languages, origin.timezone),
        key=f"decided:{statement.id}:{statement.status}:{statement.version}",
    )


async def decide(
    unit: UnitOfWork,
    *,
    statement_id: int,
    version: int,
    approve: bool,
    person: Author,
) -> Statement:
    """The spokesperson approves (publishes) or rejects the draft they were shown."""
    statement = await _load(unit, statement_id)
    _check_decider(statement, person, version)
    if approve:
        return await _publish(unit, statement, person)
    await unit.execute(
        "UPDATE statements SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
        (StatementStatus.REJECTED, person.id, to_db_time(utcnow()), statement.id),
    )
    rejected = await _load(unit, statement.id)
    await _tell_origin(unit, rejected)
    return rejected


def _check_decider(statement: Statement, person: Author, version: int) -> None:
    spokesperson = statement.incident.spokesperson
    if spokesperson is None or spokesperson.id != person.id:
        raise UserError(
            N_("Only the spokesperson of incident #{ref} ({name}) can do that."),
            ref=statement.incident.ref,
            name=spokesperson.name if spokesperson else "—",
        )
    if statement.status != StatementStatus.DRAFT:
        raise UserError(
            N_("Statement #{id} is no longer a draft: it was {status}."),
            id=statement.id,
            status=Term(STATUS_LABEL[statement.status]),
        )
    if statement.version != version:
        raise UserError(
            N_("This draft of statement #{id} was edited since: use the latest one."),
            id=statement.id,
        )


async def check_edit(tx: Tx, *, statement_id: int, version: int, person: Author) -> None:
    """The spokesperson may rewrite this draft (before they are asked for the new text)."""
    statement = await _load(tx, statement_id)
    _check_decider(statement, person, version)


def remember_edit_prompt_later(db: Database, statement_id: int, message_id: int) -> None:
    """The private message the spokesperson replies to with the new text (stored with the next
    unit of work, which the reply's own is at the latest)."""
    db.defer("UPDATE statements SET edit_prompt_id = ? WHERE id = ?", (message_id, statement_id))


async def statement_of_prompt(tx: Tx, person_id: int, message_id: int) -> int | None:
    row = await tx.one(
        "SELECT id FROM statements WHERE spokesperson_id = ? AND edit_prompt_id = ? AND status = ?",
        (person_id, message_id, StatementStatus.DRAFT),
    )
    return int(row["id"]) if row else None


async def edit(
    unit: UnitOfWork, *, statement_id: int, texts: dict[str, str], person: Author
) -> Statement:
    """The spokesperson rewrote the draft: a new version, shown again with fresh buttons."""
    statement = await _load(unit, statement_id)
    _check_decider(statement, person, statement.version)
    await unit.execute(
        "UPDATE statements SET texts = ?, version = version + 1, edit_prompt_id = NULL"
        " WHERE id = ?",
        (json.dumps(texts), statement_id),
    )
    edited = await _load(unit, statement_id)
    assert edited.incident.spokesperson is not None
    await _send_draft(unit, edited, edited.incident.spokesperson)
    return edited


async def get(db: Database, statement_id: int) -> Statement:
    async with db.read() as tx:
        return await _load(tx, statement_id)


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: the statements drafted there follow it."""
    await unit.execute(
        "UPDATE statements SET origin_chat_id = ? WHERE origin_chat_id = ?", (new_id, old_id)
    )
