"""The roster and resource requests against a real SQLite file: parsing in three languages,
ranking, CSV import, agency checks, and the commit race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources as package_files
from pathlib import Path

import pytest

from bot import cli
from bot.core import directory, vocabulary
from bot.core.config import RequestSettings, Settings, parse_settings
from bot.core.db import Database, SqliteDatabase
from bot.core.effects import Effects, Live, LiveKind
from bot.core.errors import UserError
from bot.core.i18n import translator
from bot.core.models import (
    LANGUAGES,
    Author,
    Country,
    OfferStatus,
    Person,
    RequestStatus,
    ResourceRequest,
    ResourceType,
    Role,
    Unit,
    UnitStatus,
)
from bot.geo import distance as geo
from bot.geo import gazetteer
from bot.incidents import service as incidents
from bot.lifecycle import closing, locating
from bot.resources import requests, roster_csv
from bot.resources import units as resources
from tests.conftest import (
    AGENCY_FLUVIA,
    AGENCY_SDIS59,
    AGENCY_WAPI,
    COMMANDER,
    DUTY_FLUVIA,
    DUTY_SDIS59,
    DUTY_WAPI,
    OPS_BILINGUAL,
    settings_data,
)
from tests.units import once, with_effects

RAIL_YARD = (50.6140, 3.4060)  # Tournai
BOSS = Author(COMMANDER, "Marc Delattre", "mdelattre")
WAPI = Person(id=DUTY_WAPI, name="Luc Van Acker", agency="ZS WAPI")
SDIS = Person(id=DUTY_SDIS59, name="Karim Benali", agency="SDIS 59")
FLUVIA = Person(id=DUTY_FLUVIA, name="Els Vermeulen", agency="Fluvia")
ADMIN = Person(id=9, name="Admin", roles=frozenset({Role.ADMIN}))

ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
BE-WAPI-AMB-2,ambulance,Ambulance Mouscron 1,ZS WAPI,BE,50.7444,3.2064,1,available
FR-SDIS59-VSAV-1,VSAV,VSAV Tourcoing 1,SDIS 59,FR,50.7239,3.1612,1,available
FR-SDIS59-VSAV-2,ambulance,VSAV Lille 1,SDIS 59,FR,50.6319,3.0684,1,available
BE-FLUVIA-ZW-1,ziekenwagen,Ziekenwagen Kortrijk 1,Fluvia,BE,50.8279,3.2649,1,available
BE-FLUVIA-ZW-2,ziekenwagen,Ziekenwagen Menen 1,Fluvia,BE,50.7967,3.1211,1,available
BE-WAPI-AMB-9,ambulance,Ambulance Ath,ZS WAPI,BE,50.6290,3.7780,1,maintenance
FR-SDIS59-FPT-1,fire engine,FPT Lille,SDIS 59,FR,50.6319,3.0684,1,available
BE-UZG-BURN-1,brandwondenbed,Brandwondencentrum UZ Gent,Fluvia,BE,51.0236,3.7250,3,available
"""


def _settings(tmp_path: Path) -> Settings:
    return parse_settings(settings_data(tmp_path / "res.db", agencies=True), env={})


@pytest.fixture
async def rdb(tmp_path: Path) -> AsyncIterator[Database]:
    settings = _settings(tmp_path)
    database = SqliteDatabase(settings.storage.path)
    await database.open()
    await directory.seed(database, settings)
    await roster_csv.import_roster(database, ROSTER)
    yield database
    await database.close()


async def _incident(db: Database, located: bool = True) -> int:
    chat = await directory.get_chat(db, OPS_BILINGUAL)
    assert chat is not None
    incident = await once(
        db, incidents.declare, chat=chat, title="Fuite de chlore", author=BOSS, exercise=False
    )
    if located:
        await once(
            db,
            incidents.locate,
            ref=incident.ref,
            lat=RAIL_YARD[0],
            lon=RAIL_YARD[1],
            author=BOSS,
            chat_id=OPS_BILINGUAL,
        )
    return incident.ref


async def _request(
    db: Database,
    ref: int,
    quantity: int = 2,
    type_: ResourceType = ResourceType.AMBULANCE,
    **settings: float,
) -> Outcome:
    request, effects = await with_effects(
        db,
        requests.create,
        ref=ref,
        type_=type_,
        quantity=quantity,
        note=None,
        author=BOSS,
        chat_id=OPS_BILINGUAL,
        settings=RequestSettings(**settings),  # type: ignore[arg-type]
    )
    return Outcome(request, effects)


@dataclass(frozen=True)
class Outcome:
    """A request as made, and what its unit of work left to do (offers' time-outs, the
    outbox to wake, the cards to refresh)."""

    request: ResourceRequest
    effects: Effects


def _chat_for(person: Person) -> int:
    return {DUTY_WAPI: AGENCY_WAPI, DUTY_SDIS59: AGENCY_SDIS59, DUTY_FLUVIA: AGENCY_FLUVIA}[
        person.id
    ]


