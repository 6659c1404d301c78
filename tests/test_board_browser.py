"""The situation board end to end (issue 14): the real bot (PTB Application against the
Telegram stand-in) with its web server, and the page opened in headless Chromium as a Telegram
client opens a Mini App (signed initData in the URL fragment) or as a command post opens its
personal link. What the page shows, what it refuses, and a reply in the group reaching the open
page within 2 s. Takes the screenshots the README shows; they are written over docs/board.png and
docs/board-overview.png only when PASSERELLE_SCREENSHOTS=docs is set (a test run leaves the
checkout as it was).

Same rules as tests/test_report_browser.py: Debian's Chromium driven by Playwright (its async
API here, in the test's own loop, beside the bot), nothing downloaded; without CI a missing
piece skips, with CI it fails."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from bot.board import tokens
from bot.core.db import to_db_time, utcnow
from bot.resources import roster_csv
from bot.simulator import TelegramSimulator
from tests.browser import chromium, missing
from tests.conftest import COMMANDER
from tests.harness import Harness
from tests.units import once

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token"  # tests/conftest.py's bot
STRANGER = 4242  # nobody the bot knows
TITLE = "Citerne couchée, A8 sortie Tournai-Ouest"
PLACE = (50.6055, 3.3462)
ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
BE-WAPI-AMB-2,ambulance,Ambulance Mouscron 1,ZS WAPI,BE,50.7444,3.2064,1,available
FR-SDIS59-VSAV-1,VSAV,VSAV Tourcoing 1,SDIS 59,FR,50.7239,3.1612,1,available
BE-FLUVIA-ZW-1,ziekenwagen,Ziekenwagen Kortrijk 1,Fluvia,BE,50.8279,3.2649,1,available
"""


def init_data(
    user_id: int,
    *,
    first_name: str = "Marc",
    language: str = "fr",
    start: str | None = None,
    age: int = 0,
    token: str = TOKEN,
) -> str:
    """Launch data as a Telegram client signs it (core.telegram.org/bots/webapps: the secret is
    HMAC-SHA256 of the bot token keyed with "WebAppData"; the hash, HMAC-SHA256 of the sorted
    key=value lines keyed with the secret), written here from the documentation, not with the
    server's own code."""
    user = {"id": user_id, "first_name": first_name, "language_code": language}
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int(time.time()) - age),
    }
    if start is not None:
        fields["start_param"] = start
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


