"""`python -m bot demo`: a scripted cross-border incident, played against the local Telegram
stand-in, printed as a chat transcript. No token, no network.

The real Application is built and started exactly as the end-to-end tests start it; scripted
people type, reply, share a location and press the card's buttons through the simulator, and
the transcript shows what the bot answered and how the pinned card reads after each step.

The narration is console output for developers and stays in English; what the bot says is
the bot's own (translated) text, as Telegram shows it.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from PIL import Image, ImageDraw, ImageFont

from bot.app import WEB_KEY, PassApp, build_application
from bot.board import tokens
from bot.board.server import BoardServer
from bot.core.config import ConfigError, Settings, parse_settings
from bot.core.models import IncidentStatus, Offer, Severity
from bot.render.keyboards import parse_card_press, parse_offer_press
from bot.resources import requests, roster_csv
from bot.runtime import Runtime
from bot.simulator import SimChat, SimMessage, SimUser, TelegramSimulator
from bot.simulator.media import Media
from handlers.context import RUNTIME_KEY

TOKEN = "123456:DEMO"
STEP_PAUSE = 0.4  # seconds between steps at speed 1
SETTLE_TIMEOUT = 10.0  # seconds the bot may take over one step
DEMO_TIMEOUT = 90.0  # the whole demo, pauses included, at normal speeds
WIDTH = 78

OPS_CHAT = -1001700000001
LIAISON_CHAT = -1001700000002
AGENCY_CHAT = -1001700000003
TITLE = "Fuite de chlore, gare de triage de Tournai"
RAIL_YARD = (50.6140, 3.4060)  # Tournai rail yard, approximately


class DemoError(Exception):
    """Something the script expected did not happen; one line says what."""


# ---- the cast (every person is fictional) --------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    last_name: str
    username: str
    language: str
    country: str
    roles: tuple[str, ...]
    agency: str
    title: str  # what they are, for the narration

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def who(self) -> str:
        role = self.roles[0] if self.roles else "responder, no role"
        return f"{self.name} ({role} · {self.title})"


COMMANDER_BE = Person(
    7001,
    "Luc",
    "Desmet",
    "luc_desmet",
    "fr",
    "BE",
    ("commander",),
    "Zone de secours Wallonie picarde",
    "Dir-PC-Ops, zone de secours Wallonie picarde",
)
COMMANDER_FR = Person(
    7002,
    "Claire",
    "Rousseau",
    "claire_rousseau",
    "fr",
    "FR",
    ("commander",),
    "SDIS 59",
    "COS, SDIS 59",
)
LIAISON_FR = Person(
    7003,
    "Thomas",
    "Lemaire",
    "thomas_lemaire",
    "fr",
    "FR",
    ("liaison",),
    "SDIS 59",
    "officier de liaison, CODIS 59",
)
SPOKESPERSON_BE = Person(
    7004,
    "Nathalie",
    "Dubois",
    "nathalie_dubois",
    "fr",
    "BE",
    ("spokesperson",),
    "Ville de Tournai",
    "Dir-Info (discipline 5)",
)
RESPONDER_NL = Person(
    7005,
    "Wouter",
    "Maes",
    "wouter_maes",
    "nl",
    "BE",
    (),
    "Hulpverleningszone Fluvia",
    "brandweerman, hulpverleningszone Fluvia",
)
DOCTOR_FR = Person(
    7006,
    "Camille",
    "Martin",
    "dr_camille_martin",
    "fr",
    "FR",
    (),
    "SAMU 59",
    "médecin SMUR, SAMU 59",
)
DUTY_FR = Person(
    7007,
    "Julien",
    "Lefort",
    "julien_lefort",
    "fr",
    "FR",
    (),
    "SDIS 59",
    "officier de permanence, CTA-CODIS 59",
)
DUTY_LILLE = Person(
    7008,
    "Sophie",
    "Leroy",
    "sophie_leroy",
    "fr",
    "FR",
    (),
    "CHU de Lille",
    "régulation des lits, centre de traitement des brûlés, CHU de Lille",
)
DUTY_GENT = Person(
    7009,
    "Pieter",
    "Claes",
    "pieter_claes",
    "nl",
    "BE",
    (),
    "UZ Gent",
    "verantwoordelijke bedden, brandwondencentrum UZ Gent",
)
CAST = (
    COMMANDER_BE,
    COMMANDER_FR,
    LIAISON_FR,
    SPOKESPERSON_BE,
    RESPONDER_NL,
    DOCTOR_FR,
    DUTY_FR,
    DUTY_LILLE,
    DUTY_GENT,
)
# UZ Gent's bed-management system reports to the bot's /have endpoint with this token
GENT_HAVE_TOKEN = "demo-uz-gent-have-token-0001"


@dataclass(frozen=True)
class ChatSpec:
    id: int
    name: str
    kind: str
    country: str
    languages: tuple[str, ...]
    members: tuple[Person, ...]
    agency: str | None = None


OPS = ChatSpec(
    OPS_CHAT,
    "Tournai – opérations transfrontalières",
    "operations",
    "BE",
    ("fr", "nl"),
    CAST,
)
CODIS = ChatSpec(
    LIAISON_CHAT, "CODIS 59", "liaison", "FR", ("fr",), (COMMANDER_FR, LIAISON_FR), "SDIS 59"
)
# where SDIS 59 answers requests for its units (the sample roster's agencies)
SDIS = ChatSpec(
    AGENCY_CHAT,
    "SDIS 59 – engagement des moyens",
    "agency",
    "FR",
    ("fr",),
    (DUTY_FR,),
    "SDIS 59",
)
# where the burns centres answer requests for beds (the sample roster's agencies)
LILLE = ChatSpec(
    AGENCY_CHAT - 1,
    "CHU de Lille – régulation des lits",
    "agency",
    "FR",
    ("fr",),
    (DUTY_LILLE,),
    "CHU de Lille",
)
GENT = ChatSpec(
    AGENCY_CHAT - 2,
    "UZ Gent – brandwondencentrum",
    "agency",
    "BE",
    ("nl",),
    (DUTY_GENT,),
    "UZ Gent",
)
CHATS = (OPS, CODIS, SDIS, LILLE, GENT)


def demo_settings(db_path: Path, base_url: str, base_file_url: str) -> Settings:
    data: dict[str, Any] = {
        "telegram": {
            "token": TOKEN,
            "base_url": base_url,
            "base_file_url": base_file_url,
            "poll_timeout": 1,
            # the stand-in has no flood limits: at --speed 0 the whole incident takes less
            # than a minute, more than Telegram's 20 messages a minute in the operations group
            "rate_limit": False,
        },
        "storage": {"path": str(db_path)},
        "i18n": {"default_language": "fr", "timezone": "Europe/Brussels"},
        "cards": {"min_edit_interval": 0.3, "timeline_entries": 5},
        # the situation board on a free port of this machine only
        "board": {"listen": "127.0.0.1", "port": 0},
        # hospitals' availability (EDXL-HAVE) posted to the same server
        "have": {"tokens": {"UZ Gent": GENT_HAVE_TOKEN}},
        "chats": [
            {
                "id": c.id,
                "name": c.name,
                "kind": c.kind,
                "country": c.country,
                "languages": list(c.languages),
                **({"agency": c.agency} if c.agency else {}),
            }
            for c in CHATS
        ],
        "people": [
            {
                "id": p.id,
                "name": p.name,
                "username": p.username,
                "roles": list(p.roles),
                "country": p.country,
                "agency": p.agency,
                "language": p.language,
            }
            for p in CAST
        ],
    }
    return parse_settings(data, env={})


# ---- output ----------------------------------------------------------------------------------


class Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.colour = out.isatty() and "NO_COLOR" not in os.environ

    def _style(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self._style("1", text)

    def dim(self, text: str) -> str:
        return self._style("2", text)

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def block(self, text: str, indent: int) -> None:
        pad = " " * indent
        for row in text.splitlines() or [""]:
            self.line((pad + row).rstrip())

    def rule(self, label: str = "", char: str = "─") -> None:
        head = f"{char * 2} {label} " if label else ""
        self.line(self.dim(head + char * max(3, WIDTH - len(head))))

    def flush(self) -> None:
        self.out.flush()


# ---- the running demo ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one step led to: the bot's new messages in that chat, and the card."""

    new: list[SimMessage]
    card_text: str
    card_changed: bool

    def answered(self, prefix: str) -> bool:
        return any((m.text or "").startswith(prefix) for m in self.new)


