"""Media on the timeline and the evidence keeper, against a real SQLite file (the keeper with
a stand-in for Telegram's files: bot.delivery.files is tested end to end)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import directory
from bot.core.config import Settings, parse_settings
from bot.core.db import AlreadyProcessed, Database, to_db_time
from bot.core.effects import Effects
from bot.core.errors import UserError
from bot.core.i18n import translator
from bot.core.models import Author, KeepStatus, MediaKind, MediaSent, TimelineKind
from bot.delivery.files import BOT_API_DOWNLOAD_LIMIT, FetchFailed, FileGone, FileTooBig
from bot.evidence import keeper as keeping
from bot.evidence import service as evidence
from bot.evidence.keeper import Keeper
from bot.incidents import media
from bot.incidents import service as incidents
from bot.lifecycle import closing
from bot.render.card import render_card
from bot.render.media import media_counts, media_summary
from bot.render.report import render_report
from bot.reports.report import collect, to_json
from tests.conftest import COMMANDER, LIAISON_FR, OPS_BILINGUAL, RESPONDER, settings_data
from tests.units import once, with_effects

BOSS = Author(COMMANDER, "Marc Delattre", "mdelattre")
FIREFIGHTER = Author(RESPONDER, "Jean Pompier", None)


def _photo(message_id: int, **extra: object) -> MediaSent:
    values: dict[str, object] = {
        "kind": MediaKind.PHOTO,
        "message_id": message_id,
        "file_id": f"photo-{message_id}",
        "file_unique_id": f"u-photo-{message_id}",
        "file_size": 1000 + message_id,
        "width": 1280,
        "height": 960,
    }
    values.update(extra)
    return MediaSent(**values)  # type: ignore[arg-type]


async def _declare(db: Database) -> int:
    chat = await directory.get_chat(db, OPS_BILINGUAL)
    assert chat is not None
    incident = await once(
        db, incidents.declare, chat=chat, title="Citerne", author=BOSS, exercise=False
    )
    return incident.ref


async def _record(
    db: Database, ref: int, sent: MediaSent, update_id: int | None = None
) -> int | None:
    return await once(
        db,
        evidence.record,
        ref=ref,
        sent=sent,
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
        update_id=update_id,
    )


async def test_a_photo_is_a_media_entry_with_its_item_and_its_download_queued(db: Database) -> None:
    ref = await _declare(db)
    item_id, effects = await with_effects(
        db,
        evidence.record,
        ref=ref,
        sent=_photo(7, caption="  Plaque ONU 1017  "),
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
    )
    assert item_id is not None and effects.files
    entry = (await incidents.timeline(db, ref, last=1))[0]
    assert entry.kind is TimelineKind.MEDIA and entry.text == "Plaque ONU 1017"
    assert entry.field == "photo" and entry.author is not None
    [item] = entry.media
    assert (item.kind, item.file_id, item.file_unique_id) == (
        MediaKind.PHOTO,
        "photo-7",
        "u-photo-7",
    )
    assert (item.width, item.height, item.file_size, item.message_id) == (1280, 960, 1007, 7)
    [kept] = await evidence.files(db, ref)
    assert kept.status is KeepStatus.PENDING and kept.item.id == item_id


async def test_an_album_is_one_entry_whatever_item_carries_the_caption(db: Database) -> None:
    ref = await _declare(db)
    for number in range(10):
        sent = _photo(
            20 + number,
            media_group_id="album-1",
            caption="Vue du nord" if number == 1 else None,
        )
        await _record(db, ref, sent, update_id=100 + number)
    entries = await incidents.timeline(db, ref, last=50)
    assert [e.kind for e in entries] == [TimelineKind.DECLARED, TimelineKind.MEDIA]
    album = entries[-1]
    assert len(album.media) == 10 and album.text == "Vue du nord"
    assert [i.message_id for i in album.media] == list(range(20, 30))
    async with db.read() as tx:
        assert await media.counts_in(tx, ref) == {MediaKind.PHOTO: 10}
        assert await evidence.album_in(tx, OPS_BILINGUAL, "album-1") == ref
        assert await evidence.album_in(tx, OPS_BILINGUAL, "album-2") is None
    tr = translator("fr")
    assert media_summary(tr, album) == "📷 photo ×10"


async def test_a_redelivered_update_or_message_records_nothing_twice(db: Database) -> None:
    ref = await _declare(db)
    assert await _record(db, ref, _photo(7), update_id=55) is not None
    with pytest.raises(AlreadyProcessed):
        await _record(db, ref, _photo(7), update_id=55)
    # the same message under another update id (never from Telegram, but still): one item
    assert await _record(db, ref, _photo(7), update_id=56) is None
    async with db.read() as tx:
        assert len(await media.of_incident_in(tx, ref)) == 1
        rows = await tx.all("SELECT * FROM media_downloads")
    assert len(rows) == 1


async def test_each_kind_and_what_the_timeline_line_says(db: Database) -> None:
    ref = await _declare(db)
    sent = [
        MediaSent(
            MediaKind.VOICE, 31, file_id="v", file_unique_id="uv", duration=42, file_size=9000
        ),
        MediaSent(MediaKind.VIDEO, 32, file_id="vi", duration=75, width=640, height=360),
        MediaSent(MediaKind.VIDEO_NOTE, 33, file_id="vn", duration=9, width=240, height=240),
        MediaSent(MediaKind.AUDIO, 34, file_id="a", file_name="radio.mp3", duration=3700),
        MediaSent(
            MediaKind.DOCUMENT,
            35,
            file_id="d",
            file_name="ERICard.pdf",
            mime_type="application/pdf",
        ),
        MediaSent(MediaKind.CONTACT, 36, name="Dr Lemaire", phone="+32 470 12 34 56"),
        MediaSent(
            MediaKind.VENUE,
            37,
            name="PMA",
            address="Rue de la Gare 1, Tournai",
            lat=50.61,
            lon=3.39,
        ),
    ]
    for one in sent:
        await _record(db, ref, one)
    entries = (await incidents.timeline(db, ref, last=50))[1:]
    tr = translator("en")
    assert [media_summary(tr, e) for e in entries] == [
        "🎙 voice note 0:42",
        "🎥 video 1:15",
        "📹 video message 0:09",
        "🎵 audio file radio.mp3, 1:01:40",
        "📄 document ERICard.pdf",
        "👤 contact Dr Lemaire, +32 470 12 34 56",
        "📌 place PMA, Rue de la Gare 1, Tournai",
    ]
    # a venue is a located entry (the map marks it)
    assert (entries[-1].lat, entries[-1].lon) == (50.61, 3.39)
    # contacts and venues have no file: nothing to download
    files = await evidence.files(db, ref)
    assert [f.item.kind for f in files] == [
        MediaKind.VOICE,
        MediaKind.VIDEO,
        MediaKind.VIDEO_NOTE,
        MediaKind.AUDIO,
        MediaKind.DOCUMENT,
    ]


async def test_the_card_counts_the_media_and_shows_the_latest_entry(db: Database) -> None:
    ref = await _declare(db)
    await _record(db, ref, _photo(7, caption="panache"))
    await _record(db, ref, _photo(8))
    await _record(db, ref, MediaSent(MediaKind.VOICE, 9, file_id="v", duration=12))
    incident = await incidents.get(db, ref)
    assert incident is not None
    async with db.read() as tx:
        counts = await media.counts_in(tx, ref)
        timeline = await incidents.timeline_in(tx, ref, 5)
    assert media_counts(counts) == "📷 2 · 🎙 1"
    card = render_card(incident, timeline, ["fr", "nl"], "Europe/Brussels", media=counts)
    assert "Médias : 📷 2 · 🎙 1" in card or "📷 2 · 🎙 1" in card
    assert card.rstrip().count("🎙 ") >= 2  # the count and the latest entry
    assert "📷 photo: panache" in card


async def test_a_closed_incident_takes_no_new_media(db: Database) -> None:
    ref = await _declare(db)
    await once(db, closing.close, ref=ref, author=BOSS, chat_id=OPS_BILINGUAL)
    with pytest.raises(UserError):
        await _record(db, ref, _photo(7))


async def test_a_file_over_the_bot_api_limit_is_recorded_as_too_big_not_queued(
    db: Database,
) -> None:
    ref = await _declare(db)
    fifty_mb = 50 * 1024 * 1024
    item_id, effects = await with_effects(
        db,
        evidence.record,
        ref=ref,
        sent=MediaSent(MediaKind.VIDEO, 40, file_id="big", file_size=fifty_mb, duration=600),
        author=FIREFIGHTER,
        chat_id=OPS_BILINGUAL,
    )
    assert item_id is not None and not effects.files
    [kept] = await evidence.files(db, ref)
    assert kept.status is KeepStatus.TOO_BIG and kept.reason and "20 MB" in kept.reason
    assert kept.item.file_size == fifty_mb > BOT_API_DOWNLOAD_LIMIT


# --- the keeper ------------------------------------------------------------------------------


class FakeFiles:
    """Telegram's files as the keeper sees them: bytes per file id, with failures to play."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.failures: dict[str, list[Exception]] = {}
        self.calls: Counter[str] = Counter()

    async def fetch(self, file_id: str) -> bytes:
        self.calls[file_id] += 1
        planned = self.failures.get(file_id)
        if planned:
            raise planned.pop(0)
        if file_id not in self.data:
            raise FileGone("download: 404 Not Found")
        return self.data[file_id]


