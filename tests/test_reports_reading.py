"""The after-action report read where it is read (issue 13, item 4): each language's alert
text in its own section and in the JSON export, numbers as each language writes them, text
equivalents for flags and stars, a closed incident's last phase ending with it, tables that
read on a phone and repeat their header in print, a footer that can be read. The browser
checks of the same report are in tests/test_report_browser.py; `sample_report` is shared."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

from PIL import Image

from bot.core.i18n import translator
from bot.core.models import (
    AlertLine,
    Country,
    Evaluation,
    Incident,
    IncidentStatus,
    KeepStatus,
    KeptFile,
    Level,
    MediaItem,
    MediaKind,
    PersonRef,
    PhasePeriod,
    Report,
    RequestLine,
    Severity,
    StatementLine,
    TimelineEntry,
    TimelineKind,
    UnitLine,
)
from bot.render.report import CSS, render_report
from bot.reports import report as reports
from tests.harness import Harness
from tests.test_reports import cells

FR = translator("fr").gettext
NL = translator("nl").gettext
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
MARC = PersonRef(id=1, name="Marc Delattre")


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _unit(
    code: str, agency: str, country: str, requested: float, times: tuple[float, ...], km: float
) -> UnitLine:
    committed, en_route, on_scene, released = (*times, None, None, None, None)[:4]

    def moment(value: float | None) -> datetime | None:
        return _at(value) if value is not None else None

    def between(a: float | None, b: float | None) -> float | None:
        return round(b - a, 1) if a is not None and b is not None else None

    return UnitLine(
        code=code,
        name=code,
        agency=agency,
        country=country,
        crossed_border=country == "FR",
        status="released" if released is not None else "on_scene",
        distance_km=km,
        eta_minutes=20,
        offered_at=_at(requested),
        committed_at=moment(committed),
        en_route_at=moment(en_route),
        on_scene_at=moment(on_scene),
        released_at=moment(released),
        request_to_commit_min=between(requested, committed),
        commit_to_arrival_min=between(committed, on_scene),
        arrival_to_release_min=between(on_scene, released),
        request_to_arrival_min=between(requested, on_scene),
    )


def sample_report(*, closed: bool = True, entries: int = 40) -> Report:
    """A closed cross-border incident of five hours: two requests with long agency names,
    a bilingual alert and an untagged one, statements, two evaluations (3 and 4 of 5: 3.5),
    a Belgian phase escalated, France involved, and a long timeline (several printed pages)."""
    closed_at = _at(300) if closed else None
    incident = Incident(
        ref=7,
        chat_id=-100101,
        title="Incendie, dépôt de produits chimiques, zone portuaire de Comines-Warneton",
        type="fire",
        severity=Severity.SEVERE,
        status=IncidentStatus.CLOSED if closed else IncidentStatus.ACTIVE,
        location_text="Rue du Port 12, Comines-Warneton",
        lat=50.7754,
        lon=3.0012,
        country=Country.BE,
        commander=MARC,
        spokesperson=None,
        liaison=None,
        exercise=False,
        declared_at=T0,
        updated_at=_at(300),
        closed_at=closed_at,
    )
    first = (
        _unit(
            "FR-SDIS59-FPT-1", "SDIS 59 – Service départemental", "FR", 5, (9, 10, 29, 250), 23.94
        ),
        _unit("BE-WAPI-FPT-1", "Zone de secours Wallonie picarde", "BE", 5, (7, 8, 21, 280), 8.2),
        _unit("BE-WAPI-AMB-3", "Zone de secours Wallonie picarde", "BE", 5, (6, 6, 18), 7.5),
    )
    second = (
        _unit("BE-FLUVIA-CHEM-1", "Hulpverleningszone Fluvia", "BE", 60, (71, 72, 110, 290), 31.0),
    )
    requests = (
        RequestLine(
            7, "fire_engine", 2, 2, "fulfilled", "citerne en feu", "Marc", _at(5), _at(30), first
        ),
        RequestLine(8, "hazmat", 1, 1, "fulfilled", None, "Marc", _at(60), _at(110), second),
    )
    alerts = (
        AlertLine(
            id=3,
            severity="severe",
            text="Confinement à Comines",
            sent_at=_at(40),
            chats=12,
            acknowledged=7,
            texts={"fr": "Confinement à Comines", "nl": "Schuilen in Komen"},
        ),
        AlertLine(
            4, "moderate", "Fin du confinement", _at(200), 12, 12, {"fr": "Fin du confinement"}
        ),
    )
    statements = (
        StatementLine(1, _at(90), {"fr": "Un incendie est en cours.", "nl": "Er woedt een brand."}),
    )
    evaluations = (
        Evaluation(
            1,
            7,
            "",
            -100101,
            11,
            4,
            "Bonne coordination\nradio à améliorer",
            "Marc",
            _at(300),
            _at(320),
        ),
        Evaluation(
            2,
            7,
            "SDIS 59",
            -100201,
            12,
            3,
            "Délai d'engagement trop long",
            "Karim",
            _at(300),
            _at(330),
        ),
    )
    phases = (
        PhasePeriod(Country.BE, Level.COMMUNAL, T0, _at(30), None),
        PhasePeriod(Country.BE, Level.PROVINCIAL, _at(30), None, "Marc Delattre"),
        PhasePeriod(Country.FR, Level.DEPARTMENTAL, _at(45), _at(120), "Marc Delattre"),
        PhasePeriod(Country.FR, Level.COMMUNAL, _at(120), None, "Marc Delattre"),
    )
    timeline = tuple(
        TimelineEntry(
            id=n + 1,
            incident_ref=7,
            kind=TimelineKind.NOTE,
            author=MARC,
            chat_id=-100101,
            text=f"Point de situation {n + 1} : panache vers le nord-est, secteur {n % 4 + 1}",
            field=None,
            lat=None,
            lon=None,
            at=_at(n * 7),
        )
        for n in range(entries)
    )
    files = _files()
    photo_entry = TimelineEntry(
        id=entries + 1,
        incident_ref=7,
        kind=TimelineKind.MEDIA,
        author=MARC,
        chat_id=-100101,
        text=files[0].item.caption,
        field=MediaKind.PHOTO.value,
        lat=None,
        lon=None,
        at=files[0].item.at,
        media=(files[0].item,),
    )
    return Report(
        incident=incident,
        generated_at=_at(400),
        timeline=tuple(sorted((*timeline, photo_entry), key=lambda e: e.at)),
        files=files,
        thumbnails={files[0].item.id: _thumbnail()},
        phases=phases,
        requests=requests,
        alerts=alerts,
        statements=statements,
        evaluations=evaluations,
        duration_min=300 if closed else None,
    )


def _thumbnail() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 90, 90)).save(out, "JPEG")
    return out.getvalue()


def _files() -> tuple[KeptFile, ...]:
    """A kept photo of the tanker's hazard plate, a kept voice note, a document not kept."""

    def item(n: int, kind: MediaKind, **more: object) -> MediaItem:
        return MediaItem(
            id=900 + n,
            entry_id=1000 + n,
            incident_ref=7,
            kind=kind,
            chat_id=-100101,
            message_id=5000 + n,
            author=MARC,
            at=_at(20 + n),
            **more,  # type: ignore[arg-type]
        )

    photo = item(
        1,
        MediaKind.PHOTO,
        caption="Plaque orange 268/1005 sur la citerne",
        file_size=2_400_000,
        width=1600,
        height=1200,
    )
    voice = item(2, MediaKind.VOICE, duration=42, file_size=120_000, mime_type="audio/ogg")
    card = item(3, MediaKind.DOCUMENT, file_name="ERICard-ammoniac-tres-long-nom-de-fichier.pdf")
    return (
        KeptFile(photo, KeepStatus.KEPT, "7/901-photo.jpg", "a" * 64, 2_400_000, None, 1, _at(22)),
        KeptFile(voice, KeepStatus.KEPT, "7/902-voice.ogg", "b" * 64, 120_000, None, 1, _at(23)),
        KeptFile(card, KeepStatus.FAILED, None, None, None, "gave up: 404", 5, _at(30)),
    )