async def _press(
    db: Database, offer_id: int, person: Person, commit: bool = True, **settings: float
) -> requests.OfferAnswer:
    chat = await directory.get_chat(db, _chat_for(person))
    return await once(
        db,
        requests.answer,
        offer_id=offer_id,
        commit=commit,
        person=person,
        chat=chat,
        settings=RequestSettings(**{"extra_offers": 0, **settings}),  # type: ignore[arg-type]
    )


def _owner(offer_unit_agency: str) -> Person:
    return {"ZS WAPI": WAPI, "SDIS 59": SDIS, "Fluvia": FLUVIA}[offer_unit_agency]


# --- types and words in three languages -----------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("ambulance", ResourceType.AMBULANCE),
        ("Ambulances", ResourceType.AMBULANCE),
        ("ziekenwagen", ResourceType.AMBULANCE),
        ("ZIEKENWAGENS", ResourceType.AMBULANCE),
        ("vsav", ResourceType.AMBULANCE),
        ("fire engine", ResourceType.FIRE_ENGINE),
        ("autopompe", ResourceType.FIRE_ENGINE),
        ("Autopomp", ResourceType.FIRE_ENGINE),
        ("autoéchelle", ResourceType.AERIAL_LADDER),
        ("autoladder", ResourceType.AERIAL_LADDER),
        ("lit grands brûlés", ResourceType.BURNS_BED),
        ("lit grands brules", ResourceType.BURNS_BED),
        ("brandwondenbed", ResourceType.BURNS_BED),
        ("burns beds", ResourceType.BURNS_BED),
        ("MUG", ResourceType.SMUR),
        ("smur", ResourceType.SMUR),
        ("camion-citerne", ResourceType.WATER_TENDER),
        # plurals of names of several words, and Dutch plurals that change the word
        ("lits de réanimation", ResourceType.ICU_BED),
        ("lits grands brûlés", ResourceType.BURNS_BED),
        ("cellules risques chimiques", ResourceType.HAZMAT),
        ("bedden intensieve zorg", ResourceType.ICU_BED),
        ("boten", ResourceType.BOAT),
        ("pompen", ResourceType.PUMP),
        ("tankwagen", ResourceType.WATER_TENDER),
        ("gevaarlijke-stoffeneenheid", ResourceType.HAZMAT),
        ("motopompe", ResourceType.PUMP),
        ("embarcation", ResourceType.BOAT),
        ("bénévoles", ResourceType.VOLUNTEERS),
        ("vrijwilligers", ResourceType.VOLUNTEERS),
        ("shelter_places", ResourceType.SHELTER),
        ("Opvangplaatsen", ResourceType.SHELTER),
        ("burns_bed", ResourceType.BURNS_BED),
        ("spaceship", None),
        ("", None),
    ],
)
def test_types_are_understood_in_three_languages(word: str, expected: ResourceType | None) -> None:
    assert vocabulary.parse_type(word) is expected


def test_every_type_label_in_every_language_reads_back_as_its_type() -> None:
    for type_, label in vocabulary.TYPE.items():
        names = {translator(lang).gettext(label) for lang in LANGUAGES}
        # each type has its own name in French and in Dutch
        assert translator("nl").gettext(label) != label or type_ in (ResourceType.PIT,), (
            f"{label} has no Dutch name"
        )
        for name in names:
            assert vocabulary.parse_type(name) is type_, name
            assert vocabulary.parse_type(name.upper()) is type_, name
        assert vocabulary.parse_type(type_.value) is type_


def test_multi_word_types_take_the_longest_match() -> None:
    assert vocabulary.parse_type_words(["lit", "grands", "brûlés", "urgent"]) == (
        ResourceType.BURNS_BED,
        3,
    )
    assert vocabulary.parse_type_words(["fire", "engine", "#2"]) == (ResourceType.FIRE_ENGINE, 2)
    assert vocabulary.parse_type_words(["rien"]) == (None, 0)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("available", UnitStatus.AVAILABLE),
        ("disponible", UnitStatus.AVAILABLE),
        ("beschikbaar", UnitStatus.AVAILABLE),
        ("AVAILB", UnitStatus.AVAILABLE),
        ("indisponible", UnitStatus.UNAVAILABLE),
        ("niet beschikbaar", UnitStatus.UNAVAILABLE),
        ("UNAV", UnitStatus.UNAVAILABLE),
        ("maintenance", UnitStatus.MAINTENANCE),
        ("onderhoud", UnitStatus.MAINTENANCE),
        ("en route", OfferStatus.EN_ROUTE),
        ("onderweg", OfferStatus.EN_ROUTE),
        ("ter plaatse", OfferStatus.ON_SCENE),
        ("sur les lieux", OfferStatus.ON_SCENE),
        ("bientôt", None),
    ],
)
def test_status_words_in_three_languages_and_emsi_codes(
    word: str, expected: UnitStatus | OfferStatus | None
) -> None:
    assert vocabulary.parse_status(word) == expected