class Board:
    """The bot with its board, and a browser to open it."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.url = harness.board_url  # the bot's own web server, on a free port
        self.browser: Any = None
        self._playwright: Any = None

    def telegram(self, init: str) -> str:
        """The address a Telegram client opens: initData in the fragment, as clients put it."""
        return f"{self.url}#tgWebAppData={quote(init, safe='')}&tgWebAppVersion=8.0"

    async def open(
        self, url: str, viewport: dict[str, int] | None = None, locale: str = "fr-BE"
    ) -> Any:
        context = await self.browser.new_context(
            viewport=viewport or {"width": 390, "height": 844},
            locale=locale,
            timezone_id="Europe/Brussels",
        )
        page = await context.new_page()
        page.seen = []  # every address asked for
        page.bodies = []  # every answer's body, as text

        async def keep(response: Any) -> None:
            try:
                page.bodies.append(
                    (response.url, (await response.body()).decode("utf-8", "replace"))
                )
            except Exception:  # an event stream or a redirect has no body to read
                page.bodies.append((response.url, ""))

        page.errors = []  # what the console said went wrong (a CSP violation, a script error)
        page.on(
            "console", lambda message: message.type == "error" and page.errors.append(message.text)
        )
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("request", lambda request: page.seen.append(request.url))
        page.on("response", keep)
        await page.goto(url)
        return page


@pytest.fixture
async def board(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Board]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - the dev extras have it
        missing("Playwright is not installed (pip install -e '.[dev]')")
    executable = chromium()
    h = Harness(sim, tmp_path / "board.db", agencies=True)
    await h.start()
    await roster_csv.import_roster(h.runtime.db, ROSTER)
    running = Board(h)
    async with async_playwright() as playwright:
        running.browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield running
        finally:
            await running.browser.close()
            await h.stop()


async def _incident(h: Harness) -> int:
    """A tank wagon on its side: declared, located, a note, an ambulance committed."""
    await h.say(h.commander, h.ops, f"/incident {TITLE}")
    card = h.card(h.ops)
    await h.sim.send_location(h.responder, h.ops, *PLACE, reply_to=card)
    await h.settle()
    await h.say(h.responder, h.ops, "Plaque orange 33/1203, fuite au dôme", reply_to=card)
    await h.say(h.commander, h.ops, "/request 1 ambulance")
    offer = next(
        m
        for m in h.sim.bot_messages(h.agency_wapi)
        if any(d.startswith("r1:") and d.endswith(":c") for d in m.callback_data)
    )
    await h.press(h.duty_wapi, h.agency_wapi, offer, offer.callback_data[0])
    return 1


async def _text(page: Any) -> str:
    return str(await page.evaluate("() => document.body.innerText"))


async def test_a_commander_sees_the_incident_and_a_reply_within_two_seconds(board: Board) -> None:
    """Valid initData for the commander with the card's start parameter: the incident, its
    unit and its timeline; a reply posted in the group through the stand-in appears on the
    open page within 2 s without reloading; nothing is loaded from anywhere else."""
    h = board.h
    ref = await _incident(h)
    page = await board.open(board.telegram(init_data(COMMANDER, start=f"i{ref}")))
    await page.wait_for_selector("#incident h2")
    await page.wait_for_selector(".live.on")
    text = await _text(page)
    assert TITLE in text
    assert "BE-WAPI-AMB-1" in text  # the committed unit
    assert "Plaque orange 33/1203" in text  # the timeline
    assert "tgWebAppData" not in page.url

    started = time.monotonic()
    await h.sim.send_text(h.responder, h.ops, "Deuxième citerne sécurisée", reply_to=h.card(h.ops))
    await page.wait_for_function(
        "() => document.body.innerText.includes('Deuxième citerne sécurisée')", timeout=2000
    )
    assert time.monotonic() - started < 2
    first = await page.eval_on_selector("#timeline .entry .text", "e => e.textContent")
    assert "Deuxième citerne sécurisée" in first  # newest first
    await h.settle()

    origin = board.url.split("/board/")[0]
    assert all(url.startswith(origin) for url in page.seen)
    # the server's Content-Security-Policy lets the page work: no error at all
    assert page.errors == []
    await page.context.close()


async def test_the_screenshots_of_the_readme(board: Board, tmp_path: Path) -> None:
    """The incident's page and the overview on a wall screen, for the README: saved in docs/
    with PASSERELLE_SCREENSHOTS=docs, else in the test's own folder."""
    folder = ROOT / "docs" if os.environ.get("PASSERELLE_SCREENSHOTS") == "docs" else tmp_path
    h = board.h
    ref = await _incident(h)
    await h.say(h.commander, h.ops, f"/set #{ref} gravité sévère")
    await h.say(h.commander, h.ops, f"/set #{ref} lieu A8, sortie Tournai-Ouest")
    await h.say(h.commander, h.ops, f"/assign #{ref} porte-parole @pclaeys")
    await h.say(
        h.liaison,
        h.liaison_fr,
        f"/alert #{ref} sévère fr: Confinement à Tournai-Ouest | nl: Schuilen in Doornik-West",
    )
    await h.say(h.commander, h.ops, "/escalate")
    await h.say(h.commander, h.ops, "/incident Feu de broussailles, Rumes")
    page = await board.open(
        board.telegram(init_data(COMMANDER, start=f"i{ref}")),
        viewport={"width": 1440, "height": 1000},
    )
    await page.wait_for_selector("#incident h2")
    await page.wait_for_timeout(500)  # the map's first drawing
    await page.screenshot(path=str(folder / "board.png"), full_page=False)
    await page.evaluate("() => { location.hash = '#' }")
    await page.wait_for_selector(".incidents .summary")
    assert "Feu de broussailles, Rumes" in await _text(page)
    await page.screenshot(path=str(folder / "board-overview.png"), full_page=False)
    await page.context.close()
    for name in ("board.png", "board-overview.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG"), name


