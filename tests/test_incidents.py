"""The incidents service against a real SQLite file."""

from __future__ import annotations

import pytest

from bot.core import directory
from bot.core.config import Settings, parse_settings
from bot.core.db import AlreadyProcessed, Database, SqliteDatabase
from bot.core.errors import UserError
from bot.core.models import (
    Assignment,
    Author,
    IncidentField,
    IncidentStatus,
    Role,
    Severity,
    TimelineKind,
)
from bot.incidents import service as incidents
from tests.conftest import COMMANDER, OPS_BILINGUAL, OPS_FR, RESPONDER, settings_data
from tests.units import once

BOSS = Author(COMMANDER, "Marc (Telegram name)", "mdelattre")
FIREFIGHTER = Author(RESPONDER, "Jean Pompier", None)


async def _declare(
    db: Database,
    title: str = "Fuite de chlore",
    chat: int = OPS_BILINGUAL,
    update_id: int | None = None,
    exercise: bool = False,
) -> int:
    registered = await directory.get_chat(db, chat)
    assert registered is not None
    incident = await once(
        db,
        incidents.declare,
        chat=registered,
        title=title,
        author=BOSS,
        exercise=exercise,
        update_id=update_id,
    )
    return incident.ref


async def test_declare_gives_short_references_and_a_card_to_publish(db: Database) -> None:
    first = await _declare(db, update_id=1)
    second = await _declare(db, "Incendie", chat=OPS_FR, update_id=2)
    assert (first, second) == (1, 2)
    incident = await incidents.get(db, first)
    assert incident is not None
    assert incident.status is IncidentStatus.REPORTED
    assert incident.country.value == "BE"
    # the configured name wins over the Telegram display name
    assert incident.commander is not None and incident.commander.name == "Marc Delattre"
    async with db.read() as tx:
        card = await tx.one("SELECT * FROM cards WHERE incident_id = ?", (first,))
    assert card is not None and card["message_id"] is None
    assert card["shown_version"] < card["version"]


@pytest.mark.both_backends
async def test_a_note_returns_the_incident_as_stored(db: Database) -> None:
    """add_note does not read the incident again after the note: what it returns must be what a
    fresh read finds (the note's time as the incident's updated_at)."""
    ref = await _declare(db, update_id=20)
    before = await incidents.get(db, ref)
    returned = await once(
        db,
        incidents.add_note,
        ref=ref,
        text="Nuage jaune",
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
        message_id=5,
        update_id=21,
    )
    stored = await incidents.get(db, ref)
    assert before is not None and stored is not None
    assert returned == stored
    assert stored.updated_at > before.updated_at
    [note] = [e for e in await incidents.timeline(db, ref, last=5) if e.kind is TimelineKind.NOTE]
    assert note.at == stored.updated_at


async def test_a_redelivered_update_has_no_second_effect(db: Database) -> None:
    ref = await _declare(db, update_id=10)
    await once(
        db,
        incidents.add_note,
        ref=ref,
        text="Nuage jaune",
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
        message_id=5,
        update_id=11,
    )
    with pytest.raises(AlreadyProcessed):
        await once(
            db,
            incidents.add_note,
            ref=ref,
            text="Nuage jaune",
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
            message_id=5,
            update_id=11,
        )
    with pytest.raises(AlreadyProcessed):
        await _declare(db, update_id=10)
    entries = await incidents.timeline(db, ref, last=50)
    assert [e.kind for e in entries] == [TimelineKind.DECLARED, TimelineKind.NOTE]
    assert await incidents.open_in_chat(db, OPS_BILINGUAL) != []
    assert len(await incidents.open_in_chat(db, OPS_BILINGUAL)) == 1


async def test_location_sets_coordinates_and_is_on_the_timeline(db: Database) -> None:
    ref = await _declare(db)
    incident = await once(
        db,
        incidents.locate,
        ref=ref,
        lat=50.6071,
        lon=3.3894,
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
        message_id=9,
    )
    assert (incident.lat, incident.lon) == (50.6071, 3.3894)
    last = (await incidents.timeline(db, ref, last=1))[0]
    assert last.kind is TimelineKind.LOCATION and last.author is not None
    assert last.author.name == "Jean Pompier"
    with pytest.raises(UserError):
        await once(
            db,
            incidents.locate,
            ref=ref,
            lat=123.0,
            lon=3.0,
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
            message_id=10,
        )