# --- distances and ranking ------------------------------------------------------------------


def test_great_circle_distance_and_eta() -> None:
    lille, tournai = gazetteer.place("Rijsel"), gazetteer.place("doornik")
    assert lille is not None and tournai is not None
    distance = geo.distance_km(lille.lat, lille.lon, tournai.lat, tournai.lon)
    assert 22.0 < distance < 25.5  # Lille – Tournai, as the crow flies
    assert geo.distance_km(50.0, 4.0, 50.0, 4.0) == 0.0
    # 24 km × 1.3 at 60 km/h: 31.2 min, rounded up
    assert geo.eta_minutes(24.0, 60.0, 1.3) == 32
    assert geo.eta_minutes(0.0, 60.0, 1.3) == 1
    low_lat, high_lat, low_lon, high_lon = geo.bounding_box(50.6, 3.4, 50.0)
    assert low_lat < 50.6 - 0.44 and high_lat > 50.6 + 0.44
    assert high_lon - low_lon > high_lat - low_lat  # longitude degrees are shorter up north


def _unit(code: str, lat: float, lon: float, status: UnitStatus = UnitStatus.AVAILABLE) -> Unit:
    return Unit(
        id=hash(code) % 10_000,
        code=code,
        type=ResourceType.AMBULANCE,
        name=code,
        agency="X",
        country=Country.BE,
        lat=lat,
        lon=lon,
        capacity=1,
        status=status,
    )


def test_ranking_is_nearest_first_within_reach_and_available_only() -> None:
    units = [
        _unit("FAR", 51.5, 5.5),  # ~190 km
        _unit("B", 50.7444, 3.2064),  # Mouscron
        _unit("BUSY", 50.6072, 3.3895, UnitStatus.UNAVAILABLE),
        _unit("A", 50.6071, 3.3894),  # Tournai
        _unit("A2", 50.6071, 3.3894),  # same base: ties by code
        _unit("C", 50.8279, 3.2649),  # Kortrijk
    ]
    ranked = requests.rank(units, *RAIL_YARD, RequestSettings(max_distance_km=150))
    assert [c.unit.code for c in ranked] == ["A", "A2", "B", "C"]
    assert ranked[0].distance_km < 2.0 < ranked[2].distance_km < ranked[3].distance_km
    assert all(c.eta_minutes >= 1 for c in ranked)
    faster = requests.rank(units, *RAIL_YARD, RequestSettings(road_speed_kmh=120))
    assert faster[2].eta_minutes < ranked[2].eta_minutes
    assert requests.rank(units, *RAIL_YARD, RequestSettings(max_distance_km=10))[-1].unit.code == (
        "A2"
    )


# --- CSV --------------------------------------------------------------------------------------


async def test_the_sample_roster_imports_and_round_trips(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "sample.db")
    await db.open()
    try:
        sample = (package_files.files("bot") / "data" / "roster_sample.csv").read_text("utf-8")
        report = await roster_csv.import_roster(db, sample)
        assert report.added >= 40 and report.updated == 0
        units = await resources.roster(db)
        assert len(units) == report.added
        assert all(u.sample for u in units)
        assert {u.country for u in units} == {Country.FR, Country.BE}
        assert len({u.type for u in units}) >= 14
        exported = await roster_csv.export_roster(db)
        again = await roster_csv.import_roster(db, exported)
        # the same units again: nothing to write
        assert (again.added, again.updated, again.unchanged) == (0, 0, report.added)
        assert await roster_csv.export_roster(db) != ""
    finally:
        await db.close()


async def test_a_bad_file_is_rejected_whole_with_line_and_column(rdb: Database) -> None:
    before = await roster_csv.export_roster(rdb)
    bad = (
        "code,type,name,agency,country,lat,lon,capacity,status\n"
        "BE-NEW-1,ambulance,Nouvelle,ZS WAPI,BE,50.6,3.4,1,available\n"
        "BE-NEW-2,fusée,Fusée,ZS WAPI,DE,50.6,east,0,flying\n"
        "BE-NEW-1,ambulance,Double,ZS WAPI,BE,50.6,3.4,1,available\n"
    )
    with pytest.raises(roster_csv.RosterFileError) as caught:
        await roster_csv.import_roster(rdb, bad, source="bad.csv")
    problems = caught.value.problems
    assert "bad.csv:3:2 (type): unknown type 'fusée'" in problems
    assert "bad.csv:3:5 (country): 'DE' is neither FR nor BE" in problems
    assert "bad.csv:3:7 (lon): 'east' is not a number" in problems
    assert any(p.startswith("bad.csv:3:8 (capacity)") for p in problems)
    assert any(p.startswith("bad.csv:3:9 (status)") for p in problems)
    assert "bad.csv:4:1 (code): BE-NEW-1 is already on line 2" in problems
    # nothing half-imported: the good line 2 is not there either
    assert await roster_csv.export_roster(rdb) == before
    assert await resources.get_unit(rdb, "BE-NEW-1") is None