@pytest.mark.parametrize("how", ["forged", "altered", "stale", "stranger", "expired", "nothing"])
async def test_refused_with_nothing_leaked(board: Board, how: str) -> None:
    """Forged or altered initData, stale initData, a stranger, an expired personal link, no
    credentials at all: a refusal in the person's language, and the incident's words neither
    in the page nor in any answer it received."""
    h = board.h
    ref = await _incident(h)
    good = init_data(COMMANDER, start=f"i{ref}")
    if how == "forged":
        url = board.telegram(init_data(COMMANDER, start=f"i{ref}", token="654321:OTHER-token"))
    elif how == "altered":  # the same signature over another user
        url = board.telegram(good.replace(f"%22id%22%3A{COMMANDER}", "%22id%22%3A1004"))
    elif how == "stale":
        url = board.telegram(init_data(COMMANDER, start=f"i{ref}", age=2 * 86400))
    elif how == "stranger":
        url = board.telegram(init_data(STRANGER, first_name="Eve", language="nl"))
    elif how == "expired":
        token = await once(h.runtime.db, tokens.issue, COMMANDER, 1)
        # a day later (the link's expiry moved into the past, as tests/test_board_tokens.py does)
        h.runtime.db.conn.execute(
            "UPDATE board_tokens SET expires_at = ?", (to_db_time(utcnow() - timedelta(seconds=1)),)
        )
        url = f"{board.url}#token={token}&incident={ref}"
    else:
        url = f"{board.url}#incident={ref}"
    page = await board.open(url)
    await page.wait_for_selector(".message.refused")
    await page.wait_for_timeout(300)  # anything the page would still ask for
    text = await _text(page)
    secrets = (TITLE, "BE-WAPI-AMB-1", "Plaque orange", "Tournai-Ouest")
    for secret in secrets:
        assert secret not in text and secret not in await page.content()
        for url_seen, body in page.bodies:
            assert secret not in body, url_seen
    assert not await page.is_visible("#incident") and not await page.is_visible("#overview")
    if how == "stranger":  # in the stranger's language (Dutch, from their Telegram client)
        assert await page.evaluate("() => document.documentElement.lang") == "nl"
    await page.context.close()


async def test_switching_to_dutch(board: Board) -> None:
    h = board.h
    ref = await _incident(h)
    page = await board.open(board.telegram(init_data(COMMANDER, start=f"i{ref}")))
    await page.wait_for_selector("#incident h2")
    await page.click("button[data-lang='nl']")
    await page.wait_for_function("() => document.documentElement.lang === 'nl'")
    text = await _text(page)
    assert "Logboek" in text and "Ingezette eenheden" in text
    assert "Main courante" not in text and "Moyens engagés" not in text
    await page.context.close()


async def test_a_photo_from_the_field_shows_as_its_thumbnail(board: Board) -> None:
    """A photo sent as a reply to the card: once kept, its thumbnail is on the open page (the
    board hears when it is kept), served by Passerelle, with its caption."""
    h = board.h
    ref = await _incident(h)
    page = await board.open(board.telegram(init_data(COMMANDER, start=f"i{ref}")))
    await page.wait_for_selector(".live.on")
    await h.send_photo(h.responder, h.ops, reply_to=h.card(h.ops), caption="Plaque de danger")
    image = await page.wait_for_selector("#timeline .media img", state="attached", timeout=10000)
    await image.scroll_into_view_if_needed()  # loaded lazily, as the reader scrolls to it
    await page.wait_for_function(
        "() => { const i = document.querySelector('#timeline .media img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=10000,
    )
    assert await image.get_attribute("alt") == "Plaque de danger"
    source = await image.evaluate("i => i.src")
    assert source.startswith(board.url + "api/media/")
    await page.context.close()


async def test_a_personal_link_revoked_while_the_board_is_open(board: Board) -> None:
    """A command post's screen opened with its personal link shows the overview; `/board
    revoke` (tokens.revoke) ends it: at the next change the page shows the refusal and no
    incident any more, and forgets the link."""
    h = board.h
    await _incident(h)
    token = await once(h.runtime.db, tokens.issue, COMMANDER, 30)
    page = await board.open(f"{board.url}#token={token}", viewport={"width": 1280, "height": 900})
    await page.wait_for_selector(".incidents .summary")
    assert TITLE in await _text(page) and token not in page.url
    await once(h.runtime.db, tokens.revoke, COMMANDER)
    await h.say(h.responder, h.ops, "Périmètre élargi à 300 m", reply_to=h.card(h.ops))
    await page.wait_for_selector(".message.refused", timeout=5000)
    assert TITLE not in await _text(page)
    assert await page.evaluate("() => localStorage.getItem('passerelle.board.token')") is None
    await page.context.close()


async def test_the_overview_follows_a_new_incident(board: Board) -> None:
    """A command post's screen on the overview: an incident declared in a group the person is
    known in appears there within 2 s, without reloading."""
    h = board.h
    await _incident(h)
    token = await once(h.runtime.db, tokens.issue, COMMANDER, 30)
    page = await board.open(f"{board.url}#token={token}", viewport={"width": 1280, "height": 900})
    await page.wait_for_selector(".live.on")
    started = time.monotonic()
    await h.sim.send_text(h.commander, h.ops, "/incident Feu de broussailles, Rumes")
    await page.wait_for_function(
        "() => document.body.innerText.includes('Feu de broussailles, Rumes')", timeout=2000
    )
    assert time.monotonic() - started < 2
    await h.settle()
    await page.context.close()
