"""After-action evaluations: when an incident closes, its commander (in the incident's group)
and each agency whose unit crossed the border (in the agency's chat) are asked how it went:
a rating from 1 to 5 with buttons, then what went well and what to improve, as a reply."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.db import Database, Row, Tx, UnitOfWork, from_db_time, to_db_time, utcnow
from bot.core.directory import chat_in, ensure_person
from bot.core.errors import UserError
from bot.core.i18n import N_, each_language
from bot.core.models import Author, Chat, ChatKind, Evaluation, Incident, Role
from bot.core.text import clean_text
from bot.delivery.outbox import enqueue
from bot.incidents.service import incident_in
from bot.render.keyboards import rating_keyboard
from bot.render.report import evaluation_question
from bot.resources import requests

MAX_COMMENT = 2000
COMMAND = ""  # the party of the commander's evaluation


def _evaluation(row: Row) -> Evaluation:
    return Evaluation(
        id=row["id"],
        incident_ref=row["incident_id"],
        party=row["party"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        rating=row["rating"],
        comment=row["comment"],
        person=row["person"],
        asked_at=from_db_time(row["asked_at"]),
        answered_at=from_db_time(row["answered_at"]) if row["answered_at"] else None,
    )


_SELECT = "SELECT e.*, p.name AS person FROM evaluations e LEFT JOIN people p ON p.id = e.person_id"


async def _agency_chat(tx: Tx, agency: str) -> Chat | None:
    rows = await tx.all(
        "SELECT id FROM chats WHERE kind = ? AND lower(agency) = lower(?) ORDER BY id",
        (ChatKind.AGENCY.value, agency),
    )
    for row in rows:
        chat = await chat_in(tx, row["id"])
        if chat is not None:
            return chat
    return None


def _question(incident: Incident, party: str, languages: Sequence[str]) -> str:
    return each_language(languages, lambda tr: evaluation_question(tr, incident, party))


async def ask(unit: UnitOfWork, ref: int) -> int:
    """Ask for the evaluations of a closed incident (once: asking again does nothing).
    Returns how many questions were queued."""
    queued = 0
    incident = await incident_in(unit, ref)
    if incident is None or incident.is_open:
        return 0
    parties: list[tuple[str, Chat | None]] = [(COMMAND, await chat_in(unit, incident.chat_id))]
    for agency in await requests.crossing_agencies_in(unit, incident):
        parties.append((agency, await _agency_chat(unit, agency)))
    now = to_db_time(utcnow())
    for party, chat in parties:
        if chat is None:
            continue
        exists = await unit.one(
            "SELECT 1 FROM evaluations WHERE incident_id = ? AND party = ?", (ref, party)
        )
        if exists is not None:
            continue
        evaluation_id = await unit.execute(
            "INSERT INTO evaluations (incident_id, party, chat_id, asked_at) VALUES (?, ?, ?, ?)",
            (ref, party, chat.id, now),
        )
        await enqueue(
            unit,
            chat_id=chat.id,
            html=_question(incident, party, chat.languages),
            purpose="evaluation",
            reply_markup=rating_keyboard(evaluation_id),
            # linked to the incident as an evaluation question: a reply to it is the
            # evaluation's comment, not a note for the closed incident's timeline
            incident_ref=ref,
            subject_id=evaluation_id,
            key=f"evaluation:{evaluation_id}",
        )
        queued += 1
    return queued


async def on_delivered(tx: UnitOfWork, row: Row, message_id: int) -> None:
    """The question is in the chat: a reply to it is the evaluation's comment."""
    await tx.execute(
        "UPDATE evaluations SET message_id = ? WHERE id = ?", (message_id, row["subject_id"])
    )


async def get(db: Database, evaluation_id: int) -> Evaluation | None:
    async with db.read() as tx:
        row = await tx.one(_SELECT + " WHERE e.id = ?", (evaluation_id,))
    return _evaluation(row) if row else None


async def of_incident_in(tx: Tx, ref: int) -> list[Evaluation]:
    rows = await tx.all(_SELECT + " WHERE e.incident_id = ? ORDER BY e.party, e.id", (ref,))
    return [_evaluation(r) for r in rows]


async def _check(
    tx: Tx, evaluation_id: int, author: Author, chat_id: int
) -> tuple[Evaluation, Incident]:
    row = await tx.one(_SELECT + " WHERE e.id = ?", (evaluation_id,))
    if row is None or row["chat_id"] != chat_id:
        raise UserError(N_("This button is no longer valid."))
    evaluation = _evaluation(row)
    incident = await incident_in(tx, evaluation.incident_ref)
    assert incident is not None
    if evaluation.party == COMMAND:
        # the command's evaluation is the commander's (or an admin's)
        person = await tx.one("SELECT roles FROM people WHERE id = ?", (author.id,))
        roles = set((person["roles"] if person else "").split(","))
        is_commander = incident.commander is not None and incident.commander.id == author.id
        if not is_commander and Role.ADMIN.value not in roles:
            raise UserError(N_("Only the incident's commander may give the evaluation here."))
    return evaluation, incident


async def rate(
    unit: UnitOfWork,
    *,
    evaluation_id: int,
    rating: int,
    author: Author,
    chat_id: int,
) -> Evaluation:
    if not 1 <= rating <= 5:
        raise UserError(N_("A rating is from 1 to 5."))
    await ensure_person(unit, author.id, author.name, author.username, author.language)
    await _check(unit, evaluation_id, author, chat_id)
    await unit.execute(
        "UPDATE evaluations SET rating = ?, person_id = ?, answered_at = ? WHERE id = ?",
        (rating, author.id, to_db_time(utcnow()), evaluation_id),
    )
    row = await unit.one(_SELECT + " WHERE e.id = ?", (evaluation_id,))
    assert row is not None
    return _evaluation(row)


async def comment(
    unit: UnitOfWork,
    *,
    evaluation_id: int,
    text: str,
    author: Author,
    chat_id: int,
) -> Evaluation:
    text = clean_text(text, MAX_COMMENT, N_("comment"))
    await ensure_person(unit, author.id, author.name, author.username, author.language)
    evaluation, _ = await _check(unit, evaluation_id, author, chat_id)
    joined = f"{evaluation.comment}\n{text}" if evaluation.comment else text
    await unit.execute(
        "UPDATE evaluations SET comment = ?, person_id = COALESCE(person_id, ?),"
        " answered_at = ? WHERE id = ?",
        (joined[:MAX_COMMENT], author.id, to_db_time(utcnow()), evaluation_id),
    )
    row = await unit.one(_SELECT + " WHERE e.id = ?", (evaluation_id,))
    assert row is not None
    return _evaluation(row)


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: the evaluations asked there follow it."""
    await unit.execute("UPDATE evaluations SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