async def test_header_problems_and_spreadsheet_dialects(rdb: Database) -> None:
    with pytest.raises(roster_csv.RosterFileError) as caught:
        roster_csv.parse_csv("code,type,colour\nX,ambulance,red\n", "h.csv")
    assert "h.csv:1:3 (colour): unknown column" in caught.value.problems
    assert "h.csv:1: missing column 'lat'" in caught.value.problems
    with pytest.raises(roster_csv.RosterFileError):
        roster_csv.parse_csv("", "empty.csv")
    # French spreadsheets: semicolons and decimal commas
    entries = roster_csv.parse_csv(
        "\ufeffcode;type;name;agency;country;lat;lon;capacity;status\n"
        "FR-X-1;autopompe;FPT Halluin;SDIS 59;FR;50,7836;3,1256;1;disponible\n"
    )
    assert entries[0].lat == pytest.approx(50.7836)
    assert entries[0].type is ResourceType.FIRE_ENGINE
    assert entries[0].status is UnitStatus.AVAILABLE


def test_coordinates_outside_the_border_region_are_refused_swapped_ones_with_a_hint() -> None:
    header = "code,type,name,agency,country,lat,lon,capacity,status\n"
    with pytest.raises(roster_csv.RosterFileError) as caught:
        roster_csv.parse_csv(
            header
            + "FR-X-1,ambulance,VSAV Halluin,SDIS 59,FR,3.26,50.82,1,available\n"
            + "FR-X-2,ambulance,VSAV Marseille,SDIS 59,FR,43.2965,5.3698,1,available\n"
            + "FR-X-3,ambulance,VSAV Lille,SDIS 59,FR,50.6319,3.0684,1,available\n",
            "geo.csv",
        )
    assert caught.value.problems == [
        "geo.csv:2:6 (lat): 3.26, 50.82 is not in the France–Belgium border region but"
        " 50.82, 3.26 is: swapped latitude and longitude?",
        "geo.csv:3:6 (lat): 43.2965 is not in the France–Belgium border region (latitude 48 … 52)",
    ]
    # the same with semicolons and decimal commas
    with pytest.raises(roster_csv.RosterFileError) as caught:
        roster_csv.parse_csv(
            header.replace(",", ";") + "FR-X-1;ambulance;VSAV;SDIS 59;FR;3,26;50,82;1;available\n",
            "geo.csv",
        )
    assert caught.value.problems[0].endswith("swapped latitude and longitude?")


async def test_an_identical_file_changes_nothing_and_says_so(rdb: Database) -> None:
    before = await resources.get_unit(rdb, "BE-WAPI-AMB-1")
    again = await roster_csv.import_roster(rdb, ROSTER)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 9)
    after = await resources.get_unit(rdb, "BE-WAPI-AMB-1")
    assert before == after  # not even its confirmation time
    # one unit renamed, one committed meanwhile (the file cannot release it): one update
    async with rdb.unit() as tx:
        await tx.execute("UPDATE units SET status = 'committed' WHERE code = 'BE-WAPI-AMB-2'")
    changed = ROSTER.replace("Ambulance Tournai 1", "Ambulance Tournai Centre 1")
    again = await roster_csv.import_roster(rdb, changed)
    assert (again.added, again.updated, again.unchanged) == (0, 1, 8)
    renamed = await resources.get_unit(rdb, "BE-WAPI-AMB-1")
    assert renamed is not None and renamed.name == "Ambulance Tournai Centre 1"


# --- the command line -----------------------------------------------------------------------


def _cli_config(tmp_path: Path, *agencies: str) -> Path:
    """A configuration with the database in tmp_path and one agency chat per agency given."""
    lines = [f'[storage]\npath = "{tmp_path / "cli.db"}"']
    for number, agency in enumerate(agencies, start=1):
        lines.append(
            f'[[chats]]\nid = -{900 + number}\nname = "{agency}"\nkind = "agency"\n'
            f'country = "BE"\nlanguages = ["fr"]\nagency = "{agency}"'
        )
    config = tmp_path / "c.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _roster_cli(config: Path, *args: str) -> int:
    return cli.main(["roster", *args, "--config", str(config)])


EXCEL_FR = (
    "code;type;name;agency;country;lat;lon;capacity;status\n"
    "BE-WAPI-AMB-7;ambulance;Ambulance Péruwelz;ZS WAPI;BE;50,5089;3,5936;1;disponible\n"
)


