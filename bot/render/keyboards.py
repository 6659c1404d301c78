"""Inline keyboards and their callback data.

Callback data is short and versioned: `i1:<ref>:st:<status>` or `i1:<ref>:sv:<severity>`.
It is parsed strictly and the press is permission-checked again by the handler: a button
may have been forwarded, be old, or be forged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.core import vocabulary as labels
from bot.core.i18n import N_, joined_labels
from bot.core.models import Incident, IncidentStatus, Offer, OfferStatus, Severity, Unit, UnitStatus
from bot.core.vocabulary import STATUS_MARK as UNIT_MARK
from bot.core.vocabulary import UNIT_STATUS
from bot.render.common import SEVERITY_MARK, STATUS_MARK

CARD_PREFIX = "i1"
_STATUS_CODES = {
    IncidentStatus.ACTIVE: "act",
    IncidentStatus.CONTAINED: "con",
    IncidentStatus.CLOSED: "clo",
}
_SEVERITY_CODES = {
    Severity.MINOR: "1",
    Severity.MODERATE: "2",
    Severity.SEVERE: "3",
    Severity.EXTREME: "4",
}


@dataclass(frozen=True)
class CardPress:
    ref: int
    status: IncidentStatus | None = None
    severity: Severity | None = None


def status_data(ref: int, status: IncidentStatus) -> str:
    return f"{CARD_PREFIX}:{ref}:st:{_STATUS_CODES[status]}"


def severity_data(ref: int, severity: Severity) -> str:
    return f"{CARD_PREFIX}:{ref}:sv:{_SEVERITY_CODES[severity]}"


def parse_card_press(data: str) -> CardPress | None:
    """The press a callback carries, or None when it is not one of ours."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != CARD_PREFIX or not parts[1].isdigit() or len(parts[1]) > 9:
        return None
    ref = int(parts[1])
    if parts[2] == "st":
        for status, code in _STATUS_CODES.items():
            if code == parts[3]:
                return CardPress(ref, status=status)
    elif parts[2] == "sv":
        for severity, code in _SEVERITY_CODES.items():
            if code == parts[3]:
                return CardPress(ref, severity=severity)
    return None


# --- the situation board: opened through Telegram --------------------------------------

# `/start board_<ref>`: the deep link a group's card leads to when no Mini App is registered
BOARD_START = "board_"
# `startapp=i<ref>`: the Mini App link's start parameter (the page hands it to the server)
BOARD_APP_START = "i"


@dataclass(frozen=True)
class BoardLinks:
    """Where the board opens from Telegram. Telegram allows `web_app` buttons only in private
    chats: in a group the card's button is a link through Telegram, either to the Mini App
    registered with @BotFather (`app_name`), which opens the board with Telegram's signed
    launch data, or to the private chat with the bot, which answers with a `web_app` button."""

    bot_username: str
    public_url: str  # [board] public_url, or the server's own address; no trailing slash
    app_name: str = ""

    @property
    def opens_in_telegram(self) -> bool:
        """Whether Telegram will open the page itself: a `web_app` button takes only https."""
        return self.public_url.startswith("https://")

    def through_telegram(self, ref: int) -> str:
        if self.app_name:
            return (
                f"https://t.me/{self.bot_username}/{self.app_name}?startapp={BOARD_APP_START}{ref}"
            )
        return f"https://t.me/{self.bot_username}?start={BOARD_START}{ref}"

    def page(self, ref: int | None = None) -> str:
        """The page itself (a `web_app` button's address): an incident's, or the overview."""
        return f"{self.public_url}/board/" + (f"#incident={ref}" if ref is not None else "")

    def personal(self, token: str) -> str:
        """A personal link for a command post's screen (`/board` in private)."""
        return f"{self.public_url}/board/#token={token}"


def parse_board_start(argument: str) -> int | None:
    """The incident a `/start board_<ref>` deep link names, or None."""
    ref = argument.removeprefix(BOARD_START)
    if ref == argument or not ref.isdigit() or not ref.isascii() or len(ref) > 9:
        return None
    return int(ref)