Check = Callable[[Outcome], str | None]  # a problem, or None


@dataclass
class Step:
    person: Person
    chat: ChatSpec | None  # None: the person's private chat with the bot
    # what they did, for the transcript (read when the step starts: it may depend on what
    # the bot did before)
    describe: str | Callable[[], str] | Callable[[], Awaitable[str]]
    act: Callable[[], Awaitable[str | None]]  # returns a callback query id for presses
    checks: tuple[Check, ...] = ()


@dataclass
class Demo:
    sim: TelegramSimulator
    app: PassApp
    printer: Printer
    speed: float
    users: dict[int, SimUser] = field(default_factory=dict)
    chats: dict[int, SimChat] = field(default_factory=dict)
    errors: list[logging.LogRecord] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.bot_data[RUNTIME_KEY]
        return runtime

    # -- Telegram side --

    def chat_of(self, person: Person, spec: ChatSpec | None) -> SimChat:
        if spec is None:
            return self.sim.private_chat(self.users[person.id])
        return self.chats[spec.id]

    def card(self) -> SimMessage | None:
        return self.sim.pinned(self.chats[OPS.id])

    def card_or_fail(self) -> SimMessage:
        card = self.card()
        if card is None:
            raise DemoError("the incident card was not posted and pinned in the operations group")
        return card

    async def settle(self) -> None:
        """Until the bot has taken every update, handled it, and made its card edits."""
        updates = self.sim.world.updates
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while updates.pending:
            if time.monotonic() > deadline:
                raise DemoError(f"the bot did not take its updates within {SETTLE_TIMEOUT:.0f} s")
            await asyncio.sleep(0.01)
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT):
                await self.app.update_queue.join()
                await self.runtime.live.idle()
                await self.runtime.outbox.drained(SETTLE_TIMEOUT)
                if self.runtime.keeper is not None:  # the field's files, kept as evidence
                    await self.runtime.keeper.drained(SETTLE_TIMEOUT)
                await self.runtime.live.idle()
        except TimeoutError:
            raise DemoError(
                f"the bot did not finish handling a step within {SETTLE_TIMEOUT:.0f} s"
            ) from None

    async def say(self, person: Person, spec: ChatSpec | None, text: str) -> None:
        await self.sim.send_text(self.users[person.id], self.chat_of(person, spec), text)

    async def reply_to_card(self, person: Person, text: str) -> None:
        card = self.card_or_fail()
        await self.sim.send_text(self.users[person.id], self.chats[OPS.id], text, reply_to=card)

    async def share_location(self, person: Person, lat: float, lon: float) -> None:
        card = self.card_or_fail()
        await self.sim.send_location(
            self.users[person.id], self.chats[OPS.id], lat, lon, reply_to=card
        )

    async def photo_to_card(self, person: Person, caption: str, data: bytes) -> None:
        card = self.card_or_fail()
        await self.sim.send_photo(
            self.users[person.id], self.chats[OPS.id], data, caption=caption, reply_to=card
        )

    async def voice_to_card(self, person: Person, seconds: int) -> None:
        card = self.card_or_fail()
        # the stand-in's voice note: bytes that stand for 'seconds' of Opus audio
        voice = Media("voice", data=b"OggS" + bytes(4000 * seconds), duration=seconds)
        await self.sim.send_media(self.users[person.id], self.chats[OPS.id], voice, reply_to=card)

    def button(
        self, *, status: IncidentStatus | None = None, severity: Severity | None = None
    ) -> tuple[str, str]:
        """The (label, callback_data) of the card's button for this status or severity."""
        for label, data in self.card_or_fail().buttons:
            press = parse_card_press(data)
            if press is None:
                continue
            if (status is not None and press.status is status) or (
                severity is not None and press.severity is severity
            ):
                return label, data
        wanted = status or severity
        raise DemoError(f"the card has no button for {wanted}")

    async def press(self, person: Person, data: str) -> str:
        card = self.card_or_fail()
        return await self.sim.press(self.users[person.id], self.chats[OPS.id], card, data)

    def offer_button(self, spec: ChatSpec) -> tuple[SimMessage, str, str]:
        """The latest offer of a unit in an agency chat, and its Commit button (label, data):
        the message the transcript showed with its buttons."""
        chat = self.chats[spec.id]
        for message in reversed(self.sim.bot_messages(chat)):
            for label, data in message.buttons:
                press = parse_offer_press(data)
                if press is not None and press[1] == "c":
                    return message, label, data
        raise DemoError(f"no request for a unit reached {spec.name}")

    async def press_offer(self, person: Person, spec: ChatSpec) -> str:
        """Commit, on the latest offer of a unit in an agency chat."""
        message, _, data = self.offer_button(spec)
        return await self.sim.press(self.users[person.id], self.chats[spec.id], message, data)

    def places_button(self, spec: ChatSpec, places: int) -> tuple[SimMessage, str, str]:
        """The latest offer of beds in an agency chat, and its button committing `places`
        (the plain Commit button when that is all it was asked)."""
        chat = self.chats[spec.id]
        for message in reversed(self.sim.bot_messages(chat)):
            found = {}
            for label, data in message.buttons:
                press = parse_offer_press(data)
                if press is not None:
                    found[press[1]] = (label, data)
            for action in (f"c{places}", "c"):
                if action in found and (
                    action != "c" or found[action][0].endswith(f" {places}") or "c1" not in found
                ):
                    return message, *found[action]
        raise DemoError(f"no offer of {places} place(s) reached {spec.name}")

    async def press_places(self, person: Person, spec: ChatSpec, places: int) -> str:
        message, _, data = self.places_button(spec, places)
        return await self.sim.press(self.users[person.id], self.chats[spec.id], message, data)

    async def post_have(self, document: bytes, token: str) -> None:
        """A hospital's system posts its EDXL-HAVE document to the bot's web server."""
        web: BoardServer | None = self.app.bot_data.get(WEB_KEY)
        if web is None or web.port is None:
            raise DemoError("the web server is not running")
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{web.port}/have",
                data=document,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
            ) as response,
        ):
            if response.status != 200:
                raise DemoError(f"/have answered {response.status}: {await response.text()}")

    async def committed(self, ref: int) -> Offer:
        """The unit committed to the incident (the first, if several)."""
        async with self.runtime.db.read() as tx:
            found = await requests.resources_in(tx, ref)
        engaged = [offer for offer, _ in found if offer.status.engaged]
        if not engaged:
            raise DemoError(f"no unit is committed to #{ref}")
        return engaged[0]

    # -- one step --

    async def run_step(self, number: int, total: int, step: Step) -> None:
        p = self.printer
        chat = self.chat_of(step.person, step.chat)
        where = step.chat.name if step.chat else "a private chat with the bot"
        seen = self._bot_message_ids()
        card = self.card()
        card_id = card.message_id if card else None
        card_text = card.text if card else None

        p.rule(f"step {number}/{total}")
        p.line(p.bold(step.person.who))
        p.line(f"  in {where}")
        described = step.describe if isinstance(step.describe, str) else step.describe()
        if inspect.isawaitable(described):
            described = await described
        p.block(described, 2)
        query = await step.act()
        await self.settle()
        if self.errors:
            record = self.errors[0]
            raise DemoError(f"the bot logged an error: {record.getMessage()}")

        new = [m for m in self.sim.bot_messages(chat) if m.message_id not in seen[chat.id]]
        card = self.card()
        p.line(p.bold("Passerelle:"))
        shown = False
        if query is not None:
            answer = self.sim.callback_answers.get(query)
            if answer is None:
                raise DemoError("the bot did not answer the button press")
            kind = "alert" if answer.show_alert else "toast"
            p.line(f"  ({kind} for {step.person.first_name}) {answer.text or ''}")
            shown = True
        for message in new:
            if card is not None and message is card:
                p.line("  📌 card, posted and pinned")
                self._show_card(message, None)
            else:
                p.line("  💬")
                self._show_message(message)
            shown = True
        if (
            card is not None
            and card.message_id == card_id
            and card.text != card_text
            and chat.id == OPS.id
        ):
            p.line("  📌 card, edited  (› marks what changed)")
            self._show_card(card, card_text)
            shown = True
        # what other chats received meanwhile (the outbox paces them: one may show up later)
        for other in list(self.sim.world.chats.values()):
            if other.id == chat.id:
                continue
            for message in self.sim.bot_messages(other):
                if message.message_id not in seen.get(other.id, set()):
                    name = other.title or (
                        f"a private chat with {other.user.full_name}" if other.user else "?"
                    )
                    p.line(f"  💬 meanwhile in {name}:")
                    self._show_message(message)
        if not shown:
            p.line(p.dim("  (no visible answer)"))
        after = (card.text or "") if card is not None else ""
        outcome = Outcome(new, after, card is not None and card.text != card_text)
        for check in step.checks:
            problem = check(outcome)
            if problem:
                raise DemoError(f"step {number}: {problem}")
        p.line()
        p.flush()

    def _bot_message_ids(self) -> dict[int, set[int]]:
        return {
            chat.id: {m.message_id for m in self.sim.bot_messages(chat)}
            for chat in list(self.sim.world.chats.values())
        }

    def _show_card(self, card: SimMessage, before: str | None) -> None:
        old = set((before or "").splitlines())
        for row in (card.text or "").splitlines():
            mark = "› " if before is not None and row.strip() and row not in old else "  "
            self.printer.line(("    " + mark + row).rstrip())
        self._show_buttons(card, 6)

    def _show_message(self, message: SimMessage) -> None:
        """A message as its chat shows it: the text (a file: its name and size), and the
        buttons under it."""
        if message.document is not None:
            size = len(message.document.data)
            self.printer.line(f"    📎 {message.document.filename} ({size / 1000:.0f} kB)")
        self.printer.block(message.text or message.caption or "", 4)
        self._show_buttons(message, 4)

    def _show_buttons(self, message: SimMessage, indent: int) -> None:
        buttons = [label for label, _ in message.buttons]
        if buttons:
            self.printer.line(
                " " * indent + self.printer.dim("buttons: " + " ".join(f"[{b}]" for b in buttons))
            )

    async def pause(self) -> None:
        if self.speed > 0:
            await asyncio.sleep(STEP_PAUSE * self.speed)


