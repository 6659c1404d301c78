"""The situation board's page (bot/board/static) in headless Chromium, against a stand-in of its
HTTP side (tests/board_fixture.py): what it shows, what it refuses, the languages, the live
stream and its reconnection, large type, a phone's width, axe-core. The same skip/CI rules as
tests/test_report_browser.py (Debian's Chromium through Playwright; nothing downloaded)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.board_fixture import (
    FORGED_INIT,
    REFUSALS,
    STRANGER_INIT,
    TITLE,
    VALID_INIT,
    FixtureBoard,
)
from tests.test_report_browser import _OVERFLOW, _axe

PHONE = {"width": 390, "height": 844}
WALL = {"width": 1920, "height": 1080}
# Words of the incident that no refused page may show, nor any answer it received.
SECRETS = (TITLE, "BE-WAPI-AMB-3", "Plaque orange", "Tournai-Ouest", "Yara Tertre")


@pytest.fixture
def board() -> Iterator[FixtureBoard]:
    server = FixtureBoard()
    server.start()
    yield server
    server.stop()


def _open(browser: Any, url: str, viewport: dict[str, int] = PHONE, locale: str = "fr-BE") -> Any:
    context = browser.new_context(viewport=viewport, locale=locale, timezone_id="Europe/Brussels")
    page = context.new_page()
    page.seen = []  # every URL the page asked for
    page.on("request", lambda request: page.seen.append(request.url))
    page.goto(url)
    return page


def _telegram(board: FixtureBoard, init_data: str, extra: str = "") -> str:
    """The address as a Telegram client opens a Mini App: initData in the fragment."""
    return f"{board.url}#{extra}tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0"


def _text(page: Any) -> str:
    return str(page.evaluate("() => document.body.innerText"))


def test_a_commander_opened_from_telegram_sees_the_incident(
    browser: Any, board: FixtureBoard
) -> None:
    """Valid initData with the start parameter i7 (the card's Mini App link): the incident's
    page in the person's language (French), its units, its timeline newest first; the
    credentials leave the address; nothing is loaded from anywhere but Passerelle."""
    page = _open(browser, _telegram(board, VALID_INIT))
    page.wait_for_selector("#incident h2")
    text = _text(page)
    assert TITLE in text
    assert "BE-WAPI-AMB-3" in text and "FR-SDIS59-CMIC-1" in text
    assert "18 min" in text  # the estimated arrival of the unit en route
    assert "Main courante" in text and "Moyens engagés" in text  # French labels
    entries = page.eval_on_selector_all("#timeline .entry .n", "els => els.map(e => e.textContent)")
    assert entries == ["3", "2", "1"]
    # the night's entries under their own day, this morning's under another
    days = page.eval_on_selector_all("#timeline .day", "els => els.map(e => e.textContent)")
    assert len(days) == 2 and "29" in days[1] and "30" in days[0]
    assert "tgWebAppData" not in page.url and page.url.endswith("#incident=7")
    assert "2 groupes sur 3 ont accusé réception" in text  # the alert's tally
    origin = board.url.split("/board/")[0]
    assert all(url.startswith(origin) for url in page.seen)
    page.evaluate("() => { location.hash = '#' }")
    page.wait_for_selector(".incidents .summary")
    # every word the page showed came from bot/board/strings.py (so the catalogs cover it)
    assert page.evaluate("() => [...window.passerelleBoard.missing]") == []
    page.context.close()


def test_the_overview_by_the_personal_link_then_the_keyboard(
    browser: Any, board: FixtureBoard
) -> None:
    """A personal link (#token=…) opens the overview: the incident with its status, severity,
    phase and counts; Tab to its link and Enter opens its page; Escape goes back."""
    page = _open(browser, f"{board.url}#token=valid", viewport={"width": 1280, "height": 900})
    page.wait_for_selector(".incidents .summary")
    text = _text(page)
    assert TITLE in text and "phase provinciale" in text
    assert "#token" not in page.url
    page.focus("#home")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('open')"):
            break
    else:
        pytest.fail("the incident's link cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#incident h2")
    assert "Yara Tertre" in _text(page)
    page.keyboard.press("Escape")
    page.wait_for_selector(".incidents .summary")
    page.context.close()


def test_a_change_appears_within_two_seconds(browser: Any, board: FixtureBoard) -> None:
    page = _open(browser, _telegram(board, VALID_INIT))
    page.wait_for_selector(".live.on")
    started = time.monotonic()
    board.add_entry("Deuxième citerne sécurisée")
    page.wait_for_function(
        "() => document.body.innerText.includes('Deuxième citerne sécurisée')", timeout=2000
    )
    assert time.monotonic() - started < 2
    first = page.eval_on_selector("#timeline .entry .text", "e => e.textContent")
    assert first == "Deuxième citerne sécurisée"  # newest first
    page.context.close()


def test_after_a_network_cut_it_reconnects_and_catches_up(
    browser: Any, board: FixtureBoard
) -> None:
    """The stream ends (a cut); what changed meanwhile is on the page once it is back, and
    the page says "reconnecting" in between, then "live"."""
    page = _open(browser, _telegram(board, VALID_INIT))
    page.wait_for_selector(".live.on")
    board.cut()
    board.add_entry("Pendant la coupure")  # nobody is listening: no change reaches the page
    page.wait_for_function(
        "() => document.body.innerText.includes('Pendant la coupure')", timeout=8000
    )
    page.wait_for_selector(".live.on")
    assert board.open_streams() == 1
    page.context.close()


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("forged", "forged"),
        ("stranger", "stranger"),
        ("expired", "expired"),
        ("nothing", "no_credentials"),
    ],
)
def test_refused_and_nothing_leaked(browser: Any, board: FixtureBoard, how: str, code: str) -> None:
    url = {
        "forged": _telegram(board, FORGED_INIT, "incident=7&"),
        "stranger": _telegram(board, STRANGER_INIT),
        "expired": f"{board.url}#token=expired&incident=7",
        "nothing": f"{board.url}#incident=7",
    }[how]
    page = _open(browser, url)
    page.wait_for_selector(".message.refused")
    text = _text(page)
    assert REFUSALS[code][1] in text
    for secret in SECRETS:
        assert secret not in text
        assert secret not in page.content()
    for path, status, body in board.answers:
        for secret in SECRETS:
            assert secret not in body, (path, status)
    assert not any("/api/incidents" in url and status == 200 for url, status, _ in board.answers)
    assert not page.is_visible("#incident") and not page.is_visible("#overview")
    page.context.close()


def test_switching_to_dutch(browser: Any, board: FixtureBoard) -> None:
    page = _open(browser, _telegram(board, VALID_INIT))
    page.wait_for_selector("#incident h2")
    page.click("button[data-lang='nl']")
    page.wait_for_function("() => document.documentElement.lang === 'nl'")
    text = _text(page)
    assert "Logboek" in text and "Ingezette eenheden" in text
    assert "Main courante" not in text
    assert (
        page.eval_on_selector("button[data-lang='nl']", "b => b.getAttribute('aria-pressed')")
        == "true"
    )
    # a mixed group's reader may read both: French labels with the Dutch beside them
    page.click("button[data-lang='fr,nl']")
    page.wait_for_function("() => document.documentElement.lang === 'fr'")
    heading = page.inner_text("#timeline-h")
    assert "Main courante" in heading and "Logboek" in heading
    page.context.close()


def test_large_type_for_a_wall_screen(browser: Any, board: FixtureBoard) -> None:
    page = _open(browser, _telegram(board, VALID_INIT), viewport=WALL)
    page.wait_for_selector("#incident h2")
    before = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('.entry .text')).fontSize)"
    )
    page.click("#large")
    after = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('.entry .text')).fontSize)"
    )
    assert after >= 24 and after >= 1.5 * before  # readable from three metres
    assert page.evaluate(_OVERFLOW, WALL["width"]) == []
    page.context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_readable_at_a_phones_width_and_on_a_desktop(
    browser: Any, board: FixtureBoard, width: int
) -> None:
    viewport = {"width": width, "height": 900}
    page = _open(browser, _telegram(board, VALID_INIT), viewport=viewport)
    page.wait_for_selector("#incident h2")
    assert page.evaluate(_OVERFLOW, width) == []
    assert _axe(page) == []
    page.goto(f"{board.url}#")
    page.wait_for_selector(".incidents .summary")
    assert page.evaluate(_OVERFLOW, width) == []
    assert _axe(page) == []
    page.context.close()


def test_an_unknown_incident_says_so(browser: Any, board: FixtureBoard) -> None:
    page = _open(browser, _telegram(board, VALID_INIT))
    page.wait_for_selector("#incident h2")
    page.evaluate("() => { location.hash = '#incident=99' }")
    page.wait_for_selector(".message.error")
    assert TITLE not in _text(page)
    page.context.close()


def test_a_command_posts_screen_opens_again_with_its_link(
    browser: Any, board: FixtureBoard
) -> None:
    """The personal link leaves the address but stays in the browser: after a restart (no
    session cookie, no tab storage) the board opens again; once the link is refused
    (expired, revoked), it is forgotten."""
    page = _open(browser, f"{board.url}#token=valid")
    page.wait_for_selector(".incidents .summary")
    assert "token" not in page.url
    page.context.clear_cookies()
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    page.wait_for_selector(".incidents .summary")
    # the session ends while the page is open: a new one is opened with the kept link
    page.context.clear_cookies()
    page.evaluate("() => { location.hash = '#incident=7' }")
    page.wait_for_selector("#incident h2")
    assert TITLE in _text(page)
    # the link revoked: refused, and the link forgotten
    page.evaluate("() => localStorage.setItem('passerelle.board.token', 'revoked')")
    page.context.clear_cookies()
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    page.wait_for_selector(".message.refused")
    assert TITLE not in _text(page)
    assert page.evaluate("() => localStorage.getItem('passerelle.board.token')") is None
    page.context.close()


def test_a_browser_that_refuses_storage_still_shows_the_board(
    browser: Any, board: FixtureBoard
) -> None:
    """A webview or a private window where localStorage and sessionStorage throw: the board
    opens all the same, only forgetful."""
    context = browser.new_context(viewport=PHONE, locale="fr-BE", timezone_id="Europe/Brussels")
    context.add_init_script(
        """for (const name of ['localStorage', 'sessionStorage']) {
            Object.defineProperty(window, name, {
                get() { throw new DOMException('denied', 'SecurityError'); },
            });
        }"""
    )
    page = context.new_page()
    page.goto(_telegram(board, VALID_INIT))
    page.wait_for_selector("#incident h2")
    assert TITLE in _text(page)
    page.click("button[data-lang='nl']")
    page.wait_for_function("() => document.documentElement.lang === 'nl'")
    context.close()