def board_button(
    ref: int, languages: Sequence[str], links: BoardLinks, *, private: bool
) -> InlineKeyboardButton:
    """The card's "🗺 Board": the page itself in a private chat, through Telegram elsewhere."""
    label = "🗺 " + joined_labels(languages, N_("Board"))
    if private and links.opens_in_telegram:
        return InlineKeyboardButton(label, web_app=WebAppInfo(links.page(ref)))
    return InlineKeyboardButton(label, url=links.through_telegram(ref))


def board_keyboard(ref: int | None, language: str, links: BoardLinks) -> InlineKeyboardMarkup:
    """The answer to `/start board_<ref>` in private: the board, opened inside Telegram."""
    label = "🗺 " + joined_labels([language], N_("Open the board"))
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, web_app=WebAppInfo(links.page(ref)))]]
    )


def card_keyboard(
    incident: Incident,
    languages: Sequence[str],
    board: BoardLinks | None = None,
    *,
    private: bool = False,
) -> InlineKeyboardMarkup | None:
    """The card's buttons: status, severity and, with the board on (`board`), the board."""
    if not incident.is_open:
        return None
    statuses = [
        InlineKeyboardButton(
            f"{STATUS_MARK[s]} {joined_labels(languages, labels.STATUS[s])}",
            callback_data=status_data(incident.ref, s),
        )
        for s in _STATUS_CODES
        if s is not incident.status
    ]
    severities = [
        InlineKeyboardButton(
            ("• " if s is incident.severity else "")
            + f"{SEVERITY_MARK[s]} {joined_labels(languages, labels.SEVERITY[s])}",
            callback_data=severity_data(incident.ref, s),
        )
        for s in _SEVERITY_CODES
    ]
    # two severities a row: bilingual labels must stay readable on a phone
    rows = [statuses, severities[:2], severities[2:]]
    if board is not None:
        rows.append([board_button(incident.ref, languages, board, private=private)])
    return InlineKeyboardMarkup(rows)


# --- alerts and statements: plain JSON markup, stored in the outbox ------------------------

ALERT_PREFIX = "a1"
STATEMENT_PREFIX = "s1"
STATEMENT_DECISIONS = ("ok", "ed", "no")  # approve, edit, reject


def ack_data(alert_id: int) -> str:
    return f"{ALERT_PREFIX}:{alert_id}:ack"


def parse_ack(data: str) -> int | None:
    parts = data.split(":")
    if (
        len(parts) == 3
        and parts[0] == ALERT_PREFIX
        and parts[2] == "ack"
        and (parts[1].isdigit() and len(parts[1]) <= 9)
    ):
        return int(parts[1])
    return None


def statement_data(statement_id: int, version: int, decision: str) -> str:
    return f"{STATEMENT_PREFIX}:{statement_id}:{version}:{decision}"


def parse_statement_press(data: str) -> tuple[int, int, str] | None:
    parts = data.split(":")
    if (
        len(parts) == 4
        and parts[0] == STATEMENT_PREFIX
        and parts[3] in STATEMENT_DECISIONS
        and all(p.isdigit() and len(p) <= 9 for p in parts[1:3])
    ):
        return int(parts[1]), int(parts[2]), parts[3]
    return None


def ack_keyboard(alert_id: int, languages: Sequence[str]) -> dict[str, object]:
    button = InlineKeyboardButton(
        "✅ " + joined_labels(languages, N_("Acknowledge")), callback_data=ack_data(alert_id)
    )
    return InlineKeyboardMarkup([[button]]).to_dict()


def statement_keyboard(statement_id: int, version: int, language: str) -> dict[str, object]:
    labels_ = ((N_("Approve and publish"), "ok"), (N_("Edit"), "ed"), (N_("Reject"), "no"))
    marks = {"ok": "✅ ", "ed": "✏️ ", "no": "✖️ "}
    buttons = [
        InlineKeyboardButton(
            marks[code] + joined_labels([language], label),
            callback_data=statement_data(statement_id, version, code),
        )
        for label, code in labels_
    ]
    return InlineKeyboardMarkup([buttons[:1], buttons[1:]]).to_dict()


# --- resources: offers, unit status, roll-call (plain JSON markup, stored in the outbox) ----