async def test_changes_are_recorded_and_a_closed_incident_refuses_more(db: Database) -> None:
    ref = await _declare(db)
    common = dict(ref=ref, author=BOSS, chat_id=OPS_BILINGUAL)
    await once(db, incidents.change_status, status=IncidentStatus.ACTIVE, **common)
    await once(db, incidents.change_severity, severity=Severity.SEVERE, **common)
    await once(
        db,
        incidents.change_text,
        field=IncidentField.LOCATION,
        value="Gare de triage de Tournai",
        **common,
    )
    incident = await once(
        db, incidents.assign, assignment=Assignment.SPOKESPERSON, assignee=FIREFIGHTER, **common
    )
    assert incident.spokesperson is not None and incident.spokesperson.id == RESPONDER
    assert incident.severity is Severity.SEVERE
    assert incident.location_text == "Gare de triage de Tournai"
    # the same status again is not a change
    await once(db, incidents.change_status, status=IncidentStatus.ACTIVE, **common)
    closed = await once(db, incidents.close, **common)
    assert closed.status is IncidentStatus.CLOSED and closed.closed_at is not None
    kinds = [e.kind for e in await incidents.timeline(db, ref, last=50)]
    assert kinds == [
        TimelineKind.DECLARED,
        TimelineKind.STATUS,
        TimelineKind.SEVERITY,
        TimelineKind.FIELD,
        TimelineKind.ASSIGNED,
        TimelineKind.CLOSED,
    ]
    with pytest.raises(UserError) as caught:
        await once(
            db,
            incidents.add_note,
            ref=ref,
            text="encore",
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
            message_id=1,
        )
    assert caught.value.params == {"ref": ref}
    assert await incidents.latest_open(db, OPS_BILINGUAL) is None


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "x" * 2001])
async def test_empty_or_huge_notes_change_nothing(db: Database, bad: str) -> None:
    ref = await _declare(db)
    with pytest.raises(UserError):
        await once(
            db,
            incidents.add_note,
            ref=ref,
            text=bad,
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
            message_id=1,
            update_id=99,
        )
    assert len(await incidents.timeline(db, ref, last=50)) == 1
    assert not await db.claimed(99)


async def test_replies_reach_the_incident_of_any_of_its_messages(db: Database) -> None:
    ref = await _declare(db)
    await once(db, incidents.link_message, OPS_BILINGUAL, 42, ref)
    await once(db, incidents.link_message, OPS_BILINGUAL, 42, ref)  # harmless twice
    async with db.read() as tx:
        link = await incidents.message_link(tx, OPS_BILINGUAL, 42)
        assert link is not None and link.incident_ref == ref
        assert await incidents.message_link(tx, OPS_FR, 42) is None


async def test_database_keeps_command_changes_until_the_file_entry_changes(
    db: Database, settings: Settings, tmp_path: object
) -> None:
    await once(db, directory.set_language, COMMANDER, "Marc", None, "nl")
    await directory.seed(db, settings)  # same file: the database wins
    person = await directory.get_person(db, COMMANDER)
    assert person is not None and person.language == "nl"
    data = settings_data(settings.storage.path)
    data["people"][0]["roles"] = ["commander", "liaison"]
    await directory.seed(db, parse_settings(data, env={}))  # the admin edited the entry
    person = await directory.get_person(db, COMMANDER)
    assert person is not None
    assert person.roles == {Role.COMMANDER, Role.LIAISON} and person.language == "fr"


async def test_state_survives_reopening_the_database(settings: Settings) -> None:
    first = SqliteDatabase(settings.storage.path)
    await first.open()
    await directory.seed(first, settings)
    ref = await _declare(first, update_id=5)
    await first.close()
    again = SqliteDatabase(settings.storage.path)
    await again.open()
    assert (await incidents.get(again, ref)) is not None
    assert await again.claimed(5)
    await again.close()