def _sections(html: str) -> dict[str, str]:
    return dict(re.findall(r'<section class="lang" lang="(\w+)">(.*?)</section>', html, re.S))


def _part(html: str, heading: str) -> str:
    """A report's part under its heading, up to the next one."""
    return html.split(f"<h2>{heading}</h2>", 1)[1].split("<h2>", 1)[0]


def _visible_to_all(html: str) -> str:
    """What every reader gets: the text without what is hidden from screen readers (a flag or
    stars drawn with a font the machine may not have)."""
    html = re.sub(r'<span aria-hidden="true">.*?</span>', "", html)
    return re.sub(r"<[^>]+>", "", html)


def test_each_language_gets_its_own_alert_text() -> None:
    html = render_report(sample_report(), ("fr", "nl"), "Europe/Brussels")
    sections = _sections(html)
    assert "Confinement à Comines" in sections["fr"] and "Schuilen in Komen" not in sections["fr"]
    assert "Schuilen in Komen" in sections["nl"] and "Confinement à Comines" not in sections["nl"]
    # a language not given reads the first version
    assert "Fin du confinement" in sections["nl"]
    english = render_report(sample_report(), ("en",), "UTC")
    assert "Confinement à Comines" in english


def test_numbers_have_the_decimal_mark_of_the_reader() -> None:
    sections = _sections(render_report(sample_report(), ("fr", "nl", "en"), "Europe/Brussels"))
    assert "3,5 / 5" in sections["fr"] and "3,5 / 5" in sections["nl"]
    assert "3.5 / 5" in sections["en"]
    assert "23,9 km" in sections["fr"] and "23,9 km" in sections["nl"]
    assert "23.9 km" in sections["en"]
    # 7 of 12 acknowledged: 58 %, with the space French puts before it
    assert re.search(r"58\s%", sections["fr"]) and "58%" in sections["en"]
    assert "0.5" not in sections["fr"] and "23.94" not in sections["fr"]