# ---- expectations --------------------------------------------------------------------------


def card_changed(outcome: Outcome) -> str | None:
    return None if outcome.card_changed else "the card did not change"


def card_shows(words: str) -> Check:
    def check(outcome: Outcome) -> str | None:
        return None if words in outcome.card_text else f"the card does not show {words!r}"

    return check


def answered(prefix: str, what: str) -> Check:
    def check(outcome: Outcome) -> str | None:
        return None if outcome.answered(prefix) else f"the bot did not {what}"

    return check


def answer_shows(words: str) -> Check:
    def check(outcome: Outcome) -> str | None:
        if any(words in (m.text or "") for m in outcome.new):
            return None
        return f"no answer mentions {words!r}"

    return check


def card_unchanged(outcome: Outcome) -> str | None:
    return "the card changed" if outcome.card_changed else None


THUMBNAIL = "data:image/jpeg;base64,"


def report_with_photo(outcome: Outcome) -> str | None:
    """The bot sent the report, and the responder's photo is in it (its thumbnail)."""
    for message in outcome.new:
        if message.document is not None and (message.document.filename or "").endswith(".html"):
            if THUMBNAIL in message.document.data.decode("utf-8", "replace"):
                return None
            return "the report does not show the responder's photo"
    return "the bot did not send the report"


