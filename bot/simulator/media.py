"""What users send besides text: photos, videos, voice notes, documents, albums, contacts, venues.

``Media`` describes one item as a test wants it; ``build`` turns it into the message fields
and stored files Telegram would produce (several PhotoSizes for a photo, a document beside an
animation, a location beside a venue), with deterministic bytes when the test gives none.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from .html import utf16_len
from .state import DOWNLOAD_LIMIT, JsonDict, SimFile, World, image_size

# Every kind a user can send with send_media; the first eight are files.
FILE_KINDS = (
    "photo",
    "video",
    "video_note",
    "voice",
    "audio",
    "document",
    "animation",
    "sticker",
)
KINDS = (*FILE_KINDS, "contact", "venue")
# Telegram's caption limits (UTF-16 code units): everyone, and Premium subscribers.
MAX_CAPTION = 1024
MAX_CAPTION_PREMIUM = 4096
# Kinds that take no caption.
UNCAPTIONED = ("video_note", "sticker", "contact", "venue")
# The edges of the PhotoSizes Telegram makes of a photo (s, m, x, y, w).
PHOTO_EDGES = (90, 320, 800, 1280, 2560)
# Without bytes from the test, a non-photo file has this many deterministic ones.
DEFAULT_FILE_BYTES = 4096

_DEFAULTS: dict[str, JsonDict] = {
    "photo": {"width": 800, "height": 600},
    "video": {
        "width": 640,
        "height": 360,
        "duration": 12,
        "mime_type": "video/mp4",
        "filename": "video.mp4",
    },
    "video_note": {"width": 240, "duration": 8},
    "voice": {"duration": 5, "mime_type": "audio/ogg"},
    "audio": {"duration": 180, "mime_type": "audio/mpeg", "filename": "audio.mp3"},
    "document": {"mime_type": "application/pdf", "filename": "document.pdf"},
    "animation": {
        "width": 320,
        "height": 240,
        "duration": 3,
        "mime_type": "video/mp4",
        "filename": "animation.gif.mp4",
    },
    "sticker": {"width": 512, "height": 512, "mime_type": "image/webp"},
}


@dataclass
class Media:
    """One item a user sends. Unset fields get Telegram-like defaults for the kind.

    ``size`` states the file's size; above 20 MB only a few bytes are kept (getFile answers
    "file is too big" anyway), otherwise ``size`` deterministic bytes are made.
    """

    kind: str
    data: bytes | None = None
    caption: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    size: int | None = None
    performer: str | None = None
    title: str | None = None
    emoji: str = "👍"
    # contact
    phone_number: str = "+32470000000"
    first_name: str = "Contact"
    last_name: str | None = None
    user_id: int | None = None
    # venue
    latitude: float = 50.6066
    longitude: float = 3.3890
    address: str = ""
    extra: JsonDict = field(default_factory=dict)  # more fields for the kind's object

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown media kind {self.kind!r}; one of {', '.join(KINDS)}")


@dataclass
class Built:
    """The message fields of one media item."""

    content: JsonDict
    files: list[SimFile]
    location: tuple[float, float] | None = None


def check_caption(kind: str, caption: str | None, *, premium: bool = False) -> str | None:
    """The caption as Telegram keeps it, or ValueError where a Telegram client refuses it."""
    if caption is None or not caption.strip():
        return None
    if kind in UNCAPTIONED:
        raise ValueError(f"a {kind} has no caption in Telegram")
    limit = MAX_CAPTION_PREMIUM if premium else MAX_CAPTION
    if utf16_len(caption) > limit:
        raise ValueError(
            f"Telegram refuses a caption of {utf16_len(caption)} characters (limit {limit})"
        )
    return caption


def check_album(items: list[Media]) -> None:
    """ValueError for an album Telegram would not send."""
    if not 2 <= len(items) <= 10:
        raise ValueError(f"an album has 2 to 10 items, not {len(items)}")
    kinds = {m.kind for m in items}
    if not (kinds <= {"photo", "video"} or kinds == {"document"} or kinds == {"audio"}):
        raise ValueError(
            f"an album mixes only photos and videos (or is all documents, or all audio): {kinds}"
        )


def deterministic_bytes(seed: str, size: int) -> bytes:
    return hashlib.shake_256(seed.encode()).digest(size)


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A valid PNG of one colour (no imaging library needed)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 6))
        + chunk(b"IEND", b"")
    )


def _file_bytes(media: Media, seed: str) -> tuple[bytes, int | None]:
    """(bytes kept, stated size or None)."""
    if media.data is not None:
        if media.size is not None and media.size < len(media.data):
            raise ValueError("size is smaller than the data given")
        return media.data, media.size if media.size != len(media.data) else None
    if media.size is not None:
        if media.size > DOWNLOAD_LIMIT:
            return deterministic_bytes(seed, DEFAULT_FILE_BYTES), media.size
        return deterministic_bytes(seed, media.size), None
    return deterministic_bytes(seed, DEFAULT_FILE_BYTES), None


def _option(media: Media, name: str) -> Any:
    value = getattr(media, name)
    return value if value is not None else _DEFAULTS.get(media.kind, {}).get(name)


def _scaled(width: int, height: int, edge: int) -> tuple[int, int]:
    longest = max(width, height)
    if longest <= edge:
        return width, height
    return max(1, round(width * edge / longest)), max(1, round(height * edge / longest))


def build(world: World, media: Media, seed: str) -> Built:
    """Store the files of ``media`` in ``world`` and return the message's fields."""
    if media.kind == "contact":
        contact: JsonDict = {"phone_number": media.phone_number, "first_name": media.first_name}
        if media.last_name:
            contact["last_name"] = media.last_name
        if media.user_id is not None:
            contact["user_id"] = media.user_id
        return Built({"contact": {**contact, **media.extra}}, [])
    if media.kind == "venue":
        location = {"latitude": media.latitude, "longitude": media.longitude}
        venue = {
            "location": location,
            "title": media.title or "Venue",
            "address": media.address,
            **media.extra,
        }
        # Telegram sends a venue's location beside it, as the message's location too.
        return Built({"venue": venue}, [], (media.latitude, media.longitude))
    if media.kind == "photo":
        return _photo(world, media)
    data, size = _file_bytes(media, seed)
    stored = world.store_file(
        data,
        _option(media, "filename") if media.kind != "voice" else media.filename,
        _option(media, "mime_type"),
        kind=media.kind,
        width=_option(media, "width") or 0,
        height=_option(media, "height") or 0,
        duration=_option(media, "duration"),
        size=size,
        performer=media.performer,
        title=media.title,
    )
    body = {**stored.media_dict(), **media.extra}
    if media.kind == "sticker":
        body["emoji"] = media.emoji
    content: JsonDict = {media.kind: body}
    if media.kind == "animation":
        # For backward compatibility Telegram also sends an animation as a document.
        content["document"] = stored.document_dict()
    return Built(content, [stored])


def _photo(world: World, media: Media) -> Built:
    if media.data is not None:
        width, height = image_size(media.data)
        width, height = media.width or width, media.height or height
        original = media.data
    else:
        width, height = _option(media, "width"), _option(media, "height")
        original = png(width, height)
    if media.size is not None and media.size > len(original):
        raise ValueError("a photo's size is that of its data; give data instead")
    # Telegram keeps at most 2560 px on the longest side, and makes the smaller sizes.
    edges = [e for e in PHOTO_EDGES if e < max(width, height)][:4]
    sizes: list[SimFile] = []
    for edge in edges:
        w, h = _scaled(width, height, edge)
        sizes.append(world.store_file(png(w, h), None, None, kind="photo", width=w, height=h))
    w, h = _scaled(width, height, 2560)
    sizes.append(world.store_file(original, None, None, kind="photo", width=w, height=h))
    return Built({"photo": [s.size_dict() for s in sizes]}, sizes)