def test_flags_and_stars_have_a_text_equivalent() -> None:
    html = render_report(sample_report(), ("fr", "nl"), "Europe/Brussels")
    sections = _sections(html)
    plain = {lang: _visible_to_all(s) for lang, s in sections.items()}
    for flag in ("🇧🇪", "🇫🇷", "★", "☆"):
        assert flag in html  # still drawn for the eye
        assert flag not in plain["fr"] and flag not in plain["nl"]  # but never alone
    assert FR("{rating} out of 5").format(rating=4) in plain["fr"]
    assert NL("{rating} out of 5").format(rating=3) in plain["nl"]
    phases = cells(sections["nl"])
    assert f"🇧🇪 {NL('Belgium')}" in phases and f"🇫🇷 {NL('France')}" in phases
    # every unit's country in words beside its agency
    assert (
        'Hulpverleningszone Fluvia<br><span aria-hidden="true">🇧🇪</span> ' + NL("Belgium")
        in sections["nl"]
    )
    assert plain["fr"].count(FR("France")) >= 3


def test_a_closed_incidents_last_phase_ends_with_it() -> None:
    report = sample_report()
    html = render_report(report, ("fr",), "Europe/Brussels")
    closed = translator("fr").datetime(_at(300), "Europe/Brussels")
    rows = re.findall(r"<tr role=\"row\">(.*?)</tr>", _part(html, FR("Phases")))
    phase_rows = [cells(r) for r in rows if "<td" in r]
    assert len(phase_rows) == 4
    assert [r[4] for r in phase_rows] == [
        translator("fr").datetime(_at(30), "Europe/Brussels"),
        closed,
        translator("fr").datetime(_at(120), "Europe/Brussels"),
        closed,
    ]
    # an open incident's phase goes on
    still = render_report(sample_report(closed=False), ("fr",), "Europe/Brussels")
    assert FR("still open") in cells(still)
    assert "—</div></td>" not in _part(still, FR("Phases"))


def test_tables_read_on_a_phone_and_repeat_their_header_in_print() -> None:
    html = render_report(sample_report(), ("en",), "UTC")
    tables = re.findall(r"<table.*?</table>", html, re.S)
    assert len(tables) == 6  # phases, two requests, alerts, evaluations, files
    for table in tables:
        assert 'class="stack"' in table and "<thead" in table and "<tbody" in table
        headers = re.findall(r"<th [^>]*>(.*?)</th>", table)
        for row in re.findall(r"<tbody.*?</tbody>", table, re.S):
            labels = re.findall(r'data-label="([^"]*)"', row)
            assert labels and set(labels) == set(headers)
    assert "thead{display:table-header-group}" in CSS
    # a scrolling box can be reached by keyboard, and is named
    assert html.count('<div class="wrap" tabindex="0" role="region" aria-label=') == 6


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_footer_can_be_read() -> None:
    (colour,) = re.findall(r"footer\{color:(#[0-9a-f]{6})", CSS)
    ratio = (1 + 0.05) / (_luminance(colour) + 0.05)
    assert ratio >= 4.5, ratio


def test_the_json_export_keeps_every_languages_text() -> None:
    data = json.loads(reports.to_json(sample_report()))
    first, second = data["alerts"]
    assert first["texts"] == {"fr": "Confinement à Comines", "nl": "Schuilen in Komen"}
    assert first["text"] == "Confinement à Comines"
    assert second["texts"] == {"fr": "Fin du confinement"}


async def test_a_bilingual_alert_reaches_the_report_in_each_language(harness: Harness) -> None:
    """End to end: the alert typed as `fr: … | nl: …`, the incident closed, /report: the
    French section reads the French text and the Dutch section the Dutch one; the JSON export
    (the command line's) carries both."""
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage")
    await h.say(
        h.liaison,
        h.liaison_fr,
        "/alert #1 sévère fr: Confinement à Mouscron | nl: Schuilen in Moeskroen",
    )
    await h.say(h.commander, h.ops, "/close")
    await h.say(h.commander, h.ops, "/report")
    sent = h.sim.bot_messages(h.ops)[-1]
    assert sent.document is not None
    sections = _sections(sent.document.data.decode("utf-8"))
    assert set(sections) == {"fr", "nl"}
    fr_alerts = _part(sections["fr"], FR("Alerts"))
    nl_alerts = _part(sections["nl"], NL("Alerts"))
    assert "Confinement à Mouscron" in fr_alerts and "Moeskroen" not in fr_alerts
    assert "Schuilen in Moeskroen" in nl_alerts and "Confinement" not in nl_alerts
    found = await reports.collect(h.runtime.db, 1)
    assert found is not None
    (alert,) = found.alerts
    assert alert.texts == {"fr": "Confinement à Mouscron", "nl": "Schuilen in Moeskroen"}
    assert json.loads(reports.to_json(found))["alerts"][0]["texts"]["nl"] == (
        "Schuilen in Moeskroen"
    )
