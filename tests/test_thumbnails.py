"""Thumbnails for the report: small, upright, stripped of metadata, refusing what is not a
picture."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot.reports.thumbnails import THUMBNAIL_PX, thumbnail, thumbnail_of


def _jpeg(width: int, height: int, *, orientation: int | None = None, gps: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (200, 40, 30))
    # a dark left edge, to see which way the picture was turned
    for x in range(width // 10):
        for y in range(height):
            image.putpixel((x, y), (0, 0, 0))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (50.0, 36.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_a_large_photo_becomes_a_small_jpeg() -> None:
    small = thumbnail(_jpeg(4000, 3000))
    assert small is not None
    image = _open(small)
    assert image.format == "JPEG"
    assert image.size == (THUMBNAIL_PX, THUMBNAIL_PX * 3 // 4)
    assert len(small) < 60_000


def test_a_small_photo_is_not_enlarged() -> None:
    small = thumbnail(_jpeg(300, 200))
    assert small is not None
    assert _open(small).size == (300, 200)


def test_the_photo_is_turned_upright_and_its_metadata_dropped() -> None:
    # orientation 6: the camera was turned; the picture is shown rotated by 90° clockwise
    small = thumbnail(_jpeg(800, 400, orientation=6, gps=True))
    assert small is not None
    image = _open(small)
    assert image.size == (320, 640)
    # the dark edge that was on the left is now at the top
    assert sum(image.getpixel((160, 5))) < 120  # type: ignore[arg-type]
    assert sum(image.getpixel((160, 600))) > 200  # type: ignore[arg-type]
    assert not image.getexif()


def test_png_with_transparency_is_flattened() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 255, 128)).save(out, "PNG")
    small = thumbnail(out.getvalue())
    assert small is not None
    assert _open(small).mode == "RGB"


def test_what_is_not_a_picture_gives_none(tmp_path: Path) -> None:
    assert thumbnail(b"%PDF-1.4 not a photo") is None
    assert thumbnail(b"") is None
    assert thumbnail(_jpeg(100, 100)[:200]) is None  # cut short
    assert thumbnail_of(tmp_path / "gone.jpg") is None
    kept = tmp_path / "kept.jpg"
    kept.write_bytes(_jpeg(100, 80))
    found = thumbnail_of(kept)
    assert found is not None and _open(found).size == (100, 80)