def test_a_file_saved_by_french_excel_is_read_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _cli_config(tmp_path, "ZS WAPI")
    excel = tmp_path / "excel.csv"
    excel.write_bytes(EXCEL_FR.encode("cp1252"))
    assert _roster_cli(config, "import", str(excel)) == 0
    out, err = capsys.readouterr()
    assert f"{excel}: 1 unit added" in out
    assert err.splitlines() == [
        f'{excel}:2: warning: not UTF-8; read as Windows-1252 (Excel\'s "CSV" in French or'
        ' Dutch): check the accents, or save it from the spreadsheet as "CSV UTF-8" and import'
        " that file"
    ]
    assert _roster_cli(config, "export") == 0
    assert "BE-WAPI-AMB-7,ambulance,Ambulance Péruwelz,ZS WAPI," in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (EXCEL_FR.encode("utf-16"), "UTF-16 text, not a UTF-8 CSV file"),
        # 0x81 is no character in Windows-1252 either
        (EXCEL_FR.encode("cp1252").replace(b"\xe9", b"\x81"), "2: neither UTF-8 nor Windows-1252"),
    ],
)
def test_a_file_in_another_encoding_is_refused_in_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    config = _cli_config(tmp_path, "ZS WAPI")
    odd = tmp_path / "odd.csv"
    odd.write_bytes(content)
    assert _roster_cli(config, "import", str(odd)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"{odd}") and expected in line
    assert line.endswith('save it from the spreadsheet as "CSV UTF-8" and import that file')


