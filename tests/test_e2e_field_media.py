"""End to end, what the field sends as the stand-in plays it (photos with their sizes,
albums, voice notes, videos, contacts, venues, GIFs, stickers): each kind joins the timeline
or is chatter, an album is one entry, limits are handled, and the files are kept with their
SHA-256 through getFile and the file address."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.core.models import KeepStatus, MediaKind, TimelineKind
from bot.evidence import service as evidence
from bot.incidents import service as incidents
from bot.simulator import Media, TelegramSimulator
from tests.harness import Harness

MB = 1024 * 1024


async def _kept(h: Harness) -> None:
    """Every file kept or given up (retries included)."""
    keeper = h.runtime.keeper
    assert keeper is not None
    async with asyncio.timeout(30):
        while True:
            await keeper.drained(30)
            async with h.runtime.db.read() as tx:
                waiting = await tx.one(
                    "SELECT count(*) AS n FROM media_downloads WHERE status = 'pending'"
                )
            if waiting is None or waiting["n"] == 0:
                break
            await asyncio.sleep(0.05)
    await h.settle()


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    running = Harness(sim, tmp_path / "field.db", evidence={"first_retry": 0.05, "attempts": 3})
    await running.start()
    yield running
    await running.stop()


async def _declared(h: Harness) -> int:
    await h.say(h.commander, h.ops, "/incident Citerne couchée, Tournai")
    incident = await incidents.latest_open(h.runtime.db, h.ops.id)
    assert incident is not None
    return incident.ref


async def test_a_photo_with_its_caption_joins_the_timeline_and_its_original_is_kept(
    h: Harness,
) -> None:
    ref = await _declared(h)
    photo = await h.send_photo(
        h.responder, h.ops, caption="Plaque ONU 1017", reply_to=h.card(h.ops)
    )
    await _kept(h)
    entry = (await incidents.timeline(h.runtime.db, ref, last=1))[0]
    assert entry.kind is TimelineKind.MEDIA and entry.text == "Plaque ONU 1017"
    assert entry.author is not None and entry.author.id == h.responder.id
    [item] = entry.media
    original = photo.file
    assert original is not None
    # the largest of Telegram's sizes: the original
    assert item.file_id == original.file_id and item.file_unique_id == original.file_unique_id
    assert (item.width, item.height) == (800, 600)
    [kept] = await evidence.files(h.runtime.db, ref)
    assert kept.status is KeepStatus.KEPT
    assert kept.sha256 == hashlib.sha256(original.data).hexdigest()
    path = evidence.kept_path(h.settings, kept)
    assert path is not None and path.read_bytes() == original.data
    assert h.sim.downloads(original) == 1 and h.sim.downloads() == 1
    card = h.card(h.ops).text or ""
    assert "📷 1" in card and "📷 photo: Plaque ONU 1017" in card


async def test_each_kind_joins_the_timeline_and_the_card_counts_them(h: Harness) -> None:
    ref = await _declared(h)
    card = h.card(h.ops)
    await h.send_voice(h.responder, h.ops, reply_to=card, duration=42)
    await h.send_video(h.responder, h.ops, reply_to=card, duration=75, caption="Panache")
    await h.send_video_note(h.responder, h.ops, reply_to=card, duration=9)
    await h.send_audio(h.responder, h.ops, reply_to=card, duration=61, filename="radio.mp3")
    await h.send_document(h.responder, h.ops, reply_to=card, filename="ERICard.pdf")
    await h.send_contact(h.responder, h.ops, "+32470123456", "Dr Lemaire", reply_to=card)
    await h.send_venue(
        h.responder, h.ops, 50.6065, 3.3880, "PMA gare", "Place Crombez, Tournai", reply_to=card
    )
    await _kept(h)
    entries = (await incidents.timeline(h.runtime.db, ref, last=20))[1:]
    assert [e.media[0].kind for e in entries] == [
        MediaKind.VOICE,
        MediaKind.VIDEO,
        MediaKind.VIDEO_NOTE,
        MediaKind.AUDIO,
        MediaKind.DOCUMENT,
        MediaKind.CONTACT,
        MediaKind.VENUE,
    ]
    voice = entries[0].media[0]
    assert voice.duration == 42 and voice.file_size and voice.mime_type == "audio/ogg"
    assert entries[1].media[0].duration == 75 and entries[1].text == "Panache"
    assert entries[5].media[0].phone == "+32470123456"
    venue = entries[6]
    assert venue.media[0].name == "PMA gare" and (venue.lat, venue.lon) == (50.6065, 3.388)
    files = await evidence.files(h.runtime.db, ref)
    assert [f.status for f in files] == [KeepStatus.KEPT] * 5
    text = h.card(h.ops).text or ""
    assert "🎥 1 · 📹 1 · 🎙 1 · 🎵 1 · 📄 1 · 👤 1 · 📌 1" in text
    # the latest entries, in French and in Dutch
    assert "📌 lieu PMA gare, Place Crombez, Tournai" in text
    assert "📌 plaats PMA gare, Place Crombez, Tournai" in text
    assert "👤 contact Dr Lemaire, +32470123456" in text
    assert "🎵 fichier audio radio.mp3, 1:01" in text and "🎵 audiobestand radio.mp3, 1:01" in text
    # a venue is not the incident's location (only a shared location is)
    incident = await incidents.get(h.runtime.db, ref)
    assert incident is not None and incident.lat is None


async def test_an_album_is_one_entry_with_all_its_items(h: Harness) -> None:
    ref = await _declared(h)
    sent = await h.send_album(
        h.responder,
        h.ops,
        ["photo"] * 9 + [Media("video", duration=20)],
        caption="Vue depuis le pont",
        reply_to=h.card(h.ops),
    )
    await _kept(h)
    entries = await incidents.timeline(h.runtime.db, ref, last=20)
    assert [e.kind for e in entries] == [TimelineKind.DECLARED, TimelineKind.MEDIA]
    album = entries[-1]
    assert album.text == "Vue depuis le pont" and len(album.media) == 10
    assert [i.message_id for i in album.media] == [m.message_id for m in sent]
    files = await evidence.files(h.runtime.db, ref)
    assert len(files) == 10 and all(f.status is KeepStatus.KEPT for f in files)
    assert len({f.path for f in files}) == 10
    assert {f.sha256 for f in files} == {
        hashlib.sha256(m.file.data).hexdigest() for m in sent if m.file is not None
    }
    text = h.card(h.ops).text or ""
    assert "📷 9 · 🎥 1" in text and "📷 photo ×9 · 🎥 vidéo: Vue depuis le pont" in text
    assert "📷 foto ×9 · 🎥 video: Vue depuis le pont" in text
    assert text.count("Vue depuis le pont") == 2  # one entry, in French and in Dutch


async def test_an_album_with_a_log_caption_joins_the_named_incident(h: Harness) -> None:
    ref = await _declared(h)
    await h.send_album(h.responder, h.ops, ["photo", "photo", "photo"], caption="/log Toiture")
    await _kept(h)
    album = (await incidents.timeline(h.runtime.db, ref, last=1))[0]
    assert album.kind is TimelineKind.MEDIA and album.text == "Toiture"
    assert len(album.media) == 3
    # one answer for the album, not one per photo
    assert len([t for t in h.bot_texts(h.ops) if "📝" in t]) == 1


async def test_gifs_stickers_and_media_that_are_no_reply_are_chatter(h: Harness) -> None:
    ref = await _declared(h)
    card = h.card(h.ops)
    before = h.bot_texts(h.ops)
    await h.send_animation(h.responder, h.ops, reply_to=card, caption="😂")
    await h.send_sticker(h.responder, h.ops, reply_to=card)
    await h.send_photo(h.responder, h.ops, caption="Le repas")  # no reply, no /log
    await h.send_album(h.responder, h.ops, ["photo", "photo"])
    await _kept(h)
    assert [e.kind for e in await incidents.timeline(h.runtime.db, ref, last=20)] == [
        TimelineKind.DECLARED
    ]
    assert h.bot_texts(h.ops) == before
    assert not h.sim.calls_to("getFile") and h.sim.downloads() == 0


async def test_a_50_mb_video_is_recorded_as_too_big_and_never_downloaded(h: Harness) -> None:
    ref = await _declared(h)
    await h.send_video(h.responder, h.ops, reply_to=h.card(h.ops), size=50 * MB, duration=300)
    await _kept(h)
    entry = (await incidents.timeline(h.runtime.db, ref, last=1))[0]
    assert entry.media[0].file_size == 50 * MB
    [kept] = await evidence.files(h.runtime.db, ref)
    assert kept.status is KeepStatus.TOO_BIG and kept.reason and "20 MB" in kept.reason
    assert not h.sim.calls_to("getFile") and h.sim.downloads() == 0


async def test_a_file_whose_size_telegram_did_not_give_and_is_too_big_is_recorded_so(
    h: Harness,
) -> None:
    """getFile answers "file is too big": recorded as such, not retried."""
    ref = await _declared(h)
    video = await h.send_video(h.responder, h.ops, reply_to=h.card(h.ops), size=30 * MB)
    # as if the message had not said how big it is
    async with h.runtime.db.unit() as unit:
        await unit.execute("UPDATE media_items SET file_size = NULL")
        await unit.execute(
            "UPDATE media_downloads SET status = 'pending', reason = NULL, done_at = NULL"
        )
    h.runtime.keeper.wake()  # type: ignore[union-attr]
    await _kept(h)
    [kept] = await evidence.files(h.runtime.db, ref)
    assert kept.status is KeepStatus.TOO_BIG and len(h.sim.calls_to("getFile")) == 1
    assert video.file is not None and h.sim.downloads(video.file) == 0


async def test_captions_at_and_over_telegrams_limits(h: Harness) -> None:
    ref = await _declared(h)
    card = h.card(h.ops)
    # Telegram refuses a caption over 1024 characters: the stand-in too
    with pytest.raises(ValueError):
        await h.sim.send_photo(h.responder, h.ops, caption="é" * 1025, reply_to=card)
    await h.send_photo(h.responder, h.ops, caption="é" * 1024, reply_to=card)
    # a Premium subscriber's caption may be 4096: kept up to the timeline's 2000 characters
    await h.send_media("photo", h.responder, h.ops, caption="ü" * 4096, reply_to=card, premium=True)
    await _kept(h)
    entries = (await incidents.timeline(h.runtime.db, ref, last=20))[1:]
    assert [len(e.text or "") for e in entries] == [1024, 2000]
    assert (entries[-1].text or "").endswith("…")
    card_text = h.card(h.ops).text or ""
    assert len(card_text) <= 4096 and "📷 2" in card_text


async def test_a_download_that_fails_then_works_is_kept_and_nothing_waits_for_it(
    h: Harness,
) -> None:
    ref = await _declared(h)
    h.sim.fail_download(503, times=2)
    photo = await h.send_photo(h.responder, h.ops, reply_to=h.card(h.ops))
    # the update was handled at once: the card already shows the photo
    assert "📷 1" in (h.card(h.ops).text or "")
    await _kept(h)
    [kept] = await evidence.files(h.runtime.db, ref)
    assert kept.status is KeepStatus.KEPT and kept.attempts == 3
    assert photo.file is not None and h.sim.downloads(photo.file) == 1


async def test_a_file_gone_is_retried_then_recorded_as_not_kept(h: Harness) -> None:
    ref = await _declared(h)
    photo = await h.sim.send_photo(h.responder, h.ops, reply_to=h.card(h.ops))
    assert photo.file is not None
    h.sim.expire_file(photo.file)  # before the bot even has the update
    await h.settle()
    await _kept(h)
    [kept] = await evidence.files(h.runtime.db, ref)
    assert kept.status is KeepStatus.FAILED and kept.reason and "FileGone" in kept.reason


async def test_the_report_shows_the_photo_and_the_kept_originals_sha256(h: Harness) -> None:
    """A responder's photo of the hazard plate and a voice note, kept; `/report` then carries
    the photo as a thumbnail and each original's SHA-256, in both of the group's languages."""
    ref = await _declared(h)
    card = h.card(h.ops)
    plate = _plate_jpeg()
    photo = await h.send_photo(
        h.responder, h.ops, reply_to=card, caption="Plaque 268 / 1005 sur la citerne", data=plate
    )
    voice = await h.send_voice(h.duty_wapi, h.ops, reply_to=card, duration=14, data=b"Og" * 500)
    await _kept(h)
    assert photo.file is not None and voice.file is not None
    await h.say(h.commander, h.ops, f"/report #{ref}")
    sent = h.sim.bot_messages(h.ops)[-1]
    assert sent.document is not None
    html = sent.document.data.decode("utf-8")
    thumbnails = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert len(thumbnails) == 2  # the photo, in the French and in the Dutch section
    small = Image.open(io.BytesIO(base64.b64decode(thumbnails[0])))
    assert small.size == (640, 427)  # the 1500×1000 original, made small
    assert hashlib.sha256(plate).hexdigest() in html
    assert hashlib.sha256(b"Og" * 500).hexdigest() in html
    assert 'alt="Photo envoyée par Jan Peeters le ' in html
    assert "Plaque 268 / 1005 sur la citerne" in html
    assert "0:14" in html


def _plate_jpeg() -> bytes:
    """An orange hazard plate, as a phone would send it (a JPEG of 1500×1000)."""
    image = Image.new("RGB", (1500, 1000), (240, 120, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 1460, 960), outline=(0, 0, 0), width=30)
    draw.line((40, 500, 1460, 500), fill=(0, 0, 0), width=30)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()
