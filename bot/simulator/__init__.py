"""A local stand-in for the Telegram Bot API, for end-to-end tests of the real PTB application.

sim = TelegramSimulator()
await sim.start()
app = ApplicationBuilder().token(sim.token).base_url(sim.base_url)
    .base_file_url(sim.base_file_url).build()
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
