"""Liaison alerts (the `alerts`, `alert_targets` and `alert_acks` tables): broadcast to the
linked chats through the outbox, acknowledged per chat and per person, reminded when
unacknowledged; the liaison's tally of each alert is a live message (bot.alerts.tally)."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.core.config import AlertSettings
from bot.core.db import Database, Row, Tx, UnitOfWork, from_db_time, to_db_time, utcnow
from bot.core.directory import chat_in, ensure_person, reachable_chats
from bot.core.effects import Live, LiveKind
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import (
    Alert,
    Author,
    Chat,
    PersonRef,
    Severity,
    Tally,
    TargetState,
    TimelineKind,
)
from bot.core.text import in_language, split_languages
from bot.delivery.outbox import enqueue
from bot.incidents import service as incidents
from bot.render.alerts import render_alert, render_reminder
from bot.render.keyboards import ack_keyboard

MAX_ALERT = 1000


def parse_texts(raw: str) -> dict[str, str]:
    return split_languages(raw, MAX_ALERT, N_("alert"))


async def _alert(tx: Tx, row: Row) -> Alert:
    incident = await incidents.incident_in(tx, row["incident_id"]) if row["incident_id"] else None
    author = await tx.one(
        "SELECT name, COALESCE(language, tg_language) AS language FROM people WHERE id = ?",
        (row["author_id"],),
    )
    return Alert(
        id=row["id"],
        incident=incident,
        author=PersonRef(id=row["author_id"], name=author["name"] if author else "?"),
        severity=Severity(row["severity"]),
        # an alert stored before its author's language was: in their language now
        texts=in_language(json.loads(row["texts"]), author["language"] if author else None),
        exercise=bool(row["exercise"]),
        origin_chat_id=row["origin_chat_id"],
        tally_message_id=row["tally_message_id"],
        created_at=from_db_time(row["created_at"]),
    )


async def _targets(tx: Tx, config: AlertSettings, origin_chat_id: int) -> list[Chat]:
    chosen = []
    for chat in await reachable_chats(tx):
        if chat.id == origin_chat_id or chat.id in config.exclude:
            continue
        linked = chat.kind in config.kinds and chat.country in config.countries
        if linked or chat.id in config.chats:
            chosen.append(chat)
    return chosen


async def broadcast(
    unit: UnitOfWork,
    *,
    author: Author,
    origin_chat_id: int,
    severity: Severity,
    texts: dict[str, str],
    incident_ref: int | None,
    config: AlertSettings,
) -> Alert:
    """The alert, queued for every linked chat; its tally, for the liaison, in the chat where
    it was typed."""
    await ensure_person(unit, author.id, author.name, author.username, author.language)
    incident = None
    if incident_ref is not None:
        incident = await incidents.incident_in(unit, incident_ref)
        if incident is None:
            raise UserError(N_("There is no incident #{ref}."), ref=incident_ref)
    targets = await _targets(unit, config, origin_chat_id)
    if not targets:
        raise UserError(
            N_("No chat is linked for alerts: an admin sets them in the configuration ([alerts]).")
        )
    now = utcnow()
    texts = in_language(texts, author.language)  # an untagged text is in its author's language
    exercise = bool(incident and incident.exercise)
    alert_id = await unit.execute(
        "INSERT INTO alerts (incident_id, author_id, severity, texts, exercise,"
        " origin_chat_id, remind_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            incident_ref,
            author.id,
            severity.value,
            json.dumps(texts),
            int(exercise),
            origin_chat_id,
            to_db_time(now + timedelta(minutes=config.reminder_minutes)),
            to_db_time(now),
        ),
    )
    row = await unit.one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    assert row is not None
    alert = await _alert(unit, row)
    for chat in targets:
        await unit.execute(
            "INSERT INTO alert_targets (alert_id, chat_id) VALUES (?, ?)", (alert_id, chat.id)
        )
        await enqueue(
            unit,
            chat_id=chat.id,
            purpose="alert",
            subject_id=alert_id,
            html=render_alert(alert, chat.languages, chat.timezone),
            reply_markup=ack_keyboard(alert_id, chat.languages),
            incident_ref=incident_ref,
            key=f"alert:{alert_id}:{chat.id}",
        )
    if incident is not None:
        await incidents.record(
            unit,
            incident.ref,
            TimelineKind.ALERT,
            author,
            origin_chat_id,
            text=str(alert_id),
            field=severity.value,
        )
    # the tally is the liaison's answer: posted, then kept current, by the live publisher
    unit.effects.touch(Live(LiveKind.TALLY, alert_id, origin_chat_id))
    if incident_ref is not None:
        unit.effects.incidents.add(incident_ref)
    return alert


async def _tally_changed(unit: UnitOfWork, alert_id: int) -> None:
    rows = await unit.all(
        "UPDATE alerts SET tally_version = tally_version + 1 WHERE id = ?"
        " RETURNING origin_chat_id, incident_id",
        (alert_id,),
    )
    for row in rows:
        unit.effects.touch(Live(LiveKind.TALLY, alert_id, row["origin_chat_id"]))
        if row["incident_id"] is not None:
            unit.effects.incidents.add(row["incident_id"])


async def on_delivered(unit: UnitOfWork, row: Row, message_id: int) -> None:
    """Outbox hook: the alert (or its reminder) reached the chat."""
    await unit.execute(
        "UPDATE alert_targets SET message_id = COALESCE(message_id, ?),"
        " delivered_at = COALESCE(delivered_at, ?) WHERE alert_id = ? AND chat_id = ?",
        (message_id, to_db_time(utcnow()), row["subject_id"], row["chat_id"]),
    )
    await _tally_changed(unit, row["subject_id"])


async def acknowledge(unit: UnitOfWork, *, alert_id: int, chat_id: int, person: Author) -> bool:
    """Record that this person acknowledged in this chat. True when it is the chat's first."""
    target = await unit.one(
        "SELECT acked_at FROM alert_targets WHERE alert_id = ? AND chat_id = ?",
        (alert_id, chat_id),
    )
    if target is None:
        raise UserError(N_("This alert was not sent to this chat."))
    seen = await unit.one(
        "SELECT 1 FROM alert_acks WHERE alert_id = ? AND chat_id = ? AND person_id = ?",
        (alert_id, chat_id, person.id),
    )
    if seen is not None:
        raise UserError(N_("You have already acknowledged this alert."))
    await ensure_person(unit, person.id, person.name, person.username)
    now = to_db_time(utcnow())
    await unit.execute(
        "INSERT INTO alert_acks (alert_id, chat_id, person_id, at) VALUES (?, ?, ?, ?)",
        (alert_id, chat_id, person.id, now),
    )
    first = await unit.execute(
        "UPDATE alert_targets SET acked_at = ? WHERE alert_id = ? AND chat_id = ?"
        " AND acked_at IS NULL",
        (now, alert_id, chat_id),
    )
    await _tally_changed(unit, alert_id)
    return bool(first)


