"""The report with the field's files: thumbnails of kept photos, and the export with the
originals (`report export N --with-files DIR`) that an inquiry can be handed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import subprocess
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot import cli
from bot.core import directory
from bot.core.config import Settings, parse_settings
from bot.core.db import Database, SqliteDatabase
from bot.core.effects import Effects
from bot.core.models import Author, KeepStatus, MediaKind, MediaSent, Report
from bot.delivery.files import FileGone
from bot.evidence import service as evidence
from bot.evidence.keeper import Keeper
from bot.incidents import service as incidents
from bot.render.report import render_report
from bot.reports import archive
from bot.reports import report as reports
from tests.conftest import OPS_BILINGUAL, RESPONDER, settings_data
from tests.units import once

FIREFIGHTER = Author(RESPONDER, "Jean Pompier", None)


def _jpeg(width: int = 2000, height: int = 1500) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (230, 120, 20)).save(out, "JPEG")
    return out.getvalue()


PHOTO = _jpeg()
VOICE = b"OggS voice note of 12 seconds" + bytes(12_316)  # 12 345 bytes


class Files:
    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data
        self.calls: Counter[str] = Counter()

    async def fetch(self, file_id: str) -> bytes:
        self.calls[file_id] += 1
        if file_id not in self.data:
            raise FileGone("download: 404 Not Found")
        return self.data[file_id]


async def _nothing(effects: Effects) -> None:
    return None


def _settings(tmp_path: Path) -> Settings:
    data = settings_data(tmp_path / "passerelle.db")
    data["evidence"] = {"first_retry": 0.0, "attempts": 1}
    return parse_settings(data, env={})


async def _incident_with_files(tmp_path: Path) -> tuple[Database, Settings, int]:
    """An incident whose timeline has a photo and a voice note (both kept) and a document
    that could not be downloaded."""
    settings = _settings(tmp_path)
    db = SqliteDatabase(settings.storage.path)
    await db.open()
    await directory.seed(db, settings)
    chat = await directory.get_chat(db, OPS_BILINGUAL)
    assert chat is not None
    incident = await once(
        db, incidents.declare, chat=chat, title="Citerne", author=FIREFIGHTER, exercise=False
    )
    sent = [
        MediaSent(
            MediaKind.PHOTO,
            message_id=10,
            caption="Plaque ONU 1017",
            file_id="photo",
            file_unique_id="u-photo",
            file_size=len(PHOTO),
            width=2000,
            height=1500,
        ),
        MediaSent(
            MediaKind.VOICE,
            message_id=11,
            file_id="voice",
            file_unique_id="u-voice",
            file_size=len(VOICE),
            duration=12,
            mime_type="audio/ogg",
        ),
        MediaSent(
            MediaKind.DOCUMENT,
            message_id=12,
            file_id="gone",
            file_unique_id="u-gone",
            file_size=100,
            file_name="ERICard.pdf",
            mime_type="application/pdf",
        ),
    ]
    for one in sent:
        await once(
            db,
            evidence.record,
            ref=incident.ref,
            sent=one,
            author=FIREFIGHTER,
            chat_id=OPS_BILINGUAL,
        )
    keeper = Keeper(db, Files({"photo": PHOTO, "voice": VOICE}).fetch, settings, apply=_nothing)
    await keeper.start()
    try:
        await keeper.drained(10)
    finally:
        await keeper.stop()
    return db, settings, incident.ref


async def test_the_report_carries_every_file_and_thumbnails_of_the_kept_photos(
    tmp_path: Path,
) -> None:
    db, settings, ref = await _incident_with_files(tmp_path)
    try:
        found = await reports.collect(db, ref)
    finally:
        await db.close()
    assert found is not None
    statuses = {kept.item.kind: kept.status for kept in found.files}
    assert statuses == {
        MediaKind.PHOTO: KeepStatus.KEPT,
        MediaKind.VOICE: KeepStatus.KEPT,
        MediaKind.DOCUMENT: KeepStatus.FAILED,
    }
    assert found.thumbnails == {}
    shown = await reports.with_thumbnails(found, evidence.folder(settings))
    [(item_id, small)] = shown.thumbnails.items()
    photo = next(k for k in found.files if k.item.kind is MediaKind.PHOTO)
    assert item_id == photo.item.id
    assert Image.open(io.BytesIO(small)).size == (640, 480) and len(small) < len(PHOTO)
    data = json.loads(reports.to_json(shown))
    by_kind = {f["item"]["kind"]: f for f in data["files"]}
    assert by_kind["photo"]["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert by_kind["voice"]["size"] == len(VOICE) and by_kind["voice"]["item"]["duration"] == 12
    kept_at = evidence.folder(settings) / by_kind["voice"]["path"]
    assert kept_at.read_bytes() == VOICE
    assert by_kind["document"]["status"] == "failed" and by_kind["document"]["path"] is None
    assert "404" in by_kind["document"]["reason"]


def _sums(folder: Path) -> dict[str, str]:
    listed = {}
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    return listed


async def test_the_export_with_files_holds_the_originals_checked_and_summed(
    tmp_path: Path,
) -> None:
    db, settings, ref = await _incident_with_files(tmp_path)
    try:
        found = await reports.collect(db, ref)
    finally:
        await db.close()
    assert found is not None
    found = await reports.with_thumbnails(found, evidence.folder(settings))
    out = tmp_path / "for-the-inquiry"
    written = archive.export(
        found,
        kept_in=evidence.folder(settings),
        folder=out,
        languages=("fr",),
        timezone="Europe/Paris",
    )
    assert written.problems == [] and written.originals == 2
    listed = _sums(out)
    # every file listed is there with that SHA-256, and nothing else is in the folder
    for name, digest in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk == {*listed, "SHA256SUMS"}
    # sha256sum -c agrees (what an inspector runs)
    checked = await asyncio.to_thread(
        subprocess.run,
        ["sha256sum", "-c", "SHA256SUMS"],
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    data = json.loads((out / f"passerelle-{ref}-report.json").read_text(encoding="utf-8"))
    paths = {f["item"]["kind"]: f["path"] for f in data["files"]}
    assert (out / paths["photo"]).read_bytes() == PHOTO
    assert (out / paths["voice"]).read_bytes() == VOICE
    assert paths["document"] is None
    html = (out / f"passerelle-{ref}-report.html").read_text(encoding="utf-8")
    assert 'lang="fr"' in html
    # a second export into the same folder is refused, nothing overwritten
    again = archive.export(
        found, kept_in=evidence.folder(settings), folder=out, languages=("fr",), timezone="UTC"
    )
    assert again.problems and "not an empty folder" in again.problems[0]
    assert _sums(out) == listed


async def test_an_original_changed_since_it_was_kept_is_said(tmp_path: Path) -> None:
    db, settings, ref = await _incident_with_files(tmp_path)
    try:
        found = await reports.collect(db, ref)
    finally:
        await db.close()
    assert found is not None
    voice = next(k for k in found.files if k.item.kind is MediaKind.VOICE)
    assert voice.path is not None
    (evidence.folder(settings) / voice.path).write_bytes(b"tampered")
    written = archive.export(
        found,
        kept_in=evidence.folder(settings),
        folder=tmp_path / "out",
        languages=("en",),
        timezone="UTC",
    )
    [problem] = written.problems
    assert "differs" in problem and voice.sha256 is not None and voice.sha256 in problem


async def test_report_export_with_files_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, settings, ref = await _incident_with_files(tmp_path)
    await db.close()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\npath = "{settings.storage.path}"\n[i18n]\ndefault_language = "nl"\n',
        encoding="utf-8",
    )
    out = tmp_path / "archive"

    def export(*args: str) -> int:
        return cli.main(["report", "export", *args, "--config", str(config)])

    assert await asyncio.to_thread(export, f"#{ref}", "--with-files", str(out)) == 0
    assert capsys.readouterr().out == (
        f"{out}: report of #{ref} and 2 originals written, with SHA256SUMS\n"
    )
    html = (out / f"passerelle-{ref}-report.html").read_text(encoding="utf-8")
    assert 'lang="nl"' in html and "data:image/jpeg;base64," in html
    assert len(list((out / archive.FILES).rglob("*.*"))) == 2
    # into a folder that is not empty: refused with a reason, exit code 1
    assert await asyncio.to_thread(export, f"#{ref}", "--with-files", str(out)) == 1
    assert "not an empty folder" in capsys.readouterr().err
    # --with-files writes both reports: no FILE, no --html
    with pytest.raises(SystemExit):
        await asyncio.to_thread(export, f"#{ref}", "--with-files", str(out), "x.json")
    assert "no FILE, no --html" in capsys.readouterr().err


async def test_the_html_report_shows_the_photo_inline_and_lists_every_file(
    tmp_path: Path,
) -> None:
    db, settings, ref = await _incident_with_files(tmp_path)
    try:
        found = await reports.collect(db, ref)
    finally:
        await db.close()
    assert found is not None
    found = await reports.with_thumbnails(found, evidence.folder(settings))
    [small] = found.thumbnails.values()
    html = render_report(found, ("fr", "nl"), "Europe/Brussels")
    # the thumbnail itself, in the page, once per language, described
    embedded = "data:image/jpeg;base64," + base64.b64encode(small).decode("ascii")
    assert html.count(embedded) == 2
    assert 'width="640" height="480"' in html
    assert 'alt="Photo envoyée par Jean Pompier le ' in html and " : Plaque ONU 1017" in html
    assert 'alt="Foto verstuurd door Jean Pompier op ' in html
    # every file listed, with the kept originals' SHA-256 and why the document is missing
    assert html.count(hashlib.sha256(PHOTO).hexdigest()) == 2
    assert html.count(hashlib.sha256(VOICE).hexdigest()) == 2
    assert "0:12" in html and "ERICard.pdf" in html
    assert "non conservé : le téléchargement a échoué" in html
    assert "niet bewaard: het downloaden is mislukt" in html
    # sizes in each language's way
    assert "12 ko" in html and "12 kB" in html
    # an English report of the same, without thumbnails: nothing embedded, files still listed
    plain = render_report(await _without(found), ("en",), "UTC")
    assert "data:image" not in plain and hashlib.sha256(PHOTO).hexdigest() in plain
    assert "not kept: the download failed" in plain


async def _without(found: Report) -> Report:
    return replace(found, thumbnails={})
