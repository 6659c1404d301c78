"""Small JPEG copies of the field's photos for the after-action report, which must stay one
self-contained file: the originals are kept beside the database (and exported with
`report export --with-files`), the report carries only these."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

# wide enough to read a hazard plate's UN number on a phone and in print, small enough that
# a report with dozens of photos stays a few megabytes
THUMBNAIL_PX = 640
QUALITY = 78
# a decompression bomb is refused (Pillow's guard raises above twice this)
Image.MAX_IMAGE_PIXELS = 60_000_000


def thumbnail(data: bytes, size: int = THUMBNAIL_PX) -> bytes | None:
    """A JPEG no larger than `size` on its longer side, turned upright by its EXIF orientation,
    without its metadata (a phone's photo carries the GPS position of whoever took it); None
    when the data is not a picture Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, far cheaper
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((size, size))
            if upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            out = io.BytesIO()
            upright.save(out, "JPEG", quality=QUALITY, optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        log.warning("no thumbnail: %s", error)
        return None


def thumbnail_of(path: Path, size: int = THUMBNAIL_PX) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError as error:
        log.warning("no thumbnail of %s: %s", path, error)
        return None
    return thumbnail(data, size)