async def tally(db: Database, alert_id: int) -> Tally | None:
    async with db.read() as tx:
        return await tally_in(tx, alert_id)


async def tally_in(tx: Tx, alert_id: int) -> Tally | None:
    row = await tx.one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    if row is None:
        return None
    alert = await _alert(tx, row)
    rows = await tx.all(
        "SELECT t.*, c.name AS chat_name, c.unreachable_at FROM alert_targets t"
        " LEFT JOIN chats c ON c.id = t.chat_id WHERE t.alert_id = ? ORDER BY c.name",
        (alert_id,),
    )
    targets = []
    for target in rows:
        ackers = await tx.all(
            "SELECT p.name FROM alert_acks a JOIN people p ON p.id = a.person_id"
            " WHERE a.alert_id = ? AND a.chat_id = ? ORDER BY a.at",
            (alert_id, target["chat_id"]),
        )
        targets.append(
            TargetState(
                chat_id=target["chat_id"],
                chat_name=target["chat_name"] or str(target["chat_id"]),
                delivered_at=from_db_time(target["delivered_at"])
                if target["delivered_at"]
                else None,
                acked_at=from_db_time(target["acked_at"]) if target["acked_at"] else None,
                ackers=tuple(a["name"] for a in ackers),
                unreachable=target["unreachable_at"] is not None,
            )
        )
    return Tally(alert=alert, targets=tuple(targets))


