"""After-action: evaluations asked on /close, the report (HTML, JSON) with its timeline and
computed durations for a scripted incident."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import cli
from bot.core.db import Database, PostgresDatabase, SqliteDatabase, to_db_time
from bot.core.i18n import translator
from bot.core.models import Author, Chat, ChatKind, Country, Evaluation
from bot.incidents import phases
from bot.incidents import service as incidents
from bot.render.report import render_report
from bot.reports import evaluations
from bot.reports import report as reports
from tests.conftest import COMMANDER, OPS_BILINGUAL
from tests.harness import Harness
from tests.units import once

EN = translator("en").gettext
FR = translator("fr").gettext
NL = translator("nl").gettext
ROOT = Path(__file__).resolve().parent.parent


def cells(html: str) -> list[str]:
    """The text of every table cell of a report."""
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", html)]


MARC = Author(COMMANDER, "Marc Delattre", "mdelattre", "fr")


async def _scripted(db: Database) -> int:
    """Declared at 10:00, provincial phase at 10:30, French departmental level at 10:45 to
    11:15, closed at 12:00 (UTC), with a note and evaluations."""
    chat = Chat(
        id=OPS_BILINGUAL,
        name="Tournai ops",
        kind=ChatKind.OPERATIONS,
        country=Country.BE,
        languages=("fr", "nl"),
        timezone="Europe/Brussels",
    )
    incident = await once(
        db,
        incidents.declare,
        chat=chat,
        title="Incendie, dépôt chimique",
        author=MARC,
        exercise=True,
    )
    ref = incident.ref
    common = dict(author=MARC, chat_id=OPS_BILINGUAL, notify={})
    await once(
        db,
        incidents.add_note,
        ref=ref,
        text="Panache vers la France",
        author=MARC,
        chat_id=OPS_BILINGUAL,
        message_id=None,
    )
    await once(db, phases.change, ref=ref, up=True, country=None, **common)  # type: ignore[arg-type]
    await once(db, phases.change, ref=ref, up=True, country=Country.FR, **common)  # type: ignore[arg-type]
    await once(db, phases.change, ref=ref, up=False, country=Country.FR, **common)  # type: ignore[arg-type]
    await once(db, incidents.close, ref=ref, author=MARC, chat_id=OPS_BILINGUAL)
    assert await once(db, evaluations.ask, ref) == 1
    # the script's clock: every time set to a known moment
    t0 = incident.declared_at.replace(hour=10, minute=0, second=0, microsecond=0)

    def at(minutes: int) -> str:
        return to_db_time(t0 + timedelta(minutes=minutes))

    async with db.unit() as tx:
        await tx.execute(
            "UPDATE incidents SET declared_at = ?, closed_at = ? WHERE id = ?",
            (at(0), at(120), ref),
        )
        rows = await tx.all("SELECT id, country, level FROM incident_phases ORDER BY id")
        times = {  # (country, level) in order → (start, end)
            0: (0, 30),  # BE communal
            1: (30, None),  # BE provincial
            2: (45, 75),  # FR departmental: France involved at 10:45, not before
            3: (75, None),  # FR communal
        }
        for index, row in enumerate(rows):
            start, end = times[index]
            await tx.execute(
                "UPDATE incident_phases SET started_at = ?, ended_at = ? WHERE id = ?",
                (at(start), at(end) if end is not None else None, row["id"]),
            )
        await tx.execute(
            "UPDATE evaluations SET rating = 4, comment = ?, person_id = ?, answered_at = ?",
            ("Bonne coordination; radio à améliorer", COMMANDER, at(125)),
        )
    return ref


async def test_the_report_has_the_timeline_phases_and_their_durations(db: Database) -> None:
    ref = await _scripted(db)
    report = await reports.collect(db, ref)
    assert report is not None
    assert report.duration_min == 120
    summary = [
        (p.country.value, p.level.value, p.started_at.minute, p.ended_at is not None)
        for p in report.phases
    ]
    assert summary == [
        ("BE", "communal", 0, True),
        ("BE", "provincial", 30, False),
        ("FR", "departmental", 45, True),
        ("FR", "communal", 15, False),
    ]
    html = render_report(report, ("en",), "UTC")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "http" not in html.split("<body>")[0]  # no external asset
    assert "Duration: 2 h 00 min" in html
    # BE provincial from 10:30 to the close at 12:00; FR departmental 10:45 to 11:15
    shown = cells(html)
    assert "provincial phase" in shown
    assert "1 h 30 min" in shown and "30 min" in shown
    assert "Panache vers la France" in html  # the timeline
    assert "★★★★☆" in html and "4 out of 5" in html and "radio à améliorer" in html
    bilingual = render_report(report, ("fr", "nl"), "Europe/Brussels")
    assert FR("provincial phase") in bilingual and NL("provincial phase") in bilingual
    assert 'lang="fr"' in bilingual and 'lang="nl"' in bilingual

    data = json.loads(reports.to_json(report))
    assert data["duration_min"] == 120
    assert [p["level"] for p in data["phases"]][:2] == ["communal", "provincial"]
    assert data["evaluations"][0]["rating"] == 4
    assert any(e["text"] == "Panache vers la France" for e in data["timeline"])


async def test_the_report_names_its_time_zone_as_people_read_it(db: Database) -> None:
    ref = await _scripted(db)
    report = await reports.collect(db, ref)
    assert report is not None
    winter = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    incident = report.incident.model_copy(
        update={"declared_at": winter, "closed_at": winter + timedelta(hours=2)}
    )
    report = replace(report, incident=incident, generated_at=winter + timedelta(days=1))
    html = render_report(report, ("fr", "nl"), "Europe/Brussels")
    footers = html.split("<footer>")[1:]
    assert "Fuseau horaire : heure de Bruxelles (UTC+01:00)." in footers[0]
    assert "Tijdzone: Brusselse tijd (UTC+01:00)." in footers[1]
    assert "Europe/Brussels" not in html
    # a report written in summer about a winter incident: both offsets
    report = replace(report, generated_at=datetime(2026, 7, 1, 8, 0, tzinfo=UTC))
    html = render_report(report, ("en",), "Europe/Paris")
    assert "Time zone: Paris time (UTC+01:00, UTC+02:00)." in html
    # a zone of no table: named after its city, in the reader's language
    html = render_report(report, ("nl",), "Europe/Berlin")
    assert "Tijdzone: tijd in Berlijn (UTC+01:00, UTC+02:00)." in html
    html = render_report(report, ("fr",), "Europe/Oslo")
    assert "Fuseau horaire : heure d'Oslo (UTC+01:00, UTC+02:00)." in html
    assert "Time zone: UTC." in render_report(report, ("en",), "UTC")


async def test_report_export_on_the_command_line(db: Database, tmp_path: Path) -> None:
    ref = await _scripted(db)
    config = tmp_path / "c.toml"
    config.write_text(f"[storage]\n{_where(db)}\n")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "report", "export", f"#{ref}", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["incident"]["ref"] == ref and data["duration_min"] == 120
    missing = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "report", "export", "99", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert missing.returncode == 1 and "no such incident" in missing.stderr


def _where(db: Database) -> str:
    """The [storage] line naming this database."""
    if isinstance(db, PostgresDatabase):
        return f"url = {json.dumps(db.url)}"
    assert isinstance(db, SqliteDatabase)
    return f"path = {json.dumps(db.path)}"


def _config(tmp_path: Path, db: Database, language: str) -> Path:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\n{_where(db)}\n[i18n]\ndefault_language = "{language}"\n',
        encoding="utf-8",
    )
    return config


async def test_report_export_takes_its_options_anywhere_and_a_known_language(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = await _scripted(db)
    config = str(_config(tmp_path, db, "nl"))
    out = tmp_path / "out.html"

    def export(*args: str) -> int:
        return cli.main(["report", "export", *args, "--config", config])

    # the file after --html, as after the incident: both work
    assert await asyncio.to_thread(export, str(ref), "--html", str(out)) == 0
    assert capsys.readouterr().out == f"{out}: report of #{ref} written\n"
    # without --language: the configured [i18n] default_language
    html = out.read_text(encoding="utf-8")
    assert 'lang="nl"' in html and NL("After-action report") in html
    out.unlink()
    assert await asyncio.to_thread(export, "--language", "fr", str(ref), "--html", str(out)) == 0
    html = out.read_text(encoding="utf-8")
    assert 'lang="fr"' in html and FR("After-action report") in html
    out.unlink()
    # a language the bot does not have is refused, not written in English under lang="de"
    with pytest.raises(SystemExit) as refused:
        await asyncio.to_thread(export, str(ref), "--html", "--language", "de", str(out))
    assert refused.value.code == 2
    assert "invalid choice: 'de' (choose from 'en', 'fr', 'nl')" in capsys.readouterr().err
    # --language is for the HTML report; one file only
    for args in ((str(ref), "--language", "fr", str(out)), (str(ref), "a.html", "b.html")):
        with pytest.raises(SystemExit):
            await asyncio.to_thread(export, *args)
        assert "error:" in capsys.readouterr().err
    assert not out.exists()


def test_report_export_help_names_the_real_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["report", "export", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert "(default: [i18n] default_language)" in usage
    assert "--language {en,fr,nl}" in usage


async def test_close_asks_the_commander_and_report_sends_a_document(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage")
    await h.say(h.commander, h.ops, "/escalate")
    await h.say(h.commander, h.ops, "/close")
    question = next(
        m for m in h.sim.bot_messages(h.ops) if any(d.startswith("e1:") for d in m.callback_data)
    )
    assert FR("Evaluation of #{ref} {title}").split("#")[0] in (question.text or "")
    # the command's evaluation is the commander's
    query = await h.press(h.responder, h.ops, question, question.callback_data[3])
    assert h.sim.callback_answers[query].show_alert
    await h.press(h.commander, h.ops, question, question.callback_data[3])  # ★★★★
    await h.say(h.commander, h.ops, "Renforts belges rapides; cartes à partager", reply_to=question)
    (evaluation,) = [e for e in await _evaluations(h) if e.incident_ref == 1]
    assert evaluation.rating == 4
    assert evaluation.comment == "Renforts belges rapides; cartes à partager"
    # the reply did not go to the closed incident's timeline as a refused note
    assert not any(t.startswith("⛔") for t in h.bot_texts(h.ops)[-2:])

    await h.say(h.commander, h.ops, "/report")
    sent = h.sim.bot_messages(h.ops)[-1]
    assert sent.document is not None and sent.document.filename == "passerelle-1-report.html"
    html = sent.document.data.decode("utf-8")
    assert FR("After-action report") in html and NL("After-action report") in html
    assert "Fuite de chlore, gare de triage" in html
    assert FR("provincial phase") in html
    assert "cartes à partager" in html
    # the zone as people read it, with its offset, not its identifier
    assert "Europe/Brussels" not in html
    assert "Fuseau horaire : heure de Bruxelles (UTC+0" in html
    assert "Tijdzone: Brusselse tijd (UTC+0" in html
    # a responder may not
    await h.say(h.responder, h.ops, "/report #1")
    assert h.last_text(h.ops).startswith("⛔")


async def _evaluations(h: Harness) -> list[Evaluation]:
    async with h.runtime.db.read() as tx:
        return await evaluations.of_incident_in(tx, 1)