OFFER_PREFIX = "r1"  # r1:<offer id>:<action>
# c commit (a facility: the places asked) | c<n> commit n places | d decline | e en route |
# s on scene | r recall (then a reason) | rn, ro recall with that reason | k keep (no recall)
UNIT_PREFIX = "u1"  # u1:<unit id>:<av | un | mt>
ROLLCALL_PREFIX = "rc1"  # rc1:<unit id> (confirmed as listed) | rc1:all
OFFER_ACTIONS = ("c", "d", "e", "s", "r", "rn", "ro", "k")
MAX_FEWER_BUTTONS = 8  # a facility asked for n places: "commit 1" … "commit n-1" buttons
RECALL_REASONS = {
    "rn": N_("needed on our side"),
    "ro": N_("out of service"),
}
_UNIT_CODES = {"av": "available", "un": "unavailable", "mt": "maintenance"}


def offer_data(offer_id: int, action: str) -> str:
    return f"{OFFER_PREFIX}:{offer_id}:{action}"


def parse_offer_press(data: str) -> tuple[int, str] | None:
    parts = data.split(":")
    if (
        len(parts) == 3
        and parts[0] == OFFER_PREFIX
        and parts[1].isdigit()
        and len(parts[1]) <= 9
        and (parts[2] in OFFER_ACTIONS or re.fullmatch(r"c[1-9][0-9]{0,2}", parts[2]))
    ):
        return int(parts[1]), parts[2]
    return None


def offer_keyboard(
    offer: Offer, languages: Sequence[str], recalling: bool = False
) -> dict[str, object] | None:
    """Commit / Decline while asked (a facility: commit the places asked, or fewer); En route
    / On scene and Recall once committed (`recalling`: the reasons to choose from)."""

    def button(mark: str, label: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            f"{mark} {joined_labels(languages, label)}", callback_data=offer_data(offer.id, action)
        )

    def count(places: int, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(f"✅ {places}", callback_data=offer_data(offer.id, action))

    recall = button("↩️", N_("Recall"), "r")
    if offer.status is OfferStatus.OFFERED and offer.unit.counted and offer.asked > 1:
        rows = [
            [count(offer.asked, "c"), button("✖️", N_("Decline"), "d")],
            [count(n, f"c{n}") for n in range(1, min(offer.asked, MAX_FEWER_BUTTONS + 1))],
        ]
    elif offer.status is OfferStatus.OFFERED:
        rows = [[button("✅", N_("Commit"), "c"), button("✖️", N_("Decline"), "d")]]
    elif recalling:
        rows = [
            [button("↩️", label, action) for action, label in RECALL_REASONS.items()],
            [button("✖️", N_("Keep it committed"), "k")],
        ]
    elif offer.status is OfferStatus.COMMITTED and offer.unit.counted:
        rows = [[recall]]
    elif offer.status is OfferStatus.COMMITTED:
        rows = [[button("🚦", N_("En route"), "e"), button("📍", N_("On scene"), "s")], [recall]]
    elif offer.status is OfferStatus.EN_ROUTE:
        rows = [[button("📍", N_("On scene"), "s")], [recall]]
    elif offer.status is OfferStatus.ON_SCENE:
        rows = [[recall]]
    else:
        return None
    return InlineKeyboardMarkup(rows).to_dict()


def offer_markup(offer: Offer, languages: Sequence[str]) -> InlineKeyboardMarkup | None:
    """`offer_keyboard` as the live offer message is edited with it."""
    data = offer_keyboard(offer, languages)
    return InlineKeyboardMarkup.de_json(data, None) if data else None


def unit_data(unit_id: int, status: UnitStatus) -> str:
    code = next(k for k, v in _UNIT_CODES.items() if v == status.value)
    return f"{UNIT_PREFIX}:{unit_id}:{code}"


def parse_unit_press(data: str) -> tuple[int, UnitStatus] | None:
    parts = data.split(":")
    if (
        len(parts) == 3
        and parts[0] == UNIT_PREFIX
        and parts[1].isdigit()
        and len(parts[1]) <= 9
        and parts[2] in _UNIT_CODES
    ):
        return int(parts[1]), UnitStatus(_UNIT_CODES[parts[2]])
    return None


def unit_keyboard(unit: Unit, languages: Sequence[str]) -> InlineKeyboardMarkup | None:
    """The statuses an agency may set by hand (not while the unit is committed)."""
    if unit.status is UnitStatus.COMMITTED:
        return None
    buttons = [
        InlineKeyboardButton(
            f"{UNIT_MARK[status]} {joined_labels(languages, UNIT_STATUS[status])}",
            callback_data=unit_data(unit.id, status),
        )
        for status in (UnitStatus.AVAILABLE, UnitStatus.UNAVAILABLE, UnitStatus.MAINTENANCE)
        if status is not unit.status
    ]
    return InlineKeyboardMarkup([buttons])


def rollcall_data(unit_id: int | None) -> str:
    return f"{ROLLCALL_PREFIX}:{'all' if unit_id is None else unit_id}"


def parse_rollcall_press(data: str) -> tuple[bool, int | None] | None:
    """(valid, unit id or None for all)"""
    parts = data.split(":")
    if len(parts) != 2 or parts[0] != ROLLCALL_PREFIX:
        return None
    if parts[1] == "all":
        return True, None
    if parts[1].isdigit() and len(parts[1]) <= 9:
        return True, int(parts[1])
    return None


def rollcall_keyboard(units: Sequence[Unit], languages: Sequence[str]) -> dict[str, object]:
    """One tap per unit (confirmed as listed), two a row, and one for all of them."""
    buttons = [
        InlineKeyboardButton(f"✅ {unit.code}", callback_data=rollcall_data(unit.id))
        for unit in units[:90]
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                "✅✅ " + joined_labels(languages, N_("All as listed")),
                callback_data=rollcall_data(None),
            )
        ]
    )
    return InlineKeyboardMarkup(rows).to_dict()


