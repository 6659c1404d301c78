"""The report the bot really sends, opened in a browser (issue 13, item 4): end to end against
the stand-in, then Chromium at 390 px, axe-core and the validator, as in
tests/test_report_browser.py (whose module-wide browser holds Playwright's own loop: an
async test cannot share that module, hence this one, where each browser runs in a thread)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.browser import ARGS, chromium
from tests.harness import Harness
from tests.test_report_browser import _OVERFLOW, PHONE, _open, _redundant_role, _vnu


def _read_in_a_browser(html: str) -> tuple[list[str], list[dict[str, Any]]]:
    """In a thread of its own (an async test's loop is running in this one): what overflows
    at 390 px, and axe-core's serious violations there."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=ARGS)
        page = _open(launched, html, PHONE)
        overflow = page.evaluate(_OVERFLOW, PHONE["width"])
        violations = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:80] for n in v["nodes"]]}
            for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        loaded = page.requests
        launched.close()
    return overflow + [f"loaded {url}" for url in loaded], violations


async def test_the_report_the_bot_sends_reads_on_a_phone(harness: Harness) -> None:
    """End to end: an incident played against the stand-in (notes, a photo and a voice note
    as replies to the card, a location, a bilingual alert, a phase, the close and the
    commander's rating), then /report: the document Telegram received, opened at 390 px,
    has nothing off-screen, loads nothing and has no serious axe-core violation; the
    validator finds nothing in it."""
    chromium()
    h = harness
    await h.say(h.commander, h.ops, "/incident Citerne couchée, A8 sortie Tournai-Ouest")
    card = h.card(h.ops)
    await h.say(h.responder, h.ops, "Plaque orange 33/1203, fuite au dôme", reply_to=card)
    await h.send_photo(h.responder, h.ops, reply_to=card, caption="Plaque de danger")
    await h.send_voice(h.responder, h.ops, reply_to=card, duration=12)
    await h.send_location(h.responder, h.ops, 50.6055, 3.3462, reply_to=card)
    await h.say(
        h.liaison,
        h.liaison_fr,
        "/alert #1 sévère fr: Confinement à Tournai-Ouest | nl: Schuilen in Doornik-West",
    )
    await h.say(h.commander, h.ops, "/escalate")
    await h.say(h.commander, h.ops, "/close")
    question = next(
        m for m in h.sim.bot_messages(h.ops) if any(d.startswith("e1:") for d in m.callback_data)
    )
    await h.press(h.commander, h.ops, question, question.callback_data[3])
    await h.say(h.commander, h.ops, "/report")
    sent = h.sim.bot_messages(h.ops)[-1]
    assert sent.document is not None
    html = sent.document.data.decode("utf-8")
    assert "Schuilen in Doornik-West" in html and "Plaque de danger" in html
    overflow, violations = await asyncio.to_thread(_read_in_a_browser, html)
    assert overflow == [] and violations == []
    command = _vnu()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.html"
        path.write_text(html, encoding="utf-8")
        done = await asyncio.to_thread(
            subprocess.run,
            [*command, "--format", "json", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    messages = json.loads(done.stderr or done.stdout)["messages"]
    assert [m["message"] for m in messages if not _redundant_role(m)] == []