def hazard_plate() -> bytes:
    """The photo a responder takes of the tank wagon's orange plate: 268 (toxic, corrosive
    gas) over 1017 (chlorine), as a phone's JPEG."""
    image = Image.new("RGB", (1200, 800), (92, 98, 104))  # the wagon's grey side
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 200, 900, 600), fill=(242, 121, 0), outline=(0, 0, 0), width=16)
    draw.line((300, 400, 900, 400), fill=(0, 0, 0), width=16)
    try:
        font: Any = ImageFont.load_default(size=150)
    except (TypeError, OSError):  # a Pillow without FreeType: the small bitmap font
        font = ImageFont.load_default()
    for number, middle in (("268", 300), ("1017", 500)):
        draw.text((600, middle), number, fill=(0, 0, 0), font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def gent_have() -> bytes:
    """UZ Gent's availability as its system sends it (EDXL-HAVE 1.0): 1 burns bed free of 2."""
    when = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<HospitalStatus xmlns="urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"'
        ' xmlns:xnl="urn:oasis:names:tc:ciq:xnl:3"><Hospital><Organization>'
        "<OrganizationInformation><xnl:OrganisationName><xnl:NameElement>UZ Gent"
        "</xnl:NameElement></xnl:OrganisationName></OrganizationInformation></Organization>"
        "<HospitalBedCapacityStatus><BedCapacity><BedType>Burn</BedType><Capacity>"
        "<CapacityStatus>Vacant/Available</CapacityStatus><AvailableCount>1</AvailableCount>"
        "<BaselineCount>2</BaselineCount></Capacity></BedCapacity></HospitalBedCapacityStatus>"
        f"<LastUpdateTime>{when}</LastUpdateTime></Hospital></HospitalStatus>"
    ).encode()


