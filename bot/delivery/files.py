"""Files from Telegram: getFile, then the download from the file address (base_file_url),
with Telegram's errors turned into three plain outcomes the evidence keeper understands."""

from __future__ import annotations

from telegram import Bot
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

# The Bot API hands out files up to this size (a local Bot API server: more).
BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024
DOWNLOAD_TIMEOUT = 120.0  # seconds to read a file of up to 20 MB


class FileTooBig(Exception):
    """Telegram will not hand this file out (over the Bot API's download limit)."""


class FileGone(Exception):
    """The file id is no longer valid, or the file is no longer there (may come back)."""


class FetchFailed(Exception):
    """A failure that may pass: 5xx, a time-out, the network."""


class TelegramFiles:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, file_id: str) -> bytes:
        """The file's bytes: FileTooBig, FileGone or FetchFailed otherwise."""
        try:
            file = await self._bot.get_file(file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise FileTooBig(exc.message) from None
            raise FileGone(f"getFile: {exc.message}") from None
        except RetryAfter as exc:
            raise FetchFailed(f"getFile: 429 retry after {exc.retry_after}") from None
        except (NetworkError, TelegramError) as exc:
            raise FetchFailed(f"getFile: {exc.message}") from None
        try:
            data = await file.download_as_bytearray(read_timeout=DOWNLOAD_TIMEOUT)
        except InvalidToken:
            # PTB reads a 404 as a bad token; for a download it is a file no longer there
            raise FileGone("download: 404 Not Found") from None
        except (BadRequest, Forbidden) as exc:
            raise FileGone(f"download: {exc.message}") from None
        except (NetworkError, TelegramError) as exc:
            raise FetchFailed(f"download: {exc.message}") from None
        return bytes(data)