def test_the_command_line_counts_in_words_and_tells_unchanged_units(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _cli_config(tmp_path, "ZS WAPI")
    one = tmp_path / "one.csv"
    one.write_text(EXCEL_FR, encoding="utf-8-sig")
    db = tmp_path / "cli.db"
    assert _roster_cli(config, "import", str(one)) == 0
    assert capsys.readouterr().out == (
        f"{one}: 1 unit added, 0 updated, 0 unchanged, 0 removed ({db})\n"
    )
    assert _roster_cli(config, "import", str(one)) == 0
    assert capsys.readouterr().out == (
        f"{one}: 0 units added, 0 updated, 1 unchanged, 0 removed ({db})\n"
    )
    one.write_text(EXCEL_FR.replace("disponible", "maintenance"), encoding="utf-8")
    assert _roster_cli(config, "import", str(one)) == 0
    assert "0 units added, 1 updated, 0 unchanged" in capsys.readouterr().out
    out_file = tmp_path / "out.csv"
    assert _roster_cli(config, "export", str(out_file)) == 0
    assert capsys.readouterr().out == f"{out_file}: 1 unit written\n"


def test_an_import_warns_of_each_agency_without_a_chat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the chat names its agency in another case: still the same agency
    config = _cli_config(tmp_path, "zs wapi")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    assert _roster_cli(config, "import", str(roster)) == 0
    out, err = capsys.readouterr()
    assert "9 units added" in out
    # the same words as check-config's (bot.core.config.roster_warnings)
    assert err.splitlines() == [
        'warning: agency "Fluvia" has 3 units in the roster but no agency chat: they are never'
        ' asked (add a [[chats]] entry with kind = "agency", agency = "Fluvia")',
        'warning: agency "SDIS 59" has 3 units in the roster but no agency chat: they are never'
        ' asked (add a [[chats]] entry with kind = "agency", agency = "SDIS 59")',
    ]
    config = _cli_config(tmp_path, "ZS WAPI", "Fluvia", "SDIS 59")
    assert _roster_cli(config, "import", str(roster)) == 0
    assert capsys.readouterr().err == ""


# --- agencies keep their own units ----------------------------------------------------------


async def test_only_the_owning_agency_or_an_admin_changes_a_unit(rdb: Database) -> None:
    fluvia_chat = await directory.get_chat(rdb, AGENCY_FLUVIA)
    wapi_chat = await directory.get_chat(rdb, AGENCY_WAPI)
    with pytest.raises(UserError):
        await once(
            rdb,
            resources.set_status,
            code="BE-WAPI-AMB-1",
            status=UnitStatus.MAINTENANCE,
            note=None,
            person=FLUVIA,
            chat=fluvia_chat,
        )
    # a Fluvia officer is no more allowed in the WAPI chat
    with pytest.raises(UserError):
        await once(
            rdb,
            resources.set_status,
            code="BE-WAPI-AMB-1",
            status=UnitStatus.MAINTENANCE,
            note=None,
            person=FLUVIA,
            chat=wapi_chat,
        )
    unit = await resources.get_unit(rdb, "be-wapi-amb-1")
    assert unit is not None and unit.status is UnitStatus.AVAILABLE
    # someone with no agency configured, in WAPI's own chat, speaks for WAPI
    nobody = Person(id=77, name="Stagiaire")
    changed = await once(
        rdb,
        resources.set_status,
        code="BE-WAPI-AMB-1",
        status=UnitStatus.MAINTENANCE,
        note="pneu crevé",
        person=nobody,
        chat=wapi_chat,
    )
    assert changed.status is UnitStatus.MAINTENANCE and changed.confirmed_by == "Stagiaire"
    changed = await once(
        rdb,
        resources.set_status,
        code="BE-WAPI-AMB-1",
        status=UnitStatus.AVAILABLE,
        note=None,
        person=ADMIN,
        chat=None,
    )
    assert changed.status is UnitStatus.AVAILABLE


# --- requests ---------------------------------------------------------------------------------


async def test_the_nearest_units_are_offered_first_in_their_agency_chats(rdb: Database) -> None:
    ref = await _incident(rdb)
    outcome = await _request(rdb, ref, quantity=2, extra_offers=3)
    request = outcome.request
    assert request.status is RequestStatus.OPEN
    asked = [o.unit.code for o in request.offers]
    # two needed + three more, nearest first; the unit in maintenance and the fire engine never
    assert asked == [
        "BE-WAPI-AMB-1",
        "BE-WAPI-AMB-2",
        "FR-SDIS59-VSAV-1",
        "FR-SDIS59-VSAV-2",
        "BE-FLUVIA-ZW-1",
    ]
    distances = [o.distance_km for o in request.offers]
    assert distances == sorted(distances)
    assert outcome.effects.expiries and outcome.effects.outbox
    async with rdb.read() as tx:
        rows = await tx.all("SELECT chat_id, html FROM outbox WHERE purpose = 'offer'")
    chats = sorted(row["chat_id"] for row in rows)
    assert chats == sorted([AGENCY_WAPI] * 2 + [AGENCY_SDIS59] * 2 + [AGENCY_FLUVIA])
    nl, fr = translator("nl").gettext, translator("fr").gettext
    dutch = next(row["html"] for row in rows if row["chat_id"] == AGENCY_FLUVIA)
    assert nl("ambulance") in dutch and "ziekenwagen" in dutch
    assert fr("Your unit: {unit}").split("{")[0] not in dutch
    assert nl("This unit would cross the border.") not in dutch  # Fluvia is Belgian
    french = next(row["html"] for row in rows if row["chat_id"] == AGENCY_SDIS59)
    assert "🇫🇷→🇧🇪" in french and fr("This unit would cross the border.") in french


async def test_many_concurrent_commits_fill_exactly_the_quantity(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = SqliteDatabase(settings.storage.path)
    await first.open()
    await directory.seed(first, settings)
    await roster_csv.import_roster(first, ROSTER)
    ref = await _incident(first)
    outcome = await _request(first, ref, quantity=2, extra_offers=10)
    offers = outcome.request.offers
    assert len(offers) == 6
    # every agency presses at the same instant, each through its own database connection
    connections = [SqliteDatabase(settings.storage.path) for _ in offers]
    for connection in connections:
        await connection.open()
    try:
        results = await asyncio.gather(
            *(
                _press(connection, offer.id, _owner(offer.unit.agency), extra_offers=10)
                for connection, offer in zip(connections, offers, strict=True)
            )
        )
    finally:
        for connection in connections:
            await connection.close()
    committed = [r for r in results if r.refusal is None]
    assert len(committed) == 2
    assert all(r.offer.status is OfferStatus.WITHDRAWN for r in results if r.refusal)
    request = await requests.get_request(first, outcome.request.id)
    assert request is not None
    assert request.status is RequestStatus.FILLED and request.committed == 2
    assert sum(1 for o in request.offers if o.status is OfferStatus.COMMITTED) == 2
    units = await resources.roster(first, ResourceType.AMBULANCE)
    assert sum(1 for u in units if u.status is UnitStatus.COMMITTED) == 2
    assert all(u.incident_ref == ref for u in units if u.status is UnitStatus.COMMITTED)
    await first.close()


async def test_one_unit_is_never_committed_twice(rdb: Database) -> None:
    first_ref = await _incident(rdb)
    second_ref = await _incident(rdb)
    one = await _request(rdb, first_ref, quantity=1, extra_offers=0)
    two = await _request(rdb, second_ref, quantity=1, extra_offers=0)
    a, b = one.request.offers[0], two.request.offers[0]
    assert a.unit.code == b.unit.code == "BE-WAPI-AMB-1"
    results = await asyncio.gather(_press(rdb, a.id, WAPI), _press(rdb, b.id, WAPI))
    assert sorted(r.refusal is None for r in results) == [False, True]
    unit = await resources.get_unit(rdb, "BE-WAPI-AMB-1")
    assert unit is not None and unit.status is UnitStatus.COMMITTED
    # the loser's request moved on to the next nearest unit
    loser = next(r for r in results if r.refusal is not None)
    request = await requests.get_request(rdb, loser.request.id)
    assert request is not None
    assert [o.unit.code for o in request.offers if o.status is OfferStatus.OFFERED] == [
        "BE-WAPI-AMB-2"
    ]


async def test_another_agency_cannot_answer_an_offer(rdb: Database) -> None:
    ref = await _incident(rdb)
    outcome = await _request(rdb, ref, quantity=1, extra_offers=0)
    offer = outcome.request.offers[0]
    chat = await directory.get_chat(rdb, AGENCY_WAPI)
    with pytest.raises(UserError):
        await once(
            rdb,
            requests.answer,
            offer_id=offer.id,
            commit=True,
            person=FLUVIA,
            chat=chat,
            settings=RequestSettings(),
        )
    request = await requests.get_request(rdb, outcome.request.id)
    assert request is not None and request.committed == 0


async def test_declines_and_time_outs_move_to_the_next_units(rdb: Database) -> None:
    ref = await _incident(rdb)
    outcome = await _request(rdb, ref, quantity=1, extra_offers=0)
    first = outcome.request.offers[0]
    declined = await _press(rdb, first.id, WAPI, commit=False)
    assert declined.refusal is None and declined.offer.status is OfferStatus.DECLINED
    request = await requests.get_request(rdb, outcome.request.id)
    assert request is not None
    waiting = [o for o in request.offers if o.status is OfferStatus.OFFERED]
    assert [o.unit.code for o in waiting] == ["BE-WAPI-AMB-2"]
    # nobody answers: at its time-out, the next unit is asked
    _, effects = await with_effects(
        rdb, requests.expire_overdue, RequestSettings(extra_offers=0), now=waiting[0].expires_at
    )
    assert Live(LiveKind.REQUEST, outcome.request.id, OPS_BILINGUAL) in effects.live
    request = await requests.get_request(rdb, outcome.request.id)
    assert request is not None
    states = {o.unit.code: o.status for o in request.offers}
    assert states == {
        "BE-WAPI-AMB-1": OfferStatus.DECLINED,
        "BE-WAPI-AMB-2": OfferStatus.EXPIRED,
        "FR-SDIS59-VSAV-1": OfferStatus.OFFERED,
    }
    # pressing an expired offer changes nothing
    late = await _press(rdb, waiting[0].id, WAPI)
    assert late.refusal is not None and late.offer.status is OfferStatus.EXPIRED


async def test_when_nobody_can_help_the_request_is_not_filled(rdb: Database) -> None:
    ref = await _incident(rdb)
    outcome = await _request(rdb, ref, quantity=1, type_=ResourceType.BOAT)
    assert outcome.request.status is RequestStatus.UNFILLED
    assert outcome.request.offers == ()
    # the last candidate declining ends a request too, and the incident chat is told
    outcome = await _request(rdb, ref, quantity=1, type_=ResourceType.FIRE_ENGINE)
    offer = outcome.request.offers[0]
    await _press(rdb, offer.id, SDIS, commit=False)
    request = await requests.get_request(rdb, outcome.request.id)
    assert request is not None and request.status is RequestStatus.UNFILLED
    async with rdb.read() as tx:
        notice = await tx.one(
            "SELECT html FROM outbox WHERE chat_id = ? AND dedupe_key = ?",
            (OPS_BILINGUAL, f"unfilled:{request.id}"),
        )
    assert notice is not None and "ERCC" in notice["html"]


async def test_capacity_counts_beds_and_places(rdb: Database) -> None:
    ref = await _incident(rdb)
    outcome = await _request(rdb, ref, quantity=2, type_=ResourceType.BURNS_BED, extra_offers=0)
    assert len(outcome.request.offers) == 1  # three beds at UZ Gent cover two
    answer = await _press(rdb, outcome.request.offers[0].id, FLUVIA)
    assert answer.refusal is None and answer.offer.amount == 2
    assert answer.request.status is RequestStatus.FILLED


async def test_a_request_waits_for_the_incident_location(rdb: Database) -> None:
    ref = await _incident(rdb, located=False)
    outcome = await _request(rdb, ref, quantity=1, extra_offers=0)
    assert outcome.request.status is RequestStatus.WAITING_LOCATION
    assert outcome.request.offers == ()
    place = gazetteer.place("Doornik")
    assert place is not None
    _, effects = await with_effects(
        rdb,
        locating.locate,
        ref=ref,
        lat=place.lat,
        lon=place.lon,
        text=place.name,
        keep_text=True,
        settings=RequestSettings(extra_offers=0),
        author=BOSS,
        chat_id=None,
    )
    assert effects.expiries
    request = await requests.get_request(rdb, outcome.request.id)
    assert request is not None and request.status is RequestStatus.OPEN
    assert request.offers[0].unit.code == "BE-WAPI-AMB-1"


async def test_release_en_route_on_scene_and_cancel(rdb: Database) -> None:
    ref = await _incident(rdb)
    outcome = await _request(rdb, ref, quantity=2, extra_offers=0)
    first, second = outcome.request.offers
    await _press(rdb, first.id, WAPI)
    chat = await directory.get_chat(rdb, AGENCY_WAPI)
    moved = await once(
        rdb,
        requests.advance,
        code=first.unit.code,
        to=OfferStatus.EN_ROUTE,
        person=WAPI,
        chat=chat,
    )
    assert moved.refusal is None and moved.offer.en_route_at is not None
    moved = await once(
        rdb,
        requests.advance,
        offer_id=first.id,
        to=OfferStatus.ON_SCENE,
        person=WAPI,
        chat=chat,
    )
    assert moved.offer.status is OfferStatus.ON_SCENE
    released = await once(
        rdb,
        requests.release,
        ref=ref,
        code=first.unit.code,
        author=BOSS,
        chat_id=OPS_BILINGUAL,
    )
    assert released.status is OfferStatus.RELEASED and released.released_at is not None
    unit = await resources.get_unit(rdb, first.unit.code)
    assert unit is not None and unit.status is UnitStatus.AVAILABLE and unit.incident_ref is None
    with pytest.raises(UserError):
        await once(
            rdb,
            requests.release,
            ref=ref,
            code=first.unit.code,
            author=BOSS,
            chat_id=OPS_BILINGUAL,
        )
    # the request is still open for one more: cancel it; the second offer is withdrawn
    cancelled = await once(
        rdb,
        requests.cancel,
        ref=ref,
        request_id=None,
        author=BOSS,
        chat_id=OPS_BILINGUAL,
    )
    assert cancelled.status is RequestStatus.CANCELLED
    assert {o.unit.code: o.status for o in cancelled.offers}[second.unit.code] is (
        OfferStatus.WITHDRAWN
    )
    late = await _press(rdb, second.id, WAPI)
    assert late.refusal is not None
    with pytest.raises(UserError):
        await once(
            rdb,
            requests.cancel,
            ref=ref,
            request_id=None,
            author=BOSS,
            chat_id=OPS_BILINGUAL,
        )


async def test_closing_the_incident_releases_its_units_and_ends_its_requests(
    rdb: Database,
) -> None:
    ref = await _incident(rdb)
    outcome = await _request(rdb, ref, quantity=2, extra_offers=0)
    first, second = outcome.request.offers
    await _press(rdb, first.id, WAPI)
    committed = await resources.get_unit(rdb, first.unit.code)
    assert committed is not None and committed.status is UnitStatus.COMMITTED
    _, effects = await with_effects(rdb, closing.close, ref=ref, author=BOSS, chat_id=OPS_BILINGUAL)
    assert Live(LiveKind.REQUEST, outcome.request.id, OPS_BILINGUAL) in effects.live
    assert effects.outbox
    request = await requests.get_request(rdb, outcome.request.id)
    assert request is not None and request.status is RequestStatus.CANCELLED
    states = {o.unit.code: o.status for o in request.offers}
    assert states == {
        first.unit.code: OfferStatus.RELEASED,
        second.unit.code: OfferStatus.WITHDRAWN,
    }
    unit = await resources.get_unit(rdb, first.unit.code)
    assert unit is not None and unit.status is UnitStatus.AVAILABLE
    async with rdb.read() as tx:
        told = await tx.all("SELECT chat_id FROM outbox WHERE purpose = 'release'")
    assert [row["chat_id"] for row in told] == [AGENCY_WAPI]
    # once is enough
    _, again = await with_effects(rdb, requests.close_out, ref=ref, by="Marc Delattre")
    assert again.live == set() and not again.outbox


# --- rendering --------------------------------------------------------------------------------


async def test_cards_render_in_each_language_and_escape_what_users_typed(rdb: Database) -> None:
    from bot.render.requests import render_crossing, render_offer, render_request_card
    from bot.render.roster import render_rollcall, render_roster
    from bot.simulator.html import parse_html

    ref = await _incident(rdb)
    outcome = await once(
        rdb,
        requests.create,
        ref=ref,
        type_=ResourceType.AMBULANCE,
        quantity=2,
        note="<b>accès</b> par la rue & le pont",
        author=BOSS,
        chat_id=OPS_BILINGUAL,
        settings=RequestSettings(extra_offers=1),
    )
    answer = await _press(rdb, outcome.offers[2].id, SDIS)  # VSAV Tourcoing
    request, incident = answer.request, await incidents.get(rdb, ref)
    assert incident is not None
    now = answer.offer.decided_at
    assert now is not None
    units = await resources.roster(rdb)
    seen = set()
    for languages in (["en"], ["fr"], ["nl"], ["fr", "nl"]):
        tr = translator(languages[-1]).gettext
        htmls = [
            render_request_card(request, languages, "Europe/Brussels"),
            render_offer(answer.offer, request, incident, languages, "Europe/Brussels"),
            render_crossing(answer.offer, request, incident, languages, "Europe/Brussels"),
            render_roster(units, None, None, languages, "Europe/Brussels", now, 24),
            render_rollcall("SDIS 59", units[:3], languages, "Europe/Brussels", now, 24),
        ]
        for html in htmls:
            plain, _ = parse_html(html)  # Telegram would accept it
            assert len(plain) <= 4096
        card, offer = htmls[0], htmls[1]
        assert "&lt;b&gt;accès&lt;/b&gt; par la rue &amp; le pont" in card
        assert "<b>accès</b>" not in offer
        assert tr("committed") in card and "FR-SDIS59-VSAV-1" in card and "🇫🇷→🇧🇪" in card
        assert tr("Border crossing") in htmls[2]
        assert ("— — —" in card) == (len(languages) == 2)
        seen.add(card)
    assert len(seen) == 4  # each language reads its own words