# ---- the script ------------------------------------------------------------------------------


def script(demo: Demo) -> list[Step]:
    lat, lon = RAIL_YARD
    steps: list[Step] = [
        Step(
            COMMANDER_BE,
            OPS,
            f"types: /incident {TITLE}",
            lambda: demo.say(COMMANDER_BE, OPS, f"/incident {TITLE}"),
        ),
        Step(
            RESPONDER_NL,
            OPS,
            "replies to the card: Gele wolk boven spoor 7, wind uit het zuidwesten. "
            "Ketelwagen lekt aan de afsluiter.",
            lambda: demo.reply_to_card(
                RESPONDER_NL,
                "Gele wolk boven spoor 7, wind uit het zuidwesten. "
                "Ketelwagen lekt aan de afsluiter.",
            ),
            (card_changed, card_shows("Gele wolk boven spoor 7")),
        ),
        Step(
            RESPONDER_NL,
            OPS,
            f"shares a location as a reply to the card: {lat:.4f}, {lon:.4f}",
            lambda: demo.share_location(RESPONDER_NL, lat, lon),
            (card_changed, card_shows(f"{lat:.5f}, {lon:.5f}")),
        ),
        Step(
            RESPONDER_NL,
            OPS,
            "sends a photo of the tank wagon's orange plate as a reply to the card, captioned: "
            "Oranje bord 268/1017 op de ketelwagen",
            lambda: demo.photo_to_card(
                RESPONDER_NL, "Oranje bord 268/1017 op de ketelwagen", hazard_plate()
            ),
            (card_changed, card_shows("📷 1"), card_shows("Oranje bord 268/1017")),
        ),
        Step(
            DOCTOR_FR,
            OPS,
            "sends a voice note of 18 s as a reply to the card (hands busy with a casualty)",
            lambda: demo.voice_to_card(DOCTOR_FR, 18),
            (card_changed, card_shows("🎙 1")),
        ),
        Step(
            DOCTOR_FR,
            OPS,
            "replies to the card: SMUR de Tourcoing en route, sur place dans 12 min. "
            "Deux cheminots incommodés signalés.",
            lambda: demo.reply_to_card(
                DOCTOR_FR,
                "SMUR de Tourcoing en route, sur place dans 12 min. "
                "Deux cheminots incommodés signalés.",
            ),
            (card_changed, card_shows("SMUR de Tourcoing en route")),
        ),
    ]

    log_line = ""

    async def logging_commitment() -> str:
        """The French commander logs the unit SDIS 59 committed, with its ETA as offered."""
        nonlocal log_line
        offer = await demo.committed(1)
        name = offer.unit.name.removesuffix(" (SAMPLE)")
        log_line = (
            f"/log {name} du {offer.unit.agency} engagée, sur place dans "
            f"{offer.eta_minutes} min environ."
        )
        return f"types: {log_line}"

    def pressing(**which: Any) -> Step:
        def describe() -> str:
            return f"presses the card's button [{demo.button(**which)[0]}]"

        async def act() -> str:
            return await demo.press(COMMANDER_BE, demo.button(**which)[1])

        return Step(COMMANDER_BE, OPS, describe, act, (card_changed,))

    steps += [
        pressing(status=IncidentStatus.ACTIVE),
        pressing(severity=Severity.SEVERE),
        Step(
            COMMANDER_BE,
            OPS,
            "types: /set lieu Gare de triage de Tournai",
            lambda: demo.say(COMMANDER_BE, OPS, "/set lieu Gare de triage de Tournai"),
            (answered("✅", "confirm /set"), card_shows("Gare de triage de Tournai")),
        ),
        Step(
            COMMANDER_BE,
            OPS,
            f"types: /assign porte-parole @{SPOKESPERSON_BE.username}",
            lambda: demo.say(
                COMMANDER_BE, OPS, f"/assign porte-parole @{SPOKESPERSON_BE.username}"
            ),
            (answered("✅", "confirm /assign"), card_shows(SPOKESPERSON_BE.name)),
        ),
        Step(
            COMMANDER_BE,
            OPS,
            "types: /request 1 cellule risques chimiques",
            lambda: demo.say(COMMANDER_BE, OPS, "/request 1 cellule risques chimiques"),
            (answer_shows("FR-SDIS59-CMIC-LIL1"),),
        ),
        Step(
            DUTY_FR,
            SDIS,
            lambda: f"presses [{demo.offer_button(SDIS)[1]}] on the request for the CMIC Lille",
            lambda: demo.press_offer(DUTY_FR, SDIS),
            (card_shows("FR-SDIS59-CMIC-LIL1"), card_shows("🇫🇷→🇧🇪")),
        ),
        Step(
            COMMANDER_FR,
            OPS,
            logging_commitment,
            lambda: demo.say(COMMANDER_FR, OPS, log_line),
            (answered("📝", "confirm /log"), card_shows("engagée, sur place dans")),
        ),
        Step(
            DUTY_GENT,
            GENT,
            "(UZ Gent's bed-management system, not a person) posts its EDXL-HAVE update to "
            "the bot's /have endpoint with the hospital's token: burns beds, 1 free of 2",
            lambda: demo.post_have(gent_have(), GENT_HAVE_TOKEN),
        ),
        Step(
            COMMANDER_BE,
            OPS,
            "types: /request 2 lits grands brûlés deux cheminots brûlés, transfert",
            lambda: demo.say(
                COMMANDER_BE, OPS, "/request 2 lits grands brûlés deux cheminots brûlés, transfert"
            ),
            (answer_shows("FR-CHULILLE-BURN-1"),),
        ),
        Step(
            DUTY_LILLE,
            LILLE,
            lambda: (
                "commits one bed of the two asked, with the button "
                f"[{demo.places_button(LILLE, 1)[1]}]"
            ),
            lambda: demo.press_places(DUTY_LILLE, LILLE, 1),
            (card_shows("FR-CHULILLE-BURN-1"),),
        ),
        Step(
            DUTY_GENT,
            GENT,
            lambda: (
                "commits the bed UZ Gent reported free, with the button "
                f"[{demo.places_button(GENT, 1)[1]}]"
            ),
            lambda: demo.press_places(DUTY_GENT, GENT, 1),
            (card_shows("BE-UZG-BURN-1"),),
        ),
        Step(
            LIAISON_FR,
            None,
            "types: /status",
            lambda: demo.say(LIAISON_FR, None, "/status"),
            (answer_shows(TITLE),),
        ),
        Step(
            RESPONDER_NL,
            OPS,
            "types: /close",
            lambda: demo.say(RESPONDER_NL, OPS, "/close"),
            (answered("⛔", "refuse the responder's /close"), card_unchanged),
        ),
        Step(
            COMMANDER_BE,
            OPS,
            "types: /close",
            lambda: demo.say(COMMANDER_BE, OPS, "/close"),
            (answered("✅", "confirm /close"), card_changed),
        ),
        Step(
            COMMANDER_BE,
            OPS,
            "types: /report (the after-action report, with the photo from the field)",
            lambda: demo.say(COMMANDER_BE, OPS, "/report"),
            (report_with_photo,),
        ),
    ]
    return steps