async def recent(db: Database, limit: int = 10) -> list[Tally]:
    async with db.read() as tx:
        return await recent_in(tx, limit)


async def recent_in(tx: Tx, limit: int = 10) -> list[Tally]:
    rows = await tx.all("SELECT id FROM alerts ORDER BY id DESC LIMIT ?", (limit,))
    found = [await tally_in(tx, row["id"]) for row in rows]
    return [t for t in found if t is not None]


async def send_reminders(unit: UnitOfWork) -> int:
    """Remind every chat that has not acknowledged an alert whose reminder time has come.
    Returns how many reminders were queued. Runs from a repeating job, so it survives
    restarts: the reminder time is in the database."""
    queued = 0
    due = await unit.all(
        "SELECT * FROM alerts WHERE reminded_at IS NULL AND remind_at <= ?",
        (to_db_time(utcnow()),),
    )
    for row in due:
        alert = await _alert(unit, row)
        waiting = await unit.all(
            "SELECT chat_id FROM alert_targets WHERE alert_id = ? AND acked_at IS NULL",
            (alert.id,),
        )
        for target in waiting:
            chat = await chat_in(unit, target["chat_id"])
            if chat is None:
                continue
            got = await enqueue(
                unit,
                chat_id=chat.id,
                purpose="alert",
                subject_id=alert.id,
                html=render_reminder(alert, chat.languages, chat.timezone),
                reply_markup=ack_keyboard(alert.id, chat.languages),
                incident_ref=alert.incident.ref if alert.incident else None,
                key=f"reminder:{alert.id}:{chat.id}",
            )
            queued += 1 if got else 0
        await unit.execute(
            "UPDATE alerts SET reminded_at = ? WHERE id = ?", (to_db_time(utcnow()), alert.id)
        )
    return queued


# --- the tally, a live message --------------------------------------------------------------


async def tally_state(tx: Tx, alert_id: int) -> tuple[Tally, Row] | None:
    """The tally, and its message id, version and shown version."""
    row = await tx.one(
        "SELECT tally_message_id, tally_version, tally_shown FROM alerts WHERE id = ?",
        (alert_id,),
    )
    found = await tally_in(tx, alert_id)
    if row is None or found is None:
        return None
    return found, row


async def tally_shown(unit: UnitOfWork, alert_id: int, message_id: int, version: int) -> None:
    await unit.execute(
        "UPDATE alerts SET tally_message_id = ?,"
        " tally_shown = CASE WHEN tally_shown > ? THEN tally_shown ELSE ? END WHERE id = ?",
        (message_id, version, version, alert_id),
    )


async def tallies_behind(tx: Tx) -> list[Live]:
    rows = await tx.all(
        "SELECT id, origin_chat_id FROM alerts WHERE tally_shown < tally_version ORDER BY id"
    )
    return [Live(LiveKind.TALLY, row["id"], row["origin_chat_id"]) for row in rows]


async def follow_chat(unit: UnitOfWork, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its alerts follow; tallies typed there are posted again."""
    await unit.execute(
        "UPDATE alerts SET origin_chat_id = ?, tally_message_id = NULL,"
        " tally_version = tally_version + 1 WHERE origin_chat_id = ?",
        (new_id, old_id),
    )
    await unit.execute("UPDATE alert_targets SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
    await unit.execute("UPDATE alert_acks SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
