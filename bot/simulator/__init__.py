"""A local stand-in for the Telegram Bot API, for end-to-end tests of the real PTB application.

sim = TelegramSimulator()
await sim.start()
app = ApplicationBuilder().token(sim.token).base_url(sim.base_url)
    .base_file_url(sim.base_file_url).build()

(Passerelle's own settings derive base_file_url from base_url, so its harness gives only
base_url.) Users send text, locations, every kind of media (``send_photo``, ``send_video``,
``send_voice``, ``send_album``, ``send_media(user, chat, Media(...))``…), contacts and venues,
and edit what they sent (``edit_message``); files are served by getFile and at
base_file_url, with faults (``fail_download``, ``expire_file``) and counted (``downloads``).
"""

from .errors import ApiError
from .faults import Fault, FaultInjector, RateLimiter
from .html import HtmlParseError, auto_entities, escape, parse_html, utf16_len
from .media import KINDS, Media, png
from .simulator import TelegramSimulator
from .state import DOWNLOAD_LIMIT, CallbackAnswer, SimCall, SimChat, SimFile, SimMessage, SimUser
from .webhook import SECRET_HEADER

__all__ = [
    "DOWNLOAD_LIMIT",
    "KINDS",
    "SECRET_HEADER",
    "ApiError",
    "CallbackAnswer",
    "Fault",
    "FaultInjector",
    "HtmlParseError",
    "Media",
    "RateLimiter",
    "SimCall",
    "SimChat",
    "SimFile",
    "SimMessage",
    "SimUser",
    "TelegramSimulator",
    "auto_entities",
    "escape",
    "parse_html",
    "png",
    "utf16_len",
]