# ---- lifecycle -----------------------------------------------------------------------------


class _ErrorCollector(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def _header(p: Printer) -> None:
    p.rule(char="═")
    p.line(p.bold("Passerelle demo: chlorine leak at the Tournai rail yard"))
    p.line("A Belgian incident where a French unit is closer. The real bot runs against a local")
    p.line("Telegram stand-in: no token, no network. Every person below is fictional.")
    p.rule(char="═")
    p.line("Chats")
    for c in CHATS:
        p.line(f"  • {c.name}  ({c.kind}, {c.country}, reads {'+'.join(c.languages)})")
    p.line("People (fictional)")
    for person in CAST:
        role = ", ".join(person.roles) or "responder, no role"
        p.line(f"  • {person.name} @{person.username}  {role}: {person.title}")
    p.line()


def _interactive(printer: Printer) -> bool:
    """A person at a terminal watches the demo (not a pipe, not a test)."""
    return printer.out is sys.stdout and sys.stdout.isatty() and sys.stdin.isatty()


async def _board_link(printer: Printer, app: PassApp, runtime: Runtime) -> None:
    """The situation board's local address, with a personal link for the commander (as /board
    gives one): opened in a browser, it follows the scripted incident live."""
    web: BoardServer | None = app.bot_data.get(WEB_KEY)
    if web is None or web.port is None:
        return
    async with runtime.db.unit() as unit:
        token = await tokens.issue(unit, COMMANDER_BE.id, 1)
    printer.line("The situation board (live, as the commander sees it; --speed 5 slows the demo):")
    printer.line(f"  http://127.0.0.1:{web.port}/board/#token={token}")
    printer.line()


async def _play(printer: Printer, speed: float, workdir: Path) -> None:
    sim = TelegramSimulator(token=TOKEN, bot_username="passerelle_demo_bot")
    await sim.start(port=0)
    app: PassApp | None = None
    errors: list[logging.LogRecord] = []
    collector = _ErrorCollector(errors)
    logging.getLogger().addHandler(collector)
    try:
        settings = demo_settings(workdir / "passerelle.db", sim.base_url, sim.base_file_url)
        users = {
            p.id: sim.add_user(
                p.id,
                p.first_name,
                last_name=p.last_name,
                username=p.username,
                language_code=p.language,
            )
            for p in CAST
        }
        chats = {
            c.id: sim.add_chat(
                c.id,
                "supergroup",
                title=c.name,
                members=[users[p.id] for p in c.members],
                bot_status="administrator",
            )
            for c in CHATS
        }
        app = build_application(settings)
        # started as tests/harness.py does: run_polling without the signal handling
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        if app.updater is None:
            raise DemoError("the application has no updater")
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        # the sample roster of the border region (fictitious units at real places)
        runtime: Runtime = app.bot_data[RUNTIME_KEY]
        sample = (package_files("bot") / "data" / "roster_sample.csv").read_text("utf-8")
        await roster_csv.import_roster(runtime.db, sample, source="roster_sample.csv")

        demo = Demo(sim, app, printer, speed, users, chats, errors)
        steps = script(demo)
        _header(printer)
        await _board_link(printer, app, runtime)
        started = time.monotonic()
        for number, step in enumerate(steps, 1):
            if number > 1:
                await demo.pause()
            await demo.run_step(number, len(steps), step)
        card = demo.card_or_fail()
        if card.callback_data:
            raise DemoError("the closed incident's card still has buttons")
        report = _report_file(sim, chats[OPS.id])
        printer.rule(char="═")
        if report is not None:
            printer.line(
                f"The after-action report, with the photo: {report} (open it in a browser)"
            )
        printer.line(
            f"Done: {len(steps)} steps in {time.monotonic() - started:.1f} s; the card was "
            f"edited {card.edits} times in place (message {card.message_id}), "
            f"{len(sim.calls)} Bot API calls."
        )
        printer.rule(char="═")
        printer.flush()
        if app.bot_data.get(WEB_KEY) is not None and _interactive(printer):
            # someone at a terminal may still be looking at the board: it stays until Enter
            printer.line("The board stays open: press Enter to end the demo.")
            printer.flush()
            await asyncio.to_thread(sys.stdin.readline)
    finally:
        try:
            if app is not None:
                if app.updater is not None and app.updater.running:
                    await app.updater.stop()
                if app.running:
                    await app.stop()
                    if app.post_stop is not None:
                        await app.post_stop(app)
                await app.shutdown()
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)
        finally:
            logging.getLogger().removeHandler(collector)
            await sim.stop()


