"""The incidents service against a real SQLite file."""

from __future__ import annotations

import pytest

from bot.config import Settings, parse_settings
from bot.core import directory
from bot.core.db import AlreadyProcessed, Database
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
    incident = await incidents.declare(
        db, chat=registered, title=title, author=BOSS, exercise=exercise, update_id=update_id
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


async def test_a_redelivered_update_has_no_second_effect(db: Database) -> None:
    ref = await _declare(db, update_id=10)
    await incidents.add_note(
        db,
        ref=ref,
        text="Nuage jaune",
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
        message_id=5,
        update_id=11,
    )
    with pytest.raises(AlreadyProcessed):
        await incidents.add_note(
            db,
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
    incident = await incidents.add_location(
        db,
        ref=ref,
        lat=50.6071,
        lon=3.3894,
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
        message_id=9,
        update_id=None,
    )
    assert (incident.lat, incident.lon) == (50.6071, 3.3894)
    last = (await incidents.timeline(db, ref, last=1))[0]
    assert last.kind is TimelineKind.LOCATION and last.author is not None
    assert last.author.name == "Jean Pompier"
    with pytest.raises(UserError):
        await incidents.add_location(
            db,
            ref=ref,
            lat=123.0,
            lon=3.0,
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
            message_id=10,
            update_id=None,
        )


async def test_changes_are_recorded_and_a_closed_incident_refuses_more(db: Database) -> None:
    ref = await _declare(db)
    common = dict(ref=ref, author=BOSS, chat_id=OPS_BILINGUAL, update_id=None)
    await incidents.change_status(db, status=IncidentStatus.ACTIVE, **common)
    await incidents.change_severity(db, severity=Severity.SEVERE, **common)
    await incidents.change_text(
        db, field=IncidentField.LOCATION, value="Gare de triage de Tournai", **common
    )
    incident = await incidents.assign(
        db, assignment=Assignment.SPOKESPERSON, assignee=FIREFIGHTER, **common
    )
    assert incident.spokesperson is not None and incident.spokesperson.id == RESPONDER
    assert incident.severity is Severity.SEVERE
    assert incident.location_text == "Gare de triage de Tournai"
    # the same status again is not a change
    await incidents.change_status(db, status=IncidentStatus.ACTIVE, **common)
    closed = await incidents.close(db, **common)
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
        await incidents.add_note(
            db,
            ref=ref,
            text="encore",
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
            message_id=1,
            update_id=None,
        )
    assert caught.value.params == {"ref": ref}
    assert await incidents.latest_open(db, OPS_BILINGUAL) is None


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "x" * 2001])
async def test_empty_or_huge_notes_change_nothing(db: Database, bad: str) -> None:
    ref = await _declare(db)
    with pytest.raises(UserError):
        await incidents.add_note(
            db,
            ref=ref,
            text=bad,
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
            message_id=1,
            update_id=99,
        )
    assert len(await incidents.timeline(db, ref, last=50)) == 1
    assert not await incidents.was_processed(db, 99)


async def test_replies_reach_the_incident_of_any_of_its_messages(db: Database) -> None:
    ref = await _declare(db)
    await incidents.remember_message(db, OPS_BILINGUAL, 42, ref)
    await incidents.remember_message(db, OPS_BILINGUAL, 42, ref)  # harmless twice
    assert await incidents.incident_of_message(db, OPS_BILINGUAL, 42) == ref
    assert await incidents.incident_of_message(db, OPS_FR, 42) is None


async def test_database_keeps_command_changes_until_the_file_entry_changes(
    db: Database, settings: Settings, tmp_path: object
) -> None:
    await directory.set_language(db, COMMANDER, "Marc", None, "nl")
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
    first = Database(settings.storage.path)
    await first.open()
    await directory.seed(first, settings)
    ref = await _declare(first, update_id=5)
    await first.close()
    again = Database(settings.storage.path)
    await again.open()
    assert (await incidents.get(again, ref)) is not None
    assert await incidents.was_processed(again, 5)
    await again.close()
