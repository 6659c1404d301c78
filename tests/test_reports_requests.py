"""The after-action report of a scripted cross-border incident: each resource request with its
times from request to commit to arrival to release, the durations between them, the units
that crossed the border, and the evaluation asked of their agency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import directory
from bot.core.config import Settings, parse_settings
from bot.core.db import Database, SqliteDatabase, to_db_time
from bot.core.i18n import translator
from bot.core.models import Author, OfferStatus, Person, ResourceType
from bot.incidents import phases
from bot.incidents import service as incidents
from bot.incidents.service import incident_in
from bot.render.report import render_report
from bot.reports import evaluations
from bot.reports.report import collect, to_json
from bot.resources import requests, roster_csv
from bot.resources.requests import involved_countries_in
from bot.situation.map import map_data
from bot.situation.surroundings import surroundings_in
from tests.conftest import (
    AGENCY_SDIS59,
    COMMANDER,
    DUTY_SDIS59,
    LIAISON_BE,
    LIAISON_FR,
    OPS_BILINGUAL,
    settings_data,
)
from tests.test_reports import cells
from tests.units import once

FR = translator("fr").gettext
NL = translator("nl").gettext

BOSS = Author(COMMANDER, "Marc Delattre", "mdelattre")
SDIS = Person(id=DUTY_SDIS59, name="Karim Benali", agency="SDIS 59")
ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
FR-SDIS59-FPT-1,fire engine,FPT Halluin,SDIS 59,FR,50.7836,3.1256,1,available
BE-WAPI-FPT-1,fire engine,Autopompe Mouscron,ZS WAPI,BE,50.7444,3.2064,1,available
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Database, Settings]]:
    settings = parse_settings(settings_data(tmp_path / "r.db", agencies=True), env={})
    db = SqliteDatabase(settings.storage.path)
    await db.open()
    await directory.seed(db, settings)
    await roster_csv.import_roster(db, ROSTER)
    yield db, settings
    await db.close()


async def test_request_times_and_durations_in_the_report(
    setup: tuple[Database, Settings],
) -> None:
    db, settings = setup
    chat = await directory.get_chat(db, OPS_BILINGUAL)
    assert chat is not None
    incident = await once(
        db,
        incidents.declare,
        chat=chat,
        title="Feu de stockage, Comines",
        author=BOSS,
        exercise=False,
    )
    ref = incident.ref
    await once(
        db,
        incidents.locate,
        ref=ref,
        lat=50.7754,
        lon=3.0012,
        author=BOSS,
        chat_id=chat.id,
    )
    request = await once(
        db,
        requests.create,
        ref=ref,
        type_=ResourceType.FIRE_ENGINE,
        quantity=1,
        note="citerne en feu",
        author=BOSS,
        chat_id=chat.id,
        settings=settings.requests,
    )
    async with db.read() as tx:
        row = await tx.one(
            "SELECT o.id FROM request_offers o JOIN units u ON u.id = o.unit_id"
            " WHERE u.code = 'FR-SDIS59-FPT-1' AND o.request_id = ?",
            (request.id,),
        )
    assert row is not None
    offer_id = row["id"]
    agency_chat = await directory.get_chat(db, AGENCY_SDIS59)
    await once(
        db,
        requests.answer,
        offer_id=offer_id,
        commit=True,
        person=SDIS,
        chat=agency_chat,
        settings=settings.requests,
    )
    for to in (OfferStatus.EN_ROUTE, OfferStatus.ON_SCENE):
        await once(
            db,
            requests.advance,
            offer_id=offer_id,
            to=to,
            person=SDIS,
            chat=agency_chat,
        )
    # on the map: the committed French engine, and the Belgian one as the nearest available
    async with db.read() as tx:
        located = await incident_in(tx, ref)
    assert located is not None
    shown = await map_data(db, located, settings.sites.near_km)
    assert {(u.code, u.committed) for u in shown.units} == {
        ("FR-SDIS59-FPT-1", True),
        ("BE-WAPI-FPT-1", False),
    }
    await once(
        db,
        requests.release,
        ref=ref,
        code="FR-SDIS59-FPT-1",
        author=BOSS,
        chat_id=chat.id,
    )
    # France is involved now: its unit crossed the border
    async with db.read() as tx:
        current = await incident_in(tx, ref)
        assert current is not None
        assert [c.value for c in await involved_countries_in(tx, current)] == ["FR"]
    await once(db, incidents.close, ref=ref, author=BOSS, chat_id=chat.id)
    # the commander and SDIS 59 (its unit crossed the border) are asked; ZS WAPI is not
    assert await once(db, evaluations.ask, ref) == 2
    async with db.read() as tx:
        parties = await evaluations.of_incident_in(tx, ref)
        asked = await tx.all("SELECT chat_id FROM outbox WHERE purpose = 'evaluation'")
    assert sorted(e.party for e in parties) == ["", "SDIS 59"]
    assert {r["chat_id"] for r in asked} == {OPS_BILINGUAL, AGENCY_SDIS59}

    # the script's clock: requested 10:00, committed 10:04, on scene 10:19, released 11:49
    async with db.unit() as tx:
        t0 = request.created_at.replace(hour=10, minute=0, second=0, microsecond=0)

        def at(minutes: int) -> str:
            return to_db_time(t0 + timedelta(minutes=minutes))

        await tx.execute("UPDATE requests SET created_at = ? WHERE id = ?", (at(0), request.id))
        await tx.execute(
            "UPDATE request_offers SET offered_at = ?, decided_at = ?, en_route_at = ?,"
            " on_scene_at = ?, released_at = ? WHERE id = ?",
            (at(0), at(4), at(5), at(19), at(109), offer_id),
        )
    report = await collect(db, ref)
    assert report is not None
    (line,) = report.requests
    (unit,) = line.units
    assert unit.code == "FR-SDIS59-FPT-1" and unit.crossed_border
    assert (unit.request_to_commit_min, unit.commit_to_arrival_min) == (4.0, 15.0)
    assert (unit.arrival_to_release_min, unit.request_to_arrival_min) == (90.0, 19.0)
    assert [u.code for u in report.crossings] == ["FR-SDIS59-FPT-1"]
    html = render_report(report, ("en",), "UTC")
    assert "FR-SDIS59-FPT-1" in html
    for shown in ("4 min", "15 min", "1 h 30 min"):
        assert shown in cells(html)
    assert "on scene after 19 min" in html
    data = to_json(report)
    assert '"request_to_commit_min": 4.0' in data and '"cross_border": [' in data


async def test_one_escalation_raises_every_country_whose_units_are_there(
    setup: tuple[Database, Settings],
) -> None:
    """The issue's scenario: a French engine works a Belgian fire; /escalate (no country)
    raises the Belgian phase to provincial and the French level to departmental, and each
    side's authority chat is told."""
    db, settings = setup
    chat = await directory.get_chat(db, OPS_BILINGUAL)
    assert chat is not None
    incident = await once(
        db, incidents.declare, chat=chat, title="Feu, site Seveso", author=BOSS, exercise=False
    )
    ref = incident.ref
    await once(
        db,
        incidents.locate,
        ref=ref,
        lat=50.7754,
        lon=3.0012,
        author=BOSS,
        chat_id=chat.id,
    )
    request = await once(
        db,
        requests.create,
        ref=ref,
        type_=ResourceType.FIRE_ENGINE,
        quantity=1,
        note=None,
        author=BOSS,
        chat_id=chat.id,
        settings=settings.requests,
    )
    async with db.read() as tx:
        row = await tx.one(
            "SELECT o.id FROM request_offers o JOIN units u ON u.id = o.unit_id"
            " WHERE u.code = 'FR-SDIS59-FPT-1' AND o.request_id = ?",
            (request.id,),
        )
    assert row is not None
    await once(
        db,
        requests.answer,
        offer_id=row["id"],
        commit=True,
        person=SDIS,
        chat=await directory.get_chat(db, AGENCY_SDIS59),
        settings=settings.requests,
    )
    async with db.read() as tx:
        current = await incident_in(tx, ref)
        assert current is not None
        involved = await involved_countries_in(tx, current)
    notify = {"BE.provincial": [LIAISON_BE], "FR.departmental": [LIAISON_FR]}
    change = await once(
        db,
        phases.change,
        ref=ref,
        up=True,
        country=None,
        author=BOSS,
        chat_id=chat.id,
        notify=notify,
        involved=involved,
    )
    assert [(c.value, new.value) for c, _, new in change.changes] == [
        ("BE", "provincial"),
        ("FR", "departmental"),
    ]
    async with db.read() as tx:
        told = await tx.all("SELECT chat_id, html FROM outbox WHERE purpose = 'phase'")
        around = await surroundings_in(tx, current)
    by_chat = {r["chat_id"]: r["html"] for r in told}
    assert set(by_chat) == {LIAISON_BE, LIAISON_FR}
    assert FR("the préfet") in by_chat[LIAISON_FR]
    assert FR("the provincial governor") in by_chat[LIAISON_BE]
    assert NL("the provincial governor") in by_chat[LIAISON_BE]  # a bilingual chat
    assert [(s.country.value, s.level.value) for s in around.phases] == [
        ("BE", "provincial"),
        ("FR", "departmental"),
    ]