def _report_file(sim: TelegramSimulator, chat: SimChat) -> Path | None:
    """The report the bot sent, saved where the demo's reader can open it (the demo's own
    folder is removed when it ends)."""
    for message in reversed(sim.bot_messages(chat)):
        if message.document is not None and (message.document.filename or "").endswith(".html"):
            saved = Path(tempfile.gettempdir()) / f"passerelle-demo-{message.document.filename}"
            try:
                saved.write_bytes(message.document.data)
            except OSError:
                return None
            return saved
    return None


async def _main(printer: Printer, speed: float) -> None:
    with tempfile.TemporaryDirectory(prefix="passerelle-demo-", ignore_cleanup_errors=True) as tmp:
        async with asyncio.timeout(DEMO_TIMEOUT + 12 * STEP_PAUSE * speed):
            await _play(printer, speed, Path(tmp))


def run_demo(speed: float = 1.0, out: TextIO | None = None) -> int:
    """Play the scripted incident; 0 when it went as scripted, 1 otherwise."""
    stream = out if out is not None else sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        # a terminal or pipe that cannot show an emoji gets a replacement, not a crash
        stream.reconfigure(errors="replace")
    if not speed >= 0:
        print("demo: --speed must be 0 or more", file=sys.stderr)
        return 1
    printer = Printer(stream)
    try:
        asyncio.run(_main(printer, speed))
    except DemoError as error:
        printer.flush()
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    except ConfigError as error:
        print(f"demo failed: bad demo configuration: {'; '.join(error.problems)}", file=sys.stderr)
        return 1
    except TimeoutError:
        print("demo failed: it did not finish in time", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (`python -m bot demo | head`): stop quietly
        if stream is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