# --- after-action evaluations: a rating from 1 to 5 --------------------------------------------


RATING_PREFIX = "e1"  # e1:<evaluation id>:<rating 1..5>


def rating_data(evaluation_id: int, rating: int) -> str:
    return f"{RATING_PREFIX}:{evaluation_id}:{rating}"


def parse_rating(data: str) -> tuple[int, int] | None:
    parts = data.split(":")
    if (
        len(parts) == 3
        and parts[0] == RATING_PREFIX
        and parts[1].isdigit()
        and len(parts[1]) <= 9
        and parts[2] in {"1", "2", "3", "4", "5"}
    ):
        return int(parts[1]), int(parts[2])
    return None


def rating_keyboard(evaluation_id: int) -> dict[str, object]:
    return {
        "inline_keyboard": [
            [{"text": "★" * n, "callback_data": rating_data(evaluation_id, n)} for n in range(1, 6)]
        ]
    }


# --- places that share a name: which one -------------------------------------------------------


PLACE_PREFIX = "g1"  # g1:<incident ref>:<place id>


def place_data(ref: int, place_id: int) -> str:
    return f"{PLACE_PREFIX}:{ref}:{place_id}"


def parse_place_press(data: str) -> tuple[int, int] | None:
    parts = data.split(":")
    if (
        len(parts) == 3
        and parts[0] == PLACE_PREFIX
        and all(p.isdigit() and 0 < len(p) <= 9 for p in parts[1:])
    ):
        return int(parts[1]), int(parts[2])
    return None


# --- /timeline: the whole timeline, page by page ----------------------------------------------


TIMELINE_PREFIX = "t1"  # t1:<incident ref>:<page, from 1>


def timeline_data(ref: int, page: int) -> str:
    return f"{TIMELINE_PREFIX}:{ref}:{page}"


def parse_timeline_press(data: str) -> tuple[int, int] | None:
    """(incident ref, page)"""
    parts = data.split(":")
    if (
        len(parts) == 3
        and parts[0] == TIMELINE_PREFIX
        and all(p.isdigit() and 0 < len(p) <= 9 for p in parts[1:])
        and int(parts[2]) > 0
    ):
        return int(parts[1]), int(parts[2])
    return None


def timeline_keyboard(ref: int, page: int, pages: int) -> InlineKeyboardMarkup | None:
    """◀ to the page before, ▶ to the page after (each with the page it leads to)."""
    buttons = []
    if page > 1:
        buttons.append(
            InlineKeyboardButton(f"◀ {page - 1}", callback_data=timeline_data(ref, page - 1))
        )
    if page < pages:
        buttons.append(
            InlineKeyboardButton(f"{page + 1} ▶", callback_data=timeline_data(ref, page + 1))
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None