async def _no_effects(effects: Effects) -> None:
    return None


def _settings(tmp_path: Path, **evidence_settings: object) -> Settings:
    data = settings_data(tmp_path / "passerelle.db")
    data["evidence"] = {"first_retry": 0.0, **evidence_settings}
    return parse_settings(data, env={})


async def _keeper(db: Database, settings: Settings, files: FakeFiles) -> Keeper:
    kept = Keeper(db, files.fetch, settings, apply=_no_effects, poll_interval=0.05)
    await kept.start()
    return kept


async def test_the_keeper_downloads_each_file_once_with_its_sha256(
    db: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    files = FakeFiles()
    files.data = {"photo-7": b"\xff\xd8 smoke plume", "doc": b"%PDF-1.7 ERICard"}
    ref = await _declare(db)
    await _record(db, ref, _photo(7, file_size=16))
    await _record(
        db, ref, MediaSent(MediaKind.DOCUMENT, 8, file_id="doc", file_name="ERI Card.PDF")
    )
    worker = await _keeper(db, settings, files)
    try:
        await worker.drained(5)
    finally:
        await worker.stop()
    photo, doc = await evidence.files(db, ref)
    assert photo.status is KeepStatus.KEPT and doc.status is KeepStatus.KEPT
    assert photo.sha256 == hashlib.sha256(b"\xff\xd8 smoke plume").hexdigest()
    assert photo.size == len(b"\xff\xd8 smoke plume")
    assert photo.path == f"{ref}/{photo.item.id}-photo.jpg"
    assert doc.path == f"{ref}/{doc.item.id}-document.pdf"
    on_disk = evidence.kept_path(settings, photo)
    assert on_disk is not None and on_disk.read_bytes() == b"\xff\xd8 smoke plume"
    assert on_disk.parent.parent == tmp_path / "passerelle-media"
    assert files.calls == Counter({"photo-7": 1, "doc": 1})
    # started again (a restart): nothing is downloaded twice
    worker = await _keeper(db, settings, files)
    try:
        await worker.drained(5)
    finally:
        await worker.stop()
    assert files.calls == Counter({"photo-7": 1, "doc": 1})


async def test_failures_are_retried_then_given_up_with_the_reason(
    db: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, attempts=3)
    files = FakeFiles()
    files.data = {"photo-7": b"jpeg", "photo-8": b"jpeg"}
    files.failures = {
        # a 5xx, then it works
        "photo-7": [FetchFailed("download: Internal Server Error (500)")],
        # always gone
        "photo-8": [FileGone("download: 404 Not Found")] * 5,
        "photo-9": [FileTooBig("File is too big")],
    }
    ref = await _declare(db)
    for number in (7, 8, 9):
        await _record(db, ref, _photo(number))
    worker = await _keeper(db, settings, files)
    try:
        await worker.drained(10)
    finally:
        await worker.stop()
    first, second, third = await evidence.files(db, ref)
    assert first.status is KeepStatus.KEPT and first.attempts == 2
    assert second.status is KeepStatus.FAILED and second.reason is not None
    assert "404" in second.reason and "3 attempts" in second.reason
    assert files.calls["photo-8"] == 3
    assert third.status is KeepStatus.TOO_BIG and files.calls["photo-9"] == 1


async def test_the_cap_keeps_no_more_and_tells_the_liaisons_once(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, max_total_mb=0.001)  # about 1 kB
    files = FakeFiles()
    files.data = {f"photo-{n}": bytes(600) for n in (7, 8, 9)}
    ref = await _declare(db)
    for number in (7, 8, 9):
        await _record(db, ref, _photo(number, file_size=600))
    worker = await _keeper(db, settings, files)
    try:
        await worker.drained(5)
    finally:
        await worker.stop()
    statuses = [f.status for f in await evidence.files(db, ref)]
    assert statuses == [KeepStatus.KEPT, KeepStatus.CAP, KeepStatus.CAP]
    assert "event=evidence_cap_reached" in caplog.text
    async with db.read() as tx:
        notices = await tx.all("SELECT * FROM outbox WHERE purpose = 'notice'")
    assert [n["chat_id"] for n in notices] == [LIAISON_FR]
    assert "#1" in notices[0]["html"] and "max_total_mb" in notices[0]["html"]
    assert files.calls["photo-8"] == 0  # refused before asking Telegram (its size was known)


async def test_a_file_written_before_a_crash_is_recorded_without_downloading_it_again(
    db: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    files = FakeFiles()
    ref = await _declare(db)
    item_id = await _record(db, ref, _photo(7))
    assert item_id is not None
    async with db.read() as tx:
        row = await tx.one(
            "SELECT d.item_id, m.incident_id, m.kind, m.mime_type, m.file_name"
            " FROM media_downloads d JOIN media_items m ON m.id = d.item_id"
        )
    assert row is not None
    target = keeping.folder(settings) / keeping.file_name(row)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"written, then the process was killed")
    worker = await _keeper(db, settings, files)
    try:
        await worker.drained(5)
    finally:
        await worker.stop()
    [kept] = await evidence.files(db, ref)
    assert kept.status is KeepStatus.KEPT and files.calls["photo-7"] == 0
    assert kept.sha256 == hashlib.sha256(b"written, then the process was killed").hexdigest()


@pytest.mark.both_backends
async def test_an_instance_that_starts_takes_back_the_dead_ones_claims_not_the_live_ones(
    db: Database, tmp_path: Path
) -> None:
    """Several instances, one queue: instance b starts while a is alive and downloading one file
    and a third instance died claiming another. b downloads the dead one's file at once, leaves
    a's alone; a, restarted, takes its own back."""
    files = FakeFiles()
    files.data = {"photo-7": b"alive", "photo-8": b"dead"}
    ref = await _declare(db)
    alive_item = await _record(db, ref, _photo(7))
    dead_item = await _record(db, ref, _photo(8))
    now = db.now()
    until = to_db_time(now + timedelta(seconds=keeping.CLAIM_SECONDS))
    async with db.unit() as unit:
        for name, seen in (("a", now), ("gone", now - timedelta(minutes=1))):
            await unit.execute(
                "INSERT INTO instances (name, host, pid, mode, started_at, seen_at)"
                " VALUES (?, 'host', 1, 'webhook', ?, ?)",
                (name, to_db_time(seen), to_db_time(seen)),
            )
        for item, claimer in ((alive_item, "a"), (dead_item, "gone")):
            await unit.execute(
                "UPDATE media_downloads SET claimed_by = ?, claimed_until = ? WHERE item_id = ?",
                (claimer, until, item),
            )

    def named(name: str) -> Settings:
        data = settings_data(tmp_path / "passerelle.db")
        data["evidence"] = {"first_retry": 0.0}
        data["instance"] = {"name": name}
        return parse_settings(data, env={})

    worker = await _keeper(db, named("b"), files)
    try:
        await worker.drained(5)
    finally:
        await worker.stop()
    statuses = {f.item.id: f.status for f in await evidence.files(db, ref)}
    assert statuses == {alive_item: KeepStatus.PENDING, dead_item: KeepStatus.KEPT}
    assert files.calls == Counter({"photo-8": 1})
    async with db.read() as tx:
        row = await tx.one(
            "SELECT claimed_by FROM media_downloads WHERE item_id = ?", (alive_item,)
        )
    assert row is not None and row["claimed_by"] == "a"

    worker = await _keeper(db, named("a"), files)  # a, restarted after a crash
    try:
        await worker.drained(5)
    finally:
        await worker.stop()
    statuses = {f.item.id: f.status for f in await evidence.files(db, ref)}
    assert statuses == {alive_item: KeepStatus.KEPT, dead_item: KeepStatus.KEPT}
    assert files.calls == Counter({"photo-7": 1, "photo-8": 1})


async def test_the_report_and_its_json_carry_the_media_entries(db: Database) -> None:
    ref = await _declare(db)
    await _record(db, ref, _photo(7, caption="Plaque ONU 1017"))
    report = await collect(db, ref)
    assert report is not None
    html = render_report(report, ["fr", "nl"], "Europe/Brussels")
    assert "📷 photo: Plaque ONU 1017" in html and "📷 foto: Plaque ONU 1017" in html
    data = json.loads(to_json(report))
    [media_entry] = [e for e in data["timeline"] if e["kind"] == "media"]
    assert media_entry["text"] == "Plaque ONU 1017"
    [item] = media_entry["media"]
    assert item["kind"] == "photo" and item["file_unique_id"] == "u-photo-7"
    assert (item["width"], item["height"], item["file_size"]) == (1280, 960, 1007)
